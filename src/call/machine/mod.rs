//! The sans-IO call machine: both sides of one B2BUA call (the caller's leg and the forked
//! callee branches), their transactions, dialogs and timers. Pure: no I/O, no clock.
//!
//! Run-loop invariant: after any input (`dial`, `no_more_stages`, `reject`, `hangup`,
//! `handle_message`, `handle_timeout`), drain `poll_transmit` and `poll_event`, then re-arm the
//! timer from `poll_timeout`. Every `CallEvent::StageFailed` and `CallEvent::OriginAnswered` is
//! answered with `dial` (the next stage) or `no_more_stages`.
//!
//! The machine builds every message itself (RFC 3261 §16 does not apply: this is a
//! back-to-back user agent), so no Via, Contact, Record-Route or tag of one side reaches the
//! other. Its parts:
//! - `caller`: the A leg's INVITE: checks, responses, CANCEL;
//! - `originate`: the A leg of an originated call (click-to-call), which the switch dials;
//! - `stage`: dialling stage by stage: failover, stage timeouts, the caller's failure answer;
//! - `branch`: the forked B branches: provisional relay, answer, failure, CANCEL;
//! - `branch_invite`: a branch's INVITE: identity, header allow-list, sending it again;
//! - `challenge`: digest answers to a carrier's 401/407;
//! - `in_dialog`: requests inside the call's dialogs: BYE, INFO/OPTIONS/MESSAGE, 481;
//! - `offer`: re-INVITE and UPDATE, glare, local answers, session refreshes by the phones;
//! - `relay`: requests relayed to the other side, their responses, CANCEL and Timer C;
//! - `refresh`: the switch's own RFC 4028 refreshes and their failure;
//! - `ack`: 2xx retransmission until the ACK and the ACKs the switch sends;
//! - `ending`: how a call ends, the call record, and when the machine is finished;
//! - `session_timer`, `sdp_rewrite`, `outgoing`, `transactions`: the shared pieces.
//!
//! An originated call ([`CallMachine::originate`]) starts in its own phase: the switch rings
//! A's contacts itself (`originate`), and A's answer then takes the place of a caller's offer,
//! so B is dialled through the same stages, branches, failover, CANCEL and in-dialog code as
//! any call. The A leg is not a stage of its own: a stage's outcome is the caller's answer,
//! while A's outcome decides whether B is dialled at all. What a caller's INVITE would be told
//! (provisional responses, the 2xx, a failure) is not sent to A, whose INVITE is answered
//! already: B's answer completes the bridge, B's failure is a BYE to A.

mod ack;
mod api;
mod branch;
mod branch_invite;
mod caller;
mod challenge;
mod ending;
mod in_dialog;
mod local;
mod offer;
mod originate;
mod outgoing;
mod refresh;
mod relay;
mod sdp_rewrite;
mod session_timer;
mod stage;
mod transactions;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sip_core::dialog::Dialog;
use sip_core::message::{Method, Request, StatusCode};
use sip_core::transaction::{TransactionEvent, TransactionKey};

pub use api::{
    BranchCredentials, BranchIdentity, BranchOutcome, CallEvent, CallSettings, CallSetup,
    Destination, MediaPlan, OriginateSetup, Stage, StageOutcome, Target, TransactionCounts,
    Transmit,
};

use self::ack::{PendingOk, SentAck};
use self::branch::Branch;
use self::caller::Caller;
use self::local::AppLeg;
use self::originate::Originated;
use self::refresh::Refreshing;
use self::relay::Relay;
use self::sdp_rewrite::{PhoneMedia, SdpLeg};
use self::session_timer::LegTimer;
use self::stage::Stages;
use self::transactions::{Role, Transactions, Tx, TxEvent};
use super::cause::HangupCause;
use super::record::{CallId, HangupSide, LegSide};
use crate::cluster::UnixMillis;
use crate::sip::call_table::CallMessage;
use crate::transport::{Peer, Transport};

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// An originated call rings its A leg; nothing is dialled for B yet.
    Originating,
    /// Waiting for `dial`, `no_more_stages` or `reject`: before the first stage, and
    /// between stages after a failover.
    Routing,
    /// Branches are ringing.
    Ringing,
    /// A was answered by the switch itself: a media application runs on it, no B.
    App,
    /// The caller got a 2xx.
    Answered,
    /// The call is over (transactions may still be finishing).
    Ended,
}

/// The confirmed (or, for A, early) dialog of one side, and its session timer.
#[derive(Debug)]
struct Leg {
    dialog: Dialog,
    /// The flow the switch's requests to this side go on.
    flow: Peer,
    timer: Option<LegTimer>,
    allows_update: bool,
    supports_timer: bool,
    /// The switch's own refresh in flight on this leg.
    refreshing: Option<Refreshing>,
}

/// Both sides of one call. See the module doc for the run-loop invariant.
#[derive(Debug)]
pub struct CallMachine {
    id: CallId,
    a_call_id: String,
    b_call_id: String,
    profile: String,
    caller_user: Option<String>,
    settings: CallSettings,
    media: MediaPlan,
    /// `now` at `new`, matched with `wall` for the record's times.
    epoch: Instant,
    wall: UnixMillis,
    phase: Phase,
    caller: Caller,
    /// The switch's From tag towards every branch.
    b_tag: String,
    branches: Vec<Branch>,
    stages: Stages,
    /// Where the response being handled came from (a challenge is answered only from the
    /// branch's own address).
    response_from: Option<SocketAddr>,
    a_leg: Option<Leg>,
    b_leg: Option<Leg>,
    sdp_a: SdpLeg,
    sdp_b: SdpLeg,
    txs: Transactions,
    relays: Vec<Relay>,
    next_relay: u32,
    oks: Vec<PendingOk>,
    acks: Vec<SentAck>,
    answered_at: Option<Instant>,
    ring_deadline: Option<Instant>,
    max_duration_deadline: Option<Instant>,
    finish_deadline: Option<Instant>,
    finished: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<CallEvent>,
    /// The A leg the switch dials itself, in an originated call.
    originated: Option<Box<Originated>>,
    /// A's leg as the switch answered it for a media application (kept after a transfer).
    app: Option<Box<AppLeg>>,
    /// Why the call ended, once it has.
    ended_cause: Option<HangupCause>,
}

/// What a new machine starts from, whichever way the call starts.
struct Start {
    id: CallId,
    a_call_id: String,
    profile: String,
    caller_user: Option<String>,
    settings: CallSettings,
    media: MediaPlan,
    wall: UnixMillis,
    phase: Phase,
    caller: Caller,
    a_leg: Option<Leg>,
    txs: Transactions,
    originated: Option<Box<Originated>>,
}

impl CallMachine {
    /// A machine with nothing sent, dialled or timed yet.
    fn assemble(start: Start, now: Instant) -> Self {
        CallMachine {
            id: start.id,
            a_call_id: start.a_call_id,
            b_call_id: uuid::Uuid::new_v4().to_string(),
            profile: start.profile,
            caller_user: start.caller_user,
            settings: start.settings,
            media: start.media,
            epoch: now,
            wall: start.wall,
            phase: start.phase,
            caller: start.caller,
            b_tag: outgoing::new_tag(),
            branches: Vec::new(),
            stages: Stages::default(),
            response_from: None,
            a_leg: start.a_leg,
            b_leg: None,
            sdp_a: SdpLeg::new(),
            sdp_b: SdpLeg::new(),
            txs: start.txs,
            relays: Vec::new(),
            next_relay: 0,
            oks: Vec::new(),
            acks: Vec::new(),
            answered_at: None,
            ring_deadline: None,
            max_duration_deadline: None,
            finish_deadline: None,
            finished: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            originated: start.originated,
            app: None,
            ended_cause: None,
        }
    }

    /// Starts the call: takes over the caller's INVITE transaction and sends 100 Trying.
    /// An INVITE the switch cannot take (an unsupported Require, Max-Forwards 0, a body it
    /// cannot read, a session interval below Min-SE) is answered at once and the call ends.
    pub fn new(setup: CallSetup, now: Instant) -> Self {
        caller::start(setup, now)
    }

    /// Starts an originated call (click-to-call): sends A's INVITEs, with the switch's own
    /// offer naming the relay. Once A answers, `CallEvent::OriginAnswered` asks for B's first
    /// stage; before that, `dial` is ignored. A that does not answer within the setup's ring
    /// timeout (`no_answer`), refuses, or cannot be reached ends the call, nothing dialled.
    pub fn originate(setup: OriginateSetup, now: Instant) -> Self {
        originate::start(setup, now)
    }

    /// Answers the caller's INVITE in the switch for a media application (only while the
    /// machine waits for a stage, with anchored media): 200 with the switch's SDP answer
    /// naming the relay's A address, in the first PCMU/PCMA of the caller's offer (plus
    /// telephone-event when offered, its payload type kept), 20 ms packets; retransmitted
    /// until the ACK (RFC 3261 §13.3.1.4). The call counts as answered now
    /// (`CallEvent::Answered`) and enters the app phase: INFO DTMF is reported as
    /// `CallEvent::Dtmf`, `hangup` sends BYE, `dial` transfers. Err: the caller could not be
    /// answered so (direct media, no offer, no G.711: 488), and the call is refused with that
    /// cause; or the machine is not waiting for a stage (nothing changes).
    pub fn answer_locally(
        &mut self,
        now: Instant,
    ) -> Result<crate::media::MediaFormat, HangupCause> {
        self.answer_caller_locally(now)
    }

    /// Starts the app phase of an originated call after `CallEvent::OriginAnswered`: INFO
    /// DTMF from A is reported, `hangup` sends BYE, `dial` transfers to B. The call counts as
    /// answered now. Err: not an originated call waiting for B's stage (nothing changes), or
    /// A's answer has no G.711 (the call ends).
    pub fn start_app(&mut self, now: Instant) -> Result<crate::media::MediaFormat, HangupCause> {
        self.start_origin_app(now)
    }

    /// The audio format of the app's leg (A), once the app phase started: the codec of the
    /// switch's answer, or of A's answer in an originated call.
    pub fn app_media_format(&self) -> Option<crate::media::MediaFormat> {
        self.app_format()
    }

    /// The G.711 format `side`'s phone speaks through the relay, from the SDP exchanged (for
    /// music on hold); None when its SDP has no PCMU/PCMA.
    pub fn media_format(&self, side: LegSide) -> Option<crate::media::MediaFormat> {
        self.side_format(side)
    }

    /// Why the call ended (None while it goes on).
    pub fn hangup_cause(&self) -> Option<HangupCause> {
        self.ended_cause
    }

    /// True in the app phase (A answered by the switch, nothing dialled since).
    pub fn in_app(&self) -> bool {
        self.phase == Phase::App
    }

    /// True while the machine waits for `dial` or `no_more_stages`.
    pub fn awaits_stage(&self) -> bool {
        self.phase == Phase::Routing
    }

    /// Retransmissions and timeouts of the call's transactions since the last call of this.
    pub fn take_transaction_counts(&mut self) -> TransactionCounts {
        self.txs.take_counts()
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

    /// True once the call has ended (`CallEvent::Ended` was emitted).
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// Rings every target of `stage` at once (RFC 3261 §16.7-style parallel forking, as a
    /// B2BUA: one INVITE client transaction per target). The first 2xx wins; the others get
    /// CANCEL. When the stage fails in a way that may go on, `CallEvent::StageFailed` asks for
    /// the next stage. Ignored unless the machine waits for a stage.
    ///
    /// In the app phase (A answered by the switch) this is a transfer: the branches are
    /// offered the switch's answer to A, B's answer bridges the call, and B's failure (of
    /// every stage) is a BYE to A.
    pub fn dial(&mut self, now: Instant, stage: Stage) {
        self.leave_app_for_transfer();
        self.dial_stage(now, stage);
        self.pump(now);
    }

    /// No stage follows: the caller gets the best failure of all stages dialled (RFC 3261
    /// §16.7 step 6 ranking), or 480 when none was. Ignored unless the machine waits for a
    /// stage.
    /// In the app phase, the call ends with a BYE to A.
    pub fn no_more_stages(&mut self, now: Instant) {
        self.leave_app_for_transfer();
        if self.phase == Phase::Routing {
            self.answer_failure(now);
        }
        self.pump(now);
    }

    /// The branch that answered the call (after `CallEvent::Answered`).
    pub fn answered_branch(&self) -> Option<BranchOutcome> {
        self.winner_outcome()
    }

    /// Ends the call before dialling (unknown or unregistered callee): the caller gets the
    /// cause's SIP status.
    pub fn reject(&mut self, now: Instant, cause: HangupCause) {
        if matches!(
            self.phase,
            Phase::Originating | Phase::Routing | Phase::Ringing
        ) {
            self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
        }
        self.pump(now);
    }

    /// Ends the call from outside (media timeout, shutdown): CANCEL/BYE as each leg's state
    /// requires; the caller gets the cause's status if unanswered.
    pub fn hangup(&mut self, now: Instant, cause: HangupCause) {
        match self.phase {
            Phase::Originating | Phase::Routing | Phase::Ringing => {
                self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
            }
            Phase::Answered | Phase::App => {
                self.tear_down(now, cause, HangupSide::Switch, true, true);
            }
            Phase::Ended => {}
        }
        self.pump(now);
    }

    /// A SIP message for this call.
    pub fn handle_message(&mut self, now: Instant, message: CallMessage) {
        if !self.finished {
            match message {
                CallMessage::Request {
                    request,
                    peer,
                    route,
                } => self.on_request(now, request, peer, route),
                CallMessage::Response { response, peer } => {
                    if let Ok(key) = TransactionKey::for_response(&response) {
                        // A response matching no transaction is dropped (RFC 3261 §18.1.2).
                        self.txs.handle_response(&key, now, response);
                        self.response_from = Some(peer.remote);
                    }
                }
                CallMessage::Undelivered { request, .. } => {
                    if let Ok(key) = TransactionKey::for_client_request(&request) {
                        self.txs.handle_transport_error(&key, now);
                    }
                }
                CallMessage::HangUp => self.hangup(now, HangupCause::ManagerRequest),
                // The actor answers these itself (the relay is its).
                CallMessage::Recording { .. } => {}
            }
        }
        self.pump(now);
        self.response_from = None;
    }

    /// The transport could not send the request of client transaction `key` (a send that
    /// failed at once, or a message its TCP connection never wrote): RFC 3261 §17.1.4, the
    /// transaction fails with a transport error now instead of waiting for Timer B or F. A
    /// branch's INVITE counts as 503 without a response (§8.1.3.1), and its stage fails over
    /// whatever the stage's `failover_on` says: the carrier decided nothing. Requests that
    /// belong to no live client transaction (an ACK, a response) change nothing.
    pub fn handle_undelivered(&mut self, now: Instant, key: &TransactionKey) {
        if !self.finished {
            self.txs.handle_transport_error(key, now);
        }
        self.pump(now);
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        self.txs.handle_timeout(now);
        self.pump(now);
        self.call_timers(now);
        self.pump(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.transmits.pop_front();
        release_if_drained(&mut self.transmits);
        transmit
    }

    /// The next event for the actor.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        let event = self.events.pop_front();
        release_if_drained(&mut self.events);
        event
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let legs = [&self.a_leg, &self.b_leg];
        let leg_timers = legs
            .into_iter()
            .flatten()
            .filter(|leg| leg.refreshing.is_none() && self.is_connected())
            .filter_map(|leg| leg.timer.map(|t| t.deadline()));
        let answered = self.is_connected();
        [
            self.txs.poll_timeout(),
            self.ring_deadline,
            self.stage_deadline(),
            self.max_duration_deadline,
            self.finish_deadline,
            self.oks.iter().map(|ok| ok.next_due()).min(),
            self.refresh_deadline().filter(|_| answered),
            self.relay_deadline().filter(|_| answered),
        ]
        .into_iter()
        .flatten()
        .chain(leg_timers)
        .min()
    }

    /// The machine's own timers: ring timeout, maximum duration, 2xx retransmissions,
    /// Timer C of relayed re-INVITEs and of the switch's refreshes, and session timers.
    fn call_timers(&mut self, now: Instant) {
        if self.ring_deadline.is_some_and(|at| at <= now) {
            self.ring_deadline = None;
            let cause = HangupCause::NoAnswer;
            self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
        }
        self.stage_timers(now);
        if self.max_duration_deadline.is_some_and(|at| at <= now) {
            self.max_duration_deadline = None;
            self.tear_down(
                now,
                HangupCause::MaxDuration,
                HangupSide::Switch,
                true,
                true,
            );
        }
        self.retransmit_oks(now);
        if self.is_connected() {
            self.relay_timers(now);
            self.refresh_timers(now);
        }
        for side in [LegSide::A, LegSide::B] {
            let due = self.is_connected()
                && self.leg(side).is_some_and(|leg| {
                    leg.refreshing.is_none() && leg.timer.is_some_and(|t| t.deadline() <= now)
                });
            if due {
                self.session_timer_due(now, side);
            }
        }
        if self.finish_deadline.is_some_and(|at| at <= now) {
            self.finish_deadline = None;
            self.finish();
        }
    }

    /// Runs every transaction's output through the call logic until nothing new happens.
    fn pump(&mut self, now: Instant) {
        loop {
            let events = self.txs.drain(&mut self.transmits);
            if events.is_empty() {
                break;
            }
            for event in events {
                self.on_tx_event(now, event);
            }
        }
        if self.phase == Phase::Ended && self.txs.is_empty() && self.oks.is_empty() {
            self.finish();
        }
    }

    fn on_tx_event(&mut self, now: Instant, TxEvent { role, key, event }: TxEvent) {
        match event {
            TransactionEvent::Terminated => self.acks.retain(|a| a.key != key),
            TransactionEvent::Response(response) => {
                if response.status().is_success() && self.resend_ack(&key, &response) {
                    return;
                }
                match role {
                    Role::Branch(n) => self.on_branch_response(now, n, &key, response),
                    Role::Origin(n) => self.on_origin_response(now, n, &key, response),
                    Role::RelayClient(id) => self.on_relay_response(now, id, &key, response),
                    Role::Refresh(side) => self.on_refresh_response(now, side, &key, response),
                    Role::CallerInvite
                    | Role::Detached
                    | Role::Answered(_)
                    | Role::RelayServer(_) => {}
                }
            }
            TransactionEvent::Timeout(_) | TransactionEvent::TransportError => match role {
                Role::Branch(n) => {
                    if matches!(event, TransactionEvent::Timeout(_)) {
                        self.on_branch_gone(now, n, StatusCode::REQUEST_TIMEOUT);
                    } else {
                        self.on_branch_unreachable(now, n);
                    }
                }
                Role::Origin(n) => {
                    let status = if matches!(event, TransactionEvent::Timeout(_)) {
                        StatusCode::REQUEST_TIMEOUT
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    self.on_origin_gone(now, n, status);
                }
                Role::RelayClient(id) => self.on_relay_gone(now, id),
                Role::Refresh(side) => self.on_refresh_failed(now, side),
                // The caller can no longer be answered: the call cannot go on.
                Role::CallerInvite if matches!(self.phase, Phase::Routing | Phase::Ringing) => {
                    let cause = HangupCause::TemporaryFailure;
                    self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
                }
                Role::CallerInvite if self.is_connected() => {
                    self.tear_down(
                        now,
                        HangupCause::TemporaryFailure,
                        HangupSide::Switch,
                        true,
                        true,
                    );
                }
                _ => {}
            },
            TransactionEvent::Ack(ack) => {
                if let Some(side) = self.side_of(&ack) {
                    self.on_ack(side, ack);
                }
            }
        }
    }

    /// True while A's session is established: bridged to B, or answered by the switch for
    /// an app (session timers and refreshes run).
    fn is_connected(&self) -> bool {
        matches!(self.phase, Phase::Answered | Phase::App)
    }

    /// Which side a message belongs to, by its Call-ID.
    fn side_of(&self, request: &Request) -> Option<LegSide> {
        let call_id = request.headers().call_id().ok()?;
        if call_id == self.a_call_id {
            Some(LegSide::A)
        } else if call_id == self.b_call_id {
            Some(LegSide::B)
        } else {
            None
        }
    }

    fn leg(&self, side: LegSide) -> Option<&Leg> {
        match side {
            LegSide::A => self.a_leg.as_ref(),
            LegSide::B => self.b_leg.as_ref(),
        }
    }

    fn leg_mut(&mut self, side: LegSide) -> Option<&mut Leg> {
        match side {
            LegSide::A => self.a_leg.as_mut(),
            LegSide::B => self.b_leg.as_mut(),
        }
    }

    fn sdp_mut(&mut self, side: LegSide) -> &mut SdpLeg {
        match side {
            LegSide::A => &mut self.sdp_a,
            LegSide::B => &mut self.sdp_b,
        }
    }

    /// Tells the actor where `side`'s phone wants its media (not after the call ended).
    fn remote_media(&mut self, side: LegSide, media: Option<PhoneMedia>) {
        if self.phase == Phase::Ended {
            return;
        }
        if let Some(PhoneMedia { rtp, rtcp, on_hold }) = media {
            self.events.push_back(CallEvent::RemoteMedia {
                side,
                rtp,
                rtcp,
                on_hold,
            });
        }
    }

    /// Sends a new request on `flow` in its own client transaction; false when the request
    /// could not start one (it then has no outcome to wait for).
    fn send_request(&mut self, now: Instant, request: Request, flow: Peer, role: Role) -> bool {
        let reliable = flow.transport == Transport::Tcp;
        let timers = self.settings.timers;
        let destination = Destination::Flow(flow);
        let tx = if *request.method() == Method::Invite {
            sip_core::transaction::ClientInviteTransaction::new(request, now, reliable, timers)
                .map(|t| Tx::InviteClient(Box::new(t)))
        } else {
            sip_core::transaction::ClientNonInviteTransaction::new(request, now, reliable, timers)
                .map(|t| Tx::NonInviteClient(Box::new(t)))
        };
        match tx {
            Ok(tx) => {
                self.txs.insert(tx, destination, role);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "could not start a client transaction");
                false
            }
        }
    }

    /// Sends an ACK (no transaction, RFC 3261 §17.1.1.3 / §13.2.2.4).
    fn send_ack(&mut self, request: &Request, flow: Peer) -> bytes::Bytes {
        let bytes = request.encode();
        self.transmits.push_back(Transmit {
            destination: Destination::Flow(flow),
            bytes: bytes.clone(),
            transaction: None,
        });
        bytes
    }

    /// The longest a transaction of this call may take: 64*T1.
    fn transaction_timeout(&self) -> Duration {
        self.settings.timers.transaction_timeout()
    }
}

/// Appends growing by one slot, not doubling: a call keeps these short lists (its
/// transactions, 2xx waiting for ACK, ACKs sent) for its whole life, usually with one or two
/// entries.
fn push_tight<T>(list: &mut Vec<T>, item: T) {
    list.reserve_exact(1);
    list.push(item);
}

/// Gives an emptied queue's storage back: a call keeps its machine for up to 64*T1 after its
/// end, and what it queued once need not stay allocated all that time.
fn release_if_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

/// The other side.
fn other(side: LegSide) -> LegSide {
    match side {
        LegSide::A => LegSide::B,
        LegSide::B => LegSide::A,
    }
}
