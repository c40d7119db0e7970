//! Dialog tests driven by literal SIP text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;

use super::*;
use crate::message::{Host, Message, Method, Request, Response, StatusCode, Uri, Via};

fn parse(text: &str) -> Message {
    Message::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
}

fn request(text: &str) -> Request {
    match parse(text) {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn response(text: &str) -> Response {
    match parse(text) {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

/// Re-parses an encoded request so assertions see what goes on the wire.
fn wire(req: &Request) -> Request {
    match Message::parse(req.encode()).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

fn via(branch: &str) -> Via {
    Via::new(
        "UDP",
        Host::Domain("uac.example.com".into()),
        Some(5060),
        branch,
    )
}

fn uri(s: &str) -> Uri {
    Uri::parse(s).unwrap()
}

/// An INVITE that crossed two record-routing proxies: p1 (nearest the UAC) then p2.
fn invite() -> Request {
    request(
        "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKuac
Record-Route: <sip:p2.example.com;lr>
Record-Route: <sip:p1.example.com;lr>
Max-Forwards: 68
To: Bob <sip:bob@biloxi.example.com>
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example.com>
Content-Length: 0

",
    )
}

/// A response to [`invite`] as the UAC receives it.
fn answer(status: &str, to_tag: &str, contact: &str) -> Response {
    response(&format!(
        "SIP/2.0 {status}
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKuac
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>
To: Bob <sip:bob@biloxi.example.com>;tag={to_tag}
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <{contact}>
Content-Length: 0

"
    ))
}

fn uac_dialog() -> Dialog {
    Dialog::new_uac(&invite(), &answer("200 OK", "a6c85cf", "sip:bob@192.0.2.4")).unwrap()
}

fn uas_dialog() -> Dialog {
    Dialog::new_uas(&invite(), Tag::new("a6c85cf"), uri("sip:bob@192.0.2.4")).unwrap()
}

fn route_hosts(dialog: &Dialog) -> Vec<String> {
    dialog
        .route_set()
        .routes()
        .iter()
        .map(|r| r.uri.as_sip().unwrap().host().to_string())
        .collect()
}

/// A request from Bob (the UAS) to Alice inside the dialog of [`invite`].
fn from_bob(method: &str, cseq: u32, contact: Option<&str>) -> Request {
    let contact = contact
        .map(|c| format!("Contact: <{c}>\n"))
        .unwrap_or_default();
    request(&format!(
        "{method} sip:alice@pc33.atlanta.example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKbob{cseq}
Max-Forwards: 70
From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
To: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: {cseq} {method}
{contact}Content-Length: 0

"
    ))
}

/// A request from Alice (the UAC) to Bob inside the dialog of [`invite`].
fn from_alice(method: &str, cseq: u32, contact: Option<&str>) -> Request {
    let contact = contact
        .map(|c| format!("Contact: <{c}>\n"))
        .unwrap_or_default();
    request(&format!(
        "{method} sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKa{cseq}
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
Call-ID: a84b4c76e66710
CSeq: {cseq} {method}
{contact}Content-Length: 0

"
    ))
}

#[test]
fn uac_route_set_is_record_route_reversed() {
    let dialog = uac_dialog();
    assert_eq!(route_hosts(&dialog), ["p1.example.com", "p2.example.com"]);
}

#[test]
fn uas_route_set_is_record_route_in_order() {
    let dialog = uas_dialog();
    assert_eq!(route_hosts(&dialog), ["p2.example.com", "p1.example.com"]);
}

#[test]
fn uac_dialog_takes_ids_targets_and_sequence_numbers_from_invite_and_2xx() {
    let dialog = uac_dialog();
    assert_eq!(dialog.state(), DialogState::Confirmed);
    assert_eq!(dialog.id().call_id.as_str(), "a84b4c76e66710");
    assert_eq!(dialog.id().local_tag.as_str(), "1928301774");
    assert_eq!(dialog.id().remote_tag.as_str(), "a6c85cf");
    assert_eq!(dialog.remote_target(), &uri("sip:bob@192.0.2.4"));
    assert_eq!(
        dialog.local_target(),
        &uri("sip:alice@pc33.atlanta.example.com")
    );
    assert_eq!(dialog.local_seq(), Some(314159));
    assert_eq!(dialog.remote_seq(), None);
    assert!(!dialog.is_secure());
}

#[test]
fn uas_dialog_takes_remote_side_from_the_invite() {
    let dialog = uas_dialog();
    assert_eq!(dialog.state(), DialogState::Early);
    assert_eq!(dialog.id().local_tag.as_str(), "a6c85cf");
    assert_eq!(dialog.id().remote_tag.as_str(), "1928301774");
    assert_eq!(
        dialog.remote_target(),
        &uri("sip:alice@pc33.atlanta.example.com")
    );
    assert_eq!(dialog.remote_seq(), Some(314159));
    assert_eq!(dialog.local_seq(), None);
    assert_eq!(dialog.local_uri().tag(), Some("a6c85cf"));
}

#[test]
fn uas_dialog_is_confirmed_when_its_2xx_is_sent() {
    let mut dialog = uas_dialog();
    let mut ok = Response::for_request(&invite(), StatusCode::OK);
    ok.set_to_tag("a6c85cf");
    dialog.handle_sent_response(&ok).unwrap();
    assert_eq!(dialog.state(), DialogState::Confirmed);
}

#[test]
fn incoming_in_dialog_request_matches_the_uas_dialog_id() {
    let dialog = uas_dialog();
    let bye = from_alice("BYE", 314160, None);
    assert_eq!(&DialogId::for_incoming_request(&bye).unwrap(), dialog.id());
}

#[test]
fn request_without_to_tag_has_no_dialog_id() {
    let err = DialogId::for_incoming_request(&invite()).unwrap_err();
    assert_eq!(err, DialogError::MissingTag("To"));
}

#[test]
fn in_dialog_request_goes_to_remote_target_through_loose_routes() {
    let mut dialog = uac_dialog();
    let bye = wire(
        &dialog
            .create_request(Method::Bye, via("z9hG4bKbye1"))
            .unwrap(),
    );
    assert_eq!(bye.uri(), &uri("sip:bob@192.0.2.4"));
    let routes: Vec<String> = bye
        .headers()
        .route()
        .unwrap()
        .iter()
        .map(|r| r.uri.to_string())
        .collect();
    assert_eq!(routes, ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]);
    let h = bye.headers();
    assert_eq!(h.from().unwrap().tag(), Some("1928301774"));
    assert_eq!(h.to().unwrap().tag(), Some("a6c85cf"));
    assert_eq!(h.call_id().unwrap(), "a84b4c76e66710");
    assert_eq!(h.cseq().unwrap().seq, 314160);
    assert_eq!(h.cseq().unwrap().method, Method::Bye);
    assert_eq!(h.max_forwards().unwrap(), Some(70));
    let top = h.top_via().unwrap();
    assert_eq!(top.branch(), Some("z9hG4bKbye1"));
    assert_eq!(top.sent_by(), "uac.example.com:5060");
    assert_eq!(
        h.contact().unwrap().contacts()[0].uri(),
        &uri("sip:alice@pc33.atlanta.example.com")
    );
}

#[test]
fn strict_first_route_becomes_request_uri_and_remote_target_goes_last() {
    let ok = response(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKuac
Record-Route: <sip:loose.example.com;lr>
Record-Route: <sip:strict.example.com>
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
Content-Length: 0

",
    );
    let mut dialog = Dialog::new_uac(&invite(), &ok).unwrap();
    let info = wire(
        &dialog
            .create_request(Method::Info, via("z9hG4bKinfo"))
            .unwrap(),
    );
    assert_eq!(info.uri(), &uri("sip:strict.example.com"));
    let routes: Vec<String> = info
        .headers()
        .route()
        .unwrap()
        .iter()
        .map(|r| r.uri.to_string())
        .collect();
    assert_eq!(routes, ["sip:loose.example.com;lr", "sip:bob@192.0.2.4"]);
}

#[test]
fn local_cseq_increments_for_each_new_request() {
    let mut dialog = uac_dialog();
    let first = dialog
        .create_request(Method::Info, via("z9hG4bK1"))
        .unwrap();
    let second = dialog
        .create_request(Method::Invite, via("z9hG4bK2"))
        .unwrap();
    assert_eq!(first.headers().cseq().unwrap().seq, 314160);
    assert_eq!(second.headers().cseq().unwrap().seq, 314161);
    assert_eq!(dialog.local_seq(), Some(314161));
}

#[test]
fn uas_first_request_starts_local_cseq_at_one() {
    let mut dialog = uas_dialog();
    let bye = dialog.create_request(Method::Bye, via("z9hG4bKb")).unwrap();
    assert_eq!(bye.headers().cseq().unwrap().seq, 1);
    assert_eq!(bye.uri(), &uri("sip:alice@pc33.atlanta.example.com"));
    assert_eq!(bye.headers().from().unwrap().tag(), Some("a6c85cf"));
    assert_eq!(bye.headers().to().unwrap().tag(), Some("1928301774"));
}

#[test]
fn ack_for_2xx_reuses_the_invite_cseq_and_does_not_advance_local_cseq() {
    let mut dialog = uac_dialog();
    let reinvite = dialog
        .create_request(Method::Invite, via("z9hG4bKre"))
        .unwrap();
    let seq = reinvite.headers().cseq().unwrap().seq;
    let ack = wire(&dialog.create_ack(seq, via("z9hG4bKack")));
    assert_eq!(ack.method(), &Method::Ack);
    assert_eq!(ack.headers().cseq().unwrap().seq, seq);
    assert_eq!(ack.headers().cseq().unwrap().method, Method::Ack);
    assert_eq!(ack.uri(), &uri("sip:bob@192.0.2.4"));
    assert_eq!(dialog.local_seq(), Some(seq));
}

#[test]
fn ack_and_cancel_are_not_built_as_new_requests() {
    let mut dialog = uac_dialog();
    let err = dialog
        .create_request(Method::Ack, via("z9hG4bKx"))
        .unwrap_err();
    assert_eq!(err, DialogError::NotANewRequest(Method::Ack));
    assert!(
        dialog
            .create_request(Method::Cancel, via("z9hG4bKy"))
            .is_err()
    );
    assert_eq!(dialog.local_seq(), Some(314159));
}

#[test]
fn lower_remote_cseq_is_rejected_with_500() {
    let mut dialog = uas_dialog();
    dialog
        .handle_request(&from_alice("INFO", 314165, None))
        .unwrap();
    let err = dialog
        .handle_request(&from_alice("INFO", 314162, None))
        .unwrap_err();
    assert_eq!(
        err,
        DialogError::OutOfOrderCSeq {
            received: 314162,
            expected: 314165
        }
    );
    assert_eq!(
        err.response_status(),
        Some(StatusCode::SERVER_INTERNAL_ERROR)
    );
    assert_eq!(dialog.remote_seq(), Some(314165));
}

#[test]
fn uac_accepts_any_first_remote_cseq_then_enforces_order() {
    let mut dialog = uac_dialog();
    dialog.handle_request(&from_bob("INFO", 7, None)).unwrap();
    assert_eq!(dialog.remote_seq(), Some(7));
    assert!(dialog.handle_request(&from_bob("INFO", 6, None)).is_err());
}

#[test]
fn ack_does_not_trip_the_remote_cseq_check() {
    let mut dialog = uas_dialog();
    dialog
        .handle_request(&from_alice("INFO", 314160, None))
        .unwrap();
    dialog
        .handle_request(&from_alice("ACK", 314159, None))
        .unwrap();
    assert_eq!(dialog.remote_seq(), Some(314160));
}

#[test]
fn reinvite_from_peer_refreshes_remote_target() {
    let mut dialog = uas_dialog();
    dialog
        .handle_request(&from_alice(
            "INVITE",
            314160,
            Some("sip:alice@198.51.100.9:5070"),
        ))
        .unwrap();
    assert_eq!(dialog.remote_target(), &uri("sip:alice@198.51.100.9:5070"));
}

#[test]
fn info_does_not_refresh_remote_target() {
    let mut dialog = uas_dialog();
    dialog
        .handle_request(&from_alice(
            "INFO",
            314160,
            Some("sip:alice@198.51.100.9:5070"),
        ))
        .unwrap();
    assert_eq!(
        dialog.remote_target(),
        &uri("sip:alice@pc33.atlanta.example.com")
    );
}

#[test]
fn update_2xx_refreshes_remote_target_on_uac() {
    let mut dialog = uac_dialog();
    let update = dialog
        .create_request(Method::Update, via("z9hG4bKu"))
        .unwrap();
    let mut ok = Response::for_request(&update, StatusCode::OK);
    ok.headers_mut()
        .push(crate::message::HeaderName::Contact, "<sip:bob@203.0.113.5>");
    dialog.handle_response(&ok).unwrap();
    assert_eq!(dialog.remote_target(), &uri("sip:bob@203.0.113.5"));
}

#[test]
fn bye_from_peer_terminates_and_later_requests_are_refused() {
    let mut dialog = uas_dialog();
    dialog
        .handle_request(&from_alice("BYE", 314160, None))
        .unwrap();
    assert_eq!(dialog.state(), DialogState::Terminated);
    let err = dialog
        .create_request(Method::Info, via("z9hG4bKz"))
        .unwrap_err();
    assert_eq!(err, DialogError::Terminated);
}

#[test]
fn request_for_another_dialog_is_refused() {
    let mut dialog = uas_dialog();
    let mut other = from_alice("INFO", 314160, None);
    other
        .headers_mut()
        .set(crate::message::HeaderName::CallId, "someone-else");
    assert_eq!(
        dialog.handle_request(&other).unwrap_err(),
        DialogError::WrongDialog
    );
}

#[test]
fn early_dialog_is_confirmed_by_2xx_with_its_route_set_recomputed() {
    let ringing = response(
        "SIP/2.0 180 Ringing
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKuac
Record-Route: <sip:p2.example.com;lr>
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Content-Length: 0

",
    );
    let mut dialog = Dialog::new_uac(&invite(), &ringing).unwrap();
    assert_eq!(dialog.state(), DialogState::Early);
    // No Contact in the 180: the Request-URI stands in until the 2xx names a target.
    assert_eq!(dialog.remote_target(), &uri("sip:bob@biloxi.example.com"));
    assert_eq!(route_hosts(&dialog), ["p2.example.com"]);
    dialog
        .handle_response(&answer("200 OK", "a6c85cf", "sip:bob@192.0.2.4"))
        .unwrap();
    assert_eq!(dialog.state(), DialogState::Confirmed);
    assert_eq!(dialog.remote_target(), &uri("sip:bob@192.0.2.4"));
    assert_eq!(route_hosts(&dialog), ["p1.example.com", "p2.example.com"]);
}

#[test]
fn early_dialog_ends_on_a_final_failure() {
    let mut dialog = Dialog::new_uac(
        &invite(),
        &answer("183 Session Progress", "a6c85cf", "sip:bob@192.0.2.4"),
    )
    .unwrap();
    dialog
        .handle_response(&answer("486 Busy Here", "a6c85cf", "sip:bob@192.0.2.4"))
        .unwrap();
    assert_eq!(dialog.state(), DialogState::Terminated);
}

#[test]
fn forked_early_dialogs_have_distinct_ids() {
    let a = Dialog::new_uac(
        &invite(),
        &answer("180 Ringing", "fork-a", "sip:bob@192.0.2.4"),
    )
    .unwrap();
    let b = Dialog::new_uac(
        &invite(),
        &answer("180 Ringing", "fork-b", "sip:bob@192.0.2.5"),
    )
    .unwrap();
    assert_ne!(a.id(), b.id());
    assert_eq!(a.id().call_id, b.id().call_id);
    assert_eq!(a.id().local_tag, b.id().local_tag);
    let ok_b = answer("200 OK", "fork-b", "sip:bob@192.0.2.5");
    assert_eq!(&DialogId::for_incoming_response(&ok_b).unwrap(), b.id());
    let mut a = a;
    assert_eq!(
        a.handle_response(&ok_b).unwrap_err(),
        DialogError::WrongDialog
    );
}

#[test]
fn trying_and_failures_do_not_create_dialogs() {
    assert_eq!(
        Dialog::new_uac(&invite(), &answer("100 Trying", "x", "sip:bob@192.0.2.4")).unwrap_err(),
        DialogError::NotDialogCreating(100)
    );
    assert_eq!(
        Dialog::new_uac(
            &invite(),
            &answer("404 Not Found", "x", "sip:bob@192.0.2.4")
        )
        .unwrap_err(),
        DialogError::NotDialogCreating(404)
    );
}

#[test]
fn sips_request_uri_makes_a_secure_dialog() {
    let text = invite().encode().to_vec();
    let text = String::from_utf8(text)
        .unwrap()
        .replacen("INVITE sip:bob@", "INVITE sips:bob@", 1)
        .replace("\r\n", "\n");
    let dialog =
        Dialog::new_uas(&request(&text), Tag::new("t"), uri("sips:bob@192.0.2.4")).unwrap();
    assert!(dialog.is_secure());
}

#[test]
fn uas_dialog_needs_a_contact() {
    let text = String::from_utf8(invite().encode().to_vec())
        .unwrap()
        .replace("Contact: <sip:alice@pc33.atlanta.example.com>\r\n", "")
        .replace("\r\n", "\n");
    let err =
        Dialog::new_uas(&request(&text), Tag::new("t"), uri("sip:bob@192.0.2.4")).unwrap_err();
    assert_eq!(err, DialogError::MissingContact);
    assert_eq!(err.response_status(), Some(StatusCode::BAD_REQUEST));
}

#[test]
fn later_provisional_response_names_the_early_remote_target() {
    let mut dialog = Dialog::new_uac(
        &invite(),
        &answer("180 Ringing", "a6c85cf", "sip:bob@192.0.2.4"),
    )
    .unwrap();
    dialog
        .handle_response(&answer(
            "183 Session Progress",
            "a6c85cf",
            "sip:bob@192.0.2.9",
        ))
        .unwrap();
    assert_eq!(dialog.state(), DialogState::Early);
    assert_eq!(dialog.remote_target(), &uri("sip:bob@192.0.2.9"));
}

#[test]
fn missing_to_tag_calls_for_no_response_of_its_own() {
    let err = DialogId::for_incoming_request(&invite()).unwrap_err();
    assert_eq!(err.response_status(), None);
}
