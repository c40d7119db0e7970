//! Test-only builders: SIP messages from literal text, instants, and draining helpers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::event::TransactionEvent;
use crate::message::{Message, Request, Response, StatusCode};

/// A fixed origin for explicit instants.
pub(crate) fn t0() -> Instant {
    Instant::now()
}

/// `t0` plus `ms` milliseconds.
pub(crate) fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// Parses SIP text written with `\n` line ends.
pub(crate) fn parse(text: &str) -> Message {
    Message::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
}

/// Parses a request written with `\n` line ends.
pub(crate) fn request(text: &str) -> Request {
    match parse(text) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

/// Parses encoded bytes back into a request.
pub(crate) fn decode_request(bytes: &Bytes) -> Request {
    match Message::parse(bytes.clone()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

/// Parses encoded bytes back into a response.
pub(crate) fn decode_response(bytes: &Bytes) -> Response {
    match Message::parse(bytes.clone()).unwrap() {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

/// An INVITE as a UAC behind one proxy would send it: two Via values, two Route values.
pub(crate) fn invite() -> Request {
    request(
        "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds
Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKproxy1;received=192.0.2.7
Route: <sip:p1.example.com;lr>
Route: <sip:p2.example.com;lr>
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Length: 0

",
    )
}

/// A request other than INVITE with the given method, branch and CSeq method.
pub(crate) fn non_invite(method: &str) -> Request {
    request(&format!(
        "{method} sip:registrar.biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP bobspc.biloxi.example.com:5060;branch=z9hG4bKnashds7
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>
From: Bob <sip:bob@biloxi.example.com>;tag=456248
Call-ID: 843817637684230@998sdasdh09
CSeq: 1826 {method}
Contact: <sip:bob@192.0.2.4>
Content-Length: 0

"
    ))
}

/// A response to `request` with `code`, and a To tag for anything but 100.
pub(crate) fn response_to(request: &Request, code: u16) -> Response {
    let status = StatusCode::new(code).unwrap();
    let mut response = Response::for_request(request, status);
    if code != 100 {
        response.set_to_tag("a6c85cf");
    }
    response
}

/// Draining helpers shared by the four transaction kinds.
pub(crate) trait Drain {
    /// Every queued transmit.
    fn transmits(&mut self) -> Vec<Bytes>;
    /// Every queued event.
    fn events(&mut self) -> Vec<TransactionEvent>;
}

macro_rules! impl_drain {
    ($($ty:ty),*) => {$(
        impl Drain for $ty {
            fn transmits(&mut self) -> Vec<Bytes> {
                std::iter::from_fn(|| self.poll_transmit()).collect()
            }
            fn events(&mut self) -> Vec<TransactionEvent> {
                std::iter::from_fn(|| self.poll_event()).collect()
            }
        }
    )*};
}

impl_drain!(
    super::ClientInviteTransaction,
    super::ClientNonInviteTransaction,
    super::ServerInviteTransaction,
    super::ServerNonInviteTransaction
);

/// Status codes of `Response` events, in order; other events as negative markers.
pub(crate) fn summary(events: &[TransactionEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            TransactionEvent::Response(r) => format!("{}", r.status().as_u16()),
            TransactionEvent::Ack(_) => "ack".to_string(),
            TransactionEvent::Timeout(t) => format!("timeout {t:?}"),
            TransactionEvent::TransportError => "transport error".to_string(),
            TransactionEvent::Terminated => "terminated".to_string(),
        })
        .collect()
}
