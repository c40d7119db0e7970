//! The call actor: one tokio task per call, owning its [`CallMachine`], its relay session
//! (anchored media), its route and its mailbox. It feeds the machine what happens (messages,
//! timer, the route decision and its stages, media timeout, shutdown), carries out what the
//! machine asks (send, point the relay, ask the route for the next stage, emit the record),
//! and forgets the call's Call-IDs when the machine is finished.

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::cause::HangupCause;
use super::lifecycle::CallLifecycle;
use super::machine::{
    BranchOutcome, CallEvent, CallMachine, CallSetup, Destination, OriginateSetup, Stage,
    StageOutcome,
};
use super::record::{CallRecord, LegSide, MediaCounters};
use super::registry::{ActiveCalls, CallDirection, CallState, CallSummary};
use crate::cluster::BoxFuture;
use crate::media::{LegStats, RelaySession, Side};
use crate::sip::call_table::{CallTable, Inbox, Mailbox};
use crate::sip::send_routed;
use crate::telemetry::events::EventBus;
use crate::telemetry::metrics::{Retransmission, metrics};
use crate::transport::Network;

/// Far-off deadline for the call timer while the machine wants none.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

/// Where a call goes, stage by stage (sequential ringing, trunk failover). The actor holds it
/// until the call ends, so what it holds (a trunk's call slot) is released with the call.
pub trait CallRoute: Send + 'static {
    /// The next stage to ring: `previous` is the stage that just failed in a way that may go
    /// on (None: the first stage). None: nothing more to try; the caller gets the best failure
    /// so far (or, before any stage, 480).
    fn next_stage(&mut self, previous: Option<&StageOutcome>) -> Option<Stage>;

    /// The branch described by `outcome` answered the call.
    fn answered(&mut self, outcome: &BranchOutcome) {
        let _ = outcome;
    }

    /// The route asks for the call to be recorded from answer (a dialplan rule's `record`).
    fn record(&self) -> bool {
        false
    }
}

/// A fixed list of stages, tried in order.
#[derive(Debug, Default)]
pub struct FixedStages(pub std::collections::VecDeque<Stage>);

impl CallRoute for FixedStages {
    fn next_stage(&mut self, _previous: Option<&StageOutcome>) -> Option<Stage> {
        self.0.pop_front()
    }
}

/// What the route future decides for a call.
pub enum RouteDecision {
    /// Ring the route's stages.
    Dial(Box<dyn CallRoute>),
    /// Refuse the call with this cause (the caller gets its SIP status).
    Reject(HangupCause),
    /// Answer the call in the switch and run this media application (IVR, notification).
    App(Box<dyn super::app::CallApp>),
}

impl std::fmt::Debug for RouteDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteDecision::Dial(_) => f.write_str("Dial"),
            RouteDecision::Reject(cause) => f.debug_tuple("Reject").field(cause).finish(),
            RouteDecision::App(_) => f.write_str("App"),
        }
    }
}

/// Counters over all calls of the process.
#[derive(Debug, Default)]
pub struct CallStats {
    started: AtomicU64,
    active: AtomicU64,
    records: AtomicU64,
    transmit_failures: AtomicU64,
    /// Woken when `active` drops to zero.
    idle: Notify,
}

impl CallStats {
    /// Calls whose actor was spawned.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Calls not ended yet: their record is still to come. (An ended call's actor lingers
    /// while its transactions absorb retransmissions, RFC 3261 §17.2.2 Timer J.)
    pub fn active(&self) -> u64 {
        self.active.load(Ordering::Relaxed)
    }

    /// Resolves once no call is active.
    pub async fn all_ended(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Registered before the check, so a call ending in between still wakes us.
            idle.as_mut().enable();
            if self.active() == 0 {
                return;
            }
            idle.await;
        }
    }

    fn call_ended(&self) {
        if self.active.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Call records handed to the record channel.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// SIP messages of calls the transport could not send.
    pub fn transmit_failures(&self) -> u64 {
        self.transmit_failures.load(Ordering::Relaxed)
    }
}

/// What every call actor needs from the process.
#[derive(Debug, Clone)]
pub struct CallServices {
    /// The sockets the call's SIP messages go out on.
    pub network: Network,
    /// SIP Call-ID -> call mailbox; the actor adds its B Call-ID and removes both at the end.
    pub calls: Arc<CallTable>,
    /// Where finished calls' records go (never dropped: the actor waits for room).
    pub records: mpsc::Sender<CallRecord>,
    /// Cancelled when the switch shuts down: every call hangs up with
    /// [`HangupCause::SystemShutdown`].
    pub shutdown: CancellationToken,
    /// Tracks the call tasks, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Counters over all calls.
    pub stats: Arc<CallStats>,
    /// The calls in progress, for the control API.
    pub registry: Arc<ActiveCalls>,
    /// Where the calls' lifecycle events go.
    pub events: EventBus,
}

/// Spawns the actor of a new call. `mailbox` is the call's mailbox, whose sender the caller
/// already routed for the A Call-ID in [`CallServices::calls`]; `relay` is the call's media
/// session when media is anchored; `route` decides whom to ring; `direction` says where the
/// call came from (registry, events, metrics).
pub fn spawn_call(
    services: &CallServices,
    setup: CallSetup,
    relay: Option<RelaySession>,
    mailbox: (Mailbox, Inbox),
    route: BoxFuture<'static, RouteDecision>,
    direction: CallDirection,
    options: super::app::CallOptions,
) {
    let span = tracing::info_span!("call", call_id = %setup.id);
    let request = setup.invite.request();
    let summary = CallSummary {
        id: setup.id,
        direction,
        state: CallState::Routing,
        profile: setup.profile.clone(),
        from_uri: request
            .headers()
            .from()
            .map(|f| f.uri.to_string())
            .unwrap_or_default(),
        to_uri: request.uri().to_string(),
        caller: setup.caller.clone(),
        sip_call_id: request
            .headers()
            .call_id()
            .map(str::to_owned)
            .unwrap_or_default(),
        started_at: setup.wall,
        answered_at: None,
        trunk: None,
    };
    // Boxed: the task's future would otherwise hold the machine inline, twice over (once
    // as the argument of `run`, once as its local), several KB per call.
    let machine = Box::new(CallMachine::new(setup, now()));
    start_actor(
        services, machine, summary, relay, mailbox, route, span, options,
    );
}

/// Spawns the actor of an originated call (click-to-call): the machine rings A's contacts at
/// once; `route` decides where B is, and its first stage is dialled once A answered.
/// `mailbox` is routed for the setup's A Call-ID already; `relay` is the call's media session
/// (an originated call always anchors media: the switch writes A's offer).
pub fn spawn_originate(
    services: &CallServices,
    setup: OriginateSetup,
    relay: RelaySession,
    mailbox: (Mailbox, Inbox),
    route: BoxFuture<'static, RouteDecision>,
    options: super::app::CallOptions,
) {
    let span = tracing::info_span!("call", call_id = %setup.id);
    let summary = CallSummary {
        id: setup.id,
        direction: CallDirection::Originate,
        state: CallState::Routing,
        profile: setup.profile.clone(),
        from_uri: setup.a_uri.to_string(),
        to_uri: setup.destination.to_string(),
        caller: Some(setup.user.clone()),
        sip_call_id: setup.a_call_id.clone(),
        started_at: setup.wall,
        answered_at: None,
        trunk: None,
    };
    let machine = Box::new(CallMachine::originate(setup, now()));
    start_actor(
        services,
        machine,
        summary,
        Some(relay),
        mailbox,
        route,
        span,
        options,
    );
}

/// Registers the call and spawns its task.
#[allow(clippy::too_many_arguments)]
fn start_actor(
    services: &CallServices,
    machine: Box<CallMachine>,
    summary: CallSummary,
    relay: Option<RelaySession>,
    mailbox: (Mailbox, Inbox),
    route: BoxFuture<'static, RouteDecision>,
    span: tracing::Span,
    options: super::app::CallOptions,
) {
    let _ = options;
    let (sender, inbox) = mailbox;
    let lifecycle = CallLifecycle::created(
        summary,
        sender.clone(),
        Arc::clone(&services.registry),
        services.events.clone(),
    );
    let actor = CallActor {
        lifecycle,
        machine,
        relay,
        inbox,
        sender,
        network: services.network.clone(),
        calls: Arc::clone(&services.calls),
        records: Some(services.records.clone()),
        shutdown: services.shutdown.clone(),
        stats: Arc::clone(&services.stats),
        route: None,
        undialled: false,
        ended: false,
        finished: false,
    };
    services.stats.started.fetch_add(1, Ordering::Relaxed);
    services.stats.active.fetch_add(1, Ordering::Relaxed);
    services.tracker.spawn(actor.run(route).instrument(span));
}

/// The state of one call task.
struct CallActor {
    /// Registry entry, events and metrics of the call.
    lifecycle: CallLifecycle,
    machine: Box<CallMachine>,
    relay: Option<RelaySession>,
    inbox: Inbox,
    /// The mailbox's sender, for routing the B Call-ID.
    sender: Mailbox,
    network: Network,
    calls: Arc<CallTable>,
    /// Dropped once the record went out, so the record writer need not wait for a call that
    /// only absorbs retransmissions.
    records: Option<mpsc::Sender<CallRecord>>,
    shutdown: CancellationToken,
    stats: Arc<CallStats>,
    /// Where the call goes, stage by stage: held until the call ends, so what it holds (a
    /// trunk's call slot) is released with the call, not when its transactions finish.
    route: Option<Box<dyn CallRoute>>,
    /// `route`'s first stage waits for the machine (an originated call whose A leg has not
    /// answered yet).
    undialled: bool,
    /// The call's record went out.
    ended: bool,
    finished: bool,
}

impl CallActor {
    async fn run(mut self, route: BoxFuture<'static, RouteDecision>) {
        let b_call_id = self.machine.b_call_id().to_owned();
        let b_routed = self.calls.insert(&b_call_id, self.sender.clone());
        if !b_routed {
            tracing::warn!("B-side Call-ID already routed; ending the call");
            self.machine.hangup(now(), HangupCause::TemporaryFailure);
        }
        tracing::debug!(a = self.machine.a_call_id(), b = %b_call_id, "call started");
        let mut route = Some(route);
        let timer = tokio::time::sleep(IDLE_SLEEP);
        tokio::pin!(timer);
        let mut timer_at: Option<Instant> = None;
        let mut shutting_down = false;
        let mut media_timed_out = false;
        loop {
            // The run-loop invariant: after every input, drain, then re-arm the timer.
            self.drain().await;
            if self.finished {
                break;
            }
            let next = self.machine.poll_timeout();
            if next != timer_at {
                timer_at = next;
                let at = next.map_or_else(
                    || tokio::time::Instant::now() + IDLE_SLEEP,
                    tokio::time::Instant::from_std,
                );
                timer.as_mut().reset(at);
            }
            let has_relay = self.relay.is_some();
            tokio::select! {
                biased;
                () = self.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    // Nobody gets dialled any more.
                    route = None;
                    self.machine.hangup(now(), HangupCause::SystemShutdown);
                }
                message = self.inbox.recv() => match message {
                    Some(message) => self.machine.handle_message(now(), *message),
                    // Unreachable while the actor holds a sender; stop rather than spin.
                    None => break,
                },
                () = &mut timer, if timer_at.is_some() => {
                    timer_at = None;
                    self.machine.handle_timeout(now());
                }
                decision = poll_fn(|cx| match route.as_mut() {
                    Some(future) => future.as_mut().poll(cx),
                    None => Poll::Pending,
                }), if route.is_some() => {
                    route = None;
                    match decision {
                        // The call ended while it was routed (caller CANCEL, shutdown):
                        // nothing is dialled, and the route goes at once with what it holds.
                        RouteDecision::Dial(_) if self.machine.is_ended() => {}
                        RouteDecision::Dial(stages) => {
                            self.route = Some(stages);
                            self.undialled = true;
                            if self.machine.awaits_stage() {
                                self.dial_first();
                            }
                        }
                        RouteDecision::Reject(cause) => {
                            tracing::debug!(cause = cause.code(), "rejecting");
                            self.machine.reject(now(), cause);
                        }
                        RouteDecision::App(app) => {
                            // Not yet: the app leg comes with the machine's local answer.
                            app.not_run(HangupCause::TemporaryFailure);
                            self.machine.reject(now(), HangupCause::TemporaryFailure);
                        }
                    }
                }
                () = media_timeout(&mut self.relay), if has_relay && !media_timed_out => {
                    media_timed_out = true;
                    tracing::info!("no media, hanging up");
                    self.machine.hangup(now(), HangupCause::MediaTimeout);
                }
            }
        }
        self.calls.remove(self.machine.a_call_id());
        if b_routed {
            self.calls.remove(&b_call_id);
        }
        if !self.ended {
            self.stats.call_ended();
        }
        tracing::debug!("call finished");
    }

    /// Sends what the machine queued and acts on its events, until neither is left (a next
    /// stage queues new INVITEs).
    async fn drain(&mut self) {
        loop {
            while let Some(transmit) = self.machine.poll_transmit() {
                let network = &self.network;
                let (sent, reliable) = match transmit.destination {
                    Destination::Response(route) => {
                        (send_routed(network, route, transmit.bytes), false)
                    }
                    Destination::Flow(peer) => {
                        // Responses are counted by send_routed.
                        metrics().sip_sent(&transmit.bytes);
                        (
                            network.send(&peer, transmit.bytes),
                            peer.transport.is_reliable(),
                        )
                    }
                };
                if let Err(error) = sent {
                    self.stats.transmit_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%error, "SIP message not sent");
                    // RFC 3261 §17.1.4: a request that cannot go out fails its transaction
                    // now; over UDP a full queue only loses this copy (it is retransmitted).
                    if let Some(key) = transmit.transaction
                        && (reliable || !error.is_transient())
                    {
                        self.machine.handle_undelivered(now(), &key);
                    }
                }
            }
            self.count_transactions();
            let Some(event) = self.machine.poll_event() else {
                break;
            };
            match event {
                CallEvent::RemoteMedia {
                    side,
                    rtp,
                    rtcp,
                    on_hold,
                } => {
                    if let Some(relay) = &self.relay {
                        relay.set_remote(relay_side(side), rtp, rtcp);
                        relay.set_on_hold(on_hold);
                    }
                    self.lifecycle.media(side, on_hold);
                }
                CallEvent::Ringing => self.lifecycle.ringing(),
                CallEvent::Answered => {
                    tracing::info!("call answered");
                    let outcome = self.machine.answered_branch();
                    if let (Some(route), Some(outcome)) = (self.route.as_mut(), outcome.as_ref()) {
                        route.answered(outcome);
                    }
                    self.lifecycle
                        .answered(outcome.and_then(|o| o.trunk.clone()));
                }
                CallEvent::StageFailed(outcome) => self.next_stage(&outcome),
                CallEvent::OriginAnswered => {
                    tracing::info!("originating phone answered");
                    if self.undialled {
                        self.dial_first();
                    }
                }
                CallEvent::Ended(record) => {
                    // Nobody is dialled any more: what the route holds goes back now.
                    self.route = None;
                    self.emit(*record).await;
                    if !self.ended {
                        self.ended = true;
                        self.stats.call_ended();
                    }
                }
                CallEvent::Finished => self.finished = true,
            }
        }
    }

    /// Adds the retransmissions and timeouts of the call's transactions to the metrics.
    fn count_transactions(&mut self) {
        let counts = self.machine.take_transaction_counts();
        let metrics = metrics();
        for _ in 0..counts.requests_resent {
            metrics.sip_retransmission(Retransmission::RequestSent);
        }
        for _ in 0..counts.requests_absorbed {
            metrics.sip_retransmission(Retransmission::RequestReceived);
        }
        for timer in counts.timeouts {
            metrics.sip_transaction_timeout(timer);
        }
    }

    /// Dials the route's first stage (or tells the machine there is none).
    fn dial_first(&mut self) {
        self.undialled = false;
        let first = self.route.as_mut().and_then(|route| route.next_stage(None));
        match first {
            Some(stage) => {
                tracing::debug!(targets = stage.targets.len(), "dialling");
                self.machine.dial(now(), stage);
            }
            None => self.machine.no_more_stages(now()),
        }
    }

    /// A stage failed in a way that may go on: the route's next stage, or the caller's
    /// answer when it has none.
    fn next_stage(&mut self, outcome: &StageOutcome) {
        for branch in &outcome.branches {
            tracing::info!(
                trunk = branch.trunk.as_deref().unwrap_or(""),
                status = branch.status,
                silent = branch.silent,
                "failover"
            );
        }
        let next = match self.route.as_mut() {
            Some(route) if !self.machine.is_ended() => route.next_stage(Some(outcome)),
            _ => None,
        };
        match next {
            Some(stage) => {
                tracing::debug!(targets = stage.targets.len(), "dialling the next stage");
                self.machine.dial(now(), stage);
            }
            None => {
                tracing::info!(status = outcome.best_status, "no more stages");
                self.machine.no_more_stages(now());
            }
        }
    }

    /// Adds the relay's counters to the record and hands it on, waiting for room: a record is
    /// never dropped while the writer runs.
    async fn emit(&mut self, mut record: CallRecord) {
        // The call is over: its ports go back to the pool now, not when the last transaction
        // finishes absorbing retransmissions (up to 64*T1 later).
        if let Some(relay) = self.relay.take() {
            fill_media(&mut record, &relay);
        }
        self.lifecycle.ended(&record);
        tracing::info!(
            cause = %record.hangup.cause,
            status = record.hangup.sip_status,
            billable_secs = record.billable_secs(),
            "call ended"
        );
        let Some(records) = self.records.take() else {
            tracing::error!(call_id = %record.call_id, "second record of a call dropped");
            return;
        };
        match records.send(record).await {
            Ok(()) => {
                self.stats.records.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::SendError(record)) => {
                tracing::error!(
                    call_id = %record.call_id,
                    "record channel closed: call record lost"
                );
            }
        }
    }
}

/// Resolves when the relay reports no media for its timeout; never without a relay.
async fn media_timeout(relay: &mut Option<RelaySession>) {
    match relay {
        Some(relay) => relay.timed_out().await,
        None => std::future::pending().await,
    }
}

/// The relay's counters on each leg: the A leg gets side A's; the B leg that answered gets side
/// B's (the other branches carried no media through the relay).
fn fill_media(record: &mut CallRecord, relay: &RelaySession) {
    for leg in &mut record.legs {
        leg.media = match leg.side {
            LegSide::A => Some(counters(relay.stats(Side::A))),
            LegSide::B if leg.answered_at.is_some() => Some(counters(relay.stats(Side::B))),
            LegSide::B => None,
        };
    }
}

fn counters(stats: LegStats) -> MediaCounters {
    MediaCounters {
        packets_in: stats.packets_in,
        bytes_in: stats.bytes_in,
        packets_out: stats.packets_out,
        bytes_out: stats.bytes_out,
        packets_lost: stats.packets_lost,
        jitter_ms: stats.jitter_ms,
        rtcp_in: stats.rtcp_in,
        rejected: stats.rejected,
    }
}

fn relay_side(side: LegSide) -> Side {
    match side {
        LegSide::A => Side::A,
        LegSide::B => Side::B,
    }
}

/// The call clock: tokio's, so tests with a paused clock drive the machine's timers.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::call::record::{Hangup, HangupSide, LegRecord};
    use crate::cluster::UnixMillis;
    use crate::media::{MediaRelay, RelayConfig, SessionOptions};

    fn leg(side: LegSide, answered: bool) -> LegRecord {
        LegRecord {
            side,
            sip_call_id: "c".into(),
            local_tag: "l".into(),
            remote_tag: None,
            target: "sip:1001@127.0.0.1".into(),
            signalling_addr: None,
            started_at: UnixMillis(1),
            answered_at: answered.then_some(UnixMillis(2)),
            ended_at: UnixMillis(3),
            final_status: None,
            media: None,
            trunk: None,
            stage: u32::from(side == LegSide::B),
        }
    }

    #[tokio::test]
    async fn the_a_leg_and_the_answered_b_leg_get_the_relay_counters_and_other_branches_none() {
        let relay = MediaRelay::new(RelayConfig {
            address: "127.0.0.1".parse().unwrap(),
            port_min: 47000,
            port_max: 47999,
        })
        .unwrap();
        let session = relay.allocate(SessionOptions::default()).unwrap();
        let mut record = CallRecord {
            call_id: crate::call::CallId::new_random(),
            profile: "t".into(),
            from_uri: "sip:1000@127.0.0.1".into(),
            caller: None,
            to_uri: "sip:1001@127.0.0.1".into(),
            started_at: UnixMillis(1),
            answered_at: Some(UnixMillis(2)),
            ended_at: UnixMillis(3),
            hangup: Hangup {
                cause: "normal_clearing".into(),
                sip_status: 200,
                q850: 16,
                side: HangupSide::Caller,
            },
            legs: vec![
                leg(LegSide::A, true),
                leg(LegSide::B, false),
                leg(LegSide::B, true),
            ],
            recording: None,
        };
        fill_media(&mut record, &session);
        let media: Vec<_> = record.legs.iter().map(|l| l.media).collect();
        assert_eq!(
            media,
            [
                Some(MediaCounters::default()),
                None,
                Some(MediaCounters::default())
            ]
        );
    }

    #[test]
    fn relay_counters_carry_over_field_by_field() {
        let stats = LegStats {
            packets_in: 1,
            bytes_in: 2,
            packets_out: 3,
            bytes_out: 4,
            packets_lost: -5,
            jitter_ms: 6.5,
            rtcp_in: 7,
            rejected: 8,
        };
        let expected = MediaCounters {
            packets_in: 1,
            bytes_in: 2,
            packets_out: 3,
            bytes_out: 4,
            packets_lost: -5,
            jitter_ms: 6.5,
            rtcp_in: 7,
            rejected: 8,
        };
        assert_eq!(counters(stats), expected);
    }
}
