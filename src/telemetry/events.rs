//! The live event bus: what happens to calls, registrations and trunks, as numbered events.
//!
//! Every event gets the next sequence number when it is published. The bus keeps the last
//! `replay` events so a WebSocket client can resume from the last number it saw, and fans
//! each event out to live subscribers over a bounded broadcast channel: a subscriber that
//! falls behind by more than its buffer loses its place (and is cut off by the API) instead of
//! slowing the publisher. Webhook delivery takes events through a [`EventSink`]: a bounded
//! queue of its own, where an event that finds it full is counted as dropped, never waited for.
//!
//! Publishing never awaits: call actors publish from their run loop.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

/// What an event is about. The wire names (`call.created`, …) are stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventType {
    /// A call arrived (or was originated) and is being routed.
    #[serde(rename = "call.created")]
    CallCreated,
    /// The callee's side is ringing (first 180/183).
    #[serde(rename = "call.ringing")]
    CallRinging,
    /// The call was answered.
    #[serde(rename = "call.answered")]
    CallAnswered,
    /// A side put the call on hold (sendonly/inactive SDP).
    #[serde(rename = "call.held")]
    CallHeld,
    /// A held side took the call off hold.
    #[serde(rename = "call.resumed")]
    CallResumed,
    /// The call ended; the data carries the hangup cause.
    #[serde(rename = "call.hungup")]
    CallHungup,
    /// A phone registered a new contact.
    #[serde(rename = "registration.added")]
    RegistrationAdded,
    /// A contact was removed (unregistered, expired or replaced).
    #[serde(rename = "registration.removed")]
    RegistrationRemoved,
    /// A carrier gateway became reachable again.
    #[serde(rename = "trunk.gateway_up")]
    TrunkGatewayUp,
    /// A carrier gateway stopped answering and is skipped.
    #[serde(rename = "trunk.gateway_down")]
    TrunkGatewayDown,
    /// A call's recording started (policy or API); the data carries the file.
    #[serde(rename = "recording.started")]
    RecordingStarted,
    /// A recording was paused through the API.
    #[serde(rename = "recording.paused")]
    RecordingPaused,
    /// A paused recording was resumed.
    #[serde(rename = "recording.resumed")]
    RecordingResumed,
    /// A recording was finished: file, duration, SHA-256.
    #[serde(rename = "recording.stopped")]
    RecordingStopped,
    /// Writing a recording failed (full or failing disk); the call goes on.
    #[serde(rename = "recording.failed")]
    RecordingFailed,
    /// A voice notification was accepted through the API.
    #[serde(rename = "notification.created")]
    NotificationCreated,
    /// A voice notification's call attempt ended (answered, busy, no answer, failed).
    #[serde(rename = "notification.attempt")]
    NotificationAttempt,
    /// A voice notification is done: its final outcome and attempts.
    #[serde(rename = "notification.completed")]
    NotificationCompleted,
}

impl EventType {
    /// Every event type, in documentation order.
    pub const ALL: [EventType; 18] = [
        EventType::CallCreated,
        EventType::CallRinging,
        EventType::CallAnswered,
        EventType::CallHeld,
        EventType::CallResumed,
        EventType::CallHungup,
        EventType::RegistrationAdded,
        EventType::RegistrationRemoved,
        EventType::TrunkGatewayUp,
        EventType::TrunkGatewayDown,
        EventType::RecordingStarted,
        EventType::RecordingPaused,
        EventType::RecordingResumed,
        EventType::RecordingStopped,
        EventType::RecordingFailed,
        EventType::NotificationCreated,
        EventType::NotificationAttempt,
        EventType::NotificationCompleted,
    ];

    /// The wire name, e.g. `call.answered`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CallCreated => "call.created",
            EventType::CallRinging => "call.ringing",
            EventType::CallAnswered => "call.answered",
            EventType::CallHeld => "call.held",
            EventType::CallResumed => "call.resumed",
            EventType::CallHungup => "call.hungup",
            EventType::RegistrationAdded => "registration.added",
            EventType::RegistrationRemoved => "registration.removed",
            EventType::TrunkGatewayUp => "trunk.gateway_up",
            EventType::TrunkGatewayDown => "trunk.gateway_down",
            EventType::RecordingStarted => "recording.started",
            EventType::RecordingPaused => "recording.paused",
            EventType::RecordingResumed => "recording.resumed",
            EventType::RecordingStopped => "recording.stopped",
            EventType::RecordingFailed => "recording.failed",
            EventType::NotificationCreated => "notification.created",
            EventType::NotificationAttempt => "notification.attempt",
            EventType::NotificationCompleted => "notification.completed",
        }
    }

    /// The type named `name` (its wire name).
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// The families event types belong to: the part of the wire name before the dot.
pub const FAMILIES: [&str; 5] = ["call", "registration", "trunk", "recording", "notification"];

impl EventType {
    /// The family: `call`, `registration`, `trunk`, `recording` or `notification`.
    pub fn family(self) -> &'static str {
        self.as_str()
            .split_once('.')
            .map_or("", |(family, _)| family)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// Why a list of event type names was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A name is neither a type's wire name nor a family (`call.*`).
    #[error(
        "unknown event type {0:?} (expected one of {types}, or a family: call.*, registration.*, trunk.*, recording.*, notification.*)",
        types = type_names()
    )]
    UnknownType(String),
    /// The list has an empty entry (`a,,b`, a trailing comma, or nothing at all).
    #[error("empty event type in the list")]
    Empty,
}

fn type_names() -> String {
    EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which event types a subscriber wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventFilter {
    bits: u32,
}

impl Default for EventFilter {
    fn default() -> Self {
        Self::all()
    }
}

impl EventFilter {
    /// Every type.
    pub fn all() -> Self {
        Self {
            bits: EventType::ALL.iter().fold(0, |acc, t| acc | t.bit()),
        }
    }

    /// The types `names` lists: wire names (`call.answered`) or families (`call.*`).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, FilterError> {
        let mut bits = 0;
        let mut any = false;
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                return Err(FilterError::Empty);
            }
            any = true;
            if let Some(kind) = EventType::parse(name) {
                bits |= kind.bit();
                continue;
            }
            let family = name
                .strip_suffix(".*")
                .filter(|f| FAMILIES.contains(f))
                .ok_or_else(|| FilterError::UnknownType(name.to_owned()))?;
            for kind in EventType::ALL.into_iter().filter(|t| t.family() == family) {
                bits |= kind.bit();
            }
        }
        if !any {
            return Err(FilterError::Empty);
        }
        Ok(Self { bits })
    }

    /// The types of a comma-separated list (`call.answered,registration.*`).
    pub fn parse_list(list: &str) -> Result<Self, FilterError> {
        Self::parse(list.split(','))
    }

    /// Whether events of type `kind` pass.
    pub fn matches(self, kind: EventType) -> bool {
        self.bits & kind.bit() != 0
    }
}

/// One published event, as it goes out on the WebSocket and in webhooks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Position in the bus's stream, from 1, without gaps.
    pub seq: u64,
    /// What it is about.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it was published: RFC 3339 UTC with milliseconds.
    pub time: String,
    /// The call it concerns (our call id), for call events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// Details, per type (documented in the API reference).
    pub data: serde_json::Value,
}

/// Sizes of the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusSettings {
    /// Events kept for resuming subscribers.
    pub replay: usize,
    /// Events a live subscriber may fall behind before it loses its place.
    pub subscriber_buffer: usize,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            replay: 10_000,
            subscriber_buffer: 1024,
        }
    }
}

/// What a subscriber asked to resume from could not be replayed whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayGap {
    /// The last sequence number the subscriber said it saw.
    pub since: u64,
    /// The oldest event still kept (the replay starts there).
    pub oldest: u64,
}

/// A live subscription: the replayed backlog first, then new events.
#[derive(Debug)]
pub struct Subscription {
    /// Events after `since` still kept, oldest first.
    pub backlog: Vec<Arc<Event>>,
    /// Set when events after `since` were already dropped from the replay window.
    pub gap: Option<ReplayGap>,
    /// The sequence number of the newest event at the time of subscribing (0: none yet).
    pub last_seq: u64,
    /// New events, from `last_seq + 1` on. `RecvError::Lagged` means the subscriber fell
    /// further behind than its buffer.
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// A lossless-unless-full queue of every event, for webhook delivery.
#[derive(Debug)]
pub struct EventSink {
    /// The events, in sequence order.
    pub events: mpsc::Receiver<Arc<Event>>,
}

#[derive(Debug)]
struct Ring {
    next_seq: u64,
    kept: VecDeque<Arc<Event>>,
}

#[derive(Debug)]
struct Inner {
    settings: BusSettings,
    ring: Mutex<Ring>,
    live: broadcast::Sender<Arc<Event>>,
    sinks: Mutex<Vec<mpsc::Sender<Arc<Event>>>>,
    sink_dropped: AtomicU64,
}

/// The process's event bus; cheap to clone.
#[derive(Debug, Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new(BusSettings::default())
    }
}

impl EventBus {
    /// A bus of the given sizes (each at least 1).
    pub fn new(settings: BusSettings) -> Self {
        let settings = BusSettings {
            replay: settings.replay.max(1),
            subscriber_buffer: settings.subscriber_buffer.max(1),
        };
        let (live, _) = broadcast::channel(settings.subscriber_buffer);
        Self {
            inner: Arc::new(Inner {
                settings,
                ring: Mutex::new(Ring {
                    next_seq: 1,
                    kept: VecDeque::with_capacity(settings.replay.min(1024)),
                }),
                live,
                sinks: Mutex::new(Vec::new()),
                sink_dropped: AtomicU64::new(0),
            }),
        }
    }

    /// The bus's sizes.
    pub fn settings(&self) -> BusSettings {
        self.inner.settings
    }

    /// Publishes an event now; returns its sequence number. Never waits.
    pub fn publish(
        &self,
        kind: EventType,
        call_id: Option<String>,
        data: serde_json::Value,
    ) -> u64 {
        let time = chrono::Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            .to_string();
        let mut ring = match self.inner.ring.lock() {
            Ok(ring) => ring,
            Err(poisoned) => poisoned.into_inner(),
        };
        let seq = ring.next_seq;
        ring.next_seq += 1;
        let event = Arc::new(Event {
            seq,
            kind,
            time,
            call_id,
            data,
        });
        if ring.kept.len() == self.inner.settings.replay {
            ring.kept.pop_front();
        }
        ring.kept.push_back(Arc::clone(&event));
        // Under the ring's lock, so subscribers see the same order as the replay window.
        let _ = self.inner.live.send(Arc::clone(&event));
        let sinks = match self.inner.sinks.lock() {
            Ok(sinks) => sinks,
            Err(poisoned) => poisoned.into_inner(),
        };
        for sink in sinks.iter() {
            if sink.try_send(Arc::clone(&event)).is_err() {
                self.inner.sink_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(seq, kind = kind.as_str(), "event sink full: event dropped");
            }
        }
        drop(sinks);
        drop(ring);
        super::metrics::metrics().event_published(kind);
        seq
    }

    /// Subscribes to new events, replaying first those after `since` that are still kept
    /// (`None`: no replay, only new events). A `since` beyond the newest number (given out by
    /// an earlier run of the switch) replays everything kept, with a gap.
    pub fn subscribe(&self, since: Option<u64>) -> Subscription {
        let ring = match self.inner.ring.lock() {
            Ok(ring) => ring,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Subscribed under the lock: nothing is published between the backlog and the
        // live stream.
        let live = self.inner.live.subscribe();
        let last_seq = ring.next_seq - 1;
        let (backlog, gap) = match since {
            None => (Vec::new(), None),
            Some(since) => {
                let oldest = ring.kept.front().map_or(ring.next_seq, |e| e.seq);
                // A number beyond the newest was handed out before a restart (numbering starts
                // at 1 with each process): everything kept may be news to the subscriber.
                let from_before = since > last_seq;
                let gap = ((since.saturating_add(1) < oldest && since < last_seq) || from_before)
                    .then_some(ReplayGap { since, oldest });
                let backlog = ring
                    .kept
                    .iter()
                    .filter(|e| from_before || e.seq > since)
                    .cloned()
                    .collect();
                (backlog, gap)
            }
        };
        Subscription {
            backlog,
            gap,
            last_seq,
            live,
        }
    }

    /// A queue receiving every event published from now on; holds up to `capacity` events
    /// the consumer has not taken (beyond that, events are dropped and counted).
    pub fn sink(&self, capacity: usize) -> EventSink {
        let (sender, events) = mpsc::channel(capacity.max(1));
        match self.inner.sinks.lock() {
            Ok(mut sinks) => sinks.push(sender),
            Err(poisoned) => poisoned.into_inner().push(sender),
        }
        EventSink { events }
    }

    /// Events a full sink could not take.
    pub fn sink_dropped(&self) -> u64 {
        self.inner.sink_dropped.load(Ordering::Relaxed)
    }

    /// The sequence number of the newest event (0: none yet).
    pub fn last_seq(&self) -> u64 {
        match self.inner.ring.lock() {
            Ok(ring) => ring.next_seq - 1,
            Err(poisoned) => poisoned.into_inner().next_seq - 1,
        }
    }

    /// Live subscribers right now.
    pub fn subscribers(&self) -> usize {
        self.inner.live.receiver_count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn bus(replay: usize, buffer: usize) -> EventBus {
        EventBus::new(BusSettings {
            replay,
            subscriber_buffer: buffer,
        })
    }

    #[test]
    fn events_are_numbered_from_one_without_gaps() {
        let bus = bus(4, 4);
        let a = bus.publish(EventType::CallCreated, None, serde_json::json!({}));
        let b = bus.publish(EventType::CallAnswered, None, serde_json::json!({}));
        assert_eq!((a, b), (1, 2));
        assert_eq!(bus.last_seq(), 2);
    }

    #[test]
    fn a_resume_replays_what_came_after_the_last_seen_number() {
        let bus = bus(10, 4);
        for _ in 0..5 {
            bus.publish(EventType::CallCreated, None, serde_json::json!({}));
        }
        let sub = bus.subscribe(Some(3));
        let seqs: Vec<u64> = sub.backlog.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [4, 5]);
        assert_eq!(sub.gap, None);
    }

    #[test]
    fn a_resume_older_than_the_window_says_so_and_replays_what_is_kept() {
        let bus = bus(3, 4);
        for _ in 0..6 {
            bus.publish(EventType::CallCreated, None, serde_json::json!({}));
        }
        let sub = bus.subscribe(Some(1));
        assert_eq!(
            sub.gap,
            Some(ReplayGap {
                since: 1,
                oldest: 4
            })
        );
        let seqs: Vec<u64> = sub.backlog.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [4, 5, 6]);
    }

    #[test]
    fn a_resume_from_a_number_beyond_the_newest_replays_everything_kept_with_a_gap() {
        let bus = bus(10, 4);
        for _ in 0..3 {
            bus.publish(EventType::CallCreated, None, serde_json::json!({}));
        }
        let sub = bus.subscribe(Some(500));
        assert_eq!(
            sub.gap,
            Some(ReplayGap {
                since: 500,
                oldest: 1
            })
        );
        assert_eq!(sub.backlog.len(), 3);
        let caught_up = bus.subscribe(Some(3));
        assert!(caught_up.gap.is_none() && caught_up.backlog.is_empty());
    }

    #[test]
    fn a_subscriber_that_falls_behind_its_buffer_lags_and_the_publisher_goes_on() {
        let bus = bus(10, 2);
        let mut sub = bus.subscribe(None);
        for _ in 0..5 {
            bus.publish(EventType::CallCreated, None, serde_json::json!({}));
        }
        assert!(matches!(
            sub.live.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
    }

    #[test]
    fn a_full_sink_drops_and_counts() {
        let bus = bus(10, 2);
        let mut sink = bus.sink(1);
        bus.publish(EventType::CallCreated, None, serde_json::json!({}));
        bus.publish(EventType::CallHungup, None, serde_json::json!({}));
        assert_eq!(bus.sink_dropped(), 1);
        assert_eq!(sink.events.try_recv().unwrap().seq, 1);
    }

    #[test]
    fn a_filter_takes_wire_names_and_families() {
        let filter = EventFilter::parse_list("call.answered, registration.*").unwrap();
        assert!(filter.matches(EventType::CallAnswered));
        assert!(filter.matches(EventType::RegistrationAdded));
        assert!(filter.matches(EventType::RegistrationRemoved));
        assert!(!filter.matches(EventType::CallCreated));
        assert!(!filter.matches(EventType::TrunkGatewayUp));
        let all = EventFilter::all();
        assert!(EventType::ALL.into_iter().all(|t| all.matches(t)));
    }

    #[test]
    fn a_filter_refuses_unknown_names_and_empty_entries() {
        assert_eq!(
            EventFilter::parse_list("call.answered,call.exploded"),
            Err(FilterError::UnknownType("call.exploded".into()))
        );
        assert_eq!(
            EventFilter::parse_list("sms.*"),
            Err(FilterError::UnknownType("sms.*".into()))
        );
        assert_eq!(
            EventFilter::parse_list("call.held,"),
            Err(FilterError::Empty)
        );
        assert_eq!(EventFilter::parse_list(""), Err(FilterError::Empty));
        let message = FilterError::UnknownType("x".into()).to_string();
        assert!(
            message.contains("\"x\"") && message.contains("call.hungup"),
            "{message}"
        );
    }

    #[test]
    fn wire_names_round_trip() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
    }
}
