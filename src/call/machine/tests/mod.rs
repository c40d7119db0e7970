//! Unit tests of the call machine: phones written as SIP text, explicit instants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod app;
mod basic;
mod challenge;
mod failover;
mod failures;
mod forking;
mod identity;
mod mid_call;
mod originate;
mod races;
mod random;
mod refresh;
mod relay;
mod setup;
mod timers;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::message::{HeaderName, Message, Request, Response, StatusCode};
use sip_core::sdp::SessionDescription;
use sip_core::transaction::{ServerInviteTransaction, TimerConfig};

use super::{
    CallEvent, CallMachine, CallSettings, CallSetup, Destination, MediaPlan, Stage, Target,
};
use crate::call::record::{CallId, CallRecord, LegSide};
use crate::cluster::UnixMillis;
use crate::sip::call_table::CallMessage;
use crate::sip::response_route::ResponseRoute;
use crate::transport::{Peer, Transport};

/// The switch's listener.
pub(super) const SWITCH: &str = "192.0.2.1:5060";
/// The caller's phone.
pub(super) const PHONE_A: &str = "192.0.2.10:5060";
/// The callee's phones.
pub(super) const PHONE_B1: &str = "192.0.2.20:5060";
pub(super) const PHONE_B2: &str = "192.0.2.30:5062";
/// Relay addresses for the caller and the callee.
pub(super) const RELAY_A: &str = "203.0.113.1:20000";
pub(super) const RELAY_B: &str = "203.0.113.1:20002";

pub(super) fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

pub(super) fn peer(remote: &str) -> Peer {
    Peer {
        transport: Transport::Udp,
        remote: addr(remote),
        local: addr(SWITCH),
    }
}

pub(super) fn settings() -> CallSettings {
    CallSettings {
        timers: TimerConfig::default(),
        ring_timeout: Duration::from_secs(60),
        max_duration: None,
        session_expires: None,
        min_se: Duration::from_secs(90),
        user_agent: "Switchyard-test".into(),
    }
}

pub(super) fn anchored() -> MediaPlan {
    MediaPlan::Anchored {
        a: addr(RELAY_A),
        b: addr(RELAY_B),
    }
}

/// An SDP body for a phone at `ip`, RTP `port`, `o=` version `version`, with an optional
/// direction attribute.
pub(super) fn sdp(ip: &str, port: u16, version: u32, direction: &str) -> String {
    let direction = if direction.is_empty() {
        String::new()
    } else {
        format!("a={direction}\n")
    };
    format!(
        "v=0\no=phone 4711 {version} IN IP4 {ip}\ns=-\nc=IN IP4 {ip}\nt=0 0\n\
         m=audio {port} RTP/AVP 0 8 101\na=rtpmap:101 telephone-event/8000\n{direction}\
         m=video {} RTP/AVP 96\na=rtpmap:96 H264/90000\n",
        port + 2
    )
}

pub(super) fn parse(text: &str) -> Message {
    Message::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
}

pub(super) fn request(text: &str) -> Request {
    match parse(text) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("not a request"),
    }
}

/// The caller's INVITE: it came through a proxy (two Vias, a Record-Route).
pub(super) fn invite_text(extra: &str, body: Option<&str>) -> String {
    let content = body.map_or(String::new(), |_| "Content-Type: application/sdp\n".into());
    format!(
        "INVITE sip:1001@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1;rport=5060;received=192.0.2.10
Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKproxyA
Record-Route: <sip:proxy-a.example;lr>
Max-Forwards: 70
From: \"Alice\" <sip:1000@192.0.2.1>;tag=atag
To: <sip:1001@192.0.2.1>
Call-ID: a-call@192.0.2.10
CSeq: 10 INVITE
Contact: <sip:1000@192.0.2.10:5060>
Allow: INVITE, ACK, CANCEL, BYE, UPDATE, INFO
Supported: timer
User-Agent: PhoneA
{extra}{content}
{}",
        body.unwrap_or("")
    )
}

/// A message the machine sent.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) at_ms: u64,
    pub(super) destination: Destination,
    pub(super) message: Message,
}

impl Sent {
    pub(super) fn request(&self) -> &Request {
        self.message.as_request().expect("a request")
    }

    pub(super) fn is_request(&self, method: &str) -> bool {
        self.message
            .as_request()
            .is_some_and(|r| r.method().as_str() == method)
    }

    pub(super) fn status(&self) -> Option<u16> {
        self.message.as_response().map(|r| r.status().as_u16())
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8(self.message.encode().to_vec()).unwrap()
    }

    pub(super) fn header(&self, name: HeaderName) -> Option<String> {
        self.message
            .headers()
            .get(name)
            .map(|v| v.to_string_lossy())
    }

    pub(super) fn to_tag(&self) -> Option<String> {
        self.message
            .headers()
            .to()
            .unwrap()
            .tag()
            .map(str::to_owned)
    }

    pub(super) fn tag_in_from(&self) -> Option<String> {
        self.message
            .headers()
            .from()
            .unwrap()
            .tag()
            .map(str::to_owned)
    }

    pub(super) fn call_id(&self) -> String {
        self.message.headers().call_id().unwrap().to_owned()
    }

    pub(super) fn sdp(&self) -> SessionDescription {
        SessionDescription::parse_bytes(self.message.body()).unwrap()
    }

    /// True when sent to the caller (a response on its route or a request on its flow).
    pub(super) fn to_a(&self) -> bool {
        match self.destination {
            Destination::Response(route) => route == a_route(),
            Destination::Flow(flow) => flow == peer(PHONE_A),
        }
    }

    /// True when sent to the callee phone at `phone`.
    pub(super) fn to_phone(&self, phone: &str) -> bool {
        match self.destination {
            Destination::Response(ResponseRoute::Datagram(p)) => p.remote == addr(phone),
            Destination::Response(ResponseRoute::Connection { peer, .. }) => {
                peer.remote == addr(phone)
            }
            Destination::Flow(flow) => flow.remote == addr(phone),
        }
    }
}

/// Target number `n` (`sip:1001-n@phone`) with the defaults.
pub(super) fn target(n: usize, phone: &str) -> Target {
    Target::new(
        sip_core::message::Uri::parse(&format!("sip:1001-{n}@{phone}")).unwrap(),
        peer(phone),
    )
}

/// A stage of `targets` without timeouts of its own and without failover.
pub(super) fn one_stage(targets: Vec<Target>) -> Stage {
    Stage {
        targets,
        ring_timeout: None,
        provisional_timeout: None,
        failover_on: vec![],
    }
}

pub(super) fn a_route() -> ResponseRoute {
    ResponseRoute::Datagram(peer(PHONE_A))
}

/// One call under test, with the caller's INVITE already handed over at `t0`.
pub(super) struct Call {
    pub(super) m: CallMachine,
    pub(super) t0: Instant,
    pub(super) sent: Vec<Sent>,
    pub(super) events: Vec<CallEvent>,
}

impl Call {
    /// A call from the default caller INVITE with an SDP offer, anchored media.
    pub(super) fn start() -> Call {
        Call::with(
            &invite_text("", Some(&sdp("192.0.2.10", 4000, 1, ""))),
            settings(),
            anchored(),
        )
    }

    pub(super) fn with(invite: &str, settings: CallSettings, media: MediaPlan) -> Call {
        let t0 = Instant::now();
        let invite = request(invite);
        let tx = ServerInviteTransaction::new(invite, t0, false, settings.timers).unwrap();
        let setup = CallSetup {
            id: CallId::new_random(),
            profile: "default".into(),
            caller: Some("1000".into()),
            invite: tx,
            a_peer: peer(PHONE_A),
            a_route: a_route(),
            settings,
            media,
            wall: UnixMillis(1_000_000),
        };
        let m = CallMachine::new(setup, t0);
        let mut call = Call {
            m,
            t0,
            sent: Vec::new(),
            events: Vec::new(),
        };
        call.collect(0);
        call
    }

    pub(super) fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn collect(&mut self, ms: u64) {
        while let Some(t) = self.m.poll_transmit() {
            let message = Message::parse(t.bytes.clone()).unwrap();
            self.sent.push(Sent {
                at_ms: ms,
                destination: t.destination,
                message,
            });
        }
        while let Some(e) = self.m.poll_event() {
            self.events.push(e);
        }
    }

    /// Everything sent since the last call.
    pub(super) fn take(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.sent)
    }

    /// Events since the last call.
    pub(super) fn take_events(&mut self) -> Vec<CallEvent> {
        std::mem::take(&mut self.events)
    }

    /// Rings `phones` in one stage without timeouts or failover.
    pub(super) fn dial(&mut self, ms: u64, phones: &[&str]) {
        let targets = phones
            .iter()
            .enumerate()
            .map(|(n, phone)| target(n, phone))
            .collect();
        self.dial_stage(ms, one_stage(targets));
    }

    pub(super) fn dial_stage(&mut self, ms: u64, stage: Stage) {
        self.m.dial(self.at(ms), stage);
        self.collect(ms);
    }

    /// A request from the caller's phone.
    pub(super) fn a_sends(&mut self, ms: u64, text: &str) {
        let message = CallMessage::Request {
            request: request(text),
            peer: peer(PHONE_A),
            route: a_route(),
        };
        self.m.handle_message(self.at(ms), message);
        self.collect(ms);
    }

    /// A request from a callee phone.
    pub(super) fn b_sends(&mut self, ms: u64, phone: &str, text: &str) {
        let message = CallMessage::Request {
            request: request(text),
            peer: peer(phone),
            route: ResponseRoute::Datagram(peer(phone)),
        };
        self.m.handle_message(self.at(ms), message);
        self.collect(ms);
    }

    /// A response from a phone.
    pub(super) fn respond(&mut self, ms: u64, response: Response) {
        self.respond_from(ms, PHONE_B1, response);
    }

    /// A response that came from `phone`'s address.
    pub(super) fn respond_from(&mut self, ms: u64, phone: &str, response: Response) {
        let message = CallMessage::Response {
            response,
            peer: peer(phone),
        };
        self.m.handle_message(self.at(ms), message);
        self.collect(ms);
    }

    /// Fires every timer due up to `ms`.
    pub(super) fn run_until(&mut self, ms: u64) {
        let end = self.at(ms);
        while let Some(at) = self.m.poll_timeout().filter(|at| *at <= end) {
            self.m.handle_timeout(at);
            let at_ms = u64::try_from(at.duration_since(self.t0).as_millis()).unwrap();
            self.collect(at_ms);
        }
    }

    pub(super) fn hangup(&mut self, ms: u64, cause: crate::call::HangupCause) {
        self.m.hangup(self.at(ms), cause);
        self.collect(ms);
    }

    /// The one Ended record so far (panics unless exactly one).
    pub(super) fn record(events: &[CallEvent]) -> &CallRecord {
        let ended: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                CallEvent::Ended(r) => Some(r.as_ref()),
                _ => None,
            })
            .collect();
        assert_eq!(ended.len(), 1, "{events:?}");
        ended[0]
    }
}

/// A phone's response to `request`: its tag, Contact and Record-Route, optional SDP.
pub(super) fn reply(
    request: &Request,
    status: u16,
    tag: &str,
    contact: &str,
    body: Option<&str>,
) -> Response {
    let mut response = Response::for_request(request, StatusCode::from_u16(status).unwrap());
    response.set_to_tag(tag);
    let headers = response.headers_mut();
    if (101..300).contains(&status) {
        headers.push(HeaderName::Contact, format!("<sip:{contact}>"));
        headers.push(HeaderName::RecordRoute, "<sip:proxy-b.example;lr>");
    }
    headers.push(HeaderName::UserAgent, "PhoneB");
    if let Some(body) = body {
        headers.push(HeaderName::ContentType, "application/sdp");
        response.set_body(Bytes::from(body.replace('\n', "\r\n")));
    }
    response
}

/// The RemoteMedia events for `side`.
pub(super) fn remote_media(
    events: &[CallEvent],
    side: LegSide,
) -> Vec<(SocketAddr, SocketAddr, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::RemoteMedia {
                side: s,
                rtp,
                rtcp,
                on_hold,
            } if *s == side => Some((*rtp, *rtcp, *on_hold)),
            _ => None,
        })
        .collect()
}

pub(super) fn count_finished(events: &[CallEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, CallEvent::Finished))
        .count()
}

/// An in-dialog request from the caller (To tag = the switch's tag on the A leg).
pub(super) fn a_request(
    method: &str,
    cseq: u32,
    a_tag: &str,
    branch: &str,
    extra: &str,
    body: Option<&str>,
) -> String {
    let content = body.map_or(String::new(), |_| "Content-Type: application/sdp\n".into());
    format!(
        "{method} sip:switchyard@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}
Route: <sip:proxy-a.example;lr>
Max-Forwards: 70
From: \"Alice\" <sip:1000@192.0.2.1>;tag=atag
To: <sip:1001@192.0.2.1>;tag={a_tag}
Call-ID: a-call@192.0.2.10
CSeq: {cseq} {method}
Contact: <sip:1000@192.0.2.10:5060>
{extra}{content}
{}",
        body.unwrap_or("")
    )
}

/// An in-dialog request from callee phone B1 (its tag `btag1`), to the switch's B tag.
pub(super) fn b_request(
    method: &str,
    cseq: u32,
    b_tag: &str,
    call_id: &str,
    branch: &str,
    extra: &str,
    body: Option<&str>,
) -> String {
    let content = body.map_or(String::new(), |_| "Content-Type: application/sdp\n".into());
    format!(
        "{method} sip:switchyard@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.20:5060;branch={branch}
Max-Forwards: 70
From: <sip:1001@192.0.2.1>;tag=btag1
To: \"Alice\" <sip:1000@192.0.2.1>;tag={b_tag}
Call-ID: {call_id}
CSeq: {cseq} {method}
Contact: <sip:b1@192.0.2.20:5060>
{extra}{content}
{}",
        body.unwrap_or("")
    )
}
