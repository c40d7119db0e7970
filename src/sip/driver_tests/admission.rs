//! Source admission on a carrier profile: unknown sources get a bare 403 and nothing else,
//! admitted INVITEs skip the challenge, in-call messages and responses always pass.

use std::net::IpAddr;

use super::*;

/// A carrier INVITE to a DID.
fn carrier_invite(call_id: &str) -> String {
    request(
        "INVITE",
        "sip:+15551230001@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        call_id,
    )
}

fn admitting(all: bool) -> Option<Arc<dyn SourceAdmission>> {
    let admission: Arc<dyn SourceAdmission> = Arc::new(move |_: IpAddr| all);
    Some(admission)
}

fn refused(switch: &Switch) -> u64 {
    switch
        .driver
        .as_ref()
        .unwrap()
        .stats()
        .unknown_source_rejected()
}

#[tokio::test]
async fn every_request_from_an_unknown_source_gets_a_bare_403_and_is_counted() {
    let (switch, mut calls) = Switch::with_calls_admitting(slow_timers(), admitting(false));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let in_dialog_bye = request("BYE", "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", "u-4")
        .replace("To: <sip:1000@127.0.0.1>", "To: <sip:1000@127.0.0.1>;tag=x");
    let texts = [
        carrier_invite("u-1"),
        options("UDP", "127.0.0.1:9", "u-2"),
        request("REGISTER", "sip:127.0.0.1", "UDP", "127.0.0.1:9", "u-3"),
        in_dialog_bye,
        request("MESSAGE", "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", "u-5"),
    ];
    for text in &texts {
        let response = udp_exchange(&client, switch.udp, text).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.reason(), "Forbidden");
        let names: Vec<String> = response
            .headers()
            .iter()
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(
            names,
            ["Via", "From", "To", "Call-ID", "CSeq", "Content-Length"]
        );
    }
    assert_eq!(refused(&switch), texts.len() as u64);
    assert!(calls.taken.try_recv().is_err());
    switch.stop().await;
}

#[tokio::test]
async fn an_ack_from_an_unknown_source_is_never_answered() {
    let (switch, _calls) = Switch::with_calls_admitting(slow_timers(), admitting(false));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ack = request("ACK", "sip:1000@127.0.0.1", "UDP", "127.0.0.1:9", "u-ack");
    client.send_to(ack.as_bytes(), switch.udp).await.unwrap();
    // The OPTIONS after it is answered first: nothing came for the ACK.
    let response = udp_exchange(&client, switch.udp, &options("UDP", "127.0.0.1:9", "u-o")).await;
    assert_eq!(header(&response, HeaderName::CallId), "u-o");
    switch.stop().await;
}

#[tokio::test]
async fn an_admitted_invite_skips_the_challenge_and_reaches_the_handler_without_a_caller() {
    let (switch, mut calls) = Switch::with_calls_admitting(slow_timers(), admitting(true));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client
        .send_to(carrier_invite("c-1").as_bytes(), switch.udp)
        .await
        .unwrap();
    let taken = tokio::time::timeout(Duration::from_secs(5), calls.taken.recv())
        .await
        .expect("no INVITE handed over within 5 s")
        .unwrap();
    assert_eq!(taken.caller, None);
    assert_eq!(taken.peer.remote, client.local_addr().unwrap());
    assert_eq!(refused(&switch), 0);
    switch.stop().await;
}

#[tokio::test]
async fn an_admitted_options_gets_200_and_an_admitted_register_gets_a_bare_403() {
    let (switch, _calls) = Switch::with_calls_admitting(slow_timers(), admitting(true));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ok = udp_exchange(&client, switch.udp, &options("UDP", "127.0.0.1:9", "a-1")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let register = request("REGISTER", "sip:127.0.0.1", "UDP", "127.0.0.1:9", "a-2");
    let refused_register = udp_exchange(&client, switch.udp, &register).await;
    assert_eq!(refused_register.status(), StatusCode::FORBIDDEN);
    assert!(!refused_register.headers().contains(HeaderName::Server));
    assert!(refused_register.headers().to().unwrap().tag().is_some());
    switch.stop().await;
}

#[tokio::test]
async fn requests_and_responses_of_a_call_in_progress_pass_whatever_their_source() {
    let (switch, mut calls) = Switch::with_calls_admitting(slow_timers(), admitting(false));
    let (mailbox, mut inbox) = mpsc::channel(4);
    // A call the switch placed with a carrier, and an OPTIONS probe of ours.
    assert!(calls.table.insert("ours-1", mailbox.clone()));
    assert!(calls.table.insert("probe-1", mailbox));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let bye = request(
        "BYE",
        "sip:switchyard@127.0.0.1",
        "UDP",
        "127.0.0.1:9",
        "ours-1",
    )
    .replace("To: <sip:1000@127.0.0.1>", "To: <sip:1000@127.0.0.1>;tag=x");
    client.send_to(bye.as_bytes(), switch.udp).await.unwrap();
    let response = "SIP/2.0 200 OK\r\n\
                    Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-p1\r\n\
                    From: <sip:switchyard@127.0.0.1>;tag=s\r\n\
                    To: <sip:127.0.0.1>;tag=gw\r\n\
                    Call-ID: probe-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    client
        .send_to(response.as_bytes(), switch.udp)
        .await
        .unwrap();
    for _ in 0..2 {
        let message = tokio::time::timeout(Duration::from_secs(5), inbox.recv())
            .await
            .expect("nothing reached the call within 5 s")
            .unwrap();
        match *message {
            CallMessage::Request { request, .. } => {
                assert_eq!(request.headers().call_id().unwrap(), "ours-1");
            }
            CallMessage::Response { response, .. } => {
                assert_eq!(response.headers().call_id().unwrap(), "probe-1");
            }
            CallMessage::Undelivered { .. } => panic!("nothing was sent"),
            CallMessage::HangUp | CallMessage::Recording { .. } => {
                panic!("nobody asked for a hang-up or a recording")
            }
        }
    }
    assert_eq!(refused(&switch), 0);
    assert!(calls.mailbox.try_recv().is_err());
    switch.stop().await;
}

#[tokio::test]
async fn a_malformed_request_from_an_unknown_source_gets_the_same_bare_403() {
    let (switch, _calls) = Switch::with_calls_admitting(slow_timers(), admitting(false));
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Unsupported SIP version: 505 for anyone admitted.
    let text = options("UDP", "127.0.0.1:9", "bad-1").replace("SIP/2.0\r\n", "SIP/3.0\r\n");
    let response = udp_exchange(&client, switch.udp, &text).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!response.headers().contains(HeaderName::Server));
    assert_eq!(refused(&switch), 1);
    switch.stop().await;
}
