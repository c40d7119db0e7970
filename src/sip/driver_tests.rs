//! Tests of the driver over real sockets on 127.0.0.1: UDP and TCP exchanges, retransmission
//! absorption, the methods the switch does not implement, and the overload path.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sip_core::message::{HeaderName, Message, Response, StatusCode};
use sip_core::transaction::TimerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::driver::{DriverStats, ResponseFuture};
use super::driver_ingress::{Ingress, ListenerProfile};
use super::reply::{Responder, SERVER};
use super::{DriverSettings, ListenerBinding, ProfileService, RegisterHandler, SipDriver};
use crate::transport::{InboundHandler, ListenerSpec, Network, Peer, Transport, TransportSettings};

/// Answers every REGISTER with 200 after `delay`.
struct StubRegistrar {
    delay: Duration,
}

impl RegisterHandler for StubRegistrar {
    fn handle(self: Arc<Self>, request: sip_core::message::Request, _peer: Peer) -> ResponseFuture {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            Response::for_request(&request, StatusCode::OK)
        })
    }
}

struct Switch {
    network: Network,
    driver: Option<SipDriver>,
    udp: SocketAddr,
    tcp: SocketAddr,
}

impl Switch {
    fn start(settings: DriverSettings, register_delay: Duration) -> Switch {
        Switch::start_with(settings, register_delay, TimerConfig::default())
    }

    fn start_with(
        settings: DriverSettings,
        register_delay: Duration,
        timers: TimerConfig,
    ) -> Switch {
        let specs = [
            ListenerSpec {
                kind: Transport::Udp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            },
            ListenerSpec {
                kind: Transport::Tcp,
                addr: "127.0.0.1:0".parse().unwrap(),
                max_message_size: 4096,
            },
        ];
        let network = Network::bind(
            &specs,
            TransportSettings::default(),
            CancellationToken::new(),
        )
        .unwrap();
        let bindings: Vec<_> = network
            .listeners()
            .iter()
            .map(|l| ListenerBinding {
                transport: l.kind,
                local: l.local,
                profile: 0,
            })
            .collect();
        let profile = ProfileService {
            name: "test".into(),
            timers,
            retry_after_secs: 5,
            register: Arc::new(StubRegistrar {
                delay: register_delay,
            }),
        };
        let driver = SipDriver::start(&network, vec![profile], &bindings, settings);
        Switch {
            udp: bindings[0].local,
            tcp: bindings[1].local,
            network,
            driver: Some(driver),
        }
    }

    async fn stop(mut self) {
        if let Some(driver) = self.driver.take() {
            assert!(driver.drain(Duration::from_secs(2)).await);
        }
        self.network.close().await;
    }
}

/// Timers long enough that no retransmission interleaves with a test's exchanges.
fn slow_timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_secs(5),
        t2: Duration::from_secs(10),
        t4: Duration::from_secs(5),
    }
}

fn settings() -> DriverSettings {
    DriverSettings {
        shards: 2,
        shard_queue: 64,
        tasks_per_shard: 16,
    }
}

fn request(method: &str, uri: &str, transport: &str, via_host: &str, call_id: &str) -> String {
    format!(
        "{method} {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {via_host};rport;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@127.0.0.1>;tag=from-{call_id}\r\n\
         To: <sip:1000@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn options(transport: &str, via_host: &str, call_id: &str) -> String {
    request("OPTIONS", "sip:127.0.0.1", transport, via_host, call_id)
}

fn parse_response(bytes: &[u8]) -> Response {
    match Message::parse(Bytes::copy_from_slice(bytes)).unwrap() {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

async fn udp_exchange(client: &UdpSocket, to: SocketAddr, text: &str) -> Response {
    client.send_to(text.as_bytes(), to).await.unwrap();
    udp_receive(client).await
}

async fn udp_receive(client: &UdpSocket) -> Response {
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("no response within 5 s")
        .unwrap();
    parse_response(&buf[..n])
}

/// Reads one response off a TCP stream (Content-Length 0 responses only).
async fn tcp_receive(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Response {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let message: Vec<u8> = pending.drain(..end + 4).collect();
            return parse_response(&message);
        }
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("no response within 5 s")
            .unwrap();
        assert!(n > 0, "connection closed");
        pending.extend_from_slice(&buf[..n]);
    }
}

fn header(response: &Response, name: HeaderName) -> &str {
    response.headers().get(name).unwrap().to_str().unwrap()
}

#[tokio::test]
async fn options_over_udp_gets_200_with_allow_accept_supported_and_a_to_tag() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let response = udp_exchange(&client, switch.udp, &options("UDP", "127.0.0.1:9", "udp-1")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, HeaderName::Allow), "REGISTER, OPTIONS");
    assert_eq!(header(&response, HeaderName::Accept), "application/sdp");
    assert!(response.headers().contains(HeaderName::Supported));
    assert_eq!(header(&response, HeaderName::Server), SERVER);
    assert!(response.headers().to().unwrap().tag().is_some());
    // RFC 3581: the response came back to our port although the Via said port 9.
    let via = &response.headers().via().unwrap()[0];
    let port = client.local_addr().unwrap().port();
    assert_eq!(via.rport(), sip_core::message::Rport::Value(port));
    assert_eq!(via.received(), Some("127.0.0.1"));
    switch.stop().await;
}

#[tokio::test]
async fn a_udp_retransmission_gets_the_same_response_again() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text = options("UDP", "127.0.0.1:9", "udp-rtx");
    let first = udp_exchange(&client, switch.udp, &text).await;
    let second = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(first.encode(), second.encode());
    switch.stop().await;
}

#[tokio::test]
async fn register_goes_to_the_registrar_and_its_answer_comes_back() {
    let switch = Switch::start(settings(), Duration::from_millis(20));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text = request("REGISTER", "sip:127.0.0.1", "UDP", "127.0.0.1:9", "reg-1");
    let response = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, HeaderName::Server), SERVER);
    assert!(response.headers().to().unwrap().tag().is_some());
    switch.stop().await;
}

#[tokio::test]
async fn unknown_methods_get_501_with_allow_and_invite_is_acked_silently() {
    let switch = Switch::start_with(settings(), Duration::ZERO, slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sub = request(
        "SUBSCRIBE",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "sub-1",
    );
    let response = udp_exchange(&client, switch.udp, &sub).await;
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    assert_eq!(header(&response, HeaderName::Allow), "REGISTER, OPTIONS");

    let invite = request(
        "INVITE",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "inv-1",
    );
    let response = udp_exchange(&client, switch.udp, &invite).await;
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    // The ACK for the 501 matches the INVITE transaction and gets no answer; an OPTIONS sent
    // after it is the next thing answered.
    let tag = response.headers().to().unwrap().tag().unwrap().to_owned();
    let ack = request("ACK", "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", "inv-1").replace(
        "To: <sip:1000@127.0.0.1>",
        &format!("To: <sip:1000@127.0.0.1>;tag={tag}"),
    );
    client.send_to(ack.as_bytes(), switch.udp).await.unwrap();
    let response = udp_exchange(
        &client,
        switch.udp,
        &options("UDP", "127.0.0.1:9", "after-ack"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    switch.stop().await;
}

#[tokio::test]
async fn cancel_without_a_matching_invite_gets_481() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cancel = request(
        "CANCEL",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "cancel-1",
    );
    let response = udp_exchange(&client, switch.udp, &cancel).await;
    assert_eq!(
        response.status(),
        StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
    );
    switch.stop().await;
}

#[tokio::test]
async fn a_request_uri_that_is_not_sip_sips_or_tel_gets_416() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text = request(
        "OPTIONS",
        "mailto:someone@example.com",
        "UDP",
        "127.0.0.1:9",
        "uri-1",
    );
    let response = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_URI_SCHEME);
    switch.stop().await;
}

#[tokio::test]
async fn a_request_with_a_wrong_sip_version_gets_505() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text = options("UDP", "127.0.0.1:9", "ver-1").replacen("SIP/2.0\r\n", "SIP/7.0\r\n", 1);
    let response = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(response.status(), StatusCode::VERSION_NOT_SUPPORTED);
    switch.stop().await;
}

#[tokio::test]
async fn options_over_tcp_twice_on_one_connection_and_split_across_reads() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let mut stream = TcpStream::connect(switch.tcp).await.unwrap();
    let mut pending = Vec::new();

    stream
        .write_all(options("TCP", "127.0.0.1:9", "tcp-1").as_bytes())
        .await
        .unwrap();
    let first = tcp_receive(&mut stream, &mut pending).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(header(&first, HeaderName::CallId), "tcp-1");

    // The second request arrives in three pieces with pauses between them.
    let text = options("TCP", "127.0.0.1:9", "tcp-2");
    let (a, rest) = text.split_at(10);
    let (b, c) = rest.split_at(rest.len() / 2);
    for piece in [a, b, c] {
        stream.write_all(piece.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let second = tcp_receive(&mut stream, &mut pending).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(header(&second, HeaderName::CallId), "tcp-2");

    // Two requests in one write.
    let both = options("TCP", "127.0.0.1:9", "tcp-3") + &options("TCP", "127.0.0.1:9", "tcp-4");
    stream.write_all(both.as_bytes()).await.unwrap();
    let mut ids = vec![
        header(
            &tcp_receive(&mut stream, &mut pending).await,
            HeaderName::CallId,
        )
        .to_owned(),
        header(
            &tcp_receive(&mut stream, &mut pending).await,
            HeaderName::CallId,
        )
        .to_owned(),
    ];
    ids.sort();
    assert_eq!(ids, ["tcp-3", "tcp-4"]);
    assert_eq!(switch.network.connection_count(), 1);
    switch.stop().await;
}

#[tokio::test]
async fn a_crlf_keepalive_ping_over_tcp_gets_a_pong() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let mut stream = TcpStream::connect(switch.tcp).await.unwrap();
    stream.write_all(b"\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"\r\n");
    switch.stop().await;
}

/// Builds an ingress whose single shard queue holds one request and is never drained.
async fn ingress_with_stuck_shard() -> (
    Ingress,
    Network,
    mpsc::Receiver<super::driver_shard::ShardInput>,
    Arc<DriverStats>,
) {
    let specs = [ListenerSpec {
        kind: Transport::Udp,
        addr: "127.0.0.1:0".parse().unwrap(),
        max_message_size: 4096,
    }];
    let network = Network::bind(
        &specs,
        TransportSettings::default(),
        CancellationToken::new(),
    )
    .unwrap();
    let local = network.listeners()[0].local;
    let (tx, rx) = mpsc::channel(1);
    let mut listeners = HashMap::new();
    listeners.insert(
        (Transport::Udp, local),
        ListenerProfile {
            profile: 0,
            retry_after_secs: 7,
        },
    );
    let stats = Arc::new(DriverStats::default());
    let ingress = Ingress::new(
        vec![tx],
        listeners,
        network.clone(),
        Arc::new(Responder::new()),
        Arc::clone(&stats),
    );
    (ingress, network, rx, stats)
}

#[tokio::test]
async fn a_full_shard_queue_answers_503_with_retry_after_instead_of_queueing() {
    let (ingress, network, mut rx, stats) = ingress_with_stuck_shard().await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer = Peer {
        transport: Transport::Udp,
        remote: client.local_addr().unwrap(),
        local: network.listeners()[0].local,
    };
    // Let the reactor see the new socket as writable before the non-blocking send.
    tokio::task::yield_now().await;
    ingress.on_message(peer, Bytes::from(options("UDP", "127.0.0.1:9", "q-1")));
    ingress.on_message(peer, Bytes::from(options("UDP", "127.0.0.1:9", "q-2")));
    let response = udp_receive(&client).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, HeaderName::CallId), "q-2");
    assert_eq!(header(&response, HeaderName::RetryAfter), "7");
    assert_eq!(stats.overload_rejected(), 1);
    // The first request is queued, untouched.
    assert!(rx.try_recv().is_ok());
    assert!(rx.try_recv().is_err());
    network.close().await;
}

#[tokio::test]
async fn an_ack_is_never_answered_even_under_overload() {
    let (ingress, network, _rx, stats) = ingress_with_stuck_shard().await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer = Peer {
        transport: Transport::Udp,
        remote: client.local_addr().unwrap(),
        local: network.listeners()[0].local,
    };
    tokio::task::yield_now().await;
    ingress.on_message(peer, Bytes::from(options("UDP", "127.0.0.1:9", "q-1")));
    let ack = request("ACK", "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", "q-ack");
    ingress.on_message(peer, Bytes::from(ack));
    ingress.on_message(peer, Bytes::from(options("UDP", "127.0.0.1:9", "q-3")));
    let response = udp_receive(&client).await;
    assert_eq!(header(&response, HeaderName::CallId), "q-3");
    assert_eq!(stats.overload_rejected(), 2);
    network.close().await;
}

#[tokio::test]
async fn a_full_registrar_task_pool_answers_503() {
    let settings = DriverSettings {
        shards: 1,
        shard_queue: 64,
        tasks_per_shard: 1,
    };
    let switch = Switch::start(settings, Duration::from_millis(300));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let first = request("REGISTER", "sip:127.0.0.1", "UDP", "127.0.0.1:9", "pool-1");
    let second = request("REGISTER", "sip:127.0.0.1", "UDP", "127.0.0.1:9", "pool-2");
    client.send_to(first.as_bytes(), switch.udp).await.unwrap();
    let busy = udp_exchange(&client, switch.udp, &second).await;
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&busy, HeaderName::CallId), "pool-2");
    let done = udp_receive(&client).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(header(&done, HeaderName::CallId), "pool-1");
    switch.stop().await;
}

#[tokio::test]
async fn options_with_max_forwards_zero_is_answered_because_the_switch_is_the_target() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text = options("UDP", "127.0.0.1:9", "mf-0").replace("Max-Forwards: 70", "Max-Forwards: 0");
    let response = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(response.status(), StatusCode::OK);
    switch.stop().await;
}

#[tokio::test]
async fn an_unacknowledged_501_to_invite_is_retransmitted_with_timer_g() {
    let t1 = Duration::from_millis(40);
    let timers = TimerConfig {
        t1,
        t2: Duration::from_millis(400),
        t4: Duration::from_millis(500),
    };
    let switch = Switch::start_with(settings(), Duration::ZERO, timers);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let invite = request(
        "INVITE",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "inv-g",
    );
    let started = tokio::time::Instant::now();
    let first = udp_exchange(&client, switch.udp, &invite).await;
    assert_eq!(first.status(), StatusCode::NOT_IMPLEMENTED);
    // RFC 3261 §17.2.1: Timer G fires after T1, then 2*T1, resending the same bytes.
    let second = udp_receive(&client).await;
    let at_second = started.elapsed();
    let third = udp_receive(&client).await;
    let at_third = started.elapsed();
    assert_eq!(second.encode(), first.encode());
    assert_eq!(third.encode(), first.encode());
    assert!(at_second >= t1, "{at_second:?}");
    assert!(at_third >= t1 * 3, "{at_third:?}");
    switch.stop().await;
}

#[tokio::test]
async fn a_tcp_response_whose_connection_closed_goes_on_a_new_connection_to_the_via() {
    let switch = Switch::start(settings(), Duration::from_millis(200));
    // The "phone" listens where its Via says; its own connection closes before the answer.
    let phone = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let via_host = phone.local_addr().unwrap().to_string();
    let text = request(
        "REGISTER",
        "sip:127.0.0.1",
        "TCP",
        &via_host,
        "tcp-reconnect",
    );
    let mut stream = TcpStream::connect(switch.tcp).await.unwrap();
    stream.write_all(text.as_bytes()).await.unwrap();
    drop(stream);
    let (mut back, _) = tokio::time::timeout(Duration::from_secs(5), phone.accept())
        .await
        .expect("no connection back within 5 s")
        .unwrap();
    let response = tcp_receive(&mut back, &mut Vec::new()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, HeaderName::CallId), "tcp-reconnect");
    switch.stop().await;
}

#[tokio::test]
async fn a_registration_in_flight_is_still_answered_during_drain() {
    let switch = Switch::start(settings(), Duration::from_millis(200));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let register = request("REGISTER", "sip:127.0.0.1", "UDP", "127.0.0.1:9", "drain-1");
    client
        .send_to(register.as_bytes(), switch.udp)
        .await
        .unwrap();
    // Same Call-ID, so same shard, queued behind the REGISTER: once it is answered, the
    // REGISTER is in the registrar.
    let probe =
        options("UDP", "127.0.0.1:9", "drain-1").replace("branch=z9hG4bK-", "branch=z9hG4bKp-");
    let answer = udp_exchange(&client, switch.udp, &probe).await;
    assert_eq!(header(&answer, HeaderName::CSeq), "1 OPTIONS");
    let stopping = tokio::spawn(switch.stop());
    let response = udp_receive(&client).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, HeaderName::CSeq), "1 REGISTER");
    stopping.await.unwrap();
}

#[tokio::test]
async fn a_request_whose_cseq_method_contradicts_the_request_line_gets_400() {
    let switch = Switch::start(settings(), Duration::ZERO);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let text =
        options("UDP", "127.0.0.1:9", "mismatch").replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
    let response = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().to().unwrap().tag().is_some());
    switch.stop().await;
}

#[tokio::test]
async fn cancel_matching_an_answered_invite_gets_200_and_nothing_else() {
    let switch = Switch::start_with(settings(), Duration::ZERO, slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let invite = request(
        "INVITE",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "inv-c",
    );
    let answered = udp_exchange(&client, switch.udp, &invite).await;
    assert_eq!(answered.status(), StatusCode::NOT_IMPLEMENTED);
    // RFC 3261 §9.1: the CANCEL carries the INVITE's branch, Call-ID and CSeq number.
    let cancel = request(
        "CANCEL",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "inv-c",
    );
    let response = udp_exchange(&client, switch.udp, &cancel).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, HeaderName::CSeq), "1 CANCEL");
    switch.stop().await;
}
