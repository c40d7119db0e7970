//! Calls that are never answered: refusals, busy, decline, timeouts, CANCEL, hang-up.

use super::*;
use crate::call::HangupCause;
use crate::call::record::{HangupSide, LegSide};

fn one_final_to_a(sent: &[Sent]) -> &Sent {
    let finals: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.to_a() && s.status().is_some_and(|c| c >= 200))
        .collect();
    assert_eq!(finals.len(), 1, "{sent:?}");
    finals[0]
}

#[test]
fn busy_callee_gives_the_caller_486() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(500, reply(&invite, 486, "btag1", "", None));
    let sent = call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    let busy = one_final_to_a(&sent);
    assert_eq!(busy.status(), Some(486));
    assert!(busy.to_tag().is_some());
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "user_busy");
    assert_eq!(record.hangup.sip_status, 486);
    assert_eq!(record.hangup.q850, 17);
    assert_eq!(record.hangup.side, HangupSide::Callee);
    assert_eq!(record.legs[0].final_status, Some(486));
    assert_eq!(record.legs[1].final_status, Some(486));
    assert_eq!(record.answered_at, None);
    // The caller's ACK for the 486 is absorbed by its INVITE transaction.
    let ack = invite_text("", None)
        .replacen("INVITE sip:", "ACK sip:", 1)
        .replace("10 INVITE", "10 ACK");
    call.a_sends(600, &ack);
    assert!(call.take().is_empty());
    call.run_until(40_000);
    let events = call.take_events();
    assert_eq!(count_finished(&events), 1);
}

#[test]
fn decline_from_one_of_two_branches_ends_the_call_at_once() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1, PHONE_B2]);
    let sent = call.take();
    let two = sent[1].request().clone();
    let one = sent[0].request().clone();
    call.respond(200, reply(&one, 180, "btag1", "b1@192.0.2.20:5060", None));
    call.respond(300, reply(&two, 180, "btag2", "b2@192.0.2.30:5062", None));
    call.take();
    call.respond(900, reply(&one, 603, "btag1", "", None));
    let sent = call.take();
    assert_eq!(one_final_to_a(&sent).status(), Some(603));
    assert!(
        sent.iter()
            .any(|s| s.is_request("CANCEL") && s.to_phone(PHONE_B2))
    );
    assert!(
        !sent
            .iter()
            .any(|s| s.is_request("CANCEL") && s.to_phone(PHONE_B1))
    );
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "call_rejected");
}

#[test]
fn the_caller_gets_the_best_failure_once_every_branch_failed() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1, PHONE_B2]);
    let sent = call.take();
    let (one, two) = (sent[0].request().clone(), sent[1].request().clone());
    call.respond(200, reply(&one, 503, "btag1", "", None));
    assert!(call.take().iter().all(|s| !s.to_a()), "one branch left");
    call.respond(300, reply(&two, 480, "btag2", "", None));
    assert_eq!(one_final_to_a(&call.take()).status(), Some(480));
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "no_answer");
}

#[test]
fn ring_timeout_cancels_every_branch_and_gives_480() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        300,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    call.take();
    call.run_until(60_099);
    assert!(call.take().is_empty());
    call.run_until(60_100);
    let sent = call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("CANCEL") && s.to_phone(PHONE_B1))
    );
    assert_eq!(one_final_to_a(&sent).status(), Some(480));
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "no_answer");
    assert_eq!(record.hangup.side, HangupSide::Switch);
}

#[test]
fn caller_cancel_sends_487_and_cancels_branches() {
    let mut call = Call::start();
    let a_tag_source = call.take();
    assert_eq!(a_tag_source.len(), 1);
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        300,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let a_tag = call.take()[0].to_tag().unwrap();
    let cancel = invite_text("", None)
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("10 INVITE", "10 CANCEL");
    call.a_sends(1000, &cancel);
    let sent = call.take();
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert_eq!(ok.header(HeaderName::CSeq).unwrap(), "10 CANCEL");
    assert_eq!(ok.to_tag().as_deref(), Some(a_tag.as_str()));
    let terminated = sent.iter().find(|s| s.status() == Some(487)).unwrap();
    assert!(terminated.to_a());
    assert_eq!(terminated.header(HeaderName::CSeq).unwrap(), "10 INVITE");
    assert!(
        sent.iter()
            .any(|s| s.is_request("CANCEL") && s.to_phone(PHONE_B1))
    );
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "originator_cancel");
    assert_eq!(record.hangup.side, HangupSide::Caller);
    assert_eq!(record.hangup.sip_status, 487);
    let b_leg = record.legs.iter().find(|l| l.side == LegSide::B).unwrap();
    assert_eq!(
        b_leg.final_status,
        Some(487),
        "the cancelled branch is recorded as 487"
    );
    // B1's 487 after the end changes nothing but is acknowledged.
    call.respond(1100, reply(&invite, 487, "btag1", "", None));
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].is_request("ACK"));
    assert!(call.take_events().is_empty());
}

#[test]
fn timer_b_on_every_branch_gives_the_caller_408() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1, PHONE_B2]);
    call.run_until(32_099);
    assert!(
        call.take().iter().all(|s| s.is_request("INVITE")),
        "only retransmissions"
    );
    call.run_until(32_100);
    let sent = call.take();
    assert_eq!(one_final_to_a(&sent).status(), Some(408));
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "no_user_response");
    assert_eq!(record.legs[1].final_status, Some(408));
    assert_eq!(record.legs[2].final_status, Some(408));
}

#[test]
fn the_invite_retransmissions_and_timer_b_are_counted_for_the_metrics() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let first = call.m.take_transaction_counts();
    assert_eq!(
        first.requests_resent, 0,
        "the first INVITE is no retransmission"
    );
    call.run_until(32_100);
    let sent = call.take();
    let invites = sent.iter().filter(|s| s.is_request("INVITE")).count();
    let counts = call.m.take_transaction_counts();
    // RFC 3261 §17.1.1.2: Timer A doubles from T1 (500 ms) until Timer B (64*T1).
    assert_eq!(counts.requests_resent as usize, invites - 1);
    assert!(counts.requests_resent >= 6, "{counts:?}");
    assert_eq!(counts.timeouts, [sip_core::transaction::Timer::B]);
    assert_eq!(call.m.take_transaction_counts(), Default::default());
}

#[test]
fn a_retransmitted_invite_counts_as_absorbed_and_an_ack_does_not() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        300,
        reply(&invite, 486, "btag1", "b1@192.0.2.20:5060", None),
    );
    let busy = call.take();
    let final_to_a = one_final_to_a(&busy).clone();
    call.a_sends(500, &invite_text("", Some(&sdp("192.0.2.10", 4000, 1, ""))));
    assert_eq!(call.m.take_transaction_counts().requests_absorbed, 1);
    let ack = format!(
        "ACK sip:1001@192.0.2.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1\n\
         Max-Forwards: 70\n\
         From: \"Alice\" <sip:1000@192.0.2.1>;tag=atag\n\
         To: <sip:1001@192.0.2.1>;tag={}\n\
         Call-ID: a-call@192.0.2.10\n\
         CSeq: 10 ACK\n\
         Content-Length: 0\n\n",
        final_to_a.to_tag().unwrap_or_default()
    );
    call.a_sends(600, &ack);
    assert_eq!(call.m.take_transaction_counts().requests_absorbed, 0);
}

#[test]
fn reject_and_an_empty_dial_answer_the_caller_with_the_cause_status() {
    let mut call = Call::start();
    call.take();
    call.m.reject(call.at(10), HangupCause::UnallocatedNumber);
    call.collect(10);
    call.dial(20, &[PHONE_B1]);
    let sent = call.take();
    let events = call.take_events();
    assert_eq!(one_final_to_a(&sent).status(), Some(404));
    assert!(
        !sent.iter().any(|s| s.is_request("INVITE")),
        "no dialling after the end"
    );
    let record = Call::record(&events);
    assert_eq!(record.hangup.side, HangupSide::Switch);
    assert_eq!(record.legs.len(), 1);

    let mut call = Call::start();
    call.take();
    call.take_events();
    call.dial(10, &[]);
    assert!(
        call.take().is_empty(),
        "an empty stage only asks for the next"
    );
    assert!(matches!(
        call.take_events().as_slice(),
        [CallEvent::StageFailed(outcome)] if outcome.branches.is_empty()
    ));
    call.m.no_more_stages(call.at(20));
    call.collect(20);
    assert_eq!(one_final_to_a(&call.take()).status(), Some(480));
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "user_not_registered");
}

fn refused(extra: &str, body: Option<&str>) -> (Vec<Sent>, Vec<CallEvent>) {
    let mut call = Call::with(&invite_text(extra, body), settings(), anchored());
    (call.take(), call.take_events())
}

#[test]
fn an_invite_requiring_100rel_gets_420_naming_it() {
    let (sent, events) = refused("Require: 100rel\n", Some(&sdp("192.0.2.10", 4000, 1, "")));
    let bad = one_final_to_a(&sent);
    assert_eq!(bad.status(), Some(420));
    assert_eq!(bad.header(HeaderName::Unsupported).unwrap(), "100rel");
    assert_eq!(Call::record(&events).hangup.sip_status, 420);
}

#[test]
fn a_session_interval_below_min_se_gets_422_with_min_se() {
    let (sent, _) = refused(
        "Session-Expires: 60\n",
        Some(&sdp("192.0.2.10", 4000, 1, "")),
    );
    let bad = one_final_to_a(&sent);
    assert_eq!(bad.status(), Some(422));
    assert_eq!(bad.header(HeaderName::MinSe).unwrap(), "90");
}

#[test]
fn max_forwards_zero_gets_483_and_bodies_the_switch_cannot_read_get_400_415_488() {
    let text = invite_text("", Some(&sdp("192.0.2.10", 4000, 1, "")))
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    let mut call = Call::with(&text, settings(), anchored());
    assert_eq!(one_final_to_a(&call.take()).status(), Some(483));
    let (sent, _) = refused("", Some("v=0\nthis is not sdp\n"));
    assert_eq!(one_final_to_a(&sent).status(), Some(400));
    let text = invite_text("", Some("hello")).replace("application/sdp", "text/plain");
    let mut call = Call::with(&text, settings(), anchored());
    assert_eq!(one_final_to_a(&call.take()).status(), Some(415));
    let no_audio = "v=0\no=x 1 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\nm=video 4000 RTP/AVP 96\n";
    let (sent, _) = refused("", Some(no_audio));
    assert_eq!(one_final_to_a(&sent).status(), Some(488));
}

#[test]
fn shutdown_before_answer_cancels_and_gives_503() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    call.respond(
        300,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    call.take();
    call.hangup(1000, HangupCause::SystemShutdown);
    let sent = call.take();
    assert_eq!(one_final_to_a(&sent).status(), Some(503));
    assert!(sent.iter().any(|s| s.is_request("CANCEL")));
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "system_shutdown");
    assert_eq!(record.hangup.side, HangupSide::Switch);
    call.hangup(1100, HangupCause::SystemShutdown);
    assert!(call.take_events().is_empty(), "Ended only once");
}

#[test]
fn shutdown_after_answer_sends_bye_both_ways() {
    let super::basic::Answered { mut call, .. } = super::basic::answered_call(Call::start());
    call.take();
    call.hangup(5000, HangupCause::SystemShutdown);
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().any(|s| s.is_request("BYE") && s.to_a()));
    assert!(
        sent.iter()
            .any(|s| s.is_request("BYE") && s.to_phone(PHONE_B1))
    );
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "system_shutdown");
    assert_eq!(record.hangup.sip_status, 200);
    // No answer to the BYEs: Finished still comes within 64*T1.
    call.run_until(5000 + 32_000);
    assert_eq!(count_finished(&call.take_events()), 1);
    assert_eq!(call.m.poll_timeout(), None);
}
