//! The writer task of a recording: takes the tap's packets off the queue, lays them out on
//! the timeline and appends the finished stretch to the file every [`FLUSH_EVERY`], the
//! header's sizes patched after each append. File I/O runs on the blocking pool.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use media_core::wav::{STEREO_HEADER_LEN, stereo_header};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, MissedTickBehavior};

use super::super::session::Shared;
use super::super::timeline::{RATE, Timeline};
use super::{FLUSH_EVERY, Finished, RecordingStatus, Tap, TapPacket};
use crate::telemetry::metrics::metrics;

// How long audio stays open for late packets before it is written: a packet is placed by its
// arrival time, so only the writer's own lag can make it late.
const SETTLE: Duration = Duration::from_millis(120);

/// Why the file could not be written (becomes the failed status's reason).
#[derive(Debug, thiserror::Error)]
enum WriteError {
    /// Creating the directories or the file failed.
    #[error("cannot create {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A write to the file failed (full disk, I/O error).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file grew past what a WAV header can describe (4 GiB).
    #[error("the recording exceeds the WAV size limit")]
    TooLong,
    /// The blocking task doing the I/O ended without an answer (runtime shutting down).
    #[error("the file I/O task was cancelled")]
    Cancelled,
}

/// The writer task's state.
pub(super) struct Writer {
    path: PathBuf,
    shared: Arc<Shared>,
    tap: Arc<Tap>,
    timeline: Timeline,
    failed: watch::Sender<Option<String>>,
    decoded: Vec<i16>,
    bytes: Vec<u8>,
    // Sample data bytes in the file so far.
    written: u64,
}

/// The open file and how much sample data it holds.
struct Output {
    file: File,
    data_len: u64,
}

impl Writer {
    pub fn new(
        path: PathBuf,
        shared: Arc<Shared>,
        tap: Arc<Tap>,
        failed: watch::Sender<Option<String>>,
    ) -> Self {
        Self {
            path,
            timeline: Timeline::new(shared.now_us()),
            shared,
            tap,
            failed,
            decoded: Vec::new(),
            bytes: Vec::new(),
            written: 0,
        }
    }

    /// Writes until `stop` says when the recording stopped (or its sender is dropped).
    pub async fn run(
        mut self,
        mut packets: mpsc::Receiver<TapPacket>,
        mut stop: oneshot::Receiver<u64>,
    ) -> Finished {
        let path = self.path.clone();
        let mut output = match blocking(move || create(&path))
            .await
            .and_then(|created| created)
        {
            Ok(output) => Some(output),
            Err(error) => {
                self.fail(&error);
                None
            }
        };
        let mut ticker = tokio::time::interval_at(Instant::now() + FLUSH_EVERY, FLUSH_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut open = true;
        let stop_us = loop {
            tokio::select! {
                biased;
                stop_us = &mut stop => break stop_us.unwrap_or_else(|_| self.shared.now_us()),
                packet = packets.recv(), if open => match packet {
                    Some(packet) => self.place(&packet),
                    None => open = false,
                },
                _ = ticker.tick() => {
                    while let Ok(packet) = packets.try_recv() {
                        self.place(&packet);
                    }
                    let settle_us = u64::try_from(SETTLE.as_micros()).unwrap_or(0);
                    let upto = self.timeline.position(self.shared.now_us().saturating_sub(settle_us));
                    output = self.flush(output, upto).await;
                }
            }
        };
        while let Ok(packet) = packets.try_recv() {
            self.place(&packet);
        }
        let dropped = self.tap.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            metrics().recording_dropped(dropped);
        }
        let end = self.timeline.position(stop_us).max(self.timeline.end());
        let output = self.flush(output, end).await;
        // Samples per channel in the file: four bytes per stereo sample.
        let samples = self.written / 4;
        let Some(output) = output else {
            let reason = self.failed.borrow().clone().unwrap_or_default();
            return Finished {
                samples,
                bytes: 0,
                status: RecordingStatus::Failed(reason),
            };
        };
        let bytes = STEREO_HEADER_LEN as u64 + output.data_len;
        let path = self.path.clone();
        let synced = blocking(move || {
            output
                .file
                .sync_data()
                .map_err(|source| write_error(&path, source))
        })
        .await
        .and_then(|synced| synced);
        match synced {
            Ok(()) => Finished {
                samples,
                bytes,
                status: RecordingStatus::Complete,
            },
            Err(error) => {
                self.fail(&error);
                Finished {
                    samples,
                    bytes,
                    status: RecordingStatus::Failed(error.to_string()),
                }
            }
        }
    }

    fn place(&mut self, packet: &TapPacket) {
        self.decoded.resize(packet.payload.len(), 0);
        packet.law.decode(&packet.payload, &mut self.decoded);
        self.timeline.place(
            packet.side,
            packet.arrival_us,
            packet.ssrc,
            packet.timestamp,
            &self.decoded,
        );
    }

    /// Appends the audio up to `upto` and patches the header; None once writing failed.
    async fn flush(&mut self, output: Option<Output>, upto: u64) -> Option<Output> {
        self.bytes.clear();
        self.timeline.take(upto, &mut self.bytes);
        let mut output = output?;
        if self.bytes.is_empty() {
            return Some(output);
        }
        let bytes = std::mem::take(&mut self.bytes);
        let path = self.path.clone();
        let result = blocking(move || {
            let written = append(&mut output, &bytes, &path);
            (output, bytes, written)
        })
        .await;
        match result {
            Ok((output, bytes, Ok(()))) => {
                self.bytes = bytes;
                self.written = output.data_len;
                Some(output)
            }
            Ok((_, _, Err(error))) | Err(error) => {
                self.fail(&error);
                None
            }
        }
    }

    fn fail(&self, error: &WriteError) {
        tracing::warn!(path = %self.path.display(), %error, "recording failed");
        self.tap.detach(&self.shared);
        let reason = error.to_string();
        self.failed.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        });
    }
}

fn write_error(path: &Path, source: std::io::Error) -> WriteError {
    WriteError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Runs file I/O on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, WriteError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| WriteError::Cancelled)
}

fn create(path: &Path) -> Result<Output, WriteError> {
    let create_error = |source| WriteError::Create {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(create_error)?;
    }
    let file = File::options()
        .write(true)
        .read(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(create_error)?;
    file.write_all_at(&stereo_header(RATE as u32, 0), 0)
        .map_err(|source| write_error(path, source))?;
    Ok(Output { file, data_len: 0 })
}

fn append(output: &mut Output, bytes: &[u8], path: &Path) -> Result<(), WriteError> {
    let data_len = output.data_len + bytes.len() as u64;
    // RIFF sizes are 32-bit: the data and the 36 header bytes after the RIFF size field.
    let riff_max = u64::from(u32::MAX) - (STEREO_HEADER_LEN as u64 - 8);
    if data_len > riff_max {
        return Err(WriteError::TooLong);
    }
    let offset = STEREO_HEADER_LEN as u64 + output.data_len;
    output
        .file
        .write_all_at(bytes, offset)
        .map_err(|source| write_error(path, source))?;
    output.data_len = data_len;
    let header = stereo_header(RATE as u32, u32::try_from(data_len).unwrap_or(u32::MAX));
    output
        .file
        .write_all_at(&header, 0)
        .map_err(|source| write_error(path, source))?;
    Ok(())
}
