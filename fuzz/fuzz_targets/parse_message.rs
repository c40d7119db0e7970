//! Fuzzes the SIP message parser, every typed header accessor, validation, error responses,
//! re-encoding and the stream framer. Run: `cargo +nightly fuzz run parse_message`.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_core::message::{Message, ParseError, ParseReaction, Response, StatusCode, StreamFramer};

fn check_error(e: &ParseError) {
    match e.reaction() {
        ParseReaction::Respond(_) => {
            let mut resp = e.error_response().expect("Respond comes with a response");
            resp.set_to_tag("fuzz");
            let _ = resp.encode();
        }
        ParseReaction::Drop => assert!(e.error_response().is_none()),
    }
}

fn exercise(m: &Message) {
    let h = m.headers();
    let _ = h.via().map(|vs| vs.iter().map(ToString::to_string).count());
    if let Ok(v) = h.top_via() {
        let _ = (
            v.branch(),
            v.received_addr(),
            v.rport(),
            v.is_rfc3261_branch(),
            v.sent_by(),
        );
    }
    let _ = h.from().map(|n| n.to_string());
    let _ = h.to().map(|n| n.to_string());
    let _ = h.call_id();
    let _ = h.cseq();
    let _ = h.max_forwards();
    if let Ok(list) = h.contact() {
        for c in list.contacts() {
            let _ = (c.q(), c.expires(), c.uri().to_string());
            if let Some(u) = c.uri().as_sip() {
                let _ = (u.address_of_record(), u.equivalent(u), u.user_unescaped());
            }
        }
    }
    let _ = (
        h.expires(),
        h.min_expires(),
        h.content_length(),
        h.content_type(),
    );
    let _ = (h.route(), h.record_route(), h.path(), h.allow());
    let _ = (
        h.supported(),
        h.require(),
        h.unsupported(),
        h.proxy_require(),
    );
    let _ = (h.user_agent(), h.server(), h.retry_after());
    let _ = h.www_authenticate().count() + h.proxy_authenticate().count();
    let _ = h.authorization().count() + h.proxy_authorization().count();
    match m {
        Message::Request(r) => {
            let _ = r.uri().to_string();
            if let Err(e) = r.validate() {
                check_error(&e);
            }
            let _ = Response::for_request(r, StatusCode::OK).encode();
        }
        Message::Response(r) => {
            let _ = (r.validate(), r.reason());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    match Message::parse(Bytes::copy_from_slice(data)) {
        Ok(m) => {
            exercise(&m);
            let again = Message::parse(m.encode()).expect("encoded messages parse");
            exercise(&again);
            // Encoding is a fixpoint after one round.
            assert_eq!(Message::parse(again.encode()).ok().as_ref(), Some(&again));
        }
        Err(e) => check_error(&e),
    }
    let mut framer = StreamFramer::new(8192);
    framer.push(data);
    while let Ok(Some(msg)) = framer.next_message() {
        let _ = Message::parse(msg);
    }
});
