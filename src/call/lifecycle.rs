//! What the outside world sees of one call's life: its entry in the [`ActiveCalls`] registry,
//! the `call.*` events on the bus, and the call metrics. The actor reports each step here;
//! nothing here awaits, so reporting never slows the call.

use std::sync::Arc;

use serde_json::json;

use super::record::{CallId, CallRecord, LegSide};
use super::registry::{ActiveCalls, CallDirection, CallState, CallSummary};
use crate::cluster::UnixMillis;
use crate::sip::call_table::Mailbox;
use crate::telemetry::events::{EventBus, EventType};
use crate::telemetry::metrics::metrics;

/// The reporting side of one call.
#[derive(Debug)]
pub struct CallLifecycle {
    id: CallId,
    direction: CallDirection,
    registry: Arc<ActiveCalls>,
    events: EventBus,
    ringing: bool,
    answered: bool,
    /// Hold state of each side (A, B) as last reported.
    held: [bool; 2],
    ended: bool,
    /// When the call was created (post-dial delay).
    created_at: std::time::Instant,
}

impl CallLifecycle {
    /// Registers the new call and publishes `call.created`.
    pub fn created(
        summary: CallSummary,
        mailbox: Mailbox,
        registry: Arc<ActiveCalls>,
        events: EventBus,
    ) -> Self {
        let id = summary.id;
        let direction = summary.direction;
        events.publish(
            EventType::CallCreated,
            Some(id.to_string()),
            json!({
                "direction": direction,
                "profile": summary.profile,
                "from_uri": summary.from_uri,
                "to_uri": summary.to_uri,
                "caller": summary.caller,
            }),
        );
        registry.insert(summary, mailbox);
        metrics().call_started(direction.as_str());
        Self {
            id,
            direction,
            registry,
            events,
            ringing: false,
            answered: false,
            held: [false; 2],
            ended: false,
            created_at: std::time::Instant::now(),
        }
    }

    /// The call's id.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The call's direction.
    pub fn direction(&self) -> CallDirection {
        self.direction
    }

    /// The callee's side rings (first provisional relayed); reported once.
    pub fn ringing(&mut self) {
        if self.ringing || self.answered || self.ended {
            return;
        }
        self.ringing = true;
        metrics().call_post_dial_delay(
            self.direction.as_str(),
            self.created_at.elapsed().as_secs_f64(),
        );
        self.registry
            .update(self.id, |s| s.state = CallState::Ringing);
        self.events
            .publish(EventType::CallRinging, Some(self.id.to_string()), json!({}));
    }

    /// The call was answered, by a branch on `trunk` when it went out through one.
    pub fn answered(&mut self, trunk: Option<String>) {
        if self.answered || self.ended {
            return;
        }
        self.answered = true;
        if !self.ringing {
            metrics().call_post_dial_delay(
                self.direction.as_str(),
                self.created_at.elapsed().as_secs_f64(),
            );
        }
        let now = UnixMillis::now();
        self.registry.update(self.id, |s| {
            s.state = CallState::Answered;
            s.answered_at = Some(now);
            s.trunk.clone_from(&trunk);
        });
        self.events.publish(
            EventType::CallAnswered,
            Some(self.id.to_string()),
            json!({ "trunk": trunk }),
        );
    }

    /// A call answered by the switch (a media application) was transferred and B answered:
    /// the registry shows the trunk B answered on.
    pub fn bridged(&mut self, trunk: Option<String>) {
        if self.ended || trunk.is_none() {
            return;
        }
        self.registry
            .update(self.id, |s| s.trunk.clone_from(&trunk));
    }

    /// A side's media direction, from its latest SDP: reports hold and resume changes.
    pub fn media(&mut self, side: LegSide, on_hold: bool) {
        let index = match side {
            LegSide::A => 0,
            LegSide::B => 1,
        };
        if self.held[index] == on_hold || self.ended {
            return;
        }
        self.held[index] = on_hold;
        let any_held = self.held.iter().any(|h| *h);
        self.registry.update(self.id, |s| {
            if s.state == CallState::Answered || s.state == CallState::Held {
                s.state = if any_held {
                    CallState::Held
                } else {
                    CallState::Answered
                };
            }
        });
        let kind = if on_hold {
            EventType::CallHeld
        } else {
            EventType::CallResumed
        };
        self.events
            .publish(kind, Some(self.id.to_string()), json!({ "side": side }));
    }

    /// The call ended: publishes `call.hungup` with its cause and forgets it.
    pub fn ended(&mut self, record: &CallRecord) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.registry.remove(self.id);
        record_metrics(self.direction, record);
        self.events.publish(
            EventType::CallHungup,
            Some(self.id.to_string()),
            json!({
                "cause": record.hangup.cause,
                "sip_status": record.hangup.sip_status,
                "q850": record.hangup.q850,
                "side": record.hangup.side,
                "answered": record.answered_at.is_some(),
                "duration_secs": record.duration_secs(),
                "billable_secs": record.billable_secs(),
            }),
        );
    }
}

/// An ended call's outcome and media totals (RTP counted here, in bulk, never per packet).
fn record_metrics(direction: CallDirection, record: &CallRecord) {
    let m = metrics();
    m.call_ended(
        direction.as_str(),
        record.answered_at.is_some(),
        &record.hangup.cause,
    );
    let media = record.legs.iter().filter_map(|leg| leg.media);
    let (relayed, lost) = media.fold((0, 0), |(relayed, lost), c| {
        (
            relayed + c.packets_out,
            lost + c.packets_lost.max(0).unsigned_abs(),
        )
    });
    m.rtp_packets(relayed, lost);
}

impl Drop for CallLifecycle {
    fn drop(&mut self) {
        // An actor that stops without a record (it never should) still leaves the registry.
        if !self.ended {
            self.registry.remove(self.id);
        }
    }
}
