//! The hand-over to calls: INVITE authentication, the handler taking the INVITE, 481 for
//! dialogs no call has, and messages routed to a call's mailbox.

use super::*;

/// An INVITE from user 1000 to 1001 with `extra` header lines (each ending in CRLF).
fn invite(call_id: &str, cseq: u32, extra: &str) -> String {
    format!(
        "INVITE sip:1001@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK-{call_id}-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@127.0.0.1>;tag=from-{call_id}\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:1000@127.0.0.1:9>\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
}

/// Proxy-Authorization answering the 407 `challenge` for user 1000.
fn proxy_credentials(challenge: &Response) -> String {
    use sip_core::auth::{Challenge, Credentials, Secret};
    let value = header(challenge, HeaderName::ProxyAuthenticate);
    let challenge = Challenge::parse(value).unwrap();
    let credentials = Credentials::answer(
        &challenge,
        "INVITE",
        "sip:1001@127.0.0.1",
        "1000",
        &Secret::Password("pw-1000".into()),
        "0a4f113b",
        1,
    )
    .unwrap();
    format!("Proxy-Authorization: {credentials}\r\n")
}

async fn mailbox_receive(calls: &mut Calls) -> CallMessage {
    tokio::time::timeout(Duration::from_secs(5), calls.mailbox.recv())
        .await
        .expect("nothing reached the call within 5 s")
        .map(|message| *message)
        .unwrap()
}

#[tokio::test]
async fn an_invite_without_credentials_is_challenged_with_407_and_not_handed_over() {
    let (switch, mut calls) = Switch::with_calls(slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let challenge = udp_exchange(&client, switch.udp, &invite("ch-1", 1, "")).await;
    assert_eq!(
        challenge.status(),
        StatusCode::PROXY_AUTHENTICATION_REQUIRED
    );
    assert!(header(&challenge, HeaderName::ProxyAuthenticate).contains("realm=\"127.0.0.1\""));
    assert!(challenge.headers().to().unwrap().tag().is_some());
    assert!(calls.taken.try_recv().is_err());
    assert!(calls.table.is_empty());
    switch.stop().await;
}

#[tokio::test]
async fn an_invite_for_another_user_than_the_from_user_is_refused_with_403() {
    let (switch, mut calls) = Switch::with_calls(slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let challenge = udp_exchange(&client, switch.udp, &invite("spoof", 1, "")).await;
    // Credentials of 1000 on an INVITE that claims to come from 1001.
    let spoofed = invite("spoof", 2, &proxy_credentials(&challenge))
        .replace("From: <sip:1000@", "From: <sip:1001@");
    let refused = udp_exchange(&client, switch.udp, &spoofed).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(calls.taken.try_recv().is_err());
    switch.stop().await;
}

#[tokio::test]
async fn an_authenticated_invite_is_handed_to_the_invite_handler_and_its_retransmission_follows() {
    let (switch, mut calls) = Switch::with_calls(slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let challenge = udp_exchange(&client, switch.udp, &invite("auth-1", 1, "")).await;
    assert_eq!(
        challenge.status(),
        StatusCode::PROXY_AUTHENTICATION_REQUIRED
    );
    let authenticated = invite("auth-1", 2, &proxy_credentials(&challenge));
    client
        .send_to(authenticated.as_bytes(), switch.udp)
        .await
        .unwrap();
    let taken = tokio::time::timeout(Duration::from_secs(5), calls.taken.recv())
        .await
        .expect("no INVITE handed over within 5 s")
        .unwrap();
    assert_eq!(taken.caller.as_deref(), Some("1000"));
    assert_eq!(taken.transaction.request().headers().cseq().unwrap().seq, 2);
    assert_eq!(taken.peer.remote, client.local_addr().unwrap());
    // The stub routed the Call-ID: the retransmission goes to the call, not to a shard.
    client
        .send_to(authenticated.as_bytes(), switch.udp)
        .await
        .unwrap();
    match mailbox_receive(&mut calls).await {
        CallMessage::Request { request, .. } => {
            assert_eq!(request.headers().cseq().unwrap().seq, 2);
        }
        CallMessage::Response { .. }
        | CallMessage::Undelivered { .. }
        | CallMessage::HangUp
        | CallMessage::Recording { .. } => {
            panic!("expected the INVITE")
        }
    }
    switch.stop().await;
}

#[tokio::test]
async fn an_invite_is_answered_501_by_a_profile_without_calls() {
    let switch = Switch::start_with(settings(), Duration::ZERO, slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let response = udp_exchange(&client, switch.udp, &invite("no-calls", 1, "")).await;
    assert_eq!(response.status(), StatusCode::NOT_IMPLEMENTED);
    switch.stop().await;
}

#[tokio::test]
async fn in_dialog_requests_for_an_unknown_call_get_481() {
    let (switch, _calls) = Switch::with_calls(slow_timers());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let tagged = |method: &str, call_id: &str| {
        request(method, "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", call_id).replace(
            "To: <sip:1000@127.0.0.1>",
            "To: <sip:1000@127.0.0.1>;tag=gone",
        )
    };
    for text in [
        tagged("BYE", "gone-1"),
        tagged("INVITE", "gone-2"),
        tagged("OPTIONS", "gone-3"),
        tagged("SUBSCRIBE", "gone-4"),
        // INFO exists only inside a dialog (RFC 6086 §4.2.1), tag or not.
        request("INFO", "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", "gone-5"),
    ] {
        let response = udp_exchange(&client, switch.udp, &text).await;
        assert_eq!(
            response.status(),
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            "{text}"
        );
    }
    // An ACK for no call is dropped: the next answer is the OPTIONS sent after it.
    client
        .send_to(tagged("ACK", "gone-6").as_bytes(), switch.udp)
        .await
        .unwrap();
    let response = udp_exchange(&client, switch.udp, &options("UDP", "127.0.0.1:9", "after")).await;
    assert_eq!(header(&response, HeaderName::CallId), "after");
    assert_eq!(
        header(&response, HeaderName::Allow),
        crate::sip::reply::ALLOW_WITH_CALLS
    );
    switch.stop().await;
}

#[tokio::test]
async fn a_request_and_a_response_whose_call_id_is_a_call_reach_its_mailbox() {
    let (switch, mut calls) = Switch::with_calls(slow_timers());
    let (mailbox, mut inbox) = mpsc::channel(4);
    assert!(calls.table.insert("routed-1", mailbox));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bye = request(
        "BYE",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "routed-1",
    );
    client.send_to(bye.as_bytes(), switch.udp).await.unwrap();
    let response = "SIP/2.0 180 Ringing\r\n\
                    Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-b-leg\r\n\
                    From: <sip:1000@127.0.0.1>;tag=ours\r\n\
                    To: <sip:1001@127.0.0.1>;tag=theirs\r\n\
                    Call-ID: routed-1\r\n\
                    CSeq: 1 INVITE\r\n\
                    Content-Length: 0\r\n\r\n";
    client
        .send_to(response.as_bytes(), switch.udp)
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    let CallMessage::Request { request, peer, .. } = *first else {
        panic!("expected the BYE first");
    };
    assert_eq!(*request.method(), sip_core::message::Method::Bye);
    assert_eq!(peer.remote, client.local_addr().unwrap());
    // The Via was stamped on the way in (RFC 3581).
    assert!(request.headers().via().unwrap()[0].received().is_some());
    let second = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    let CallMessage::Response { response, .. } = *second else {
        panic!("expected the 180");
    };
    assert_eq!(response.status(), StatusCode::RINGING);
    assert!(calls.mailbox.try_recv().is_err());
    switch.stop().await;
}

#[tokio::test]
async fn a_request_for_a_call_whose_mailbox_is_full_gets_503_with_retry_after() {
    let (switch, calls) = Switch::with_calls(slow_timers());
    let (mailbox, _inbox) = mpsc::channel(1);
    assert!(calls.table.insert("busy-call", mailbox.clone()));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let info = request(
        "INFO",
        "sip:1000@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "busy-call",
    );
    // The first fills the mailbox; the second finds it full.
    client.send_to(info.as_bytes(), switch.udp).await.unwrap();
    let second = info.replace("CSeq: 1 INFO", "CSeq: 2 INFO");
    let response = udp_exchange(&client, switch.udp, &second).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(header(&response, HeaderName::RetryAfter), "5");
    switch.stop().await;
}

#[tokio::test]
async fn a_request_queued_in_a_shard_before_its_call_registered_goes_to_the_call() {
    use crate::sip::driver::DriverShared;
    use crate::sip::driver_shard::{Shard, ShardInput};

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
    let table = Arc::new(CallTable::new());
    let shared = Arc::new(DriverShared {
        transport: network.clone(),
        profiles: vec![ProfileService {
            name: "t".into(),
            timers: slow_timers(),
            retry_after_secs: 5,
            register: Arc::new(StubRegistrar {
                delay: Duration::ZERO,
            }),
            auth: guard(),
            invite: None,
            admission: None,
        }],
        responder: Arc::new(Responder::new()),
        stats: Arc::new(DriverStats::default()),
        calls: Arc::clone(&table),
    });
    let (queue, inputs) = mpsc::channel(4);
    let text = invite("late", 1, "");
    let Message::Request(mut request) = Message::parse(Bytes::from(text)).unwrap() else {
        panic!("not a request");
    };
    let peer = Peer {
        transport: Transport::Udp,
        remote: "127.0.0.1:9".parse().unwrap(),
        local: network.listeners()[0].local,
    };
    let via = crate::sip::response_route::stamp_top_via(&mut request, &peer).unwrap();
    let route = crate::sip::response_route::ResponseRoute::for_request(&via, &peer);
    queue
        .try_send(ShardInput::Request {
            request,
            peer,
            route,
            profile: 0,
        })
        .unwrap();
    // The call registers while the request waits in the queue.
    let (mailbox, mut inbox) = mpsc::channel(4);
    assert!(table.insert("late", mailbox));
    let drain = CancellationToken::new();
    let shard = tokio::spawn(Shard::new(0, inputs, 4, shared).run(drain.clone()));
    let message = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(*message, CallMessage::Request { .. }));
    drain.cancel();
    drop(queue);
    shard.await.unwrap();
    network.close().await;
}
