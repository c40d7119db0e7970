//! A confirmed call: re-INVITE and UPDATE relayed or answered locally, glare, INFO relay,
//! and the requests the switch refuses.

use super::basic::{Answered, answered_call};
use super::*;

fn call() -> Answered {
    let mut answered = answered_call(Call::start());
    answered.call.take();
    answered
}

/// A re-INVITE from A with a new SDP goes to B; B's 2xx comes back to A.
fn reinvite_from_a(
    answered: &mut Answered,
    ms: u64,
    cseq: u32,
    version: u32,
    direction: &str,
    b_direction: &str,
) -> (Sent, Sent) {
    let body = sdp("192.0.2.10", 4000, version, direction);
    let text = a_request(
        "INVITE",
        cseq,
        &answered.a_tag,
        &format!("z9hG4bKa-re{cseq}"),
        "",
        Some(&body),
    );
    let call = &mut answered.call;
    call.a_sends(ms, &text);
    let sent = call.take();
    let relayed = sent
        .iter()
        .find(|s| s.is_request("INVITE"))
        .cloned()
        .unwrap();
    assert!(relayed.to_phone(PHONE_B1));
    let b_answer = sdp("192.0.2.20", 5000, version, b_direction);
    call.respond(
        ms + 50,
        reply(
            relayed.request(),
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&b_answer),
        ),
    );
    let sent = call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1)),
        "{sent:?}"
    );
    let ok = sent
        .iter()
        .find(|s| s.status() == Some(200) && s.to_a())
        .cloned()
        .unwrap();
    (relayed, ok)
}

#[test]
fn hold_and_unhold_reinvites_are_relayed_with_rewritten_sdp() {
    let mut answered = call();
    let (relayed, ok) = reinvite_from_a(&mut answered, 10_000, 11, 2, "sendonly", "recvonly");
    let request = relayed.request();
    assert_eq!(relayed.call_id(), answered.b_call_id);
    assert_eq!(
        relayed.tag_in_from().as_deref(),
        Some(answered.b_tag.as_str())
    );
    assert_eq!(relayed.to_tag().as_deref(), Some("btag1"));
    assert_eq!(request.headers().cseq().unwrap().seq, 2);
    assert_eq!(request.uri().to_string(), "sip:b1@192.0.2.20:5060");
    let offer = relayed.sdp();
    assert_eq!(offer.media[0].port, 20002);
    assert!(offer.is_on_hold());
    assert_eq!(
        offer.origin.session_version, 2,
        "content changed: version bumped"
    );
    let answer = ok.sdp();
    assert_eq!(answer.media[0].port, 20000);
    assert_eq!(ok.header(HeaderName::CSeq).unwrap(), "11 INVITE");
    assert_eq!(ok.to_tag().as_deref(), Some(answered.a_tag.as_str()));
    let events = answered.call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A),
        vec![(addr("192.0.2.10:4000"), addr("192.0.2.10:4001"), true)]
    );
    assert_eq!(remote_media(&events, LegSide::B).len(), 1);
    // A's ACK stops the 2xx; nothing reaches B.
    let ack = a_request("ACK", 11, &answered.a_tag, "z9hG4bKa-ack11", "", None);
    answered.call.a_sends(10_100, &ack);
    assert!(answered.call.take().is_empty());

    let (relayed, _) = reinvite_from_a(&mut answered, 20_000, 12, 3, "", "");
    assert!(!relayed.sdp().is_on_hold());
    let events = answered.call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A),
        vec![(addr("192.0.2.10:4000"), addr("192.0.2.10:4001"), false)]
    );
}

#[test]
fn a_refresh_without_sdp_change_is_answered_by_the_switch() {
    let mut answered = call();
    let body = sdp("192.0.2.10", 4000, 1, "");
    let text = a_request(
        "INVITE",
        11,
        &answered.a_tag,
        "z9hG4bKa-refresh",
        "",
        Some(&body),
    );
    answered.call.a_sends(10_000, &text);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].to_a());
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].sdp().media[0].port, 20000);
    assert_eq!(
        sent[0].sdp().origin.session_version,
        1,
        "same SDP as before"
    );
    // UPDATE without SDP: 200 without a body.
    let text = a_request("UPDATE", 12, &answered.a_tag, "z9hG4bKa-upd", "", None);
    answered.call.a_sends(11_000, &text);
    let ack = a_request("ACK", 11, &answered.a_tag, "z9hG4bKa-ack11", "", None);
    answered.call.a_sends(10_100, &ack);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    assert!(sent[0].message.body().is_empty());
}

#[test]
fn a_reinvite_during_a_pending_one_gets_491_and_a_491_from_the_other_side_is_relayed() {
    let mut answered = call();
    let body = sdp("192.0.2.10", 4000, 2, "sendonly");
    let text = a_request(
        "INVITE",
        11,
        &answered.a_tag,
        "z9hG4bKa-re11",
        "",
        Some(&body),
    );
    answered.call.a_sends(10_000, &text);
    let relayed = answered
        .call
        .take()
        .into_iter()
        .find(|s| s.is_request("INVITE"))
        .unwrap();
    // B offers at the same time: glare (RFC 3261 §14.2).
    let b_offer = sdp("192.0.2.20", 5000, 2, "sendonly");
    let text = b_request(
        "INVITE",
        1,
        &answered.b_tag,
        &answered.b_call_id,
        "z9hG4bKb-re1",
        "",
        Some(&b_offer),
    );
    answered.call.b_sends(10_010, PHONE_B1, &text);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(491));
    assert!(sent[0].to_phone(PHONE_B1));
    // B refuses ours with 491 too: the caller gets it.
    answered
        .call
        .respond(10_020, reply(relayed.request(), 491, "btag1", "", None));
    let sent = answered.call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    let pending = sent.iter().find(|s| s.to_a()).unwrap();
    assert_eq!(pending.status(), Some(491));
    assert_eq!(pending.header(HeaderName::CSeq).unwrap(), "11 INVITE");
    // Afterwards a new offer goes through again.
    let text = a_request(
        "INVITE",
        12,
        &answered.a_tag,
        "z9hG4bKa-re12",
        "",
        Some(&body),
    );
    answered.call.a_sends(13_000, &text);
    assert!(answered.call.take().iter().any(|s| s.is_request("INVITE")));
}

#[test]
fn a_late_offer_reinvite_waits_for_the_callers_ack_to_answer_the_callee() {
    let mut answered = call();
    let text = a_request("INVITE", 11, &answered.a_tag, "z9hG4bKa-late", "", None);
    answered.call.a_sends(10_000, &text);
    let relayed = answered
        .call
        .take()
        .into_iter()
        .find(|s| s.is_request("INVITE"))
        .unwrap();
    assert!(relayed.message.body().is_empty());
    let b_offer = sdp("192.0.2.20", 5006, 2, "");
    answered.call.respond(
        10_050,
        reply(
            relayed.request(),
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&b_offer),
        ),
    );
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "no ACK to B yet: {sent:?}");
    assert_eq!(sent[0].sdp().media[0].port, 20000);
    let answer = sdp("192.0.2.10", 4002, 2, "");
    let ack = a_request(
        "ACK",
        11,
        &answered.a_tag,
        "z9hG4bKa-ack",
        "",
        Some(&answer),
    );
    answered.call.a_sends(10_100, &ack);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].is_request("ACK") && sent[0].to_phone(PHONE_B1));
    assert_eq!(sent[0].header(HeaderName::CSeq).unwrap(), "2 ACK");
    assert_eq!(sent[0].sdp().media[0].port, 20002);
    let events = answered.call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::B)[0].0,
        addr("192.0.2.20:5006")
    );
    assert_eq!(
        remote_media(&events, LegSide::A)[0].0,
        addr("192.0.2.10:4002")
    );
}

#[test]
fn info_is_relayed_with_its_body_and_its_answer_comes_back() {
    let mut answered = call();
    let text = a_request(
        "INFO",
        11,
        &answered.a_tag,
        "z9hG4bKa-info",
        "Content-Type: application/dtmf-relay\n",
        Some("Signal=5\nDuration=160\n"),
    )
    .replace("Content-Type: application/sdp\n", "");
    answered.call.a_sends(10_000, &text);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    let info = &sent[0];
    assert!(info.is_request("INFO") && info.to_phone(PHONE_B1));
    assert_eq!(
        info.header(HeaderName::ContentType).unwrap(),
        "application/dtmf-relay"
    );
    assert_eq!(
        info.message.body().as_ref(),
        b"Signal=5\r\nDuration=160\r\n"
    );
    assert_eq!(info.call_id(), answered.b_call_id);
    answered
        .call
        .respond(10_050, reply(info.request(), 200, "btag1", "", None));
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].to_a());
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].header(HeaderName::CSeq).unwrap(), "11 INFO");
}

#[test]
fn refer_gets_501_prack_481_and_an_unknown_dialog_481() {
    let mut answered = call();
    let tag = answered.a_tag.clone();
    answered.call.a_sends(
        10_000,
        &a_request(
            "REFER",
            11,
            &tag,
            "z9hG4bKa-ref",
            "Refer-To: <sip:1002@192.0.2.1>\n",
            None,
        ),
    );
    answered.call.a_sends(
        10_001,
        &a_request("PRACK", 12, &tag, "z9hG4bKa-prack", "", None),
    );
    answered.call.a_sends(
        10_002,
        &a_request("INFO", 13, "not-our-tag", "z9hG4bKa-x", "", None),
    );
    let statuses: Vec<_> = answered.call.take().iter().map(|s| s.status()).collect();
    assert_eq!(statuses, vec![Some(501), Some(481), Some(481)]);
}

#[test]
fn an_update_with_a_new_offer_is_relayed_as_update() {
    let mut answered = call();
    let body = sdp("192.0.2.10", 4010, 2, "");
    let text = a_request(
        "UPDATE",
        11,
        &answered.a_tag,
        "z9hG4bKa-up",
        "",
        Some(&body),
    );
    answered.call.a_sends(10_000, &text);
    let sent = answered.call.take();
    let update = sent.iter().find(|s| s.is_request("UPDATE")).unwrap();
    assert_eq!(update.sdp().media[0].port, 20002);
    let answer = sdp("192.0.2.20", 5000, 2, "");
    answered.call.respond(
        10_050,
        reply(
            update.request(),
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&answer),
        ),
    );
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].sdp().media[0].port, 20000);
    let events = answered.call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A)[0].0,
        addr("192.0.2.10:4010")
    );
}

#[test]
fn a_reinvite_from_the_callee_reaches_the_caller_on_its_dialog() {
    let mut answered = call();
    let b_offer = sdp("192.0.2.20", 5000, 2, "sendonly");
    let text = b_request(
        "INVITE",
        1,
        &answered.b_tag,
        &answered.b_call_id,
        "z9hG4bKb-re1",
        "",
        Some(&b_offer),
    );
    answered.call.b_sends(10_000, PHONE_B1, &text);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let relayed = &sent[0];
    assert!(relayed.is_request("INVITE") && relayed.to_a());
    assert_eq!(
        relayed.request().uri().to_string(),
        "sip:1000@192.0.2.10:5060"
    );
    assert_eq!(relayed.call_id(), "a-call@192.0.2.10");
    assert_eq!(
        relayed.tag_in_from().as_deref(),
        Some(answered.a_tag.as_str())
    );
    assert_eq!(relayed.to_tag().as_deref(), Some("atag"));
    assert_eq!(
        relayed.header(HeaderName::Route).unwrap(),
        "<sip:proxy-a.example;lr>"
    );
    assert_eq!(relayed.header(HeaderName::CSeq).unwrap(), "1 INVITE");
    let offer = relayed.sdp();
    assert_eq!(offer.media[0].port, 20000);
    assert_eq!(offer.origin.session_version, 2);
    assert!(!relayed.text().contains("192.0.2.20"));
    let events = answered.call.take_events();
    assert!(remote_media(&events, LegSide::B)[0].2, "B is on hold");
    let answer = sdp("192.0.2.10", 4000, 2, "recvonly");
    let request = relayed.request().clone();
    answered.call.respond(
        10_050,
        reply(&request, 200, "atag", "1000@192.0.2.10:5060", Some(&answer)),
    );
    let sent = answered.call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ack = sent.iter().find(|s| s.is_request("ACK")).unwrap();
    assert!(ack.to_a());
    assert_eq!(ack.header(HeaderName::CSeq).unwrap(), "1 ACK");
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok.to_phone(PHONE_B1));
    assert_eq!(ok.sdp().media[0].port, 20002);
    assert!(!ok.text().contains("192.0.2.10"));
}

#[test]
fn malformed_and_stray_messages_are_answered_or_dropped_without_panic() {
    let mut answered = call();
    let tag = answered.a_tag.clone();
    let bad_sdp = a_request(
        "INVITE",
        11,
        &tag,
        "z9hG4bKa-bad",
        "",
        Some("v=0\nnonsense\n"),
    );
    answered.call.a_sends(10_000, &bad_sdp);
    assert_eq!(answered.call.take()[0].status(), Some(400));
    let no_cseq =
        a_request("INFO", 12, &tag, "z9hG4bKa-nocseq", "", None).replace("CSeq: 12 INFO\n", "");
    answered.call.a_sends(10_001, &no_cseq);
    let old_cseq = a_request("INFO", 1, &tag, "z9hG4bKa-old", "", None);
    answered.call.a_sends(10_002, &old_cseq);
    assert_eq!(
        answered.call.take().last().unwrap().status(),
        Some(500),
        "RFC 3261 §12.2.2"
    );
    let ack_without_dialog = a_request("ACK", 99, &tag, "z9hG4bKa-stray", "", None);
    answered.call.a_sends(10_003, &ack_without_dialog);
    let stray = Response::new(StatusCode::OK);
    answered.call.respond(10_004, stray);
    let mut wrong_branch = reply(
        &request(&invite_text("", None)),
        200,
        "x",
        "x@192.0.2.99",
        None,
    );
    wrong_branch.headers_mut().set(HeaderName::CSeq, "1 INVITE");
    answered.call.respond(10_005, wrong_branch);
    let new_invite = invite_text("", None).replace("z9hG4bKa1", "z9hG4bKa-other");
    answered.call.a_sends(10_006, &new_invite);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].status(), Some(482), "a merged INVITE");
    assert!(!answered.call.m.is_ended());
}
