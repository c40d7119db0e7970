//! RFC 5118 IPv6 torture messages: verdicts per file and the addresses read from them.

use sip_core::message::{ContactList, Host, Message};

use super::Outcome::{Accept, Respond};
use super::{Outcome, rfc5118, server_outcome};

pub(crate) const RFC5118_VERDICTS: &[(&str, Outcome)] = &[
    ("ipv6-good", Accept),
    ("ipv6-bad", Respond(400)),
    ("port-ambiguous", Accept),
    ("port-unambiguous", Accept),
    ("via-received-param-with-delim", Accept),
    ("via-received-param-no-delim", Accept),
    ("ipv6-in-sdp", Accept),
    ("mult-ip-in-header", Accept),
    ("mult-ip-in-sdp", Accept),
    ("ipv4-mapped-ipv6", Accept),
    ("ipv6-bug-abnf-3-colons", Respond(400)),
    ("ipv6-correct-abnf-2-colons", Accept),
];

#[test]
fn every_rfc5118_file_gets_its_documented_verdict() {
    let readme = String::from_utf8(rfc5118("README.md").to_vec()).unwrap();
    let mut wrong = Vec::new();
    for (file, want) in RFC5118_VERDICTS {
        assert!(
            readme.contains(&format!("| {file} |")),
            "{file} not in README"
        );
        let got = server_outcome(rfc5118(file));
        if got != *want {
            wrong.push(format!("{file}: got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn request5118(file: &str) -> sip_core::message::Request {
    match Message::parse(rfc5118(file)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("{file} is a response"),
    }
}

fn v6(s: &str) -> Host {
    Host::Ipv6(s.parse().unwrap())
}

#[test]
fn ipv6_request_uris_and_ports_are_read() {
    let good = request5118("ipv6-good");
    assert_eq!(good.uri().as_sip().unwrap().host(), &v6("2001:db8::10"));
    let amb = request5118("port-ambiguous");
    let u = amb.uri().as_sip().unwrap();
    assert_eq!((u.host(), u.port()), (&v6("2001:db8::10:5070"), None));
    let unamb = request5118("port-unambiguous");
    let u = unamb.uri().as_sip().unwrap();
    assert_eq!((u.host(), u.port()), (&v6("2001:db8::10"), Some(5070)));
    let c = good.headers().contact().unwrap();
    assert_eq!(
        c.contacts()[0].uri().as_sip().unwrap().host(),
        &v6("2001:db8::1")
    );
}

#[test]
fn via_received_ipv6_is_read_with_or_without_brackets() {
    let want = Some("2001:db8::9:255".parse().unwrap());
    for file in [
        "via-received-param-with-delim",
        "via-received-param-no-delim",
    ] {
        let v = request5118(file).headers().top_via().unwrap();
        assert_eq!(v.received_addr(), want, "{file}");
        assert_eq!(v.host(), &v6("2001:db8::9:1"));
    }
}

#[test]
fn mixed_ipv4_and_ipv6_vias_are_read_in_order() {
    let vias = request5118("mult-ip-in-header").headers().via().unwrap();
    let hosts: Vec<String> = vias.iter().map(|v| v.sent_by()).collect();
    assert_eq!(
        hosts,
        ["[2001:db8::9:1]:6050", "192.0.2.1", "[2001:db8::9:255]"]
    );
    assert_eq!(vias[2].received(), Some("192.0.2.200"));
}

#[test]
fn ipv4_mapped_ipv6_addresses_are_read() {
    let r = request5118("ipv4-mapped-ipv6");
    let v = r.headers().top_via().unwrap();
    assert_eq!(
        (v.host(), v.port()),
        (&v6("::ffff:192.0.2.10"), Some(19823))
    );
    let c = r.headers().contact().unwrap();
    assert_eq!(
        c.contacts()[0].uri().as_sip().unwrap().host(),
        &v6("::ffff:192.0.2.2")
    );
    assert!(matches!(
        r.headers().contact().unwrap(),
        ContactList::List(_)
    ));
}
