//! Parallel forking: one INVITE per target, the first 2xx wins, CANCEL for the rest.

use super::*;

fn invites(sent: &[Sent]) -> (Request, Request) {
    let invites: Vec<&Sent> = sent.iter().filter(|s| s.is_request("INVITE")).collect();
    assert_eq!(invites.len(), 2);
    assert!(invites[0].to_phone(PHONE_B1));
    assert!(invites[1].to_phone(PHONE_B2));
    (invites[0].request().clone(), invites[1].request().clone())
}

#[test]
fn forked_invites_share_call_id_from_tag_and_cseq_but_not_the_branch() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1, PHONE_B2]);
    let (one, two) = invites(&call.take());
    let h1 = one.headers();
    let h2 = two.headers();
    assert_eq!(h1.call_id().unwrap(), h2.call_id().unwrap());
    assert_eq!(h1.from().unwrap().tag(), h2.from().unwrap().tag());
    assert_eq!(h1.cseq().unwrap(), h2.cseq().unwrap());
    assert_ne!(
        h1.top_via().unwrap().branch(),
        h2.top_via().unwrap().branch()
    );
    assert_eq!(one.uri().to_string(), "sip:1001-0@192.0.2.20:5060");
    assert_eq!(two.uri().to_string(), "sip:1001-1@192.0.2.30:5062");
}

#[test]
fn second_branch_gets_cancel_after_the_first_answers_and_a_late_2xx_gets_ack_and_bye() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1, PHONE_B2]);
    let (one, two) = invites(&call.take());
    call.respond(300, reply(&two, 180, "btag2", "b2@192.0.2.30:5062", None));
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(180));
    call.respond(
        1000,
        reply(
            &one,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = call.take();
    let cancel = sent.iter().find(|s| s.is_request("CANCEL")).unwrap();
    assert!(cancel.to_phone(PHONE_B2));
    assert_eq!(cancel.request().uri(), two.uri());
    assert_eq!(
        cancel.request().headers().top_via().unwrap(),
        two.headers().top_via().unwrap(),
        "RFC 3261 §9.1: the CANCEL repeats the INVITE's Via"
    );
    assert_eq!(cancel.header(HeaderName::CSeq).unwrap(), "1 CANCEL");
    assert_eq!(cancel.to_tag(), None);
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    assert!(sent.iter().any(|s| s.status() == Some(200) && s.to_a()));
    assert_eq!(sent.len(), 3, "{sent:?}");

    // B2 answered before it saw the CANCEL: ACK and BYE it (RFC 3261 §13.2.2.4).
    let late = reply(
        &two,
        200,
        "btag2",
        "b2@192.0.2.30:5062",
        Some(&sdp("192.0.2.30", 6000, 1, "")),
    );
    call.respond(1100, late.clone());
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ack = sent.iter().find(|s| s.is_request("ACK")).unwrap();
    let bye = sent.iter().find(|s| s.is_request("BYE")).unwrap();
    for s in [ack, bye] {
        assert!(s.to_phone(PHONE_B2));
        assert_eq!(s.to_tag().as_deref(), Some("btag2"));
        assert_eq!(s.request().uri().to_string(), "sip:b2@192.0.2.30:5062");
    }
    let events = call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::B).len(),
        1,
        "the loser's SDP is not used"
    );
    // Its retransmission gets the same ACK and no second BYE.
    call.respond(1600, late);
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text(), ack.text());
}

#[test]
fn a_branch_without_a_provisional_response_gets_its_cancel_after_its_first_1xx() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1, PHONE_B2]);
    let (one, two) = invites(&call.take());
    call.respond(
        1000,
        reply(
            &one,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("CANCEL")), "{sent:?}");
    call.respond(1200, reply(&two, 100, "", "", None));
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].is_request("CANCEL") && sent[0].to_phone(PHONE_B2));
    // B2's 487 is acknowledged by its transaction; the caller hears nothing of it.
    call.respond(1300, reply(&two, 487, "btag2", "", None));
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].is_request("ACK") && sent[0].to_phone(PHONE_B2));
    assert_eq!(sent[0].header(HeaderName::CSeq).unwrap(), "1 ACK");
}

#[test]
fn provisional_responses_with_early_media_reach_the_caller_rewritten() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        400,
        reply(
            &invite,
            183,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(183));
    let early = sent[0].sdp();
    assert_eq!(early.connection.as_ref().unwrap().address, "203.0.113.1");
    assert_eq!(early.media[0].port, 20000);
    let events = call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::B),
        vec![(addr("192.0.2.20:5000"), addr("192.0.2.20:5001"), false)]
    );
    // A second bodiless 180 after a first is not repeated.
    call.respond(
        500,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    call.respond(
        600,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    assert_eq!(call.take().len(), 1);
}

#[test]
fn a_branch_answering_422_is_retried_with_its_min_se() {
    let mut s = settings();
    s.session_expires = Some(std::time::Duration::from_secs(300));
    let mut call = Call::with(
        &invite_text("", Some(&sdp("192.0.2.10", 4000, 1, ""))),
        s,
        anchored(),
    );
    call.take();
    call.dial(100, &[PHONE_B1]);
    let first = call.take()[0].request().clone();
    assert_eq!(
        first
            .headers()
            .get(HeaderName::SessionExpires)
            .unwrap()
            .as_bytes(),
        b"300"
    );
    let mut too_small = reply(&first, 422, "btag1", "", None);
    too_small.headers_mut().push(HeaderName::MinSe, "600");
    call.respond(200, too_small);
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let retry = sent.iter().find(|s| s.is_request("INVITE")).unwrap();
    assert_eq!(retry.header(HeaderName::SessionExpires).unwrap(), "600");
    assert_eq!(retry.header(HeaderName::CSeq).unwrap(), "2 INVITE");
    assert_eq!(retry.call_id(), first.headers().call_id().unwrap());
    assert_ne!(
        retry.request().headers().top_via().unwrap().branch(),
        first.headers().top_via().unwrap().branch()
    );
    assert!(
        sent.iter().all(|s| !s.to_a()),
        "the caller hears nothing of it"
    );
    let retry = retry.request().clone();
    let mut ok = reply(
        &retry,
        200,
        "btag1",
        "b1@192.0.2.20:5060",
        Some(&sdp("192.0.2.20", 5000, 1, "")),
    );
    ok.headers_mut()
        .push(HeaderName::SessionExpires, "600;refresher=uas");
    call.respond(400, ok);
    let sent = call.take();
    let ack = sent.iter().find(|s| s.is_request("ACK")).unwrap();
    assert_eq!(ack.header(HeaderName::CSeq).unwrap(), "2 ACK");
}
