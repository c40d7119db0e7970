//! How the switch answers what is not a registration: OPTIONS, unknown methods and malformed
//! requests.

use std::time::Duration;

use sip_core::message::{HeaderName, Method};

use crate::harness::{DOMAIN, Switch};
use crate::phone::Phone;

#[test]
fn options_to_the_switch_lists_allow_accept_and_supported() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let ok = phone.send(Method::Options, &format!("sip:{DOMAIN}"));
    assert_eq!(ok.status().as_u16(), 200);
    let allow = ok.headers().allow().expect("Allow parses");
    for method in [Method::Register, Method::Options] {
        assert!(allow.contains(&method), "Allow lists {method:?}: {allow:?}");
    }
    assert!(ok.headers().contains(HeaderName::Accept), "{ok:?}");
    assert!(ok.headers().contains(HeaderName::Supported), "{ok:?}");
}

#[test]
fn an_unknown_method_gets_501_with_allow() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let refused = phone.send(
        Method::Extension("FROBNICATE".to_owned()),
        &format!("sip:{DOMAIN}"),
    );
    // RFC 3261 §8.2.1: a method the UAS does not support gets 501 with the Allow it does.
    assert_eq!(refused.status().as_u16(), 501);
    let allow = refused.headers().allow().expect("Allow parses");
    assert!(allow.contains(&Method::Register), "{allow:?}");
}

#[test]
fn a_request_shorter_than_its_content_length_gets_400() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let via = phone.via();
    // RFC 3261 §18.3: a datagram request whose body is shorter than Content-Length gets 400.
    let text = format!(
        "OPTIONS sip:{DOMAIN} SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@{DOMAIN}>;tag=bad-length\r\n\
         To: <sip:{DOMAIN}>\r\n\
         Call-ID: bad-length@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: 200\r\n\r\n\
         v=0\r\n"
    );
    let response = phone
        .send_raw(&text, Duration::from_secs(5))
        .expect("the switch answers a malformed request it can read");
    assert_eq!(response.status().as_u16(), 400);
}

#[test]
fn a_cseq_method_that_contradicts_the_request_line_gets_400() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let via = phone.via();
    // RFC 3261 §8.1.1.5 and RFC 4475 §3.4.1 (mismatch01): the CSeq method must match.
    let text = format!(
        "OPTIONS sip:{DOMAIN} SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@{DOMAIN}>;tag=mismatch\r\n\
         To: <sip:{DOMAIN}>\r\n\
         Call-ID: mismatch@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let response = phone
        .send_raw(&text, Duration::from_secs(5))
        .expect("the switch answers a malformed request it can read");
    assert_eq!(response.status().as_u16(), 400);
}

#[test]
fn a_request_with_a_malformed_max_forwards_gets_400() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let via = phone.via();
    let text = format!(
        "OPTIONS sip:{DOMAIN} SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: seventy\r\n\
         From: <sip:1000@{DOMAIN}>;tag=bad-header\r\n\
         To: <sip:{DOMAIN}>\r\n\
         Call-ID: bad-header@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let response = phone
        .send_raw(&text, Duration::from_secs(5))
        .expect("the switch answers a malformed request it can read");
    assert_eq!(response.status().as_u16(), 400);
}

#[test]
fn a_register_with_a_malformed_contact_gets_400_and_binds_nothing() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", &crate::harness::password_of(1000));
    let refused = phone.register(&["<sip:1000@192.0.2.1:5060;expires=60"], Some(60));
    assert_eq!(refused.status().as_u16(), 400);
    assert!(phone.bindings().is_empty());
}

#[test]
fn an_unsupported_sip_version_gets_505() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let via = phone.via().replace("SIP/2.0/UDP", "SIP/3.0/UDP");
    let text = format!(
        "OPTIONS sip:{DOMAIN} SIP/3.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:1000@{DOMAIN}>;tag=v3\r\n\
         To: <sip:{DOMAIN}>\r\n\
         Call-ID: version-3@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    let response = phone
        .send_raw(&text, Duration::from_secs(5))
        .expect("the switch answers a request in another SIP version");
    assert_eq!(response.status().as_u16(), 505);
}

#[test]
fn garbage_gets_no_answer_and_the_switch_keeps_serving() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1000", "unused");
    let silence = phone.send_raw(
        "\u{1}\u{2}not sip at all\r\n\r\n",
        Duration::from_millis(500),
    );
    assert!(silence.is_none(), "garbage is dropped: {silence:?}");
    let ok = phone.send(Method::Options, &format!("sip:{DOMAIN}"));
    assert_eq!(ok.status().as_u16(), 200);
}
