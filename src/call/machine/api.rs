//! The call machine's inputs and outputs: per-call settings, the setup handed over by the
//! shard, the targets to ring, the bytes to send and the events for the call actor.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use sip_core::message::{NameAddr, Uri};
use sip_core::transaction::{ServerInviteTransaction, TimerConfig, TransactionKey};

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

/// What starts an originated call (click-to-call): the switch rings the originating phone (A)
/// first, with an offer of its own; once A answers, the route's stages are dialled for B.
/// Media is always anchored: the offer to A names the relay.
#[derive(Debug)]
pub struct OriginateSetup {
    /// Our id of the call.
    pub id: CallId,
    /// Name of the phones profile of A (for the call record).
    pub profile: String,
    /// A's extension (the record's caller).
    pub user: String,
    /// SIP Call-ID of the A leg; the call's mailbox is already routed for it.
    pub a_call_id: String,
    /// A's address of record: the To of A's INVITE.
    pub a_uri: Uri,
    /// A's registered contacts, rung at once (A's `identity`, `credentials`, `trunk` and
    /// `pass_headers` are not used).
    pub a_targets: Vec<Target>,
    /// The From of A's INVITE: who A's phone shows as calling (the destination, or the
    /// caller-ID name given).
    pub shown_to_a: NameAddr,
    /// The From of B's branches unless the route changes it: A's number, or the caller-ID
    /// number and name given.
    pub shown_to_b: NameAddr,
    /// The destination as dialled: To of B's branches and the record's `to_uri`.
    pub destination: Uri,
    /// How long A may ring before the call ends (`no_answer`).
    pub ring_timeout: Duration,
    /// Per-call settings (B's stages ring for `settings.ring_timeout`).
    pub settings: CallSettings,
    /// Relay address A is told to send its media to.
    pub relay_a: SocketAddr,
    /// Relay address B is told to send its media to.
    pub relay_b: SocketAddr,
    /// Wall-clock time at `now` of [`super::CallMachine::originate`], for the call record.
    pub wall: UnixMillis,
}

/// One destination to ring: a registered contact of the callee, or a carrier gateway.
#[derive(Debug, Clone)]
pub struct Target {
    /// Request-URI of the branch's INVITE (the registered contact, or `sip:number@gateway`).
    pub uri: Uri,
    /// The flow to send the branch's requests on.
    pub flow: Peer,
    /// How the switch presents itself and the caller on this branch; default: the caller's
    /// From as received, To from the caller's To.
    pub identity: BranchIdentity,
    /// Digest credentials for challenges (401/407) on this branch; None: a challenge is a
    /// failure like any other 4xx.
    pub credentials: Option<BranchCredentials>,
    /// Name of the carrier trunk this branch goes out on (call record, passive health).
    pub trunk: Option<String>,
    /// Headers of the caller's INVITE copied onto this branch's INVITE (lower-case names, an
    /// allow-list: everything else of the caller's stays on the caller's side).
    pub pass_headers: Vec<String>,
    /// Codecs (encoding names) this branch may be offered; empty: any. A caller offer with
    /// none of them cannot go this way: the branch fails with 488 without being sent.
    pub codecs: Vec<String>,
}

impl Target {
    /// A branch to `uri` on `flow` with the defaults: caller identity as received, no
    /// credentials, no trunk, no headers passed through.
    pub fn new(uri: Uri, flow: Peer) -> Self {
        Self {
            uri,
            flow,
            identity: BranchIdentity::default(),
            credentials: None,
            trunk: None,
            pass_headers: Vec::new(),
            codecs: Vec::new(),
        }
    }
}

/// Identity headers of one branch's INVITE (RFC 3261 §8.1.1.3, RFC 3325, RFC 3323).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchIdentity {
    /// From URI; None: the caller's From URI as received.
    pub from_uri: Option<Uri>,
    /// From display name; None: the caller's display name (if any).
    pub from_display: Option<String>,
    /// To URI; None: the caller's To URI.
    pub to_uri: Option<Uri>,
    /// P-Asserted-Identity value to send (a URI); None: no P-Asserted-Identity.
    pub asserted: Option<Uri>,
    /// RFC 3323 privacy: `Privacy: id` and an anonymous From
    /// (`"Anonymous" <sip:anonymous@anonymous.invalid>`).
    pub privacy: bool,
}

/// Digest credentials a branch may answer challenges with (RFC 3261 §22.2). Only a challenge
/// whose realm equals `realm` and that came from the branch's own flow address is answered;
/// anything else fails the branch like any other 4xx, so the credentials never leak.
#[derive(Clone, PartialEq, Eq)]
pub struct BranchCredentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The only realm these credentials answer.
    pub realm: String,
}

impl std::fmt::Debug for BranchCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchCredentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// One step of dialling: its targets ring at once; when all of them fail with a status in
/// `failover_on` (or the step's own timeouts fire) the machine asks its route for the next
/// stage instead of answering the caller.
#[derive(Debug, Clone)]
pub struct Stage {
    /// Rung in parallel (never empty).
    pub targets: Vec<Target>,
    /// Ring this long, then cancel the stage's branches and go on to the next stage (counts as
    /// a failover-able failure with status 480). None: the call's ring timeout, restarted for
    /// this stage, whose expiry ends the call (480, `no_answer`).
    pub ring_timeout: Option<Duration>,
    /// A branch without any response (100 Trying included) within this is abandoned and
    /// counts as failed with 408 (failover-able, silent). RFC 3261 §9.1 forbids a CANCEL
    /// before a provisional response: its transaction runs out on its own, a late provisional
    /// response gets the CANCEL then, a late 2xx gets ACK and BYE. None: Timer B alone.
    pub provisional_timeout: Option<Duration>,
    /// Final statuses of a failed stage that go on to the next stage; any other final status
    /// (and any 6xx unless listed) answers the caller at once, with the best failure of all
    /// stages so far.
    pub failover_on: Vec<u16>,
}

/// How one branch of a finished stage ended (passive health, the next stage's choice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchOutcome {
    /// The branch's trunk, if any.
    pub trunk: Option<String>,
    /// The flow it was sent on.
    pub flow: Peer,
    /// Its final status: a received one, 408 for Timer B or the provisional timeout, 480 for
    /// the stage's ring timeout, 503 for a transport failure.
    pub status: u16,
    /// No response at all arrived (Timer B, provisional timeout, transport failure).
    pub silent: bool,
}

/// A stage that failed and may go on: what each branch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageOutcome {
    /// Every branch of the stage, in the order of its targets.
    pub branches: Vec<BranchOutcome>,
    /// The status the caller would get if no stage follows (the best failure of all stages so
    /// far).
    pub best_status: u16,
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
    /// The client transaction whose request this is: when the send fails, the actor reports
    /// it with [`super::CallMachine::handle_undelivered`] (RFC 3261 §17.1.4). None for
    /// responses and ACKs (no client transaction waits on them).
    pub transaction: Option<TransactionKey>,
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
    /// The caller got the call's first provisional answer from the callee's side (180 or
    /// 183): the callee is ringing.
    Ringing,
    /// The originating phone (A) of an originated call answered: the actor answers with
    /// [`super::CallMachine::dial`] (the route's first stage) or
    /// [`super::CallMachine::no_more_stages`], as soon as it has the route.
    OriginAnswered,
    /// The callee answered and the caller got the 2xx; in an originated call, both phones
    /// are connected ([`super::CallMachine::answered_branch`] says which branch).
    Answered,
    /// The stage being rung failed in a way that may go on (a status in its `failover_on`, its
    /// ring or provisional timeout): the caller has heard nothing of it. The actor answers with
    /// [`super::CallMachine::dial`] (the next stage) or
    /// [`super::CallMachine::no_more_stages`].
    StageFailed(StageOutcome),
    /// A DTMF digit A sent by SIP INFO (`application/dtmf-relay` or `application/dtmf`)
    /// while the switch answered it for an app (in a bridged call INFO is relayed instead).
    Dtmf(char),
    /// The call is over; its record (media counters still to be filled in by the actor).
    Ended(Box<CallRecord>),
    /// Every transaction has finished: the actor may stop and forget the Call-IDs.
    Finished,
}

/// Retransmissions and timeouts of a call's transactions (for metrics), counted since they
/// were last taken ([`super::CallMachine::take_transaction_counts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionCounts {
    /// Requests the switch sent again on its retransmit timers (RFC 3261 Timer A and E).
    pub requests_resent: u32,
    /// Requests that arrived again and were absorbed by their server transaction (ACKs not
    /// counted).
    pub requests_absorbed: u32,
    /// Transactions that gave up, by the timer that fired (B, F, H).
    pub timeouts: Vec<sip_core::transaction::Timer>,
}
