//! A media application run end to end by a call actor: the local answer, the app's audio
//! and INFO digits, hang-up, transfer, and an originated call's app.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use sip_core::message::{Message, Response};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use super::test_rig::*;
use crate::call::app::CallApp;
use crate::call::machine::{CallSettings, OriginateSetup};
use crate::call::registry::ActiveCalls;
use crate::call::{CallId, HangupCause};
use crate::cluster::{BoxFuture, UnixMillis};
use crate::media::{MediaRelay, RelayConfig, SessionOptions, Side};
use crate::transport::{ListenerSpec, Peer, Transport, TransportSettings};

#[tokio::test]
async fn an_app_answers_plays_reads_an_info_digit_hangs_up_and_the_call_is_recorded() {
    let (digit_tx, digit_rx) = oneshot::channel();
    let app: Box<dyn CallApp> = Box::new(ToneThenDigit {
        digit: Some(digit_tx),
    });
    let mut rig = Rig::start(Box::pin(std::future::ready(RouteDecision::App(app))), true).await;
    // The switch's answer is on relay A, in PCMA (first offered), with telephone-event.
    let ok = rig.answered().await;
    let body = String::from_utf8(ok.body().to_vec()).unwrap();
    assert!(body.contains("RTP/AVP 8 101"), "{body}");
    let tag = ok.headers().to().unwrap().tag().unwrap().to_owned();
    // The app's audio reaches the phone's RTP socket, as PCMA.
    let mut packet = vec![0; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), rig.phone_rtp.recv_from(&mut packet))
        .await
        .expect("no RTP from the app")
        .unwrap();
    assert!(n > 12);
    assert_eq!(packet[1] & 0x7f, 8);
    rig.send(in_dialog(
        "INFO",
        2,
        &rig.call_id,
        &tag,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=5\r\nDuration=160\r\n",
    ))
    .await;
    let info_ok = loop {
        if let Message::Response(response) = receive(&rig.phone).await
            && response.headers().cseq().unwrap().method.as_str() == "INFO"
        {
            break response;
        }
    };
    assert_eq!(info_ok.status().as_u16(), 200);
    let digit = tokio::time::timeout(Duration::from_secs(5), digit_rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(digit, '5');
    // The app hung up: BYE to the phone.
    let bye = rig.request().await;
    assert_eq!(bye.method().as_str(), "BYE");
    let bye_ok = Response::for_request(&bye, sip_core::message::StatusCode::OK);
    rig.phone
        .send_to(&bye_ok.encode(), rig.switch)
        .await
        .unwrap();
    let record = rig.record().await;
    assert_eq!(record.hangup.cause, "normal_clearing");
    assert!(record.answered_at.is_some());
    let recording = record.recording.expect("the app asked for a recording");
    assert_eq!(recording.status, "complete", "{recording:?}");
    assert!(recording.sha256.is_some());
    assert!(std::path::Path::new(&recording.path).exists());
    rig.close().await;
}

/// Transfers the caller to `stage` at once.
struct TransferTo(Option<crate::call::machine::Stage>);

impl CallApp for TransferTo {
    fn run(mut self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome> {
        let stages = FixedStages(self.0.take().into_iter().collect());
        Box::pin(async move {
            drop(context);
            AppOutcome::Transfer(Box::new(stages))
        })
    }
}

#[tokio::test]
async fn an_app_transfers_the_call_and_b_is_offered_the_switchs_answer_on_relay_b() {
    let b_phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b_phone.local_addr().unwrap();
    let (decide, decision) = oneshot::channel::<RouteDecision>();
    let route: BoxFuture<'static, RouteDecision> = Box::pin(async move {
        decision
            .await
            .unwrap_or(RouteDecision::Reject(HangupCause::TemporaryFailure))
    });
    let mut rig = Rig::start(route, false).await;
    let app = TransferTo(Some(stage_to(b_addr, rig.switch)));
    decide
        .send(RouteDecision::App(Box::new(app)))
        .map_err(|_| ())
        .unwrap();
    let ok = rig.answered().await;
    let tag = ok.headers().to().unwrap().tag().unwrap().to_owned();
    let invite = next_request(&b_phone, "INVITE").await;
    let offer = String::from_utf8(invite.body().to_vec()).unwrap();
    assert!(offer.contains("RTP/AVP 8 101"), "{offer}");
    // The relay's B address, not the A address the caller was given.
    let a_answer = String::from_utf8(ok.body().to_vec()).unwrap();
    assert_ne!(audio_port(&offer), audio_port(&a_answer));
    let b_rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let answer = b_ok(
        &invite,
        &phone_sdp(b_rtp.local_addr().unwrap().port(), 1, "sendrecv"),
    );
    b_phone.send_to(&answer.encode(), rig.switch).await.unwrap();
    let _ack = next_request(&b_phone, "ACK").await;
    // Bridged: A hanging up ends both legs.
    rig.send(in_dialog("BYE", 5, &rig.call_id, &tag, "", ""))
        .await;
    let bye = next_request(&b_phone, "BYE").await;
    let bye_ok = Response::for_request(&bye, sip_core::message::StatusCode::OK);
    b_phone.send_to(&bye_ok.encode(), rig.switch).await.unwrap();
    let record = rig.record().await;
    assert_eq!(record.hangup.cause, "normal_clearing");
    assert_eq!(record.legs.len(), 2);
    assert!(record.legs[1].answered_at.is_some());
    rig.close().await;
}

#[tokio::test]
async fn an_originated_call_runs_its_app_once_a_answers() {
    let specs = [ListenerSpec {
        kind: Transport::Udp,
        addr: "127.0.0.1:0".parse().unwrap(),
        max_message_size: 8192,
    }];
    let network = Network::bind(
        &specs,
        TransportSettings::default(),
        CancellationToken::new(),
    )
    .unwrap();
    let calls = Arc::new(CallTable::new());
    network.start(Arc::new(ToCalls(Arc::clone(&calls))));
    let (records_tx, mut records) = mpsc::channel(4);
    let services = CallServices {
        network: network.clone(),
        calls: Arc::clone(&calls),
        records: records_tx,
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        stats: Arc::new(CallStats::default()),
        registry: Arc::new(ActiveCalls::new()),
        events: crate::telemetry::events::EventBus::default(),
    };
    let relay = MediaRelay::new(RelayConfig {
        address: "127.0.0.1".parse().unwrap(),
        port_min: 45000,
        port_max: 45999,
    })
    .unwrap();
    let session = relay.allocate(SessionOptions::default()).unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let phone_rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let switch = network.listeners()[0].local;
    let phone_addr = phone.local_addr().unwrap();
    let flow = Peer {
        transport: Transport::Udp,
        remote: phone_addr,
        local: switch,
    };
    let uri = |text: &str| sip_core::message::Uri::parse(text).unwrap();
    let a_call_id = format!("orig-app-{}", uuid::Uuid::new_v4());
    let setup = OriginateSetup {
        id: CallId::new_random(),
        profile: "t".into(),
        user: "notify".into(),
        a_call_id: a_call_id.clone(),
        a_uri: uri("sip:2000@127.0.0.1"),
        a_targets: vec![crate::call::machine::Target::new(
            uri(&format!("sip:2000@{phone_addr}")),
            flow,
        )],
        shown_to_a: sip_core::message::NameAddr::new(uri("sip:notify@127.0.0.1")),
        shown_to_b: sip_core::message::NameAddr::new(uri("sip:notify@127.0.0.1")),
        destination: uri("sip:2000@127.0.0.1"),
        ring_timeout: Duration::from_secs(10),
        settings: CallSettings {
            timers: timers(),
            ring_timeout: Duration::from_secs(30),
            max_duration: None,
            session_expires: None,
            min_se: Duration::from_secs(90),
            user_agent: "t".into(),
        },
        relay_a: session.local_rtp(Side::A),
        relay_b: session.local_rtp(Side::B),
        wall: UnixMillis::now(),
    };
    let (sender, inbox) = mpsc::channel(16);
    assert!(calls.insert(&a_call_id, sender.clone()));
    let (digit_tx, digit_rx) = oneshot::channel();
    let app: Box<dyn CallApp> = Box::new(ToneThenDigit {
        digit: Some(digit_tx),
    });
    spawn_originate(
        &services,
        setup,
        session,
        (sender, inbox),
        Box::pin(std::future::ready(RouteDecision::App(app))),
        CallOptions::default(),
    );
    // A's phone answers the switch's INVITE in PCMU.
    let invite = next_request(&phone, "INVITE").await;
    let port = phone_rtp.local_addr().unwrap().port();
    let ok = b_ok(&invite, &phone_sdp(port, 1, "sendrecv"));
    phone.send_to(&ok.encode(), switch).await.unwrap();
    let _ack = next_request(&phone, "ACK").await;
    let mut packet = vec![0; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), phone_rtp.recv_from(&mut packet))
        .await
        .expect("no RTP from the app")
        .unwrap();
    assert!(n > 12);
    assert_eq!(packet[1] & 0x7f, 0);
    // A presses 9 (INFO on the dialog the switch started: its From tag is the switch's).
    let from = invite.headers().from().unwrap();
    let switch_tag = from.tag().unwrap().to_owned();
    let info = format!(
        "INFO sip:switchyard@{switch} SIP/2.0\r\nVia: SIP/2.0/UDP {phone_addr};branch=z9hG4bKoinfo\r\n\
         Max-Forwards: 70\r\nFrom: <sip:2000@127.0.0.1>;tag=btag\r\n\
         To: <sip:notify@127.0.0.1>;tag={switch_tag}\r\nCall-ID: {a_call_id}\r\nCSeq: 1 INFO\r\n\
         Content-Type: application/dtmf\r\nContent-Length: 1\r\n\r\n9"
    );
    phone.send_to(info.as_bytes(), switch).await.unwrap();
    let info_answer = loop {
        if let Message::Response(response) = receive(&phone).await
            && response.headers().cseq().unwrap().method.as_str() == "INFO"
        {
            break response;
        }
    };
    assert_eq!(info_answer.status().as_u16(), 200, "{info_answer:?}");
    let digit = tokio::time::timeout(Duration::from_secs(5), digit_rx)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(digit, '9');
    let bye = next_request(&phone, "BYE").await;
    let bye_ok = Response::for_request(&bye, sip_core::message::StatusCode::OK);
    phone.send_to(&bye_ok.encode(), switch).await.unwrap();
    let record = tokio::time::timeout(Duration::from_secs(10), records.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.hangup.cause, "normal_clearing");
    assert!(record.answered_at.is_some());
    services.shutdown.cancel();
    network.close().await;
}
