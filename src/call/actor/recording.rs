//! The call's recording as its actor runs it: started at answer (the profile's policy, the
//! route's or the app's `record`) or through the control API ([`CallMessage::Recording`]),
//! paused, resumed and stopped there; a failure to write is published and the call goes on.
//! The outcome (the last recording's) goes into the call record; each step goes out as a
//! `recording.*` event.
//!
//! [`CallMessage::Recording`]: crate::sip::call_table::CallMessage::Recording

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use crate::call::record::{CallId, RecordingInfo};
use crate::cluster::UnixMillis;
use crate::media::{Recording, RecordingOutcome, RecordingStatus, RelaySession};
use crate::sip::call_table::{RecordingCommand, RecordingReply};
use crate::telemetry::events::{EventBus, EventType};
use crate::telemetry::metrics::metrics;

/// How long the end of a call waits for a recording stopped earlier to finish its file (the
/// recorder bounds its own stop; this only guards against a lost task).
const STOP_WAIT: Duration = Duration::from_secs(30);

/// A call's recording, from the first start to the record.
#[derive(Debug)]
pub(super) struct CallRecording {
    call_id: CallId,
    /// Where the file goes; None: recording disabled.
    path: Option<PathBuf>,
    events: EventBus,
    active: Option<Recording>,
    /// The active recording's failure was published.
    failure_seen: bool,
    /// A recording stopped through the API, finishing its file.
    stopping: Option<JoinHandle<RecordingOutcome>>,
    /// The outcome of the last recording stopped.
    last: Option<RecordingInfo>,
    /// A recording was started on this call.
    started: bool,
}

/// `<dir>/YYYY/MM/DD/<call id>.wav`, dated by the call's start (UTC).
pub(super) fn recording_path(dir: &Path, started_at: UnixMillis, call_id: CallId) -> PathBuf {
    let millis = i64::try_from(started_at.0).unwrap_or(i64::MAX);
    let date = chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default();
    dir.join(date.format("%Y/%m/%d").to_string())
        .join(format!("{call_id}.wav"))
}

/// The path as the record and the events show it.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

impl CallRecording {
    /// Nothing recorded yet; `dir` None disables recording.
    pub(super) fn new(
        call_id: CallId,
        dir: Option<&Path>,
        started_at: UnixMillis,
        events: EventBus,
    ) -> Self {
        Self {
            call_id,
            path: dir.map(|dir| recording_path(dir, started_at, call_id)),
            events,
            active: None,
            failure_seen: false,
            stopping: None,
            last: None,
            started: false,
        }
    }

    /// True once a recording was started on this call.
    pub(super) fn ever_started(&self) -> bool {
        self.started
    }

    /// True while a running recording's failure has not been seen yet.
    pub(super) fn watches_failure(&self) -> bool {
        self.active.is_some() && !self.failure_seen
    }

    fn publish(&self, kind: EventType, data: serde_json::Value) {
        let _ = self
            .events
            .publish(kind, Some(self.call_id.to_string()), data);
    }

    /// Starts recording on `relay` (from answer, or the API's Start).
    pub(super) fn start(&mut self, relay: &RelaySession) -> RecordingReply {
        let Some(path) = self.path.clone() else {
            return RecordingReply::Disabled;
        };
        if self.active.is_some() {
            return RecordingReply::Conflict("already recording");
        }
        tracing::info!(path = %path.display(), "recording");
        self.active = Some(relay.record(path.clone()));
        self.started = true;
        self.failure_seen = false;
        metrics().recording_started();
        self.publish(EventType::RecordingStarted, json!({ "path": shown(&path) }));
        RecordingReply::Done {
            active: true,
            path: shown(&path),
        }
    }

    /// A control API command; `relay` None or `answered` false: nothing to record yet.
    pub(super) fn command(
        &mut self,
        command: RecordingCommand,
        relay: Option<&RelaySession>,
        answered: bool,
    ) -> RecordingReply {
        if self.path.is_none() {
            return RecordingReply::Disabled;
        }
        let Some(relay) = relay.filter(|_| answered) else {
            return RecordingReply::NotAnswered;
        };
        let Some(recording) = &self.active else {
            return match command {
                RecordingCommand::Start => self.start(relay),
                RecordingCommand::Pause | RecordingCommand::Resume | RecordingCommand::Stop => {
                    RecordingReply::Conflict("not recording")
                }
            };
        };
        let path = shown(recording.path());
        match command {
            RecordingCommand::Start => RecordingReply::Conflict("already recording"),
            RecordingCommand::Pause => {
                if !recording.is_paused() {
                    recording.pause();
                    self.publish(EventType::RecordingPaused, json!({ "path": path }));
                }
                RecordingReply::Done {
                    active: false,
                    path,
                }
            }
            RecordingCommand::Resume => {
                if recording.is_paused() {
                    recording.resume();
                    self.publish(EventType::RecordingResumed, json!({ "path": path }));
                }
                RecordingReply::Done { active: true, path }
            }
            RecordingCommand::Stop => {
                self.stop_in_background();
                RecordingReply::Done {
                    active: false,
                    path,
                }
            }
        }
    }

    /// Stops the running recording without holding up the call: the file is finished (and
    /// hashed) by a task whose outcome the record takes at the end of the call.
    fn stop_in_background(&mut self) {
        let Some(recording) = self.active.take() else {
            return;
        };
        let events = self.events.clone();
        let call_id = self.call_id;
        let reported = self.failure_seen;
        let previous = self.stopping.take();
        self.stopping = Some(tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            let outcome = recording.stop().await;
            finished(&events, call_id, &outcome, reported);
            outcome
        }));
    }

    /// Resolves with the reason once the running recording failed to write (pending while
    /// none runs or its failure was seen).
    pub(super) async fn failed(&mut self) -> String {
        match self.active.as_mut() {
            Some(recording) if !self.failure_seen => recording.failed().await,
            _ => std::future::pending().await,
        }
    }

    /// The running recording failed: published once; the call goes on.
    pub(super) fn on_failed(&mut self, reason: &str) {
        self.failure_seen = true;
        let path = self.active.as_ref().map(|r| shown(r.path()));
        tracing::warn!(%reason, "recording failed");
        self.publish(
            EventType::RecordingFailed,
            json!({ "path": path, "reason": reason }),
        );
    }

    /// The call ended: the running recording is stopped and the last outcome returned for
    /// the record.
    pub(super) async fn finish(&mut self) -> Option<RecordingInfo> {
        if let Some(stopping) = self.stopping.take() {
            match tokio::time::timeout(STOP_WAIT, stopping).await {
                Ok(Ok(outcome)) => self.last = Some(info(&outcome)),
                Ok(Err(_)) | Err(_) => tracing::warn!("a stopped recording never finished"),
            }
        }
        if let Some(recording) = self.active.take() {
            let outcome = recording.stop().await;
            finished(&self.events, self.call_id, &outcome, self.failure_seen);
            self.last = Some(info(&outcome));
        }
        self.last.clone()
    }
}

/// Publishes and counts a recording's end (a failure published while the call went on is
/// not published again).
fn finished(events: &EventBus, call_id: CallId, outcome: &RecordingOutcome, reported: bool) {
    let complete = outcome.status == RecordingStatus::Complete;
    metrics().recording_finished(complete);
    let path = shown(&outcome.path);
    match &outcome.status {
        RecordingStatus::Failed(_) if reported => {}
        RecordingStatus::Complete => {
            events.publish(
                EventType::RecordingStopped,
                Some(call_id.to_string()),
                json!({
                    "path": path,
                    "duration_ms": duration_ms(outcome.duration),
                    "sha256": outcome.sha256,
                }),
            );
        }
        RecordingStatus::Failed(reason) => {
            events.publish(
                EventType::RecordingFailed,
                Some(call_id.to_string()),
                json!({ "path": path, "reason": reason }),
            );
        }
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The record's view of an outcome.
fn info(outcome: &RecordingOutcome) -> RecordingInfo {
    let (status, error) = match &outcome.status {
        RecordingStatus::Complete => ("complete", None),
        RecordingStatus::Failed(reason) => ("failed", Some(reason.clone())),
    };
    RecordingInfo {
        path: shown(&outcome.path),
        duration_ms: duration_ms(outcome.duration),
        sha256: outcome.sha256.clone(),
        status: status.to_owned(),
        error,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn recordings_are_filed_by_the_utc_date_of_the_call_start() {
        let id = CallId::new_random();
        // 2026-11-23T23:59:59.500Z
        let path = recording_path(Path::new("/var/rec"), UnixMillis(1_795_478_399_500), id);
        assert_eq!(path, PathBuf::from(format!("/var/rec/2026/11/23/{id}.wav")));
    }
}
