//! What of the caller reaches a branch: the branch's identity (From, To, P-Asserted-Identity,
//! privacy) and only the headers its allow-list names.

use std::collections::BTreeSet;

use sip_core::message::Uri;

use super::*;
use crate::call::machine::BranchIdentity;

/// The switch's own headers on every branch INVITE with an SDP offer.
const BASE: &[&str] = &[
    "allow",
    "call-id",
    "contact",
    "content-length",
    "content-type",
    "cseq",
    "from",
    "max-forwards",
    "supported",
    "to",
    "user-agent",
    "via",
];

fn caller_with_extras() -> Call {
    let extra = "X-Campaign: vip-7\nX-Internal-Host: 10.0.0.5\nSubject: hello\n\
                 P-Asserted-Identity: <sip:spoof@evil.example>\nPrivacy: none\n";
    Call::with(
        &invite_text(extra, Some(&sdp("192.0.2.10", 4000, 1, ""))),
        settings(),
        anchored(),
    )
}

fn branch_invite(call: &mut Call, target: Target) -> Sent {
    call.take();
    call.dial_stage(100, one_stage(vec![target]));
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    sent[0].clone()
}

fn names(sent: &Sent) -> BTreeSet<String> {
    sent.message
        .headers()
        .iter()
        .map(|(name, _)| name.as_str().to_ascii_lowercase())
        .collect()
}

fn expected(extra: &[&str]) -> BTreeSet<String> {
    BASE.iter().chain(extra).map(|s| (*s).to_owned()).collect()
}

fn uri(text: &str) -> Uri {
    Uri::parse(text).unwrap()
}

/// Nothing of the caller's side (its Vias, proxy, Contact, Call-ID, phone, headers) shows.
fn reveals_nothing_of_the_caller_side(invite: &Sent) {
    let text = invite.text();
    let head = text.split("\r\n\r\n").next().unwrap();
    for leak in [
        "10.9.9.9",
        "192.0.2.10",
        "proxy-a",
        "a-call@",
        "PhoneA",
        "10.0.0.5",
        "spoof",
        "z9hG4bKa1",
    ] {
        assert!(!head.contains(leak), "{leak} leaked:\n{head}");
    }
}

#[test]
fn a_default_branch_invite_carries_only_the_switchs_own_headers() {
    let mut call = caller_with_extras();
    let invite = branch_invite(&mut call, target(0, PHONE_B1));
    assert_eq!(names(&invite), expected(&[]));
    assert_eq!(invite.message.headers().count(HeaderName::Via), 1);
    reveals_nothing_of_the_caller_side(&invite);
    assert_eq!(
        invite.header(HeaderName::UserAgent).unwrap(),
        "Switchyard-test"
    );
}

#[test]
fn only_allow_listed_caller_headers_are_passed_and_never_the_switchs_own() {
    let mut call = caller_with_extras();
    let mut target = target(0, PHONE_B1);
    target.pass_headers = [
        "x-campaign",
        "subject",
        "via",
        "record-route",
        "contact",
        "p-asserted-identity",
        "privacy",
        "x-campaign",
    ]
    .map(str::to_owned)
    .to_vec();
    let invite = branch_invite(&mut call, target);
    assert_eq!(names(&invite), expected(&["subject", "x-campaign"]));
    assert_eq!(
        invite
            .message
            .headers()
            .count(HeaderName::parse("x-campaign").unwrap()),
        1
    );
    assert_eq!(
        invite
            .header(HeaderName::parse("x-campaign").unwrap())
            .unwrap(),
        "vip-7"
    );
    assert_eq!(invite.header(HeaderName::Subject).unwrap(), "hello");
    reveals_nothing_of_the_caller_side(&invite);
}

#[test]
fn the_branch_identity_sets_from_to_and_p_asserted_identity() {
    let mut call = caller_with_extras();
    let mut target = target(0, PHONE_B1);
    target.identity = BranchIdentity {
        from_uri: Some(uri("sip:+15551230000@carrier.example")),
        from_display: None,
        to_uri: Some(uri("sip:+15557654321@carrier.example")),
        asserted: Some(uri("sip:+15551230000@carrier.example")),
        privacy: false,
    };
    let invite = branch_invite(&mut call, target);
    assert_eq!(names(&invite), expected(&["p-asserted-identity"]));
    let from = invite.message.headers().from().unwrap();
    assert_eq!(from.uri.to_string(), "sip:+15551230000@carrier.example");
    assert_eq!(
        from.display_name.as_deref(),
        Some("Alice"),
        "the caller's name stays"
    );
    assert!(from.tag().is_some());
    assert_eq!(
        invite.header(HeaderName::To).unwrap(),
        "<sip:+15557654321@carrier.example>"
    );
    assert_eq!(
        invite.header(HeaderName::PAssertedIdentity).unwrap(),
        "<sip:+15551230000@carrier.example>"
    );
    reveals_nothing_of_the_caller_side(&invite);
}

#[test]
fn a_display_name_override_replaces_the_callers() {
    let mut call = caller_with_extras();
    let mut target = target(0, PHONE_B1);
    target.identity.from_display = Some("ACME".into());
    let invite = branch_invite(&mut call, target);
    let from = invite.message.headers().from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("ACME"));
    assert_eq!(from.uri.to_string(), "sip:1000@192.0.2.1");
}

#[test]
fn privacy_sends_an_anonymous_from_and_privacy_id_beside_the_asserted_identity() {
    let mut call = caller_with_extras();
    let mut target = target(0, PHONE_B1);
    target.identity = BranchIdentity {
        from_uri: Some(uri("sip:+15551230000@carrier.example")),
        from_display: Some("ACME".into()),
        to_uri: None,
        asserted: Some(uri("sip:+15551230000@carrier.example")),
        privacy: true,
    };
    let invite = branch_invite(&mut call, target);
    assert_eq!(
        names(&invite),
        expected(&["p-asserted-identity", "privacy"])
    );
    let from = invite.message.headers().from().unwrap();
    assert_eq!(from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    assert_eq!(from.display_name.as_deref(), Some("Anonymous"));
    assert_eq!(invite.header(HeaderName::Privacy).unwrap(), "id");
    let head = invite.text();
    assert!(!head.contains("Alice") && !head.contains("ACME"), "{head}");
}
