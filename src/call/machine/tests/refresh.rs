//! RFC 4028 refreshes beyond the basics: the switch's re-INVITE refresh that rings without a
//! final answer, and the callee as the refresher of its leg.

use std::time::Duration;

use super::basic::{Answered, answered_call};
use super::*;
use crate::call::record::HangupSide;

fn timed(session_expires: Option<u64>) -> Answered {
    let mut s = settings();
    s.session_expires = session_expires.map(Duration::from_secs);
    let call = Call::with(
        &invite_text("", Some(&sdp("192.0.2.10", 4000, 1, ""))),
        s,
        anchored(),
    );
    let mut answered = answered_call(call);
    answered.call.take();
    answered
}

#[test]
fn a_refresh_reinvite_that_rings_and_never_gets_a_final_answer_ends_the_call() {
    // Interval 120 s, answered at 2 s: both legs are refreshed at 62 s; the guard on B's
    // re-INVITE is the interval, shorter than Timer C.
    let mut answered = timed(Some(120));
    answered.call.run_until(62_000);
    let sent = answered.call.take();
    let update = sent.iter().find(|s| s.is_request("UPDATE")).unwrap();
    let reinvite = sent.iter().find(|s| s.is_request("INVITE")).unwrap();
    assert!(reinvite.to_phone(PHONE_B1));
    answered.call.respond(
        62_040,
        reply(update.request(), 200, "atag", "1000@192.0.2.10:5060", None),
    );
    answered.call.respond(
        62_050,
        reply(reinvite.request(), 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    answered.call.run_until(181_999);
    let sent = answered.call.take();
    assert!(sent.iter().all(|s| !s.is_request("BYE")), "{sent:?}");
    assert!(answered.call.take_events().is_empty());
    answered.call.run_until(182_000);
    let sent = answered.call.take();
    assert_eq!(
        sent.iter().filter(|s| s.is_request("BYE")).count(),
        2,
        "{sent:?}"
    );
    let events = answered.call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "session_timeout");
    assert_eq!(record.hangup.side, HangupSide::Switch);
    // Finished within 64*T1 even though the re-INVITE never completes.
    answered.call.run_until(182_000 + 32_000);
    assert_eq!(count_finished(&answered.call.take_events()), 1);
    assert_eq!(answered.call.m.poll_timeout(), None);
}

#[test]
fn a_refresh_reinvite_with_a_long_interval_gives_up_after_timer_c() {
    let mut answered = timed(Some(1800));
    answered.call.run_until(902_000);
    let sent = answered.call.take();
    let update = sent.iter().find(|s| s.is_request("UPDATE")).unwrap();
    let reinvite = sent.iter().find(|s| s.is_request("INVITE")).unwrap();
    answered.call.respond(
        902_040,
        reply(update.request(), 200, "atag", "1000@192.0.2.10:5060", None),
    );
    answered
        .call
        .respond(902_050, reply(reinvite.request(), 100, "", "", None));
    answered.call.run_until(902_000 + 180_999);
    assert!(answered.call.take().iter().all(|s| !s.is_request("BYE")));
    answered.call.run_until(902_000 + 181_000);
    assert_eq!(
        answered
            .call
            .take()
            .iter()
            .filter(|s| s.is_request("BYE"))
            .count(),
        2
    );
    let events = answered.call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "session_timeout");
}

/// A call whose callee's 2xx makes the callee the refresher of the B leg (interval 120 s;
/// the switch asked for nothing and the caller has no timer).
fn callee_refreshes() -> Answered {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    assert!(invite.headers().get(HeaderName::SessionExpires).is_none());
    let mut ok = reply(
        &invite,
        200,
        "btag1",
        "b1@192.0.2.20:5060",
        Some(&sdp("192.0.2.20", 5000, 1, "")),
    );
    ok.headers_mut()
        .push(HeaderName::SessionExpires, "120;refresher=uas");
    ok.headers_mut().push(HeaderName::Require, "timer");
    call.respond(2000, ok);
    let sent = call.take();
    let a_ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(
        a_ok.header(HeaderName::SessionExpires).is_none(),
        "the caller's leg has no timer"
    );
    let a_tag = a_ok.to_tag().unwrap();
    let b_tag = invite.headers().from().unwrap().tag().unwrap().to_owned();
    let b_call_id = invite.headers().call_id().unwrap().to_owned();
    call.a_sends(
        2100,
        &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", None),
    );
    call.take();
    call.take_events();
    Answered {
        call,
        a_tag,
        b_tag,
        b_call_id,
    }
}

#[test]
fn the_callee_as_refresher_keeps_the_call_up_with_each_refresh() {
    let mut answered = callee_refreshes();
    // RFC 4028 §10: without a refresh the session would expire at 2 + 120 - 32 = 90 s.
    let refresh = b_request(
        "UPDATE",
        1,
        &answered.b_tag,
        &answered.b_call_id,
        "z9hG4bKb-upd1",
        "Session-Expires: 120;refresher=uac\nSupported: timer\n",
        None,
    );
    answered.call.b_sends(60_000, PHONE_B1, &refresh);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1, "a refresh without an offer stays on its leg");
    let ok = &sent[0];
    assert!(ok.to_phone(PHONE_B1));
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        ok.header(HeaderName::SessionExpires).unwrap(),
        "120;refresher=uac"
    );
    assert_eq!(ok.header(HeaderName::Require).unwrap(), "timer");
    answered.call.run_until(139_999);
    let sent = answered.call.take();
    assert!(sent.iter().all(|s| !s.is_request("BYE")), "{sent:?}");
    assert!(!answered.call.m.is_ended());
    // A refresh without Session-Expires restarts the timer as well: expiry 88 s later.
    let refresh = b_request(
        "UPDATE",
        2,
        &answered.b_tag,
        &answered.b_call_id,
        "z9hG4bKb-upd2",
        "",
        None,
    );
    answered.call.b_sends(140_000, PHONE_B1, &refresh);
    answered.call.take();
    answered.call.run_until(227_999);
    assert!(answered.call.take().iter().all(|s| !s.is_request("BYE")));
    answered.call.run_until(228_000);
    let sent = answered.call.take();
    assert_eq!(sent.iter().filter(|s| s.is_request("BYE")).count(), 2);
    let events = answered.call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "session_timeout");
}

#[test]
fn the_call_ends_when_the_callees_refresh_never_comes() {
    let mut answered = callee_refreshes();
    answered.call.run_until(89_999);
    assert!(answered.call.take().is_empty());
    answered.call.run_until(90_000);
    let sent = answered.call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("BYE") && s.to_phone(PHONE_B1))
    );
    assert!(sent.iter().any(|s| s.is_request("BYE") && s.to_a()));
    let events = answered.call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "session_timeout");
    assert_eq!(record.hangup.side, HangupSide::Switch);
}
