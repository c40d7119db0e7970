//! The feed from the event bus into the outbox: takes every event from the bus's
//! [`EventSink`], turns it into one row per target that wants its type, and writes the rows in
//! batches. Publishing never waits for it: the sink buffers while the database is slow, and
//! drops (counted and logged) only when full. At shutdown it writes what is queued, then
//! stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::time::{Instant, sleep, sleep_until};

use crate::cluster::UnixMillis;
use crate::config::api::WebhookTarget;
use crate::store::{NewDelivery, SqlStore};
use crate::telemetry::events::{Event, EventSink, EventType};

/// Most events written in one transaction.
const MAX_BATCH: usize = 256;

/// Retry delays while the database fails: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// A target as the feed sees it: which event types it wants, and how to wake its worker.
#[derive(Debug, Clone)]
pub(super) struct FeedTarget {
    /// The target's config.
    pub(super) target: WebhookTarget,
    /// Woken when rows for the target were written.
    pub(super) wake: Arc<Notify>,
}

/// The key rows are ordered by within a target: the call for call events,
/// `registration:<aor>` for registration events, the trunk for trunk events, the call for
/// recording events, `notification:<id>` for notification events.
pub(super) fn ordering_key(event: &Event) -> String {
    let text = |field: &str| event.data.get(field).and_then(|v| v.as_str());
    match event.kind {
        EventType::CallCreated
        | EventType::CallRinging
        | EventType::CallAnswered
        | EventType::CallHeld
        | EventType::CallResumed
        | EventType::CallHungup
        | EventType::RecordingStarted
        | EventType::RecordingPaused
        | EventType::RecordingResumed
        | EventType::RecordingStopped
        | EventType::RecordingFailed => match &event.call_id {
            Some(call_id) => call_id.clone(),
            None => "call".to_owned(),
        },
        EventType::RegistrationAdded | EventType::RegistrationRemoved => {
            format!("registration:{}", text("aor").unwrap_or_default())
        }
        EventType::TrunkGatewayUp | EventType::TrunkGatewayDown => {
            text("trunk").unwrap_or("trunk").to_owned()
        }
        EventType::NotificationCreated
        | EventType::NotificationAttempt
        | EventType::NotificationCompleted => {
            format!("notification:{}", text("id").unwrap_or_default())
        }
    }
}

/// Whether `target` gets events of type `kind` (an empty list: every type).
fn wants(target: &WebhookTarget, kind: EventType) -> bool {
    target.events.is_empty() || target.events.iter().any(|e| e == kind.as_str())
}

/// The outbox rows of `event`: one per target that wants it, in target order.
pub(super) fn deliveries_of(event: &Event, targets: &[FeedTarget]) -> Vec<NewDelivery> {
    let wanted: Vec<&FeedTarget> = targets
        .iter()
        .filter(|t| wants(&t.target, event.kind))
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    // Serializing a struct of strings, numbers and a JSON value cannot fail.
    let payload = serde_json::to_string(event).unwrap_or_default();
    let key = ordering_key(event);
    wanted
        .into_iter()
        .map(|t| NewDelivery {
            target: t.target.name.clone(),
            event_seq: event.seq,
            event_type: event.kind.as_str().to_owned(),
            ordering_key: key.clone(),
            payload: payload.clone(),
        })
        .collect()
}

/// When the shutdown drain ends.
#[derive(Debug)]
pub(super) struct Grace {
    finish: Option<oneshot::Receiver<Instant>>,
    deadline: Option<Instant>,
}

impl Grace {
    /// Waiting for the deadline `finish` brings.
    pub(super) fn new(finish: oneshot::Receiver<Instant>) -> Self {
        Self {
            finish: Some(finish),
            deadline: None,
        }
    }

    /// Resolves with the drain's deadline once shutdown has begun (at once when the handle
    /// was dropped).
    async fn begun(&mut self) -> Instant {
        if let Some(deadline) = self.deadline {
            return deadline;
        }
        let deadline = match &mut self.finish {
            Some(finish) => finish.await.unwrap_or_else(|_| Instant::now()),
            None => Instant::now(),
        };
        self.finish = None;
        self.deadline = Some(deadline);
        deadline
    }

    /// Resolves when the drain's deadline has passed; never before shutdown begins.
    async fn over(&mut self) {
        let deadline = self.begun().await;
        sleep_until(deadline).await;
    }
}

/// The feed task.
pub(super) struct Feed {
    pub(super) store: SqlStore,
    pub(super) targets: Vec<FeedTarget>,
    pub(super) sink: EventSink,
    pub(super) grace: Grace,
}

/// What the feed did over its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// Outbox rows written.
    pub written: u64,
    /// Events that could not be written (each logged).
    pub lost: u64,
}

impl Feed {
    /// Runs until shutdown begins, then writes what the sink holds (until the deadline).
    pub(super) async fn run(mut self) -> FeedReport {
        let mut report = FeedReport::default();
        loop {
            let event = tokio::select! {
                biased;
                _ = self.grace.begun() => break,
                event = self.sink.events.recv() => event,
            };
            let Some(event) = event else {
                break;
            };
            let mut batch = vec![event];
            self.take_queued(&mut batch);
            if !self.write(&batch, &mut report).await {
                break;
            }
        }
        // Calls hang up before the drain: their last events are in the sink now.
        loop {
            let mut batch = Vec::new();
            self.take_queued(&mut batch);
            if batch.is_empty() || !self.write(&batch, &mut report).await {
                break;
            }
        }
        let mut left = 0u64;
        while self.sink.events.try_recv().is_ok() {
            left += 1;
        }
        if left > 0 {
            tracing::error!(
                events = left,
                "webhook events not written to the outbox before shutdown: lost"
            );
            report.lost += left;
        }
        report
    }

    fn take_queued(&mut self, batch: &mut Vec<Arc<Event>>) {
        while batch.len() < MAX_BATCH {
            match self.sink.events.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
    }

    /// Writes the rows of `events`, retrying while the database fails. False when the
    /// shutdown deadline passed first (the events are lost, and logged).
    async fn write(&mut self, events: &[Arc<Event>], report: &mut FeedReport) -> bool {
        let rows: Vec<NewDelivery> = events
            .iter()
            .flat_map(|e| deliveries_of(e, &self.targets))
            .collect();
        if rows.is_empty() {
            return true;
        }
        let store = self.store.clone();
        let outbox = store.outbox();
        let mut delay = RETRY_FIRST;
        let mut failing = false;
        loop {
            let result = tokio::select! {
                biased;
                result = outbox.insert(&rows, UnixMillis::now()) => result,
                () = self.grace.over() => {
                    lost(events, report, "shutdown grace over");
                    return false;
                }
            };
            match result {
                Ok(()) => {
                    report.written += rows.len() as u64;
                    if failing {
                        tracing::info!("webhook outbox writable again");
                    }
                    for target in &self.targets {
                        if rows.iter().any(|r| r.target == target.target.name) {
                            target.wake.notify_one();
                        }
                    }
                    return true;
                }
                Err(error) if error.is_retryable() => {
                    if !failing {
                        failing = true;
                        tracing::warn!(%error, events = events.len(), "webhook outbox not writable; retrying");
                    }
                    tokio::select! {
                        biased;
                        () = sleep(delay) => {}
                        () = self.grace.over() => {
                            lost(events, report, "database failing at shutdown");
                            return false;
                        }
                    }
                    delay = (delay * 2).min(RETRY_MAX);
                }
                Err(error) => {
                    for event in events {
                        tracing::error!(seq = event.seq, kind = event.kind.as_str(), %error, "webhook event refused by the outbox: lost");
                    }
                    report.lost += events.len() as u64;
                    return true;
                }
            }
        }
    }
}

fn lost(events: &[Arc<Event>], report: &mut FeedReport, why: &str) {
    for event in events {
        tracing::error!(
            seq = event.seq,
            kind = event.kind.as_str(),
            why,
            "webhook event lost"
        );
    }
    report.lost += events.len() as u64;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(kind: EventType, call_id: Option<&str>, data: serde_json::Value) -> Event {
        Event {
            seq: 7,
            kind,
            time: "2026-11-23T18:00:00.000Z".to_owned(),
            call_id: call_id.map(str::to_owned),
            data,
        }
    }

    fn target(name: &str, events: &[&str]) -> FeedTarget {
        FeedTarget {
            target: WebhookTarget {
                name: name.to_owned(),
                url: "http://127.0.0.1:9/hook".to_owned(),
                events: events.iter().map(|e| (*e).to_owned()).collect(),
                secret: "0123456789abcdef".to_owned(),
            },
            wake: Arc::new(Notify::new()),
        }
    }

    #[test]
    fn call_events_are_ordered_by_call_registrations_by_aor_and_trunks_by_name() {
        let call = event(EventType::CallHungup, Some("c-1"), json!({}));
        let reg = event(
            EventType::RegistrationAdded,
            None,
            json!({"aor": "1000@switchyard.test"}),
        );
        let trunk = event(
            EventType::TrunkGatewayDown,
            None,
            json!({"trunk": "carrier"}),
        );
        assert_eq!(ordering_key(&call), "c-1");
        assert_eq!(ordering_key(&reg), "registration:1000@switchyard.test");
        assert_eq!(ordering_key(&trunk), "carrier");
    }

    #[test]
    fn each_target_that_wants_the_type_gets_a_row_with_the_event_as_payload() {
        let targets = [
            target("all", &[]),
            target("hangups", &["call.hungup"]),
            target("regs", &["registration.added"]),
        ];
        let hungup = event(EventType::CallHungup, Some("c-1"), json!({"cause": "x"}));

        let rows = deliveries_of(&hungup, &targets);

        let names: Vec<&str> = rows.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(names, ["all", "hangups"]);
        let payload: serde_json::Value = serde_json::from_str(&rows[0].payload).unwrap();
        assert_eq!(payload, serde_json::to_value(&hungup).unwrap());
        assert_eq!(
            (rows[1].event_seq, rows[1].event_type.as_str()),
            (7, "call.hungup")
        );
        assert!(
            deliveries_of(
                &event(EventType::CallCreated, None, json!({})),
                &targets[2..]
            )
            .is_empty()
        );
    }
}
