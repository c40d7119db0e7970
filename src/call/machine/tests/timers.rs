//! Time in a call: 2xx retransmission until the ACK, late offer, session timers, maximum
//! duration, and the end of the machine.

use std::time::Duration;

use super::basic::{Answered, answered_call};
use super::*;
use crate::call::record::HangupSide;

fn with_settings(settings: CallSettings, extra: &str) -> Call {
    Call::with(
        &invite_text(extra, Some(&sdp("192.0.2.10", 4000, 1, ""))),
        settings,
        anchored(),
    )
}

#[test]
fn the_2xx_to_the_caller_is_retransmitted_until_the_ack() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        1000,
        reply(
            &invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let first = call
        .take()
        .into_iter()
        .find(|s| s.status() == Some(200))
        .unwrap();
    let a_tag = first.to_tag().unwrap();
    call.run_until(16_000);
    let times: Vec<u64> = call
        .take()
        .iter()
        .filter(|s| s.status() == Some(200) && s.to_a())
        .map(|s| s.at_ms)
        .collect();
    // RFC 3261 §13.3.1.4: T1, doubling up to T2 (4 s).
    assert_eq!(times, vec![1500, 2500, 4500, 8500, 12_500]);
    call.a_sends(
        16_100,
        &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", None),
    );
    call.run_until(30_000);
    assert!(call.take().is_empty());
}

#[test]
fn no_ack_within_64_t1_ends_the_call_with_bye_both_ways() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        1000,
        reply(
            &invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    call.take();
    call.run_until(33_000);
    let sent = call.take();
    let byes: Vec<&Sent> = sent.iter().filter(|s| s.is_request("BYE")).collect();
    assert_eq!(byes.len(), 2, "{sent:?}");
    assert!(byes.iter().all(|s| s.at_ms == 33_000));
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "temporary_failure");
}

#[test]
fn late_offer_the_callee_offers_and_the_callers_ack_answers_it() {
    let mut call = Call::with(&invite_text("", None), settings(), anchored());
    call.take();
    assert!(call.take_events().is_empty());
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    assert!(invite.body().is_empty());
    assert!(invite.headers().content_type().is_none());
    let offer = reply(
        &invite,
        200,
        "btag1",
        "b1@192.0.2.20:5060",
        Some(&sdp("192.0.2.20", 5000, 1, "")),
    );
    call.respond(1000, offer.clone());
    let sent = call.take();
    assert_eq!(
        sent.len(),
        1,
        "no ACK to B before the caller's answer: {sent:?}"
    );
    let ok = &sent[0];
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.sdp().media[0].port, 20000);
    // A retransmitted 2xx from B before the caller answered: still nothing to send B.
    call.respond(1500, offer.clone());
    assert!(call.take().iter().all(|s| !s.is_request("ACK")));
    let a_tag = ok.to_tag().unwrap();
    let answer = sdp("192.0.2.10", 4000, 1, "");
    call.a_sends(
        1600,
        &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", Some(&answer)),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    let ack = &sent[0];
    assert!(ack.is_request("ACK") && ack.to_phone(PHONE_B1));
    assert_eq!(ack.sdp().media[0].port, 20002);
    assert_eq!(
        ack.sdp().connection.as_ref().unwrap().address,
        "203.0.113.1"
    );
    let events = call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A)[0].0,
        addr("192.0.2.10:4000")
    );
    // B's next retransmission gets the same ACK.
    call.respond(2500, offer);
    let again = call.take();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].text(), ack.text());
}

fn timed(settings: CallSettings, extra: &str) -> Answered {
    let mut answered = answered_call(with_settings(settings, extra));
    answered.call.take();
    answered
}

#[test]
fn the_switch_refreshes_each_leg_at_half_the_interval() {
    let mut s = settings();
    s.session_expires = Some(Duration::from_secs(1800));
    let mut answered = timed(s, "");
    // Answered at 2 s: the caller sent no Session-Expires, so the switch refreshes A with
    // UPDATE (A allows it) and B, whose 2xx had none, with a re-INVITE.
    answered.call.run_until(901_999);
    assert!(answered.call.take().is_empty());
    answered.call.run_until(902_000);
    let sent = answered.call.take();
    let update = sent.iter().find(|s| s.is_request("UPDATE")).unwrap();
    assert!(update.to_a());
    assert_eq!(
        update.header(HeaderName::SessionExpires).unwrap(),
        "1800;refresher=uac"
    );
    let reinvite = sent.iter().find(|s| s.is_request("INVITE")).unwrap();
    assert!(reinvite.to_phone(PHONE_B1));
    assert_eq!(reinvite.sdp().media[0].port, 20002);
    assert_eq!(
        reinvite.sdp().origin.session_version,
        1,
        "same SDP as before"
    );
    answered.call.respond(
        902_050,
        reply(update.request(), 200, "atag", "1000@192.0.2.10:5060", None),
    );
    answered.call.respond(
        902_060,
        reply(
            reinvite.request(),
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].is_request("ACK") && sent[0].to_phone(PHONE_B1));
    // Both sessions were refreshed: the next refreshes come 900 s later.
    answered.call.run_until(1_802_059);
    let sent = answered.call.take();
    assert_eq!(
        sent.iter().filter(|s| s.is_request("UPDATE")).count(),
        1,
        "{sent:?}"
    );
    answered.call.run_until(1_802_060);
    let sent = answered.call.take();
    assert_eq!(
        sent.iter().filter(|s| s.is_request("INVITE")).count(),
        1,
        "{sent:?}"
    );
}

#[test]
fn a_failed_refresh_ends_the_call() {
    let mut s = settings();
    s.session_expires = Some(Duration::from_secs(1800));
    let mut answered = timed(s, "");
    answered.call.run_until(902_000);
    let sent = answered.call.take();
    let update = sent.iter().find(|s| s.is_request("UPDATE")).unwrap();
    answered
        .call
        .respond(902_050, reply(update.request(), 481, "atag", "", None));
    let sent = answered.call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("BYE") && s.to_phone(PHONE_B1)),
        "{sent:?}"
    );
    let events = answered.call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "session_timeout");
    assert_eq!(record.hangup.side, HangupSide::Switch);
}

#[test]
fn the_call_ends_when_the_callers_refresh_never_comes() {
    let mut answered = timed(settings(), "Session-Expires: 120;refresher=uac\n");
    // RFC 4028 §10: expiry at 120 - min(32, 40) = 88 s after the 2xx at 2 s.
    answered.call.run_until(89_999);
    assert!(answered.call.take().is_empty());
    answered.call.run_until(90_000);
    let sent = answered.call.take();
    assert_eq!(
        sent.iter().filter(|s| s.is_request("BYE")).count(),
        2,
        "{sent:?}"
    );
    assert_eq!(
        Call::record(&answered.call.take_events()).hangup.cause,
        "session_timeout"
    );
}

#[test]
fn a_refresh_from_the_caller_keeps_the_call_up_and_the_2xx_names_the_caller_refresher() {
    let mut answered = timed(settings(), "Session-Expires: 120;refresher=uac\n");
    let body = sdp("192.0.2.10", 4000, 1, "");
    let refresh = a_request(
        "INVITE",
        11,
        &answered.a_tag,
        "z9hG4bKa-ref",
        "Session-Expires: 120;refresher=uac\nSupported: timer\n",
        Some(&body),
    );
    answered.call.a_sends(60_000, &refresh);
    let sent = answered.call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header(HeaderName::SessionExpires).unwrap(),
        "120;refresher=uac"
    );
    assert_eq!(sent[0].header(HeaderName::Require).unwrap(), "timer");
    answered.call.a_sends(
        60_050,
        &a_request("ACK", 11, &answered.a_tag, "z9hG4bKa-ack", "", None),
    );
    answered.call.run_until(147_999);
    assert!(answered.call.take().iter().all(|s| !s.is_request("BYE")));
    answered.call.run_until(148_000);
    assert!(answered.call.take().iter().any(|s| s.is_request("BYE")));
}

#[test]
fn the_caller_2xx_carries_the_negotiated_session_timer() {
    let mut call = with_settings(settings(), "Session-Expires: 600\n");
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    assert!(
        invite.headers().get(HeaderName::SessionExpires).is_none(),
        "timers off for B"
    );
    call.respond(
        1000,
        reply(
            &invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let ok = call
        .take()
        .into_iter()
        .find(|s| s.status() == Some(200))
        .unwrap();
    assert_eq!(
        ok.header(HeaderName::SessionExpires).unwrap(),
        "600;refresher=uac"
    );
    assert_eq!(ok.header(HeaderName::Require).unwrap(), "timer");
}

#[test]
fn max_duration_ends_the_call_with_bye_both_ways() {
    let mut s = settings();
    s.max_duration = Some(Duration::from_secs(60));
    let mut answered = timed(s, "");
    answered.call.run_until(61_999);
    assert!(answered.call.take().is_empty());
    answered.call.run_until(62_000);
    let sent = answered.call.take();
    assert_eq!(sent.iter().filter(|s| s.is_request("BYE")).count(), 2);
    let events = answered.call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "max_duration");
    assert_eq!(record.billable_secs(), 60);
}

#[test]
fn ended_is_emitted_once_and_finished_follows_when_transactions_are_done() {
    let Answered {
        mut call, a_tag, ..
    } = answered_call(Call::start());
    call.a_sends(
        5_000,
        &a_request("BYE", 11, &a_tag, "z9hG4bKa-bye", "", None),
    );
    let bye = call
        .take()
        .into_iter()
        .find(|s| s.is_request("BYE"))
        .unwrap();
    call.hangup(5_001, crate::call::HangupCause::SystemShutdown);
    call.a_sends(
        5_002,
        &a_request("BYE", 11, &a_tag, "z9hG4bKa-bye", "", None),
    );
    call.respond(5_050, reply(bye.request(), 200, "btag1", "", None));
    let mut events = call.take_events();
    // Server transaction of A's BYE lives Timer J (32 s over UDP).
    call.run_until(37_001);
    events.extend(call.take_events());
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, CallEvent::Ended(_)))
            .count(),
        1
    );
    assert_eq!(count_finished(&events), 1);
    assert!(matches!(events.last(), Some(CallEvent::Finished)));
    assert_eq!(call.m.poll_timeout(), None);
}
