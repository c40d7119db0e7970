//! Call recording: a tap on the relay session copies each side's RTP (and what a
//! [`super::Player`] sends) into a bounded queue; the writer task decodes G.711, aligns both
//! sides on the session clock (silence where a side is quiet or on hold) and appends
//! two-channel 16-bit 8 kHz WAV (caller left, callee right) to the file as it goes, the header
//! patched with the real sizes when the recording stops. The relay never waits: a full queue
//! drops the packet and counts it. A write error (full or failing disk) marks the recording
//! failed and stops writing; the call goes on.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

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
}

impl Recording {
    /// The file being written.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Stops taking audio (the file gets silence for the pause, so it stays time-aligned).
    pub fn pause(&self) {}

    /// Takes audio again after [`Recording::pause`].
    pub fn resume(&self) {}

    /// Whether the recording is paused.
    pub fn is_paused(&self) -> bool {
        false
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

    /// Stops the tap, writes what is queued, fixes the header, hashes the file.
    pub async fn stop(self) -> RecordingOutcome {
        RecordingOutcome {
            path: self.path,
            duration: Duration::ZERO,
            sha256: None,
            status: RecordingStatus::Failed("not implemented yet".into()),
            dropped_packets: 0,
        }
    }
}

impl Recording {
    pub(super) fn placeholder(path: PathBuf) -> Self {
        let (_tx, failed) = watch::channel(None);
        Self { path, failed }
    }
}
