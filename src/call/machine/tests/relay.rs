//! Relayed re-INVITEs: provisional responses passed back, CANCEL waiting for the other
//! side's first provisional response, Timer C, and a second offer while one is pending.

use super::basic::{Answered, answered_call};
use super::*;

fn call() -> Answered {
    let mut answered = answered_call(Call::start());
    answered.call.take();
    answered.call.take_events();
    answered
}

/// The caller's re-INVITE number `cseq` (branch `z9hG4bKa-re<cseq>`) with a new offer.
fn caller_reinvite(answered: &Answered, cseq: u32, version: u32) -> String {
    let body = sdp("192.0.2.10", 4000, version, "sendonly");
    a_request(
        "INVITE",
        cseq,
        &answered.a_tag,
        &format!("z9hG4bKa-re{cseq}"),
        "",
        Some(&body),
    )
}

/// Sends the caller's re-INVITE and returns what the callee got.
fn relay_reinvite(answered: &mut Answered, ms: u64, cseq: u32, version: u32) -> Request {
    let text = caller_reinvite(answered, cseq, version);
    answered.call.a_sends(ms, &text);
    let sent = answered.call.take();
    let relayed = sent.iter().find(|s| s.is_request("INVITE")).unwrap();
    assert!(relayed.to_phone(PHONE_B1));
    relayed.request().clone()
}

/// The caller's CANCEL of its re-INVITE number `cseq` (same branch, RFC 3261 §9.1).
fn caller_cancel(answered: &Answered, cseq: u32) -> String {
    a_request(
        "CANCEL",
        cseq,
        &answered.a_tag,
        &format!("z9hG4bKa-re{cseq}"),
        "",
        None,
    )
}

#[test]
fn ringing_and_early_media_of_a_relayed_reinvite_reach_the_caller_rewritten() {
    let mut answered = call();
    let relayed = relay_reinvite(&mut answered, 10_000, 11, 2);
    let call = &mut answered.call;
    call.respond(10_010, reply(&relayed, 100, "", "", None));
    assert!(
        call.take().is_empty(),
        "100 Trying stays on the callee's side"
    );
    call.respond(
        10_020,
        reply(&relayed, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let ringing = &sent[0];
    assert!(ringing.to_a());
    assert_eq!(ringing.status(), Some(180));
    assert_eq!(ringing.header(HeaderName::CSeq).unwrap(), "11 INVITE");
    assert_eq!(ringing.to_tag().as_deref(), Some(answered.a_tag.as_str()));
    assert!(ringing.message.body().is_empty());
    assert!(!ringing.text().contains("btag1"));

    let early = sdp("192.0.2.20", 5000, 2, "recvonly");
    call.respond(
        10_030,
        reply(&relayed, 183, "btag1", "b1@192.0.2.20:5060", Some(&early)),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let progress = &sent[0];
    assert_eq!(progress.status(), Some(183));
    assert!(progress.to_a());
    let answer = progress.sdp();
    assert_eq!(answer.connection.as_ref().unwrap().address, "203.0.113.1");
    assert_eq!(answer.media[0].port, 20000);
    assert!(!progress.text().contains("192.0.2.20"));
    let version = answer.origin.session_version;

    call.respond(
        10_040,
        reply(&relayed, 200, "btag1", "b1@192.0.2.20:5060", Some(&early)),
    );
    let sent = call.take();
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok.to_a());
    assert_eq!(
        ok.sdp().origin.session_version,
        version,
        "the same answer keeps its version (RFC 3264 §8)"
    );
}

#[test]
fn a_cancelled_reinvite_gets_its_cancel_towards_the_callee_after_the_callees_first_1xx() {
    let mut answered = call();
    let relayed = relay_reinvite(&mut answered, 10_000, 11, 2);
    let cancel = caller_cancel(&answered, 11);
    answered.call.a_sends(10_100, &cancel);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().all(|s| s.to_a()), "no CANCEL before a 1xx");
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert_eq!(ok.header(HeaderName::CSeq).unwrap(), "11 CANCEL");
    let terminated = sent.iter().find(|s| s.status() == Some(487)).unwrap();
    assert_eq!(terminated.header(HeaderName::CSeq).unwrap(), "11 INVITE");
    let events = answered.call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A).last(),
        Some(&(addr("192.0.2.10:4000"), addr("192.0.2.10:4001"), false)),
        "the caller's media is as before its offer: {events:?}"
    );

    // While the callee's INVITE is still open, a new offer cannot go there.
    let next = caller_reinvite(&answered, 12, 3);
    answered.call.a_sends(10_150, &next);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(491));

    answered
        .call
        .respond(10_200, reply(&relayed, 100, "", "", None));
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let cancel = &sent[0];
    assert!(cancel.is_request("CANCEL") && cancel.to_phone(PHONE_B1));
    assert_eq!(
        cancel.request().headers().top_via().unwrap(),
        relayed.headers().top_via().unwrap()
    );
    assert_eq!(cancel.header(HeaderName::CSeq).unwrap(), "2 CANCEL");
    assert_eq!(cancel.to_tag().as_deref(), Some("btag1"));

    answered
        .call
        .respond(10_300, reply(&relayed, 487, "btag1", "", None));
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].is_request("ACK") && sent[0].to_phone(PHONE_B1));
    let relayed = relay_reinvite(&mut answered, 13_000, 13, 3);
    assert_eq!(relayed.headers().cseq().unwrap().seq, 3);
}

#[test]
fn a_cancel_after_the_callees_1xx_is_sent_at_once() {
    let mut answered = call();
    let relayed = relay_reinvite(&mut answered, 10_000, 11, 2);
    answered.call.respond(
        10_050,
        reply(&relayed, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    answered.call.take();
    let cancel = caller_cancel(&answered, 11);
    answered.call.a_sends(10_100, &cancel);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(
        sent.iter()
            .any(|s| s.is_request("CANCEL") && s.to_phone(PHONE_B1))
    );
    assert!(sent.iter().any(|s| s.status() == Some(487) && s.to_a()));
}

#[test]
fn a_relayed_reinvite_left_ringing_gets_408_and_a_cancel_after_timer_c() {
    let mut answered = call();
    let relayed = relay_reinvite(&mut answered, 10_000, 11, 2);
    answered.call.respond(
        10_050,
        reply(&relayed, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    answered.call.take();
    answered.call.run_until(191_049);
    assert!(answered.call.take().is_empty());
    answered.call.run_until(191_050);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let timeout = sent.iter().find(|s| s.to_a()).unwrap();
    assert_eq!(timeout.status(), Some(408));
    assert_eq!(timeout.header(HeaderName::CSeq).unwrap(), "11 INVITE");
    assert!(
        sent.iter()
            .any(|s| s.is_request("CANCEL") && s.to_phone(PHONE_B1))
    );
    assert!(!answered.call.m.is_ended(), "only the re-INVITE failed");
    // The callee never answers the CANCEL's INVITE: 64*T1 later offers may go again.
    answered.call.run_until(223_050);
    answered.call.take();
    let relayed = relay_reinvite(&mut answered, 224_000, 12, 3);
    assert_eq!(relayed.headers().cseq().unwrap().seq, 3);
    assert!(
        answered
            .call
            .take_events()
            .iter()
            .all(|e| !matches!(e, CallEvent::Ended(_)))
    );
}

#[test]
fn a_reinvite_from_the_caller_while_the_callee_is_still_answering_the_last_gets_491() {
    let mut answered = call();
    let relayed = relay_reinvite(&mut answered, 10_000, 11, 2);
    answered.call.respond(
        10_050,
        reply(&relayed, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    answered.call.take();
    let second = caller_reinvite(&answered, 12, 3);
    answered.call.a_sends(10_100, &second);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].to_a());
    assert_eq!(sent[0].status(), Some(491));
    assert_eq!(sent[0].header(HeaderName::CSeq).unwrap(), "12 INVITE");
    // The first one still completes.
    answered.call.respond(
        10_200,
        reply(
            &relayed,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 2, "recvonly")),
        ),
    );
    let sent = answered.call.take();
    let ok = sent.iter().find(|s| s.to_a()).unwrap();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.header(HeaderName::CSeq).unwrap(), "11 INVITE");
}
