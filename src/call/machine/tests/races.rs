//! Messages that cross or come late: BYE against BYE, an ACK after the end, the caller's
//! INVITE retransmitted after the call started.

use super::basic::{Answered, answered_call};
use super::*;

fn count_ended(events: &[CallEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, CallEvent::Ended(_)))
        .count()
}

#[test]
fn bye_crossing_bye_ends_the_call_once_and_both_byes_get_200() {
    let Answered {
        mut call,
        a_tag,
        b_tag,
        b_call_id,
    } = answered_call(Call::start());
    call.take();
    call.a_sends(
        5_000,
        &a_request("BYE", 11, &a_tag, "z9hG4bKa-bye", "", None),
    );
    let sent = call.take();
    let ours = sent
        .iter()
        .find(|s| s.is_request("BYE") && s.to_phone(PHONE_B1))
        .unwrap()
        .request()
        .clone();
    let ok_a = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok_a.to_a());
    // The callee hung up at the same moment: its BYE crosses ours.
    call.b_sends(
        5_010,
        PHONE_B1,
        &b_request("BYE", 1, &b_tag, &b_call_id, "z9hG4bKb-bye", "", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1, "no BYE back to the caller: {sent:?}");
    assert!(sent[0].to_phone(PHONE_B1));
    assert_eq!(sent[0].status(), Some(200));
    assert_eq!(sent[0].header(HeaderName::CSeq).unwrap(), "1 BYE");
    call.respond(5_020, reply(&ours, 200, "btag1", "", None));
    assert!(call.take().is_empty());
    call.run_until(5_000 + 32_000);
    let events = call.take_events();
    assert_eq!(count_ended(&events), 1);
    assert_eq!(count_finished(&events), 1);
    assert_eq!(call.m.poll_timeout(), None);
}

#[test]
fn an_ack_arriving_after_the_call_ended_is_absorbed() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        1_000,
        reply(
            &invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = call.take();
    let a_tag = sent
        .iter()
        .find(|s| s.status() == Some(200))
        .unwrap()
        .to_tag()
        .unwrap();
    let b_tag = invite.headers().from().unwrap().tag().unwrap().to_owned();
    let b_call_id = invite.headers().call_id().unwrap().to_owned();
    // The callee hangs up before the caller's ACK arrived.
    call.b_sends(
        1_100,
        PHONE_B1,
        &b_request("BYE", 1, &b_tag, &b_call_id, "z9hG4bKb-bye", "", None),
    );
    let sent = call.take();
    assert!(sent.iter().any(|s| s.is_request("BYE") && s.to_a()));
    assert_eq!(count_ended(&call.take_events()), 1);
    call.a_sends(
        1_200,
        &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", None),
    );
    assert!(call.take().is_empty(), "the late ACK gets nothing");
    assert!(call.take_events().is_empty());
    // Nor does an ACK for a dialog the switch never had.
    call.a_sends(
        1_300,
        &a_request("ACK", 10, "other-tag", "z9hG4bKa-ack2", "", None),
    );
    assert!(call.take().is_empty());
    // The 2xx is not retransmitted after the end.
    call.run_until(10_000);
    assert!(call.take().iter().all(|s| s.status() != Some(200)));
}

#[test]
fn a_retransmitted_invite_is_absorbed_by_the_callers_transaction() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        300,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let ringing = call.take();
    assert_eq!(ringing[0].status(), Some(180));
    let again = invite_text("", Some(&sdp("192.0.2.10", 4000, 1, "")));
    // While ringing: RFC 3261 §17.2.1, the last provisional response again.
    call.a_sends(500, &again);
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].status(), Some(180));
    assert_eq!(sent[0].text(), ringing[0].text());
    call.respond(
        1_000,
        reply(
            &invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    call.take();
    call.take_events();
    // After the 2xx (RFC 6026 Accepted): absorbed, no second call towards the callee.
    call.a_sends(1_100, &again);
    assert!(call.take().is_empty());
    assert!(call.take_events().is_empty());
    assert!(!call.m.is_ended());
}
