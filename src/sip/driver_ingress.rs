//! The receive path: parse each message, stamp the top Via of a request, and hand it over
//! without waiting: to the call that owns its Call-ID (requests and responses), else to the
//! shard picked by Call-ID (requests; a response matching no call is dropped). Answers
//! statelessly when it cannot hand over: parse errors (400, 505, 416, 413) and overload (503
//! with Retry-After). On a profile with source admission, a request outside any call from a
//! source it does not admit gets a bare 403 here and goes no further.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use sip_core::message::{Message, Method, ParseReaction, Request, Response};
use tokio::sync::mpsc;

use super::admission::{SourceAdmission, refusal};
use super::call_table::{CallMessage, CallTable, Delivery};
use super::driver::DriverStats;
use super::driver_shard::ShardInput;
use super::reply::Responder;
use super::response_route::{ResponseRoute, stamp_top_via};
use crate::telemetry::metrics::metrics;
use crate::transport::{InboundHandler, Network, Peer};

/// Profile index and settings the receive path needs per listener.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListenerProfile {
    /// Index into the driver's profile list.
    pub(crate) profile: usize,
    /// Retry-After seconds for this profile's overload answers.
    pub(crate) retry_after_secs: u32,
}

/// Which queue was full.
#[derive(Debug, Clone, Copy)]
enum Overload {
    /// The input queue of this shard.
    Shard(usize),
    /// The mailbox of a call.
    CallMailbox,
}

/// At most one overload log line per this many milliseconds.
const OVERLOAD_LOG_INTERVAL_MS: u64 = 1_000;

/// The driver's [`InboundHandler`].
pub(crate) struct Ingress {
    shards: Vec<mpsc::Sender<ShardInput>>,
    listeners: HashMap<(crate::transport::Transport, SocketAddr), ListenerProfile>,
    fallback: ListenerProfile,
    transport: Network,
    responder: Arc<Responder>,
    stats: Arc<DriverStats>,
    calls: Arc<CallTable>,
    /// Per profile index: its source admission, if it has one.
    admissions: Vec<Option<Arc<dyn SourceAdmission>>>,
    started: Instant,
    /// Milliseconds since `started` before which no overload line is logged.
    next_overload_log_ms: AtomicU64,
}

impl Ingress {
    pub(crate) fn new(
        shards: Vec<mpsc::Sender<ShardInput>>,
        listeners: HashMap<(crate::transport::Transport, SocketAddr), ListenerProfile>,
        transport: Network,
        responder: Arc<Responder>,
        stats: Arc<DriverStats>,
        calls: Arc<CallTable>,
    ) -> Self {
        let fallback = listeners
            .values()
            .min_by_key(|l| l.profile)
            .copied()
            .unwrap_or(ListenerProfile {
                profile: 0,
                retry_after_secs: 5,
            });
        Ingress {
            shards,
            listeners,
            fallback,
            transport,
            responder,
            stats,
            calls,
            admissions: Vec::new(),
            started: Instant::now(),
            next_overload_log_ms: AtomicU64::new(0),
        }
    }

    /// Sets the source admission of each profile (by profile index).
    pub(crate) fn with_admissions(
        mut self,
        admissions: Vec<Option<Arc<dyn SourceAdmission>>>,
    ) -> Self {
        self.admissions = admissions;
        self
    }

    /// False when the profile of the listener `peer` arrived on admits sources and this one is
    /// not among them.
    fn admitted(&self, peer: &Peer) -> bool {
        let profile = self.listener(peer).profile;
        match self.admissions.get(profile) {
            Some(Some(admission)) => admission.admits(peer.remote.ip()),
            _ => true,
        }
    }

    fn listener(&self, peer: &Peer) -> ListenerProfile {
        self.listeners
            .get(&(peer.transport, peer.local))
            .copied()
            .unwrap_or(self.fallback)
    }

    /// Edge safety for carrier profiles: a bare 403 (see [`refusal`]), counted; an ACK is
    /// never answered (RFC 3261 §17.1.1.3).
    fn refuse_unknown_source(&self, request: &Request, route: ResponseRoute, peer: &Peer) {
        let refused_total = self
            .stats
            .unknown_source_rejected
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        tracing::debug!(remote = %peer.remote, method = %request.method(), refused_total, "refusing request from a source no trunk admits");
        if *request.method() == Method::Ack {
            return;
        }
        self.send_stateless(&refusal(&self.responder, request), route);
    }

    fn on_request(&self, mut request: Request, peer: Peer) {
        let via = match stamp_top_via(&mut request, &peer) {
            Ok(via) => via,
            Err(e) => {
                // The parser checks Via; nothing can be answered without it (RFC 3261 §18.2.2).
                tracing::debug!(remote = %peer.remote, error = %e, "dropping request");
                return;
            }
        };
        let route = ResponseRoute::for_request(&via, &peer);
        let listener = self.listener(&peer);
        let Ok(call_id) = request.headers().call_id() else {
            return;
        };
        let shard = shard_for(call_id.as_bytes(), self.shards.len());
        let (request, peer, route) = match self.calls.deliver_request(request, peer, route) {
            Delivery::Delivered => return,
            Delivery::MailboxFull { request, route } => {
                self.reject_overloaded(
                    &request,
                    route,
                    listener.retry_after_secs,
                    Overload::CallMailbox,
                );
                return;
            }
            Delivery::NoCall {
                request,
                peer,
                route,
            } => (request, peer, route),
        };
        // In-call messages were delivered above, whatever their source: the calls the switch
        // made or accepted own them. An ACK matches no call here; the shard drops it.
        if *request.method() != Method::Ack && !self.admitted(&peer) {
            self.refuse_unknown_source(&request, route, &peer);
            return;
        }
        let Some(queue) = self.shards.get(shard) else {
            return;
        };
        let input = ShardInput::Request {
            request,
            peer,
            route,
            profile: listener.profile,
        };
        match queue.try_send(input) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(ShardInput::Request {
                request, route, ..
            })) => {
                self.reject_overloaded(
                    &request,
                    route,
                    listener.retry_after_secs,
                    Overload::Shard(shard),
                );
            }
            // The driver is shutting down.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// RFC 3261 §21.5.4: a server that cannot take the request now answers 503 with
    /// Retry-After, instead of queueing without bound. ACK is never answered (§17.1.1.3).
    fn reject_overloaded(
        &self,
        request: &Request,
        route: ResponseRoute,
        retry_after_secs: u32,
        overload: Overload,
    ) {
        let rejected = self.stats.overload_rejected.fetch_add(1, Ordering::Relaxed) + 1;
        self.log_overload(overload, rejected);
        if *request.method() == Method::Ack {
            return;
        }
        let response = self.responder.overloaded(request, retry_after_secs);
        self.send_stateless(&response, route);
    }

    fn log_overload(&self, overload: Overload, rejected_total: u64) {
        let now_ms = self.started.elapsed().as_millis() as u64;
        let next = self.next_overload_log_ms.load(Ordering::Relaxed);
        if now_ms >= next
            && self
                .next_overload_log_ms
                .compare_exchange(
                    next,
                    now_ms + OVERLOAD_LOG_INTERVAL_MS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            match overload {
                Overload::Shard(shard) => {
                    tracing::debug!(shard, rejected_total, "shard queue full, answering 503");
                }
                Overload::CallMailbox => {
                    tracing::debug!(rejected_total, "call mailbox full, answering 503");
                }
            }
        }
    }

    fn on_parse_error(&self, error: &sip_core::message::ParseError, peer: Peer) {
        self.stats.parse_errors.fetch_add(1, Ordering::Relaxed);
        match error.reaction() {
            ParseReaction::Drop => {
                tracing::debug!(remote = %peer.remote, error = %error, "dropping unparsable message");
            }
            ParseReaction::Respond(status) => {
                let Some(request) = error.partial_request() else {
                    return;
                };
                // RFC 3261 §17.1.1.3: an ACK is never answered.
                if *request.method() == Method::Ack {
                    return;
                }
                let mut request = request.clone();
                let Ok(via) = stamp_top_via(&mut request, &peer) else {
                    return;
                };
                let route = ResponseRoute::for_request(&via, &peer);
                if !self.admitted(&peer) {
                    self.refuse_unknown_source(&request, route, &peer);
                    return;
                }
                tracing::debug!(remote = %peer.remote, error = %error, status = status.as_u16(), "rejecting malformed request");
                let response = self.responder.response(&request, status);
                self.send_stateless(&response, route);
            }
        }
    }

    /// Every client transaction belongs to a call: a response goes to the call owning its
    /// Call-ID. RFC 3261 §18.1.2 hands one matching nothing to the core, which has no use for
    /// it; one for a call whose mailbox is full is dropped too (it will be retransmitted, or
    /// its 2xx re-sent, RFC 3261 §17.1.1.2, §13.3.1.4).
    fn on_response(&self, response: Response, peer: Peer) {
        let mailbox = response
            .headers()
            .call_id()
            .ok()
            .and_then(|call_id| self.calls.get(call_id));
        let Some(mailbox) = mailbox else {
            tracing::trace!(remote = %peer.remote, status = response.status().as_u16(), "dropping response for no call");
            return;
        };
        if let Err(e) = mailbox.try_send(Box::new(CallMessage::Response { response, peer })) {
            let full = matches!(e, mpsc::error::TrySendError::Full(_));
            if full {
                self.stats.overload_rejected.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(remote = %peer.remote, full, "dropping response the call cannot take");
        }
    }

    fn send_stateless(&self, response: &Response, route: ResponseRoute) {
        if let Err(e) = send_routed(&self.transport, route, response.encode()) {
            self.stats.send_failures.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, "stateless response not sent");
        }
    }
}

impl InboundHandler for Ingress {
    fn on_message(&self, peer: Peer, data: Bytes) {
        match Message::parse(data) {
            // RFC 3261 §8.2: the essential headers must be readable and consistent before
            // the request is processed; a failure gets the same reaction as a parse error.
            Ok(Message::Request(request)) => match request.validate() {
                Ok(()) => {
                    metrics().sip_request_received(request.method().as_str());
                    self.on_request(request, peer);
                }
                Err(e) => self.on_parse_error(&e, peer),
            },
            Ok(Message::Response(response)) => {
                metrics().sip_response_received(response.status().as_u16());
                self.on_response(response, peer);
            }
            Err(e) => self.on_parse_error(&e, peer),
        }
    }

    /// Undelivered requests go back to their call (or client): see
    /// [`CallTable::report_undelivered`].
    fn on_undelivered(&self, peer: Peer, messages: Vec<Bytes>) {
        self.calls.report_undelivered(peer, messages);
    }
}

/// Sends response bytes along `route` (RFC 3261 §18.2.2): on the request's connection, or
/// when it has closed, on a new connection to the `received` address and sent-by port.
pub fn send_routed(
    transport: &Network,
    route: ResponseRoute,
    bytes: Bytes,
) -> Result<(), crate::transport::SendError> {
    metrics().sip_sent(&bytes);
    match route {
        ResponseRoute::Datagram(peer) => transport.send(&peer, bytes),
        ResponseRoute::Connection { peer, reconnect } => {
            if transport.send_on_connection(peer.remote, bytes.clone())? {
                return Ok(());
            }
            let fallback = Peer {
                remote: reconnect,
                ..peer
            };
            transport.send(&fallback, bytes)
        }
    }
}

/// The shard for a Call-ID: FNV-1a over its bytes, so every message of a call lands on the
/// same shard (DESIGN.md decision 2).
pub(crate) fn shard_for(call_id: &[u8], shards: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in call_id {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    if shards == 0 {
        0
    } else {
        (hash % shards as u64) as usize
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_same_call_id_always_lands_on_the_same_shard() {
        for n in 1..16 {
            let a = shard_for(b"a84b4c76e66710@pc33.atlanta.com", n);
            assert!(a < n);
            assert_eq!(a, shard_for(b"a84b4c76e66710@pc33.atlanta.com", n));
        }
    }

    #[test]
    fn call_ids_spread_over_all_shards() {
        let shards = 4;
        let mut hits = [0usize; 4];
        for i in 0..4000 {
            hits[shard_for(format!("call-{i}@host").as_bytes(), shards)] += 1;
        }
        for h in hits {
            assert!((800..1200).contains(&h), "uneven spread: {hits:?}");
        }
    }
}
