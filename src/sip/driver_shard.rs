//! One shard of the SIP driver: owns the server transactions of the requests hashed to it
//! that no call owns, absorbs retransmissions, fires their timers and decides what each new
//! request gets; an authenticated new INVITE leaves the shard for the profile's
//! `InviteHandler`.
//!
//! Run-loop invariant (sip-core): after any input to a transaction, drain `poll_transmit` and
//! `poll_event`, then re-arm the shard's single timer from the earliest `poll_timeout`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use sip_core::message::{Method, Request, Response, StatusCode, Uri};
use sip_core::transaction::{TransactionEvent, TransactionKey};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::admission::refusal;
use super::auth_guard::{AuthDecision, ChallengeKind, Now};
use super::call_table::Delivery;
use super::deadlines::{Deadlines, SlotId};
use super::driver::DriverShared;
use super::driver_ingress::send_routed;
use super::invite::NewInvite;
use super::response_route::ResponseRoute;
use super::server_transaction::ServerTransaction;
use crate::telemetry::metrics::{Retransmission, metrics};
use crate::transport::Peer;

/// Work handed to a shard by the receive path.
#[derive(Debug)]
pub(crate) enum ShardInput {
    /// A parsed request with its top Via stamped.
    Request {
        /// The request.
        request: Request,
        /// The flow it arrived on.
        peer: Peer,
        /// Where its responses go.
        route: ResponseRoute,
        /// Index of the profile of the listener it arrived on.
        profile: usize,
    },
}

/// A response produced by a task the shard spawned (e.g. the registrar), for transaction `slot`.
#[derive(Debug)]
pub(crate) struct Completion {
    slot: SlotId,
    response: Response,
}

/// A transaction in the shard's table.
#[derive(Debug)]
struct Entry {
    transaction: ServerTransaction,
    route: ResponseRoute,
    /// The deadline last put into the queue for this entry.
    armed: Option<Instant>,
}

/// The shard task's state.
pub(crate) struct Shard {
    id: usize,
    inputs: mpsc::Receiver<ShardInput>,
    completions: mpsc::Receiver<Completion>,
    completions_tx: mpsc::Sender<Completion>,
    /// Bounds the spawned request tasks; its permits equal the completion queue's capacity,
    /// so a finishing task never waits to report.
    task_permits: Arc<Semaphore>,
    pending_tasks: usize,
    shared: Arc<DriverShared>,
    /// Boxed: an entry is large, and a table of pointers grows without moving them.
    slots: HashMap<SlotId, Box<Entry>>,
    index: HashMap<TransactionKey, SlotId>,
    next_slot: SlotId,
    deadlines: Deadlines,
}

/// Far-off deadline for the shard timer while nothing is armed.
const IDLE_SLEEP: Duration = Duration::from_secs(3600);

impl Shard {
    /// A shard reading `inputs`, allowing `max_tasks` request tasks in flight.
    pub(crate) fn new(
        id: usize,
        inputs: mpsc::Receiver<ShardInput>,
        max_tasks: usize,
        shared: Arc<DriverShared>,
    ) -> Self {
        let max_tasks = max_tasks.max(1);
        let (completions_tx, completions) = mpsc::channel(max_tasks);
        Shard {
            id,
            inputs,
            completions,
            completions_tx,
            task_permits: Arc::new(Semaphore::new(max_tasks)),
            pending_tasks: 0,
            shared,
            slots: HashMap::new(),
            index: HashMap::new(),
            next_slot: 0,
            deadlines: Deadlines::default(),
        }
    }

    /// Runs until `drain` is cancelled and the work in flight is done (or `inputs` closes).
    pub(crate) async fn run(mut self, drain: CancellationToken) {
        let timer = tokio::time::sleep(IDLE_SLEEP);
        tokio::pin!(timer);
        let mut timer_at: Option<Instant> = None;
        let mut draining = false;
        loop {
            if draining && self.pending_tasks == 0 && self.inputs.is_empty() {
                break;
            }
            tokio::select! {
                biased;
                Some(done) = self.completions.recv() => {
                    self.pending_tasks = self.pending_tasks.saturating_sub(1);
                    self.on_completion(done);
                }
                // Before new input, so retransmissions and cleanup keep going under load.
                () = &mut timer, if timer_at.is_some() => {
                    timer_at = None;
                    self.on_timers(now());
                }
                input = self.inputs.recv() => match input {
                    Some(input) => self.on_input(input),
                    None => break,
                },
                () = drain.cancelled(), if !draining => draining = true,
            }
            // Re-arm the one timer from the earliest deadline.
            let next = self.deadlines.next();
            if next != timer_at {
                timer_at = next;
                let at = next.map_or_else(
                    || tokio::time::Instant::now() + IDLE_SLEEP,
                    tokio::time::Instant::from_std,
                );
                timer.as_mut().reset(at);
            }
        }
        tracing::debug!(
            shard = self.id,
            transactions = self.slots.len(),
            "shard stopped"
        );
    }

    fn on_input(&mut self, input: ShardInput) {
        match input {
            ShardInput::Request {
                request,
                peer,
                route,
                profile,
            } => self.on_request(request, peer, route, profile),
        }
    }

    fn on_request(&mut self, request: Request, peer: Peer, route: ResponseRoute, profile: usize) {
        let now = now();
        let Ok(key) = TransactionKey::for_request(&request) else {
            tracing::debug!(remote = %peer.remote, "dropping request without a usable transaction key");
            return;
        };
        if let Some(&slot) = self.index.get(&key) {
            // RFC 3261 §17.2.3: a retransmission, or the ACK of a non-2xx final response.
            if let Some(entry) = self.slots.get_mut(&slot) {
                if *request.method() != Method::Ack {
                    metrics().sip_retransmission(Retransmission::RequestReceived);
                }
                entry.transaction.handle_request(now, request);
            }
            self.flush(slot, now);
            return;
        }
        // Queued here before its call registered the Call-ID: the call's now.
        let Some((request, peer, route)) = self.forward_to_call(request, peer, route, profile)
        else {
            return;
        };
        if *request.method() == Method::Ack {
            // RFC 3261 §17.2.3: an ACK matching no transaction belongs to a 2xx, i.e. to a
            // dialog, and no call owns this one: dropped. ACK is never answered.
            tracing::trace!(remote = %peer.remote, "dropping unmatched ACK");
            return;
        }
        let Some(service) = self.shared.profiles.get(profile) else {
            return;
        };
        let reliable = peer.transport.is_reliable();
        let transaction = match ServerTransaction::new(
            key.clone(),
            request,
            now,
            reliable,
            service.timers,
        ) {
            Ok(t) => t,
            Err(e) => {
                tracing::debug!(remote = %peer.remote, error = %e, "cannot create server transaction");
                return;
            }
        };
        let slot = self.next_slot;
        self.next_slot += 1;
        self.index.insert(key, slot);
        self.slots.insert(
            slot,
            Box::new(Entry {
                transaction,
                route,
                armed: None,
            }),
        );
        self.dispatch(slot, peer, profile, now);
        self.flush(slot, now);
    }

    /// Hands a request to the call owning its Call-ID; gives it back when there is none (or
    /// the call has just ended). A full mailbox gets 503 with Retry-After (RFC 3261 §21.5.4),
    /// except for ACK, which is never answered.
    fn forward_to_call(
        &self,
        request: Request,
        peer: Peer,
        route: ResponseRoute,
        profile: usize,
    ) -> Option<(Request, Peer, ResponseRoute)> {
        match self.shared.calls.deliver_request(request, peer, route) {
            Delivery::Delivered => None,
            Delivery::MailboxFull { request, route } => {
                self.shared
                    .stats
                    .overload_rejected
                    .fetch_add(1, Ordering::Relaxed);
                if *request.method() != Method::Ack {
                    let retry_after = self
                        .shared
                        .profiles
                        .get(profile)
                        .map_or(5, |p| p.retry_after_secs);
                    let response = self.shared.responder.overloaded(&request, retry_after);
                    self.send_stateless(&response, route);
                }
                None
            }
            Delivery::NoCall {
                request,
                peer,
                route,
            } => Some((request, peer, route)),
        }
    }

    fn send_stateless(&self, response: &Response, route: ResponseRoute) {
        if let Err(e) = send_routed(&self.shared.transport, route, response.encode()) {
            self.shared
                .stats
                .send_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "stateless response not sent");
        }
    }

    /// The transaction user: decides the answer to a new request.
    fn dispatch(&mut self, slot: SlotId, peer: Peer, profile: usize, now: Instant) {
        let Some(entry) = self.slots.get(&slot) else {
            return;
        };
        let Some(service) = self.shared.profiles.get(profile) else {
            return;
        };
        let request = entry.transaction.request();
        let responder = &self.shared.responder;
        // RFC 3261 §8.2.2.1: a Request-URI scheme we do not serve gets 416.
        if matches!(request.uri(), Uri::Absolute(_)) {
            let response = responder.response(request, StatusCode::UNSUPPORTED_URI_SCHEME);
            self.respond(slot, response, now);
            return;
        }
        match request.method() {
            // A carrier profile: its sources were admitted on the receive path, and the switch
            // is none of their registrars.
            Method::Register if service.admission.is_some() => {
                let response = refusal(responder, request);
                self.respond(slot, response, now);
            }
            Method::Register => self.spawn_register(slot, peer, profile, now),
            Method::Cancel => self.on_cancel(slot, now),
            // RFC 3261 §12.2.2: a request inside a dialog that no call of ours has (the Call-ID
            // matched none) gets 481; so do the methods that exist only inside one.
            method if has_to_tag(request) || only_in_dialog(method) => {
                let response =
                    responder.response(request, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
                self.respond(slot, response, now);
            }
            // RFC 3261 §11.2: OPTIONS for the switch itself (Max-Forwards 0 included: we are
            // the target).
            Method::Options => {
                let response = responder
                    .unsupported_extensions(request)
                    .unwrap_or_else(|| responder.options_ok(request, service.allow()));
                self.respond(slot, response, now);
            }
            Method::Invite if service.invite.is_some() => self.on_invite(slot, peer, profile, now),
            _ => {
                let response = responder.not_implemented(request, service.allow());
                self.respond(slot, response, now);
            }
        }
    }

    /// A new INVITE (no To tag): digest authentication as a proxy would (RFC 3261 §22.3: 407
    /// with Proxy-Authenticate; the authenticated user must be the From user), except on a
    /// carrier profile, whose admitted INVITEs go on with no caller. A challenge or refusal
    /// is answered here; an authenticated INVITE leaves the shard's tables, and the profile's
    /// handler takes over its transaction.
    fn on_invite(&mut self, slot: SlotId, peer: Peer, profile: usize, now: Instant) {
        let (Some(entry), Some(service)) =
            (self.slots.get(&slot), self.shared.profiles.get(profile))
        else {
            return;
        };
        let Some(handler) = service.invite.clone() else {
            return;
        };
        let request = entry.transaction.request();
        // A carrier profile admitted the source on the receive path: the source identifies
        // the trunk, and carriers do not answer digest challenges.
        let caller = if service.admission.is_some() {
            None
        } else {
            let claimed = from_user(request);
            let decision = service.auth.check(
                request,
                peer.remote.ip(),
                ChallengeKind::Proxy,
                claimed.as_deref(),
                Now::system(),
            );
            match decision {
                AuthDecision::Respond(response) => {
                    self.complete(slot, response, now);
                    return;
                }
                AuthDecision::Authorized(user) => Some(user),
            }
        };
        // Out of every table: no deadline was queued for it (not flushed yet), so none goes
        // stale either.
        let Some(entry) = self.slots.remove(&slot) else {
            return;
        };
        self.index.remove(entry.transaction.key());
        let Entry {
            transaction, route, ..
        } = *entry;
        let ServerTransaction::Invite(transaction) = transaction else {
            return;
        };
        handler.handle_invite(NewInvite {
            transaction,
            peer,
            route,
            caller,
        });
    }

    /// RFC 3261 §9.2: a CANCEL matching a pending INVITE gets 200 and the INVITE 487; one
    /// matching no transaction gets 481.
    fn on_cancel(&mut self, slot: SlotId, now: Instant) {
        let Some(entry) = self.slots.get(&slot) else {
            return;
        };
        let cancel = entry.transaction.request();
        let invite_slot = TransactionKey::for_cancelled_invite(cancel)
            .ok()
            .and_then(|k| self.index.get(&k).copied());
        let responder = Arc::clone(&self.shared.responder);
        let Some(invite_slot) = invite_slot else {
            let response = responder.response(cancel, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
            self.respond(slot, response, now);
            return;
        };
        let ok = responder.response(cancel, StatusCode::OK);
        self.respond(slot, ok, now);
        let terminated = self.slots.get(&invite_slot).and_then(|e| {
            e.transaction.is_invite_pending().then(|| {
                responder.response(e.transaction.request(), StatusCode::REQUEST_TERMINATED)
            })
        });
        if let Some(response) = terminated {
            self.respond(invite_slot, response, now);
            self.flush(invite_slot, now);
        }
    }

    /// Runs the profile's registrar: answered here when it completes without waiting, else in
    /// its own task so a slow location store never stalls the shard (the answer comes back as
    /// a [`Completion`]). Over the task limit: 503.
    fn spawn_register(&mut self, slot: SlotId, peer: Peer, profile: usize, now: Instant) {
        let Some(entry) = self.slots.get(&slot) else {
            return;
        };
        let request = entry.transaction.request();
        let Some(service) = self.shared.profiles.get(profile) else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.task_permits).try_acquire_owned() else {
            self.shared
                .stats
                .overload_rejected
                .fetch_add(1, Ordering::Relaxed);
            let response = self
                .shared
                .responder
                .overloaded(request, service.retry_after_secs);
            self.respond(slot, response, now);
            return;
        };
        let mut future: Pin<Box<dyn Future<Output = Response> + Send>> =
            Arc::clone(&service.register).handle(request.clone(), peer);
        // A handler whose store answers at once (the memory backend) is done in its first
        // poll: answer here and skip the task and the completion hop. One that has to wait
        // moves to its own task, which polls it again with a real waker.
        if let Poll::Ready(response) = future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            drop(permit);
            self.complete(slot, response, now);
            return;
        }
        let done = self.completions_tx.clone();
        self.pending_tasks += 1;
        tokio::spawn(async move {
            let response = future.await;
            // Capacity equals the permits, and the permit is held until sent: never waits.
            let _ = done.send(Completion { slot, response }).await;
            drop(permit);
        });
    }

    fn on_completion(&mut self, done: Completion) {
        let now = now();
        self.complete(done.slot, done.response, now);
        self.flush(done.slot, now);
    }

    /// Finishes a handler's response (To tag, Server) and hands it to the transaction (the
    /// caller flushes).
    fn complete(&mut self, slot: SlotId, mut response: Response, now: Instant) {
        let Some(entry) = self.slots.get(&slot) else {
            return;
        };
        self.shared
            .responder
            .finish(entry.transaction.request(), &mut response);
        self.respond(slot, response, now);
    }

    /// Hands a TU response to the transaction (the caller flushes).
    fn respond(&mut self, slot: SlotId, response: Response, now: Instant) {
        if let Some(entry) = self.slots.get_mut(&slot)
            && let Err(e) = entry.transaction.send_response(now, response)
        {
            tracing::debug!(error = %e, "response refused by the transaction");
        }
    }

    fn on_timers(&mut self, now: Instant) {
        while let Some(slot) = self.deadlines.pop_due(now) {
            let Some(entry) = self.slots.get_mut(&slot) else {
                continue;
            };
            // Stale queue entry: the deadline moved or went away.
            if entry.transaction.poll_timeout().is_none_or(|at| at > now) {
                if entry.armed.is_some_and(|at| at <= now) {
                    entry.armed = None;
                }
                self.flush(slot, now);
                continue;
            }
            entry.armed = None;
            entry.transaction.handle_timeout(now);
            self.flush(slot, now);
        }
    }

    /// The run-loop invariant for one transaction: send what it queued, handle its events,
    /// re-queue its deadline, drop it once terminated.
    fn flush(&mut self, slot: SlotId, now: Instant) {
        let Some(entry) = self.slots.get_mut(&slot) else {
            return;
        };
        while let Some(bytes) = entry.transaction.poll_transmit() {
            if let Err(e) = send_routed(&self.shared.transport, entry.route, bytes) {
                self.shared
                    .stats
                    .send_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "response not sent");
                // RFC 3261 §17.2.4: the alternatives of §18.2.2 were tried by send_routed.
                entry.transaction.handle_transport_error(now);
            }
        }
        let mut terminated = false;
        while let Some(event) = entry.transaction.poll_event() {
            match event {
                TransactionEvent::Terminated => terminated = true,
                TransactionEvent::Timeout(timer) => {
                    metrics().sip_transaction_timeout(timer);
                    tracing::debug!(?timer, "server transaction timed out");
                }
                // No dialogs yet: nothing to do with an ACK for a 2xx or a transport error.
                TransactionEvent::Ack(_)
                | TransactionEvent::TransportError
                | TransactionEvent::Response(_) => {}
            }
        }
        if terminated {
            if let Some(entry) = self.slots.remove(&slot) {
                self.index.remove(entry.transaction.key());
            }
            return;
        }
        if let Some(at) = entry.transaction.poll_timeout()
            && entry.armed.is_none_or(|armed| at < armed)
        {
            entry.armed = Some(at);
            self.deadlines.schedule(at, slot);
        }
    }
}

/// Whether the request's To carries a tag, i.e. it claims a dialog (RFC 3261 §12.2).
fn has_to_tag(request: &Request) -> bool {
    request.headers().to().is_ok_and(|to| to.tag().is_some())
}

/// Methods that make sense only inside a dialog (RFC 3261 §15.1.2, RFC 6086 §4.2.1, RFC 3311
/// §5.2, RFC 3262 §3).
fn only_in_dialog(method: &Method) -> bool {
    matches!(
        method,
        Method::Bye | Method::Info | Method::Update | Method::Prack
    )
}

/// The user part of the From URI (whom the request claims to come from), unescaped.
fn from_user(request: &Request) -> Option<String> {
    let from = request.headers().from().ok()?;
    let Uri::Sip(uri) = &from.uri else {
        return None;
    };
    uri.user_unescaped()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// The shard clock: tokio's, so tests with a paused clock drive transaction timers.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
