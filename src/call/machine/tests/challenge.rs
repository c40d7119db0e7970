//! A carrier's digest challenge on a branch: answered once with the target's credentials,
//! only for their realm and only from the branch's own address.

use sip_core::auth::{Algorithm, Credentials, Secret, VerifyPolicy, verify_response};

use super::*;
use crate::call::machine::BranchCredentials;

const REALM: &str = "carrier.example";

fn with_credentials() -> Target {
    let mut target = target(0, PHONE_B1);
    target.credentials = Some(BranchCredentials {
        username: "acct".into(),
        password: "secret".into(),
        realm: REALM.into(),
    });
    target
}

fn challenge(invite: &Request, status: u16, realm: &str, nonce: &str, stale: bool) -> Response {
    let mut response = reply(invite, status, "gw", "", None);
    let header = if status == 407 {
        HeaderName::ProxyAuthenticate
    } else {
        HeaderName::WwwAuthenticate
    };
    let stale = if stale { ", stale=true" } else { "" };
    response.headers_mut().push(
        header,
        format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{stale}"),
    );
    response
}

fn dialled() -> (Call, Request) {
    let mut call = Call::start();
    call.take();
    call.dial_stage(100, one_stage(vec![with_credentials()]));
    let invite = call.take()[0].request().clone();
    (call, invite)
}

fn only_invite(sent: &[Sent]) -> Request {
    let invites: Vec<_> = sent.iter().filter(|s| s.is_request("INVITE")).collect();
    assert_eq!(invites.len(), 1, "{sent:?}");
    assert!(invites[0].to_phone(PHONE_B1));
    invites[0].request().clone()
}

fn credentials_in(request: &Request, header: HeaderName) -> Credentials {
    let value = request.headers().get(header).unwrap().to_str().unwrap();
    Credentials::parse(value).unwrap()
}

fn proves_the_password(credentials: &Credentials) -> bool {
    let policy = VerifyPolicy {
        realm: REALM,
        offered: &[Algorithm::Md5],
        allow_rfc2069: false,
    };
    verify_response(
        credentials,
        "INVITE",
        &Secret::Password("secret".into()),
        &policy,
    )
}

fn no_credentials_sent(sent: &[Sent]) {
    for s in sent {
        let text = s.text();
        assert!(!text.contains("Authorization"), "{text}");
        assert!(!text.contains("acct"), "{text}");
    }
}

#[test]
fn a_challenge_for_our_realm_from_the_gateway_is_answered_once_with_a_correct_digest() {
    let (mut call, first) = dialled();
    call.respond(300, challenge(&first, 401, REALM, "n1", false));
    let sent = call.take();
    assert!(sent.iter().all(|s| !s.to_a()), "the caller hears nothing");
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.header(HeaderName::CSeq).as_deref() == Some("1 ACK")),
        "the 401 is acknowledged: {sent:?}"
    );
    let retry = only_invite(&sent);
    let headers = retry.headers();
    assert_eq!(headers.cseq().unwrap().seq, 2);
    assert_eq!(
        headers.call_id().unwrap(),
        first.headers().call_id().unwrap()
    );
    assert_eq!(
        headers.from().unwrap().tag(),
        first.headers().from().unwrap().tag()
    );
    assert_ne!(
        headers.top_via().unwrap().branch(),
        first.headers().top_via().unwrap().branch()
    );
    let credentials = credentials_in(&retry, HeaderName::Authorization);
    assert_eq!(credentials.username(), "acct");
    assert_eq!(credentials.nonce(), "n1");
    assert_eq!(credentials.uri(), first.uri().to_string());
    assert!(proves_the_password(&credentials));

    call.respond(
        500,
        reply(
            &retry,
            200,
            "gw",
            "gw@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = call.take();
    let ack = sent.iter().find(|s| s.is_request("ACK")).unwrap();
    assert_eq!(ack.header(HeaderName::CSeq).unwrap(), "2 ACK");
    assert_eq!(
        ack.header(HeaderName::Authorization),
        retry
            .headers()
            .get(HeaderName::Authorization)
            .map(|v| v.to_string_lossy()),
        "RFC 3261 §13.2.2.4: the ACK carries the INVITE's credentials"
    );
    assert!(sent.iter().any(|s| s.to_a() && s.status() == Some(200)));
}

#[test]
fn a_proxy_challenge_is_answered_with_proxy_authorization() {
    let (mut call, first) = dialled();
    call.respond(300, challenge(&first, 407, REALM, "p1", false));
    let retry = only_invite(&call.take());
    assert!(retry.headers().get(HeaderName::Authorization).is_none());
    assert!(proves_the_password(&credentials_in(
        &retry,
        HeaderName::ProxyAuthorization
    )));
}

#[test]
fn a_challenge_from_another_address_fails_the_branch_and_reveals_nothing() {
    let (mut call, first) = dialled();
    call.respond_from(300, PHONE_B2, challenge(&first, 401, REALM, "n1", false));
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("INVITE")), "{sent:?}");
    no_credentials_sent(&sent);
    let finals: Vec<_> = sent
        .iter()
        .filter(|s| s.to_a())
        .filter_map(Sent::status)
        .collect();
    assert_eq!(
        finals,
        [403],
        "a challenge the caller cannot answer is not relayed"
    );
}

#[test]
fn a_challenge_for_another_realm_fails_the_branch_and_reveals_nothing() {
    let (mut call, first) = dialled();
    call.respond(300, challenge(&first, 401, "evil.example", "n1", false));
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("INVITE")), "{sent:?}");
    no_credentials_sent(&sent);
    assert!(sent.iter().any(|s| s.to_a() && s.status() == Some(403)));
}

#[test]
fn a_branch_without_credentials_never_answers_a_challenge() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let first = call.take()[0].request().clone();
    call.respond(300, challenge(&first, 401, REALM, "n1", false));
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("INVITE")), "{sent:?}");
    no_credentials_sent(&sent);
}

#[test]
fn a_second_challenge_after_our_answer_fails_the_branch() {
    let (mut call, first) = dialled();
    call.respond(300, challenge(&first, 401, REALM, "n1", false));
    let retry = only_invite(&call.take());
    call.respond(400, challenge(&retry, 401, REALM, "n1", false));
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("INVITE")), "{sent:?}");
    assert!(sent.iter().any(|s| s.to_a() && s.status() == Some(403)));
}

#[test]
fn a_stale_nonce_is_renewed_once_and_no_more() {
    let (mut call, first) = dialled();
    call.respond(300, challenge(&first, 401, REALM, "n1", false));
    let retry = only_invite(&call.take());
    call.respond(400, challenge(&retry, 401, REALM, "n2", true));
    let renewed = only_invite(&call.take());
    assert_eq!(renewed.headers().cseq().unwrap().seq, 3);
    assert_eq!(
        credentials_in(&renewed, HeaderName::Authorization).nonce(),
        "n2"
    );
    call.respond(500, challenge(&renewed, 401, REALM, "n3", true));
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("INVITE")), "{sent:?}");
    assert!(sent.iter().any(|s| s.to_a() && s.status() == Some(403)));
}
