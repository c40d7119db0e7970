//! Call recording: a tap on the relay session copies each side's RTP (and what a
//! [`super::Player`] sends) into a bounded queue; the writer task decodes G.711, aligns both
//! sides on the session clock (`timeline`: silence where a side is quiet, on hold or paused)
//! and appends two-channel 16-bit 8 kHz WAV (caller left, callee right) to the file as it
//! goes. The relay never waits: a full queue drops the packet and counts it. A write error
//! (full or failing disk) marks the recording failed and stops the tap; the call goes on.
//!
//! The writer flushes every [`FLUSH_EVERY`] and patches the header's sizes after each flush, so
//! a crash leaves a playable file up to the last flush. File I/O runs on the blocking pool.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use media_core::rtp::RtpPacket;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot, watch};

use super::Side;
use super::endpoint::G711Law;
use super::session::Shared;
use super::timeline::RATE;

mod writer;

use writer::Writer;

/// Packets the tap queues for the writer before it drops them (about 10 s of one call).
pub const TAP_QUEUE: usize = 1024;
/// How often the writer appends to the file and patches its header.
pub const FLUSH_EVERY: Duration = Duration::from_millis(250);
// How long `stop` waits for the writer to finish the file, plus a second per this many bytes
// for the hash.
const STOP_TIMEOUT: Duration = if cfg!(test) {
    Duration::from_secs(1)
} else {
    Duration::from_secs(5)
};
const HASH_BYTES_PER_SECOND: u64 = 50_000_000;

/// How a recording ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingStatus {
    /// The file is complete and its header final.
    Complete,
    /// Writing failed (the reason); the file holds what was written before, if anything.
    Failed(String),
}

/// What a stopped recording produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingOutcome {
    /// The file.
    pub path: PathBuf,
    /// Audio length in the file.
    pub duration: Duration,
    /// SHA-256 of the whole file (hex), when it is complete.
    pub sha256: Option<String>,
    /// Complete or failed.
    pub status: RecordingStatus,
    /// Packets the tap dropped because the writer fell behind.
    pub dropped_packets: u64,
}

/// A recording in progress on a relay session; [`Recording::stop`] finishes the file.
#[derive(Debug)]
pub struct Recording {
    path: PathBuf,
    failed: watch::Receiver<Option<String>>,
    // None when the recording could not start (no runtime).
    run: Option<Run>,
}

#[derive(Debug)]
struct Run {
    shared: Arc<Shared>,
    tap: Arc<Tap>,
    stop: Option<oneshot::Sender<u64>>,
    done: oneshot::Receiver<Finished>,
}

/// What the writer reports when it has finished.
#[derive(Debug)]
struct Finished {
    samples: u64,
    bytes: u64,
    status: RecordingStatus,
}

impl Recording {
    /// The file being written.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Stops taking audio (the file gets silence for the pause, so it stays time-aligned).
    pub fn pause(&self) {
        if let Some(run) = &self.run {
            run.tap.paused.store(true, Ordering::Relaxed);
        }
    }

    /// Takes audio again after [`Recording::pause`].
    pub fn resume(&self) {
        if let Some(run) = &self.run {
            run.tap.paused.store(false, Ordering::Relaxed);
        }
    }

    /// Whether the recording is paused.
    pub fn is_paused(&self) -> bool {
        self.run
            .as_ref()
            .is_some_and(|run| run.tap.paused.load(Ordering::Relaxed))
    }

    /// Packets the tap dropped so far because the writer fell behind.
    pub fn dropped_packets(&self) -> u64 {
        self.run
            .as_ref()
            .map_or(0, |run| run.tap.dropped.load(Ordering::Relaxed))
    }

    /// Resolves with the reason once writing failed (pending forever otherwise).
    pub async fn failed(&mut self) -> String {
        loop {
            if let Some(reason) = self.failed.borrow_and_update().clone() {
                return reason;
            }
            if self.failed.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Stops the tap, writes what is queued, fixes the header, hashes the file. Bounded: a
    /// writer that does not finish in time (a hung disk) gives a failed outcome.
    pub async fn stop(mut self) -> RecordingOutcome {
        let path = std::mem::take(&mut self.path);
        let Some(mut run) = self.run.take() else {
            let reason = self
                .failed
                .borrow()
                .clone()
                .unwrap_or_else(|| "recording never started".to_owned());
            return outcome(path, 0, None, RecordingStatus::Failed(reason), 0);
        };
        let stop_us = run.shared.now_us();
        run.tap.detach(&run.shared);
        if let Some(stop) = run.stop.take() {
            let _ = stop.send(stop_us);
        }
        let dropped = run.tap.dropped.load(Ordering::Relaxed);
        let finished = match tokio::time::timeout(STOP_TIMEOUT, &mut run.done).await {
            Ok(Ok(finished)) => finished,
            Ok(Err(_)) => {
                return outcome(path, 0, None, failed("the writer task ended"), dropped);
            }
            Err(_) => {
                return outcome(
                    path,
                    0,
                    None,
                    failed("the writer did not finish in time"),
                    dropped,
                );
            }
        };
        let Finished {
            samples,
            bytes,
            status,
        } = finished;
        if status != RecordingStatus::Complete {
            return outcome(path, samples, None, status, dropped);
        }
        let budget = STOP_TIMEOUT + Duration::from_secs(bytes / HASH_BYTES_PER_SECOND);
        let hash_path = path.clone();
        let hashed = tokio::time::timeout(
            budget,
            tokio::task::spawn_blocking(move || hash_file(&hash_path)),
        )
        .await;
        match hashed {
            Ok(Ok(Ok(sha256))) => outcome(path, samples, Some(sha256), status, dropped),
            Ok(Ok(Err(error))) => {
                let reason = format!("cannot read the file back to hash it: {error}");
                outcome(
                    path,
                    samples,
                    None,
                    RecordingStatus::Failed(reason),
                    dropped,
                )
            }
            Ok(Err(_)) => outcome(path, samples, None, failed("the hash task ended"), dropped),
            Err(_) => outcome(
                path,
                samples,
                None,
                failed("hashing did not finish in time"),
                dropped,
            ),
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        // Dropped without stop: the tap goes now, the writer finishes the file on its own.
        if let Some(run) = &self.run {
            run.tap.detach(&run.shared);
        }
    }
}

fn failed(reason: &str) -> RecordingStatus {
    RecordingStatus::Failed(reason.to_owned())
}

fn outcome(
    path: PathBuf,
    samples: u64,
    sha256: Option<String>,
    status: RecordingStatus,
    dropped_packets: u64,
) -> RecordingOutcome {
    RecordingOutcome {
        path,
        duration: Duration::from_micros(samples * 1_000_000 / RATE),
        sha256,
        status,
        dropped_packets,
    }
}

/// The relay's side of a recording: copies packets into the writer's queue.
#[derive(Debug)]
pub(super) struct Tap {
    sender: mpsc::Sender<TapPacket>,
    paused: AtomicBool,
    dropped: AtomicU64,
}

/// One packet's audio on its way to the writer.
#[derive(Debug)]
pub(super) struct TapPacket {
    side: Side,
    arrival_us: u64,
    law: G711Law,
    ssrc: u32,
    timestamp: u32,
    payload: Vec<u8>,
}

impl Tap {
    /// An RTP packet accepted from `side`'s phone; only G.711 (static payload types 0 and 8)
    /// is recorded, not telephone-events or comfort noise.
    pub fn offer_rtp(&self, side: Side, arrival_us: u64, data: &[u8]) {
        if self.paused.load(Ordering::Relaxed) {
            return;
        }
        let Ok(packet) = RtpPacket::parse(data) else {
            return;
        };
        let Some(law) = G711Law::from_static_payload_type(packet.payload_type()) else {
            return;
        };
        self.offer(
            side,
            arrival_us,
            law,
            packet.ssrc(),
            packet.timestamp(),
            packet.payload(),
        );
    }

    /// Audio for `side`'s channel (a received packet, or what a player sent).
    pub fn offer(
        &self,
        side: Side,
        arrival_us: u64,
        law: G711Law,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
    ) {
        if self.paused.load(Ordering::Relaxed) {
            return;
        }
        let packet = TapPacket {
            side,
            arrival_us,
            law,
            ssrc,
            timestamp,
            payload: payload.to_vec(),
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.sender.try_send(packet) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes this tap off the session (a later recording's tap stays).
    fn detach(self: &Arc<Self>, shared: &Shared) {
        shared.tap.rcu(|current| match current {
            Some(current) if Arc::ptr_eq(current, self) => None,
            other => other.clone(),
        });
        shared.media_changed.store(true, Ordering::Release);
    }
}

/// Starts recording `shared`'s session into `path`.
pub(super) fn start(shared: &Arc<Shared>, path: PathBuf) -> Recording {
    let (failed_tx, failed) = watch::channel(None);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        let _ = failed_tx.send(Some("recording must start on a tokio runtime".to_owned()));
        return Recording {
            path,
            failed,
            run: None,
        };
    };
    let (sender, receiver) = mpsc::channel(TAP_QUEUE);
    let tap = Arc::new(Tap {
        sender,
        paused: AtomicBool::new(false),
        dropped: AtomicU64::new(0),
    });
    let (stop, stop_rx) = oneshot::channel();
    let (done_tx, done) = oneshot::channel();
    let writer = Writer::new(
        path.clone(),
        Arc::clone(shared),
        Arc::clone(&tap),
        failed_tx,
    );
    shared.tap.store(Some(Arc::clone(&tap)));
    shared.media_changed.store(true, Ordering::Release);
    runtime.spawn(async move {
        let finished = writer.run(receiver, stop_rx).await;
        let _ = done_tx.send(finished);
    });
    Recording {
        path,
        failed,
        run: Some(Run {
            shared: Arc::clone(shared),
            tap,
            stop: Some(stop),
            done,
        }),
    }
}

fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
