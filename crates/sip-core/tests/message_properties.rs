//! Property tests for the message layer: no input panics, and encoding a parsed message
//! parses back to the same message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use proptest::prelude::*;
use sip_core::message::{Message, ParseReaction, Request, StatusCode, StreamFramer};

/// Calls every accessor a server or client might use; none may panic.
fn exercise(m: &Message) {
    let h = m.headers();
    let _ = h.via();
    let _ = h.top_via().map(|v| {
        let _ = (
            v.branch(),
            v.received_addr(),
            v.rport(),
            v.is_rfc3261_branch(),
            v.sent_by(),
        );
        v.to_string()
    });
    let _ = h.from().map(|n| n.to_string());
    let _ = h.to().map(|n| (n.tag().map(str::to_owned), n.to_string()));
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
    let _ = h.www_authenticate().count() + h.authorization().count();
    let _ = h.proxy_authenticate().count() + h.proxy_authorization().count();
    match m {
        Message::Request(r) => {
            let _ = r.uri().to_string();
            if let Err(e) = r.validate() {
                check_error(&e);
            }
            let _ = sip_core::message::Response::for_request(r, StatusCode::OK).encode();
        }
        Message::Response(r) => {
            let _ = r.validate();
            let _ = r.reason();
        }
    }
    let _ = m.encode();
}

fn check_error(e: &sip_core::message::ParseError) {
    match e.reaction() {
        ParseReaction::Respond(_) => {
            let mut resp = e.error_response().unwrap();
            resp.set_to_tag("x");
            let _ = resp.encode();
        }
        ParseReaction::Drop => assert!(e.error_response().is_none()),
    }
}

fn parse_everything(bytes: Vec<u8>) {
    match Message::parse(Bytes::from(bytes.clone())) {
        Ok(m) => {
            exercise(&m);
            // Anything we accept, we can write and read back.
            let again = Message::parse(m.encode()).unwrap();
            exercise(&again);
            // Encoding is a fixpoint after one round.
            assert_eq!(Message::parse(again.encode()).unwrap(), again);
        }
        Err(e) => check_error(&e),
    }
    let mut framer = StreamFramer::new(4096);
    framer.push(&bytes);
    while let Ok(Some(msg)) = framer.next_message() {
        let _ = Message::parse(msg);
    }
}

const SEED: &str = "INVITE sip:bob@biloxi.example.com;transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport, SIP/2.0/TCP [2001:db8::1]:5061;received=192.0.2.1\r\n\
Max-Forwards: 70\r\n\
To: \"Bob \\\"B\\\"\" <sip:bob@biloxi.example.com>\r\n\
f: Alice <sip:alice%20x@atlanta.example.com?h=v>;tag=1928301774\r\n\
i: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
m: <sip:alice@pc33.atlanta.example.com>;q=0.5;expires=60, tel:+1-555;x\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Allow: INVITE, ACK\r\n\
Retry-After: 10 (x);duration=5\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = SEED.as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let cut = cut.index(bytes.len() + 1);
        parse_everything(bytes[..cut].to_vec());
    }

    #[test]
    fn sip_flavoured_text_never_panics(text in "[A-Za-z0-9:;,<>@\"\\\\ \t\r\n=/.%\\[\\]?*-]{0,300}") {
        parse_everything(format!("INVITE sip:a@b SIP/2.0\r\nVia: {text}\r\nCSeq: 1 INVITE\r\n\r\n").into_bytes());
        parse_everything(format!("OPTIONS {text} SIP/2.0\r\nContact: {text}\r\nFrom: {text}\r\n\r\n").into_bytes());
        parse_everything(text.into_bytes());
    }

    #[test]
    fn unicode_header_values_never_panic(text in "\\PC{0,60}") {
        for name in ["Via", "From", "To", "Contact", "CSeq", "Call-ID", "Route", "Retry-After", "Allow"] {
            parse_everything(format!("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCSeq: 1 OPTIONS\r\n{name}: {text}\r\n\r\n").into_bytes());
        }
        parse_everything(format!("OPTIONS sip:{text} SIP/2.0\r\n\r\n").into_bytes());
        parse_everything(format!("SIP/2.0 200 {text}\r\n\r\n").into_bytes());
    }
}

// ------------------------------------------------------------- round trip

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,10}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,5}){0,2}",
        (any::<[u8; 4]>()).prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        any::<u128>().prop_map(|a| format!("[{}]", std::net::Ipv6Addr::from(a))),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        prop::bool::ANY,
        prop::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,8}(%[0-9A-F]{2})?"),
        host(),
        prop::option::of(any::<u16>()),
        proptest::collection::vec((token(), prop::option::of("[a-z0-9]{1,5}")), 0..3),
    )
        .prop_map(|(secure, user, host, port, params)| {
            let mut s = String::from(if secure { "sips:" } else { "sip:" });
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            for (n, v) in params {
                s.push(';');
                s.push_str(&n.replace(['`', '%'], "x"));
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            s
        })
}

fn name_addr() -> impl Strategy<Value = String> {
    (
        prop::option::of("[ -~&&[^\"\\\\]]{0,12}"),
        sip_uri(),
        prop::option::of(token()),
    )
        .prop_map(|(name, uri, tag)| {
            let mut s = match name {
                Some(n) => format!("\"{n}\" <{uri}>"),
                None => format!("<{uri}>"),
            };
            if let Some(t) = tag {
                s.push_str(&format!(";tag={t}"));
            }
            s
        })
}

fn via() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("UDP"), Just("TCP"), Just("TLS"), Just("WS")],
        host(),
        prop::option::of(any::<u16>()),
        token(),
        prop::bool::ANY,
    )
        .prop_map(|(t, h, p, b, rport)| {
            let port = p.map(|p| format!(":{p}")).unwrap_or_default();
            let rport = if rport { ";rport" } else { "" };
            format!("SIP/2.0/{t} {h}{port};branch=z9hG4bK{b}{rport}")
        })
}

/// Header name spelled in one of the ways the wire allows.
fn spelled(long: &'static str, compact: Option<&'static str>) -> impl Strategy<Value = String> {
    (prop::bool::ANY, prop::bool::ANY, "[ \t]{0,2}").prop_map(move |(use_compact, upper, ws)| {
        let name = match (use_compact, compact) {
            (true, Some(c)) => c.to_owned(),
            _ => long.to_owned(),
        };
        let name = if upper { name.to_uppercase() } else { name };
        format!("{name}{ws}")
    })
}

/// Writes `value` after `name:`, sometimes folded over two lines.
fn line(name: String, value: &str, fold: bool) -> String {
    match (fold, value.find(' ')) {
        (true, Some(i)) => format!("{name}: {}\r\n   {}\r\n", &value[..i], &value[i + 1..]),
        _ => format!("{name}:  {value}\r\n"),
    }
}

prop_compose! {
    fn wire_request()(
        method in prop_oneof![Just("INVITE".to_owned()), Just("REGISTER".to_owned()), Just("OPTIONS".to_owned()), Just("BYE".to_owned()), token()],
        ruri in sip_uri(),
        vias in proptest::collection::vec(via(), 1..4),
        from in name_addr(),
        to in name_addr(),
        call_id in "[a-zA-Z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,20}(@[a-z0-9.]{1,10})?",
        seq in any::<u32>(),
        contacts in proptest::collection::vec(name_addr(), 0..3),
        ext in proptest::collection::vec((token(), "[ -~]{0,20}"), 0..3),
        body in proptest::collection::vec(any::<u8>(), 0..40),
        names in (spelled("Via", Some("v")), spelled("From", Some("f")), spelled("To", Some("t")),
                  spelled("Call-ID", Some("i")), spelled("CSeq", None), spelled("Contact", Some("m")),
                  spelled("Content-Length", Some("l"))),
        folds in any::<[bool; 6]>(),
    ) -> Vec<u8> {
        let (v, f, t, i, c, m, l) = names;
        let mut s = format!("{method} {ruri} SIP/2.0\r\n");
        s.push_str(&line(v, &vias.join(", "), folds[0]));
        s.push_str(&line(f, &from, folds[1]));
        s.push_str(&line(t, &to, folds[2]));
        s.push_str(&line(i, &call_id, false));
        s.push_str(&line(c, &format!("{seq} {method}"), folds[3]));
        if !contacts.is_empty() {
            s.push_str(&line(m, &contacts.join(","), folds[4]));
        }
        for (n, val) in ext {
            s.push_str(&line(format!("X-{n}"), val.trim(), folds[5]));
        }
        s.push_str(&line(l, &body.len().to_string(), false));
        s.push_str("\r\n");
        let mut bytes = s.into_bytes();
        bytes.extend_from_slice(&body);
        bytes
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn generated_requests_round_trip_through_encode(wire in wire_request()) {
        let parsed = Message::parse(Bytes::from(wire.clone()));
        prop_assert!(parsed.is_ok(), "{:?}: {}", parsed, String::from_utf8_lossy(&wire));
        let first = parsed.unwrap();
        let req: &Request = first.as_request().unwrap();
        prop_assert!(req.validate().is_ok(), "{:?}\n{}", req.validate(), String::from_utf8_lossy(&wire));
        let second = Message::parse(first.encode()).unwrap();
        prop_assert_eq!(&second, &first);
        let h1 = first.headers();
        let h2 = second.headers();
        prop_assert_eq!(h1.via().unwrap(), h2.via().unwrap());
        prop_assert_eq!(h1.from().unwrap(), h2.from().unwrap());
        prop_assert_eq!(h1.to().unwrap(), h2.to().unwrap());
        prop_assert_eq!(h1.cseq().unwrap(), h2.cseq().unwrap());
        prop_assert_eq!(h1.contact().unwrap(), h2.contact().unwrap());
    }

    #[test]
    fn typed_values_survive_display_and_reparse(wire in wire_request()) {
        let m = Message::parse(Bytes::from(wire)).unwrap();
        let h = m.headers();
        let mut rebuilt = m.as_request().unwrap().clone();
        let hm = rebuilt.headers_mut();
        let vias: Vec<String> = h.via().unwrap().iter().map(ToString::to_string).collect();
        hm.set(sip_core::message::HeaderName::Via, vias.join(", "));
        hm.set(sip_core::message::HeaderName::From, h.from().unwrap().to_string());
        hm.set(sip_core::message::HeaderName::To, h.to().unwrap().to_string());
        let again = Message::parse(rebuilt.encode()).unwrap();
        prop_assert_eq!(again.headers().via().unwrap(), h.via().unwrap());
        prop_assert_eq!(again.headers().from().unwrap(), h.from().unwrap());
        prop_assert_eq!(again.headers().to().unwrap(), h.to().unwrap());
        prop_assert_eq!(again.as_request().unwrap().uri(), m.as_request().unwrap().uri());
    }
}
