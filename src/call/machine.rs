//! The sans-IO call machine: both sides of one B2BUA call (the caller's leg and the forked
//! callee branches), their transactions, dialogs and timers. Pure: no I/O, no clock.
//!
//! Run-loop invariant: after any input (`dial`, `reject`, `hangup`, `handle_message`,
//! `handle_timeout`), drain `poll_transmit` and `poll_event`, then re-arm the timer from
//! `poll_timeout`.
//!
//! SKELETON: the API below is the contract the call actor codes against; the machine's
//! behaviour is being filled in.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::message::Uri;
use sip_core::transaction::{ServerInviteTransaction, TimerConfig};

use super::cause::HangupCause;
use super::record::{CallId, CallRecord, LegSide};
use crate::cluster::UnixMillis;
use crate::sip::call_table::CallMessage;
use crate::sip::response_route::ResponseRoute;
use crate::transport::Peer;

/// Per-call settings, taken from the profile when the call starts (a reload does not change
/// calls in progress).
#[derive(Debug, Clone)]
pub struct CallSettings {
    /// RFC 3261 timers T1, T2, T4.
    pub timers: TimerConfig,
    /// How long the callee's phones may ring before the caller gets 480 (cause `no_answer`).
    pub ring_timeout: Duration,
    /// Longest call after answer; None for no limit.
    pub max_duration: Option<Duration>,
    /// RFC 4028 session interval the switch asks for when the caller does not; None disables
    /// session timers on the switch's side (a caller's Session-Expires is still honoured).
    pub session_expires: Option<Duration>,
    /// RFC 4028 Min-SE: shorter session intervals are refused with 422.
    pub min_se: Duration,
    /// Value of the User-Agent / Server headers the switch sends.
    pub user_agent: String,
}

/// Where a call's media goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaPlan {
    /// SDP passes through untouched; media flows between the phones (signalling only).
    Direct,
    /// The switch relays media: each side's SDP is rewritten to the relay address of the other
    /// side. `a` is what the caller is told to send to (RTP; RTCP at port + 1), `b` what the
    /// callee is told.
    Anchored {
        /// Relay address offered to the caller's leg.
        a: SocketAddr,
        /// Relay address offered to the callee's legs.
        b: SocketAddr,
    },
}

/// What starts a call: the caller's authenticated INVITE, already in its server transaction.
#[derive(Debug)]
pub struct CallSetup {
    /// Our id of the call.
    pub id: CallId,
    /// Name of the profile the INVITE arrived on (for the call record).
    pub profile: String,
    /// The authenticated caller (digest user), when there is one.
    pub caller: Option<String>,
    /// The caller's INVITE server transaction (its request is the INVITE).
    pub invite: ServerInviteTransaction,
    /// The flow the INVITE arrived on: in-dialog requests to the caller go there.
    pub a_peer: Peer,
    /// Where responses to the caller's requests go.
    pub a_route: ResponseRoute,
    /// Per-call settings.
    pub settings: CallSettings,
    /// Media anchoring.
    pub media: MediaPlan,
    /// Wall-clock time at `now` of [`CallMachine::new`], for the call record.
    pub wall: UnixMillis,
}

/// One phone to ring: a registered contact of the callee.
#[derive(Debug, Clone)]
pub struct Target {
    /// Request-URI of the branch's INVITE (the registered contact).
    pub uri: Uri,
    /// The flow to send the branch's requests on.
    pub flow: Peer,
}

/// Where a transmit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// A response, routed as RFC 3261 §18.2.2 says.
    Response(ResponseRoute),
    /// A request, on this flow.
    Flow(Peer),
}

/// Bytes to send.
#[derive(Debug, Clone)]
pub struct Transmit {
    /// Where.
    pub destination: Destination,
    /// The encoded SIP message.
    pub bytes: Bytes,
}

/// What the machine tells its actor.
#[derive(Debug)]
pub enum CallEvent {
    /// A side's SDP says where its media goes: the relay sends that side's media there (and
    /// latches on it). `on_hold` when the side's SDP is sendonly or inactive.
    RemoteMedia {
        /// Which side.
        side: LegSide,
        /// The side's RTP address.
        rtp: SocketAddr,
        /// The side's RTCP address (RFC 3605 a=rtcp, or RTP port + 1; the RTP address with
        /// rtcp-mux).
        rtcp: SocketAddr,
        /// Sendonly or inactive.
        on_hold: bool,
    },
    /// The callee answered and the caller got the 2xx.
    Answered,
    /// The call is over; its record (media counters still to be filled in by the actor).
    Ended(Box<CallRecord>),
    /// Every transaction has finished: the actor may stop and forget the Call-IDs.
    Finished,
}

/// Both sides of one call. See the module doc for the run-loop invariant.
#[derive(Debug)]
pub struct CallMachine {
    id: CallId,
    a_call_id: String,
    b_call_id: String,
    transmits: VecDeque<Transmit>,
    events: VecDeque<CallEvent>,
}

impl CallMachine {
    /// Starts the call: takes over the caller's INVITE transaction and sends 100 Trying.
    pub fn new(setup: CallSetup, now: Instant) -> Self {
        let _ = now;
        let a_call_id = setup
            .invite
            .request()
            .headers()
            .call_id()
            .map(str::to_owned)
            .unwrap_or_default();
        CallMachine {
            id: setup.id,
            a_call_id,
            b_call_id: format!("{}", uuid::Uuid::new_v4()),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Our id of the call.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// SIP Call-ID of the caller's leg.
    pub fn a_call_id(&self) -> &str {
        &self.a_call_id
    }

    /// SIP Call-ID the switch uses towards the callee (all branches share it).
    pub fn b_call_id(&self) -> &str {
        &self.b_call_id
    }

    /// Rings every target at once (RFC 3261 §16.7-style parallel forking, as a B2BUA: one
    /// INVITE client transaction per target). The first 2xx wins; the others get CANCEL.
    pub fn dial(&mut self, now: Instant, targets: Vec<Target>) {
        let _ = (now, targets);
    }

    /// Ends the call before dialling (unknown or unregistered callee): the caller gets the
    /// cause's SIP status.
    pub fn reject(&mut self, now: Instant, cause: HangupCause) {
        let _ = (now, cause);
    }

    /// Ends the call from outside (media timeout, shutdown): CANCEL/BYE as each leg's state
    /// requires; the caller gets the cause's status if unanswered.
    pub fn hangup(&mut self, now: Instant, cause: HangupCause) {
        let _ = (now, cause);
    }

    /// A SIP message for this call.
    pub fn handle_message(&mut self, now: Instant, message: CallMessage) {
        let _ = (now, message);
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the actor.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}
