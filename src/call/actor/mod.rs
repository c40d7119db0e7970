//! The call actor: one tokio task per call, owning its [`CallMachine`], its relay session
//! (anchored media), its route and its mailbox. It feeds the machine what happens (messages,
//! timer, the route decision and its stages, media timeout, shutdown), carries out what the
//! machine asks (send, point the relay, ask the route for the next stage, emit the record),
//! and forgets the call's Call-IDs when the machine is finished. A media application runs
//! inside the same loop (`media_app`), as do music on hold (`hold_music`) and the call's
//! recording (`recording`).

#[cfg(test)]
mod app_tests;
mod hold_music;
mod media_app;
#[cfg(test)]
mod media_tests;
mod recording;
mod route;
#[cfg(test)]
mod test_rig;
#[cfg(test)]
mod tests;

pub use route::{CallRoute, FixedStages, RouteDecision};

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use self::hold_music::HoldMusic;
use self::media_app::{AppRun, Parties};
use self::recording::CallRecording;
use super::app::CallOptions;
use super::cause::HangupCause;
use super::lifecycle::CallLifecycle;
use super::machine::{
    CallEvent, CallMachine, CallSetup, Destination, OriginateSetup, StageOutcome,
};
use super::record::{CallRecord, LegSide, MediaCounters};
use super::registry::{ActiveCalls, CallDirection, CallState, CallSummary};
use crate::cluster::BoxFuture;
use crate::media::{LegStats, RelaySession, Side};
use crate::sip::call_table::{CallMessage, CallTable, Inbox, Mailbox};
use crate::sip::send_routed;
use crate::telemetry::events::EventBus;
use crate::telemetry::metrics::{Retransmission, metrics};
use crate::transport::Network;

/// Far-off deadline for the call timer while the machine wants none.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

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
    options: CallOptions,
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
    let parties = Parties {
        remote: request
            .headers()
            .from()
            .map(|f| user_of(&f.uri))
            .unwrap_or_default(),
        dialled: user_of(request.uri()),
    };
    // Boxed: the task's future would otherwise hold the machine inline, twice over (once
    // as the argument of `run`, once as its local), several KB per call.
    let machine = Box::new(CallMachine::new(setup, now()));
    start_actor(
        services,
        ActorStart {
            machine,
            summary,
            relay,
            mailbox,
            route,
            span,
            options,
            parties,
        },
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
    options: CallOptions,
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
    let parties = Parties {
        remote: user_of(&setup.destination),
        dialled: user_of(&setup.a_uri),
    };
    let machine = Box::new(CallMachine::originate(setup, now()));
    start_actor(
        services,
        ActorStart {
            machine,
            summary,
            relay: Some(relay),
            mailbox,
            route,
            span,
            options,
            parties,
        },
    );
}

/// The user part of a SIP URI (the number), else the URI as written.
fn user_of(uri: &sip_core::message::Uri) -> String {
    uri.as_sip()
        .and_then(|sip| sip.user())
        .map_or_else(|| uri.to_string(), str::to_owned)
}

/// What a new call's actor starts from.
struct ActorStart {
    machine: Box<CallMachine>,
    summary: CallSummary,
    relay: Option<RelaySession>,
    mailbox: (Mailbox, Inbox),
    route: BoxFuture<'static, RouteDecision>,
    span: tracing::Span,
    options: CallOptions,
    parties: Parties,
}

/// Registers the call and spawns its task.
fn start_actor(services: &CallServices, start: ActorStart) {
    let ActorStart {
        machine,
        summary,
        relay,
        mailbox,
        route,
        span,
        options,
        parties,
    } = start;
    let (sender, inbox) = mailbox;
    let recording = CallRecording::new(
        summary.id,
        options.recordings_dir.as_deref(),
        summary.started_at,
        services.events.clone(),
    );
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
        app: AppRun::new(parties),
        options,
        recording,
        music: None,
        lifecycle_answered: false,
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
    /// The media application, when the route decided for one.
    app: AppRun,
    /// Per-call options of the profile and route (DTMF, music on hold, recording).
    options: CallOptions,
    /// The call's recording.
    recording: CallRecording,
    /// Music on hold playing to the side that did not hold.
    music: Option<HoldMusic>,
    /// The call was answered (by B, or by the switch for an app).
    lifecycle_answered: bool,
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
            let app_running = self.app.is_running();
            let music_playing = self.music.is_some();
            let recording_watched = self.recording.watches_failure();
            tokio::select! {
                biased;
                () = self.shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    // Nobody gets dialled any more.
                    route = None;
                    self.machine.hangup(now(), HangupCause::SystemShutdown);
                }
                message = self.inbox.recv() => match message {
                    Some(message) => self.on_message(*message),
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
                        RouteDecision::App(app) => self.on_app_decision(app),
                    }
                }
                outcome = poll_fn(|cx| match self.app.running.as_mut() {
                    Some(future) => future.as_mut().poll(cx),
                    None => Poll::Pending,
                }), if app_running => self.on_app_outcome(outcome),
                () = poll_fn(|cx| match self.music.as_mut() {
                    Some(music) => music.playing.as_mut().poll(cx),
                    None => Poll::Pending,
                }), if music_playing => self.music = None,
                reason = self.recording.failed(), if recording_watched => {
                    self.recording.on_failed(&reason);
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
                    self.hold_music(side, on_hold);
                }
                CallEvent::Ringing => self.lifecycle.ringing(),
                CallEvent::Answered => {
                    tracing::info!("call answered");
                    let outcome = self.machine.answered_branch();
                    if let (Some(route), Some(outcome)) = (self.route.as_mut(), outcome.as_ref()) {
                        route.answered(outcome);
                    }
                    let trunk = outcome.and_then(|o| o.trunk.clone());
                    if self.lifecycle_answered {
                        // A transfer from an app reached B.
                        self.lifecycle.bridged(trunk);
                    } else {
                        self.lifecycle_answered = true;
                        self.lifecycle.answered(trunk);
                    }
                    self.record_from_answer();
                }
                CallEvent::StageFailed(outcome) => self.next_stage(&outcome),
                CallEvent::OriginAnswered => {
                    tracing::info!("originating phone answered");
                    if self.start_origin_app() {
                        continue;
                    }
                    if self.undialled {
                        self.dial_first();
                    }
                }
                CallEvent::Ended(record) => {
                    // Nobody is dialled any more: what the route holds goes back now.
                    self.end_app();
                    self.music = None;
                    self.route = None;
                    self.emit(*record).await;
                    if !self.ended {
                        self.ended = true;
                        self.stats.call_ended();
                    }
                }
                CallEvent::Dtmf(digit) => self.on_info_digit(digit),
                CallEvent::Finished => self.finished = true,
            }
        }
    }

    /// A message from the call's mailbox: recording commands are the actor's (the relay is
    /// its), everything else goes to the machine.
    fn on_message(&mut self, message: CallMessage) {
        match message {
            CallMessage::Recording { command, reply } => {
                let answered = self.lifecycle_answered && !self.machine.is_ended();
                let answer = self
                    .recording
                    .command(command, self.relay.as_ref(), answered);
                // The API may have stopped waiting; nothing to do then.
                let _ = reply.send(answer);
            }
            message => self.machine.handle_message(now(), message),
        }
    }

    /// The call was answered: recording starts when the profile, the route or the app
    /// asks for it (once per call: a recording the API stopped is not started again).
    fn record_from_answer(&mut self) {
        let wanted = self.options.record
            || self.app.record
            || self.route.as_ref().is_some_and(|route| route.record());
        if !wanted || self.recording.ever_started() || self.machine.is_ended() {
            return;
        }
        if let Some(relay) = &self.relay {
            self.recording.start(relay);
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
        record.recording = self.recording.finish().await;
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
