//! The switch's own non-INVITE requests (OPTIONS probes, outbound REGISTER): one client
//! transaction each, its responses routed back by Call-ID.
//!
//! Run-loop invariant (sip-core): after any input to the transaction, drain `poll_transmit`
//! and `poll_event`, then re-arm the timer from `poll_timeout`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use sip_core::message::{
    BRANCH_MAGIC_COOKIE, HeaderName, Host, Method, NameAddr, Request, Response, SipUri, Uri, Via,
};
use sip_core::transaction::{
    ClientNonInviteTransaction, TimerConfig, TransactionError, TransactionEvent, TransactionKey,
};
use tokio::sync::mpsc;

use super::call_table::{CallMessage, CallTable};
use super::reply::SERVER;
use crate::telemetry::metrics::{Retransmission, metrics};
use crate::transport::{Network, Peer, SendError, Transport};

/// Mailbox depth of one request: its responses (provisional, final, retransmissions).
const MAILBOX: usize = 8;

/// Why a request got no final response.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request lacks what a client transaction needs (a Via with a branch, a Call-ID),
    /// or is an INVITE or ACK.
    #[error("request cannot start a client transaction: {0}")]
    InvalidRequest(#[source] TransactionError),
    /// Another call or request of the switch already owns the request's Call-ID.
    #[error("Call-ID {0} is already in use")]
    CallIdInUse(String),
    /// No final response before Timer F (RFC 3261 §17.1.2.2).
    #[error("no final response before timer F")]
    Timeout,
    /// The transport could not send the request (RFC 3261 §17.1.4).
    #[error("transport error: {0}")]
    Transport(#[source] SendError),
}

impl ClientError {
    /// True when the peer never answered (timeout or transport error), as opposed to a
    /// request the switch could not even start.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Timeout | ClientError::Transport(_))
    }
}

/// A final response and the flow it arrived on.
#[derive(Debug)]
pub struct Received {
    /// The final response.
    pub response: Response,
    /// The flow it came from (its `remote` is the response's source address).
    pub source: Peer,
}

/// Sends the switch's own non-INVITE requests. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SipClient {
    network: Network,
    calls: Arc<CallTable>,
    timers: TimerConfig,
}

impl SipClient {
    /// A client sending on `network`, receiving through `calls` (the driver's table), with
    /// the transaction timers `timers`.
    pub fn new(network: Network, calls: Arc<CallTable>, timers: TimerConfig) -> Self {
        SipClient {
            network,
            calls,
            timers,
        }
    }

    /// The transaction timers.
    pub fn timers(&self) -> TimerConfig {
        self.timers
    }

    /// Sends `request` on `flow` as a client non-INVITE transaction and returns its final
    /// response (provisional ones are skipped).
    pub async fn request(&self, request: Request, flow: Peer) -> Result<Response, ClientError> {
        self.transact(request, flow)
            .await
            .map(|received| received.response)
    }

    /// Like [`Self::request`], with the flow the final response came from.
    ///
    /// The request's Call-ID is routed to this call for the transaction's lifetime (also when
    /// the future is dropped early, the route goes with it).
    pub async fn transact(&self, request: Request, flow: Peer) -> Result<Received, ClientError> {
        let call_id = request
            .headers()
            .call_id()
            .map_err(|e| ClientError::InvalidRequest(TransactionError::from(e)))?
            .to_owned();
        let (mailbox, mut inbox) = mpsc::channel(MAILBOX);
        if !self.calls.insert(&call_id, mailbox) {
            return Err(ClientError::CallIdInUse(call_id));
        }
        let _route = CallIdRoute {
            calls: &self.calls,
            call_id: &call_id,
        };
        let reliable = flow.transport.is_reliable();
        let mut transaction =
            ClientNonInviteTransaction::new(request, now(), reliable, self.timers)
                .map_err(ClientError::InvalidRequest)?;
        let mut send_error = None;
        let mut last_source: Option<Peer> = None;
        let mut open = true;
        let mut sent = false;
        loop {
            // RFC 3261 §17.1.4: a send failure is a transport error for the transaction.
            while let Some(bytes) = transaction.poll_transmit() {
                metrics().sip_sent(&bytes);
                // RFC 3261 §17.1.2.2: a non-INVITE client transaction only ever re-sends its
                // request (Timer E); every transmit after the first is a retransmission.
                if std::mem::replace(&mut sent, true) {
                    metrics().sip_retransmission(Retransmission::RequestSent);
                }
                if let Err(e) = self.network.send(&flow, bytes) {
                    send_error = Some(e);
                    transaction.handle_transport_error(now());
                }
            }
            while let Some(event) = transaction.poll_event() {
                match event {
                    TransactionEvent::Response(response) if response.status().is_final() => {
                        let source = last_source.unwrap_or(flow);
                        return Ok(Received { response, source });
                    }
                    TransactionEvent::Timeout(timer) => {
                        metrics().sip_transaction_timeout(timer);
                        return Err(ClientError::Timeout);
                    }
                    TransactionEvent::TransportError => {
                        return Err(match send_error.take() {
                            Some(e) => ClientError::Transport(e),
                            None => ClientError::Timeout,
                        });
                    }
                    TransactionEvent::Response(_)
                    | TransactionEvent::Ack(_)
                    | TransactionEvent::Terminated => {}
                }
            }
            let deadline = transaction.poll_timeout();
            let sleep = tokio::time::sleep_until(
                deadline.map_or_else(far_future, tokio::time::Instant::from_std),
            );
            tokio::select! {
                message = inbox.recv(), if open => match message.map(|m| *m) {
                    Some(CallMessage::Response { response, peer }) => {
                        // RFC 3261 §17.1.3: the branch and CSeq method pick the transaction; a
                        // straggler of an earlier request on the same Call-ID is dropped.
                        if TransactionKey::for_response(&response)
                            .is_ok_and(|key| key == *transaction.key())
                        {
                            if response.status().is_final() {
                                last_source = Some(peer);
                            }
                            transaction.handle_response(now(), response);
                        }
                    }
                    // RFC 3261 §17.1.4: the transport could not deliver the request (its
                    // TCP connection failed): the transaction fails now, not at Timer F.
                    Some(CallMessage::Undelivered { request, peer }) => {
                        if TransactionKey::for_client_request(&request)
                            .is_ok_and(|key| key == *transaction.key())
                        {
                            send_error = Some(SendError::Undelivered(peer.remote));
                            transaction.handle_transport_error(now());
                        }
                    }
                    // Requests reusing the Call-ID are no dialog of ours; a request has no call
                    // to hang up.
                    Some(
                        CallMessage::Request { .. }
                        | CallMessage::HangUp
                        | CallMessage::Recording { .. },
                    ) => {}
                    None => open = false,
                },
                () = sleep, if deadline.is_some() => transaction.handle_timeout(now()),
            }
            if !open && deadline.is_none() {
                return Err(ClientError::Timeout);
            }
        }
    }
}

/// Stops routing the Call-ID when the transaction ends or its future is dropped.
struct CallIdRoute<'a> {
    calls: &'a CallTable,
    call_id: &'a str,
}

impl Drop for CallIdRoute<'_> {
    fn drop(&mut self) {
        self.calls.remove(self.call_id);
    }
}

/// The headers of a request the switch sends outside any dialog.
#[derive(Debug, Clone)]
pub struct RequestHeaders {
    /// From, with our tag.
    pub from: NameAddr,
    /// To (no tag outside a dialog, RFC 3261 §8.1.1.2).
    pub to: NameAddr,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
}

/// A request of `method` to `uri`, sent on `flow`, outside any dialog (RFC 3261 §8.1.1): our
/// Via with a fresh branch, Max-Forwards 70, From, To, Call-ID, CSeq and User-Agent.
pub fn new_request(method: Method, uri: Uri, flow: &Peer, headers: &RequestHeaders) -> Request {
    let cseq = format!("{} {}", headers.cseq, method.as_str());
    let mut request = Request::new(method, uri);
    let h = request.headers_mut();
    h.push(HeaderName::Via, via(flow).to_string());
    h.push(HeaderName::MaxForwards, 70u32);
    h.push(HeaderName::From, headers.from.to_string());
    h.push(HeaderName::To, headers.to.to_string());
    h.push(HeaderName::CallId, headers.call_id.as_str());
    h.push(HeaderName::CSeq, cseq);
    h.push(HeaderName::UserAgent, SERVER);
    request
}

/// A fresh random tag (RFC 3261 §19.3: at least 32 bits of randomness).
pub fn new_tag() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A fresh Call-ID: random, with our listener's address as the host part (RFC 3261 §8.1.1.4).
pub fn new_call_id(flow: &Peer) -> String {
    format!(
        "{:016x}{:016x}@{}",
        rand::random::<u64>(),
        rand::random::<u64>(),
        host_of(flow.local.ip())
    )
}

/// A fresh RFC 3261 branch (§8.1.1.7: starts with the magic cookie).
pub fn new_branch() -> String {
    format!(
        "{BRANCH_MAGIC_COOKIE}{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// The switch's Via for a request sent on `flow`, with a fresh branch and `rport`
/// (RFC 3581 §3).
pub fn via(flow: &Peer) -> Via {
    let transport = match flow.transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    let mut via = Via::new(
        transport,
        host_of(flow.local.ip()),
        Some(flow.local.port()),
        &new_branch(),
    );
    via.params_mut().set("rport", None);
    via
}

/// A SIP URI for our listener of `flow`, with `user` (e.g. a Contact, RFC 3261 §8.1.1.8).
pub fn local_uri(flow: &Peer, user: Option<&str>) -> Uri {
    let mut uri = SipUri::new(host_of(flow.local.ip()));
    uri.set_user(user.map(str::to_owned));
    uri.set_port(Some(flow.local.port()));
    if flow.transport == Transport::Tcp {
        uri.params_mut().set("transport", Some("tcp".to_owned()));
    }
    Uri::Sip(uri)
}

fn host_of(ip: IpAddr) -> Host {
    match ip {
        IpAddr::V4(v4) => Host::Ipv4(v4),
        IpAddr::V6(v6) => Host::Ipv6(v6),
    }
}

fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
}

/// The transaction clock: tokio's, so tests with a paused clock drive the timers.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// For tests of the client's users: a receive path that only routes responses by Call-ID
/// (what the driver's does for them).
#[cfg(test)]
pub(crate) mod tests_support {
    use std::sync::Arc;

    use bytes::Bytes;
    use sip_core::message::Message;

    use crate::sip::call_table::{CallMessage, CallTable};
    use crate::transport::{InboundHandler, Peer};

    /// Hands each response, and each request the transport could not deliver, to the mailbox
    /// of its Call-ID; drops everything else.
    pub(crate) struct ResponseRouter {
        calls: Arc<CallTable>,
    }

    impl ResponseRouter {
        pub(crate) fn new(calls: Arc<CallTable>) -> Self {
            ResponseRouter { calls }
        }
    }

    impl InboundHandler for ResponseRouter {
        fn on_message(&self, peer: Peer, data: Bytes) {
            let Ok(Message::Response(response)) = Message::parse(data) else {
                return;
            };
            let mailbox = response
                .headers()
                .call_id()
                .ok()
                .and_then(|id| self.calls.get(id));
            if let Some(mailbox) = mailbox {
                let _ = mailbox.try_send(Box::new(CallMessage::Response { response, peer }));
            }
        }

        /// Hands each undelivered request to the mailbox of its Call-ID.
        fn on_undelivered(&self, peer: Peer, messages: Vec<Bytes>) {
            self.calls.report_undelivered(peer, messages);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use bytes::Bytes;
    use sip_core::message::{Message, StatusCode};
    use tokio::net::UdpSocket;
    use tokio_util::sync::CancellationToken;

    use super::tests_support::ResponseRouter;
    use super::*;
    use crate::transport::{ListenerSpec, TransportSettings};

    /// A client on a loopback listener, and a gateway socket to talk to.
    struct Bench {
        network: Network,
        calls: Arc<CallTable>,
        client: SipClient,
        gateway: UdpSocket,
        flow: Peer,
    }

    async fn bench(t1: Duration) -> Bench {
        let network = Network::bind(
            &[ListenerSpec {
                kind: Transport::Udp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            }],
            TransportSettings::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let calls = Arc::new(CallTable::new());
        network.start(Arc::new(ResponseRouter::new(Arc::clone(&calls))));
        let timers = TimerConfig {
            t1,
            t2: t1 * 8,
            t4: t1 * 10,
        };
        let client = SipClient::new(network.clone(), Arc::clone(&calls), timers);
        let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let flow = Peer {
            transport: Transport::Udp,
            remote: gateway.local_addr().unwrap(),
            local: network.listeners()[0].local,
        };
        Bench {
            network,
            calls,
            client,
            gateway,
            flow,
        }
    }

    fn options(flow: &Peer, call_id: &str) -> Request {
        let mut from = NameAddr::new(local_uri(flow, Some("switchyard")));
        from.set_tag(&new_tag());
        let uri = Uri::parse(&format!("sip:{}", flow.remote)).unwrap();
        let headers = RequestHeaders {
            from,
            to: NameAddr::new(uri.clone()),
            call_id: call_id.to_owned(),
            cseq: 1,
        };
        new_request(Method::Options, uri, flow, &headers)
    }

    async fn receive(socket: &UdpSocket) -> (Request, SocketAddr) {
        let mut buf = vec![0u8; 65535];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
            .await
            .expect("nothing within 5 s")
            .unwrap();
        match Message::parse(Bytes::copy_from_slice(&buf[..n])).unwrap() {
            Message::Request(r) => (r, from),
            Message::Response(_) => panic!("expected a request"),
        }
    }

    async fn reply(socket: &UdpSocket, to: SocketAddr, request: &Request, status: StatusCode) {
        let mut response = Response::for_request(request, status);
        response.set_to_tag("gw");
        socket.send_to(&response.encode(), to).await.unwrap();
    }

    #[test]
    fn requests_carry_our_via_from_to_call_id_cseq_and_user_agent() {
        let flow = Peer {
            transport: Transport::Tcp,
            remote: "198.51.100.7:5060".parse().unwrap(),
            local: "192.0.2.1:5080".parse().unwrap(),
        };
        let request = options(&flow, "c-1@192.0.2.1");
        let headers = request.headers();
        let via = headers.top_via().unwrap();
        assert_eq!(via.transport(), "TCP");
        assert_eq!(via.sent_by(), "192.0.2.1:5080");
        assert!(via.is_rfc3261_branch());
        assert!(via.params().contains("rport"));
        assert_eq!(headers.max_forwards().unwrap(), Some(70));
        assert_eq!(
            headers.from().unwrap().uri.to_string(),
            "sip:switchyard@192.0.2.1:5080;transport=tcp"
        );
        assert!(headers.to().unwrap().tag().is_none());
        assert_eq!(headers.call_id().unwrap(), "c-1@192.0.2.1");
        assert_eq!(headers.cseq().unwrap().seq, 1);
        assert_eq!(headers.user_agent(), Some(SERVER));
        // Two requests never share a branch.
        assert_ne!(
            via.branch(),
            options(&flow, "c-2").headers().top_via().unwrap().branch()
        );
    }

    #[tokio::test]
    async fn the_final_response_is_returned_after_provisional_ones_and_the_route_removed() {
        let b = bench(Duration::from_millis(500)).await;
        let request = options(&b.flow, "final-1");
        let client = b.client.clone();
        let flow = b.flow;
        let pending = tokio::spawn(async move { client.transact(request, flow).await });
        let (request, from) = receive(&b.gateway).await;
        reply(&b.gateway, from, &request, StatusCode::TRYING).await;
        reply(&b.gateway, from, &request, StatusCode::NOT_FOUND).await;
        let received = pending.await.unwrap().unwrap();
        assert_eq!(received.response.status(), StatusCode::NOT_FOUND);
        assert_eq!(received.source.remote, b.flow.remote);
        assert!(b.calls.is_empty());
        b.network.close().await;
    }

    #[tokio::test]
    async fn the_request_is_retransmitted_until_answered_and_a_stray_response_is_ignored() {
        let b = bench(Duration::from_millis(20)).await;
        let request = options(&b.flow, "retx-1");
        let client = b.client.clone();
        let flow = b.flow;
        let pending = tokio::spawn(async move { client.request(request, flow).await });
        let (first, from) = receive(&b.gateway).await;
        let (again, _) = receive(&b.gateway).await;
        assert_eq!(first.encode(), again.encode());
        // A response of another transaction on the same Call-ID (another branch).
        let mut stray = first.clone();
        stray
            .headers_mut()
            .set(HeaderName::Via, via(&b.flow).to_string());
        reply(&b.gateway, from, &stray, StatusCode::FORBIDDEN).await;
        reply(&b.gateway, from, &first, StatusCode::OK).await;
        assert_eq!(pending.await.unwrap().unwrap().status(), StatusCode::OK);
        b.network.close().await;
    }

    #[tokio::test]
    async fn a_silent_peer_times_out_after_timer_f() {
        let b = bench(Duration::from_millis(2)).await;
        let started = tokio::time::Instant::now();
        let result = b.client.request(options(&b.flow, "silent-1"), b.flow).await;
        assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
        assert!(started.elapsed() >= Duration::from_millis(128));
        assert!(b.calls.is_empty());
        b.network.close().await;
    }

    #[tokio::test]
    async fn a_dropped_request_stops_routing_its_call_id() {
        let b = bench(Duration::from_millis(500)).await;
        let request = options(&b.flow, "dropped-1");
        let client = b.client.clone();
        let flow = b.flow;
        let pending = tokio::spawn(async move { client.request(request, flow).await });
        receive(&b.gateway).await;
        assert!(b.calls.get("dropped-1").is_some());
        pending.abort();
        let _ = pending.await;
        assert!(b.calls.is_empty());
        b.network.close().await;
    }

    #[tokio::test]
    async fn a_call_id_already_routed_is_refused() {
        let b = bench(Duration::from_millis(500)).await;
        let (mailbox, _inbox) = mpsc::channel(1);
        assert!(b.calls.insert("taken-1", mailbox));
        let result = b.client.request(options(&b.flow, "taken-1"), b.flow).await;
        assert!(
            matches!(result, Err(ClientError::CallIdInUse(_))),
            "{result:?}"
        );
        assert!(b.calls.get("taken-1").is_some());
        b.network.close().await;
    }

    #[tokio::test]
    async fn a_refused_tcp_connect_fails_the_request_at_once_as_a_transport_error() {
        let network = Network::bind(
            &[ListenerSpec {
                kind: Transport::Tcp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            }],
            TransportSettings::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let calls = Arc::new(CallTable::new());
        network.start(Arc::new(ResponseRouter::new(Arc::clone(&calls))));
        // Long timers: only the refused connect can end the transaction within the test.
        let t1 = Duration::from_secs(10);
        let timers = TimerConfig {
            t1,
            t2: t1 * 8,
            t4: t1 * 10,
        };
        let client = SipClient::new(network.clone(), Arc::clone(&calls), timers);
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let flow = Peer {
            transport: Transport::Tcp,
            remote: closed.local_addr().unwrap(),
            local: network.listeners()[0].local,
        };
        drop(closed);
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            client.request(options(&flow, "refused-1"), flow),
        )
        .await
        .expect("the refused connect did not end the request within 5 s");
        assert!(
            matches!(result, Err(ClientError::Transport(SendError::Undelivered(to))) if to == flow.remote),
            "{result:?}"
        );
        assert!(calls.is_empty());
        network.close().await;
    }

    #[tokio::test]
    async fn a_send_failure_is_a_transport_error() {
        let b = bench(Duration::from_millis(500)).await;
        let flow = Peer {
            local: "127.0.0.1:1".parse().unwrap(),
            ..b.flow
        };
        let result = b.client.request(options(&flow, "nosock-1"), flow).await;
        assert!(
            matches!(result, Err(ClientError::Transport(_))),
            "{result:?}"
        );
        assert!(result.unwrap_err().is_unreachable());
        b.network.close().await;
    }
}
