//! The driver's own answers: UDP and TCP exchanges, retransmission absorption, the methods
//! the switch does not implement, the overload path and the drain.

use super::*;

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
    mpsc::Receiver<crate::sip::driver_shard::ShardInput>,
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
        Arc::new(CallTable::new()),
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
