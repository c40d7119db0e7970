//! The call machine's inputs and outputs: per-call settings, the setup handed over by the
//! shard, the targets to ring, the bytes to send and the events for the call actor.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use sip_core::message::Uri;
use sip_core::transaction::{ServerInviteTransaction, TimerConfig};

use crate::call::record::{CallId, CallRecord, LegSide};
use crate::cluster::UnixMillis;
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

impl MediaPlan {
    /// The relay address the phone on `side` is told to send its media to (None: direct).
    pub fn relay_for(self, side: LegSide) -> Option<SocketAddr> {
        match (self, side) {
            (MediaPlan::Direct, _) => None,
            (MediaPlan::Anchored { a, .. }, LegSide::A) => Some(a),
            (MediaPlan::Anchored { b, .. }, LegSide::B) => Some(b),
        }
    }
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
    /// Wall-clock time at `now` of [`super::CallMachine::new`], for the call record.
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
