//! A call actor over real sockets for tests: the switch's UDP listener, phones' SIP and
//! RTP sockets, a relay on 127.0.0.1, and the apps and messages the tests use.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use sip_core::message::{HeaderName, Message, Request, Response};
use sip_core::transaction::{ServerInviteTransaction, TimerConfig};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

pub(super) use super::*;
pub(super) use crate::call::app::{AppContext, AppOutcome, CallApp};
use crate::call::machine::{CallSettings, MediaPlan};
use crate::call::registry::ActiveCalls;
use crate::call::{CallId, HangupCause};
use crate::cluster::UnixMillis;
use crate::media::{Audio, MediaRelay, RelayConfig, SessionOptions};
use crate::sip::call_table::{CallMessage, RecordingCommand, RecordingReply};
use crate::sip::response_route::ResponseRoute;
use crate::transport::{InboundHandler, ListenerSpec, Peer, Transport, TransportSettings};

/// Hands every message to the call owning its Call-ID.
pub(super) struct ToCalls(pub(super) Arc<CallTable>);

impl InboundHandler for ToCalls {
    fn on_message(&self, peer: Peer, data: Bytes) {
        let Ok(message) = Message::parse(data) else {
            return;
        };
        let call_id = message.headers().call_id().unwrap().to_owned();
        let Some(mailbox) = self.0.get(&call_id) else {
            return;
        };
        let message = match message {
            Message::Request(request) => CallMessage::Request {
                request,
                peer,
                route: ResponseRoute::Datagram(peer),
            },
            Message::Response(response) => CallMessage::Response { response, peer },
        };
        let _ = mailbox.try_send(Box::new(message));
    }
}

/// Plays 200 ms of audio, waits for a digit, reports it and hangs up.
pub(super) struct ToneThenDigit {
    pub(super) digit: Option<oneshot::Sender<char>>,
}

impl CallApp for ToneThenDigit {
    fn run(mut self: Box<Self>, mut context: AppContext) -> BoxFuture<'static, AppOutcome> {
        Box::pin(async move {
            let tone = Audio::from_samples((0..1600).map(|i| ((i % 16) * 500) as i16).collect());
            context.media.player.play(&tone).await;
            let digit = context.media.digits.next().await.unwrap_or('?');
            if let Some(report) = self.digit.take() {
                let _ = report.send(digit);
            }
            AppOutcome::HangUp(HangupCause::NormalClearing)
        })
    }

    fn record(&self) -> bool {
        true
    }
}

pub(super) fn timers() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_millis(50),
        t2: Duration::from_millis(400),
        t4: Duration::from_millis(500),
    }
}

pub(super) fn invite(call_id: &str, rtp_port: u16) -> Request {
    let sdp = format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    let text = format!(
        "INVITE sip:500@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKapp1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=phone\r\nTo: <sip:500@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:1000@127.0.0.1:5999>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    match Message::parse(Bytes::from(text)).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => unreachable!(),
    }
}

pub(super) async fn receive(socket: &UdpSocket) -> Message {
    let mut buffer = vec![0; 8192];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buffer))
        .await
        .expect("nothing received")
        .unwrap();
    Message::parse(Bytes::copy_from_slice(&buffer[..n])).unwrap()
}

/// The next message that is not a 100 or a retransmitted 200.
pub(super) async fn next_other(socket: &UdpSocket, skip: &[u16]) -> Message {
    loop {
        let message = receive(socket).await;
        match &message {
            Message::Response(r) if skip.contains(&r.status().as_u16()) => continue,
            _ => return message,
        }
    }
}

pub(super) fn in_dialog(
    method: &str,
    cseq: u32,
    call_id: &str,
    tag: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} sip:switchyard@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{method}{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1000@127.0.0.1>;tag=phone\r\nTo: <sip:500@127.0.0.1>;tag={tag}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A call actor over real sockets: the switch's UDP listener, the caller's SIP and RTP
/// sockets, a relay on 127.0.0.1.
pub(super) struct Rig {
    pub(super) network: Network,
    pub(super) services: CallServices,
    pub(super) records: mpsc::Receiver<CallRecord>,
    pub(super) phone: UdpSocket,
    pub(super) phone_rtp: UdpSocket,
    pub(super) switch: std::net::SocketAddr,
    pub(super) call_id: String,
    pub(super) mailbox: Mailbox,
    pub(super) recordings: std::path::PathBuf,
}

impl Rig {
    /// Starts a call from the phone whose route decides `route`; recordings under a fresh
    /// temporary directory unless `record_dir` is false.
    pub(super) async fn start(route: BoxFuture<'static, RouteDecision>, record_dir: bool) -> Rig {
        Rig::start_with(route, record_dir, None).await
    }

    /// `start`, with music on hold.
    pub(super) async fn start_with(
        route: BoxFuture<'static, RouteDecision>,
        record_dir: bool,
        music_on_hold: Option<Audio>,
    ) -> Rig {
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
        let (records_tx, records) = mpsc::channel(4);
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
            port_min: 46000,
            port_max: 46999,
        })
        .unwrap();
        let session = relay.allocate(SessionOptions::default()).unwrap();
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let phone_rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let switch = network.listeners()[0].local;
        let peer = Peer {
            transport: Transport::Udp,
            remote: phone.local_addr().unwrap(),
            local: switch,
        };
        let call_id = format!("app-actor-{}", uuid::Uuid::new_v4());
        let request = invite(&call_id, phone_rtp.local_addr().unwrap().port());
        let transaction =
            ServerInviteTransaction::new(request, std::time::Instant::now(), false, timers())
                .unwrap();
        let setup = CallSetup {
            id: CallId::new_random(),
            profile: "t".into(),
            caller: Some("1000".into()),
            invite: transaction,
            a_peer: peer,
            a_route: ResponseRoute::Datagram(peer),
            settings: CallSettings {
                timers: timers(),
                ring_timeout: Duration::from_secs(30),
                max_duration: None,
                session_expires: None,
                min_se: Duration::from_secs(90),
                user_agent: "t".into(),
            },
            media: MediaPlan::Anchored {
                a: session.local_rtp(Side::A),
                b: session.local_rtp(Side::B),
            },
            wall: UnixMillis::now(),
        };
        let recordings =
            std::env::temp_dir().join(format!("switchyard-app-{}", uuid::Uuid::new_v4()));
        let options = CallOptions {
            recordings_dir: record_dir.then(|| recordings.clone()),
            music_on_hold,
            ..CallOptions::default()
        };
        let (sender, inbox) = mpsc::channel(16);
        assert!(calls.insert(&call_id, sender.clone()));
        spawn_call(
            &services,
            setup,
            Some(session),
            (sender.clone(), inbox),
            route,
            CallDirection::Inbound,
            options,
        );
        Rig {
            network,
            services,
            records,
            phone,
            phone_rtp,
            switch,
            call_id,
            mailbox: sender,
            recordings,
        }
    }

    pub(super) async fn send(&self, text: String) {
        self.phone
            .send_to(text.as_bytes(), self.switch)
            .await
            .unwrap();
    }

    /// Waits for the switch's 200 to the INVITE and acknowledges it; returns it.
    pub(super) async fn answered(&self) -> Response {
        let Message::Response(ok) = next_other(&self.phone, &[100]).await else {
            panic!("a request before the 200");
        };
        assert_eq!(ok.status().as_u16(), 200);
        let tag = ok.headers().to().unwrap().tag().unwrap().to_owned();
        self.send(in_dialog("ACK", 1, &self.call_id, &tag, "", ""))
            .await;
        ok
    }

    /// Waits for the switch's 2xx to A's re-INVITE number `cseq` and acknowledges it.
    pub(super) async fn ack_reinvite(&self, cseq: u32, tag: &str) {
        loop {
            if let Message::Response(response) = receive(&self.phone).await
                && response.headers().cseq().unwrap().seq == cseq
                && response.status().is_success()
            {
                break;
            }
        }
        self.send(in_dialog("ACK", cseq, &self.call_id, tag, "", ""))
            .await;
    }

    /// A recording command as the control API sends it.
    pub(super) async fn recording(&self, command: RecordingCommand) -> RecordingReply {
        let (reply, answer) = oneshot::channel();
        self.mailbox
            .send(Box::new(CallMessage::Recording { command, reply }))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), answer)
            .await
            .unwrap()
            .unwrap()
    }

    /// The next request the phone gets (responses skipped).
    pub(super) async fn request(&self) -> Request {
        loop {
            if let Message::Request(request) = receive(&self.phone).await {
                return request;
            }
        }
    }

    pub(super) async fn record(&mut self) -> CallRecord {
        tokio::time::timeout(Duration::from_secs(10), self.records.recv())
            .await
            .unwrap()
            .unwrap()
    }

    pub(super) async fn close(self) {
        let _ = std::fs::remove_dir_all(&self.recordings);
        self.services.shutdown.cancel();
        self.network.close().await;
    }
}

/// Runs until the call ends.
pub(super) struct Waits;

impl CallApp for Waits {
    fn run(self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome> {
        Box::pin(async move {
            let _context = context;
            std::future::pending().await
        })
    }
}

/// An SDP body of a phone at 127.0.0.1:`port`.
pub(super) fn phone_sdp(port: u16, version: u32, direction: &str) -> String {
    format!(
        "v=0\r\no=phone 7 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na={direction}\r\n"
    )
}

/// `request` answered 200 by phone B with `body`.
pub(super) fn b_ok(request: &Request, body: &str) -> Response {
    let mut response = Response::for_request(request, sip_core::message::StatusCode::OK);
    response.set_to_tag("btag");
    let headers = response.headers_mut();
    headers.push(HeaderName::Contact, "<sip:b@127.0.0.1>");
    headers.push(HeaderName::ContentType, "application/sdp");
    response.set_body(Bytes::from(body.to_owned()));
    response
}

pub(super) async fn next_request(socket: &UdpSocket, method: &str) -> Request {
    loop {
        if let Message::Request(request) = receive(socket).await
            && request.method().as_str() == method
        {
            return request;
        }
    }
}

pub(super) fn audio_port(sdp: &str) -> u16 {
    let line = sdp.lines().find(|l| l.starts_with("m=audio ")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

pub(super) fn stage_to(
    address: std::net::SocketAddr,
    switch: std::net::SocketAddr,
) -> crate::call::machine::Stage {
    let flow = Peer {
        transport: Transport::Udp,
        remote: address,
        local: switch,
    };
    let uri = sip_core::message::Uri::parse(&format!("sip:b@{address}")).unwrap();
    crate::call::machine::Stage {
        targets: vec![crate::call::machine::Target::new(uri, flow)],
        ring_timeout: None,
        provisional_timeout: None,
        failover_on: Vec::new(),
    }
}
