//! Dialling stage by stage: failover on configured statuses and stage timeouts, the caller's
//! answer when no stage is left, and the record naming each attempt.

use std::time::Duration;

use super::*;
use crate::call::HangupCause;
use crate::call::machine::{BranchOutcome, StageOutcome};
use crate::call::record::HangupSide;

fn on_trunk(n: usize, phone: &str, trunk: &str) -> Target {
    let mut target = target(n, phone);
    target.trunk = Some(trunk.into());
    target
}

fn failing_over(targets: Vec<Target>, failover_on: &[u16]) -> Stage {
    Stage {
        failover_on: failover_on.to_vec(),
        ..one_stage(targets)
    }
}

/// Statuses of the responses the caller got.
fn heard(sent: &[Sent]) -> Vec<u16> {
    sent.iter()
        .filter(|s| s.to_a())
        .filter_map(Sent::status)
        .collect()
}

/// The one StageFailed among `events`.
fn stage_failed(events: &[CallEvent]) -> &StageOutcome {
    let failed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            CallEvent::StageFailed(outcome) => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    failed[0]
}

fn invite_to(sent: &[Sent], phone: &str) -> Request {
    let invites: Vec<_> = sent
        .iter()
        .filter(|s| s.is_request("INVITE") && s.to_phone(phone))
        .collect();
    assert_eq!(invites.len(), 1, "{sent:?}");
    invites[0].request().clone()
}

fn answer_from(call: &mut Call, ms: u64, phone: &str, invite: &Request) {
    let port = if phone == PHONE_B1 { 5000 } else { 6000 };
    let ip = addr(phone).ip().to_string();
    call.respond_from(
        ms,
        phone,
        reply(
            invite,
            200,
            "answered",
            &format!("callee@{phone}"),
            Some(&sdp(&ip, port, 1, "")),
        ),
    );
}

#[test]
fn a_503_of_the_first_trunk_goes_on_to_the_second_and_the_caller_never_hears_it() {
    let mut call = Call::start();
    let mut caller_heard = heard(&call.take());
    call.dial_stage(
        100,
        failing_over(vec![on_trunk(0, PHONE_B1, "carrier-a")], &[503]),
    );
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(200, reply(&first, 100, "", "", None));
    call.respond(300, reply(&first, 180, "b1", "b1@192.0.2.20:5060", None));
    call.respond(400, reply(&first, 503, "b1", "", None));
    let sent = call.take();
    caller_heard.extend(heard(&sent));
    assert!(
        sent.iter()
            .all(|s| !s.to_a() || s.status().is_some_and(|c| c < 200))
    );
    let events = call.take_events();
    assert_eq!(
        stage_failed(&events),
        &StageOutcome {
            branches: vec![BranchOutcome {
                trunk: Some("carrier-a".into()),
                flow: peer(PHONE_B1),
                status: 503,
                silent: false,
            }],
            best_status: 503,
        }
    );

    call.dial_stage(
        450,
        failing_over(vec![on_trunk(1, PHONE_B2, "carrier-b")], &[503]),
    );
    let second = invite_to(&call.take(), PHONE_B2);
    assert_eq!(
        second.headers().call_id().unwrap(),
        first.headers().call_id().unwrap()
    );
    assert_eq!(
        second.headers().cseq().unwrap().seq,
        2,
        "RFC 3261 §8.2.2.2: never the first stage's CSeq again"
    );
    call.respond_from(
        500,
        PHONE_B2,
        reply(&second, 180, "b2", "b2@192.0.2.30:5062", None),
    );
    answer_from(&mut call, 900, PHONE_B2, &second);
    caller_heard.extend(heard(&call.take()));
    assert_eq!(caller_heard, [100, 180, 200]);
    assert!(
        call.take_events()
            .iter()
            .any(|e| matches!(e, CallEvent::Answered))
    );
    let winner = call.m.answered_branch().unwrap();
    assert_eq!(winner.trunk.as_deref(), Some("carrier-b"));
    assert_eq!(winner.status, 200);

    call.hangup(5000, HangupCause::NormalClearing);
    let events = call.take_events();
    let record = Call::record(&events);
    let attempts: Vec<_> = record
        .legs
        .iter()
        .map(|l| (l.side, l.trunk.as_deref(), l.stage, l.final_status))
        .collect();
    assert_eq!(
        attempts,
        [
            (LegSide::A, None, 0, Some(200)),
            (LegSide::B, Some("carrier-a"), 1, Some(503)),
            (LegSide::B, Some("carrier-b"), 2, Some(200)),
        ]
    );
}

#[test]
fn a_stage_ring_timeout_cancels_its_branches_and_goes_on_to_the_next_stage() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(
        100,
        Stage {
            ring_timeout: Some(Duration::from_secs(5)),
            ..one_stage(vec![target(0, PHONE_B1)])
        },
    );
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(300, reply(&first, 180, "b1", "b1@192.0.2.20:5060", None));
    call.take();
    call.take_events();
    call.run_until(5_099);
    assert!(call.take_events().is_empty());
    call.run_until(5_100);
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].is_request("CANCEL") && sent[0].to_phone(PHONE_B1));
    let events = call.take_events();
    let outcome = stage_failed(&events);
    assert_eq!(outcome.branches[0].status, 480);
    assert!(!outcome.branches[0].silent);
    assert_eq!(outcome.best_status, 480);

    call.dial_stage(5_100, one_stage(vec![target(1, PHONE_B2)]));
    let second = invite_to(&call.take(), PHONE_B2);
    // The first branch's 487 is acknowledged; the caller hears nothing of it.
    call.respond(5_200, reply(&first, 487, "b1", "", None));
    let sent = call.take();
    assert!(sent.iter().all(|s| s.is_request("ACK")), "{sent:?}");
    answer_from(&mut call, 6_000, PHONE_B2, &second);
    assert_eq!(heard(&call.take()), [200]);
}

#[test]
fn the_call_ring_timeout_restarts_with_a_stage_without_its_own() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(100, failing_over(vec![target(0, PHONE_B1)], &[503]));
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(20_000, reply(&first, 503, "b1", "", None));
    call.dial_stage(20_000, one_stage(vec![target(1, PHONE_B2)]));
    let second = invite_to(&call.take(), PHONE_B2);
    call.respond_from(
        20_100,
        PHONE_B2,
        reply(&second, 180, "b2", "b2@192.0.2.30:5062", None),
    );
    call.run_until(79_999);
    assert!(heard(&call.take()).iter().all(|s| *s < 200));
    call.run_until(80_000);
    assert_eq!(heard(&call.take()), [480]);
}

#[test]
fn a_silent_branch_is_abandoned_after_the_provisional_timeout_without_a_cancel() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(
        100,
        Stage {
            provisional_timeout: Some(Duration::from_secs(2)),
            ..one_stage(vec![on_trunk(0, PHONE_B1, "carrier-a")])
        },
    );
    let first = invite_to(&call.take(), PHONE_B1);
    call.run_until(2_099);
    assert!(call.take().iter().all(|s| s.is_request("INVITE")));
    call.run_until(2_100);
    let sent = call.take();
    assert!(
        sent.iter().all(|s| !s.is_request("CANCEL") && !s.to_a()),
        "RFC 3261 §9.1: no CANCEL before a provisional response: {sent:?}"
    );
    let events = call.take_events();
    let outcome = stage_failed(&events);
    assert_eq!(outcome.branches[0].status, 408);
    assert!(outcome.branches[0].silent);

    call.dial_stage(2_100, one_stage(vec![on_trunk(1, PHONE_B2, "carrier-b")]));
    let second = invite_to(&call.take(), PHONE_B2);
    // A late provisional response of the abandoned branch gets its CANCEL now.
    call.respond(2_500, reply(&first, 180, "b1", "b1@192.0.2.20:5060", None));
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].is_request("CANCEL") && sent[0].to_phone(PHONE_B1));
    answer_from(&mut call, 3_000, PHONE_B2, &second);
    assert_eq!(heard(&call.take()), [200]);
    call.hangup(4_000, HangupCause::NormalClearing);
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.legs[1].final_status, Some(408));
    assert_eq!(record.legs[2].final_status, Some(200));
}

#[test]
fn a_branch_that_answered_100_is_not_abandoned_by_the_provisional_timeout() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(
        100,
        Stage {
            provisional_timeout: Some(Duration::from_secs(2)),
            ..one_stage(vec![target(0, PHONE_B1)])
        },
    );
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(500, reply(&first, 100, "", "", None));
    call.take_events();
    call.run_until(10_000);
    assert!(call.take_events().is_empty());
}

#[test]
fn a_486_not_in_failover_on_answers_the_caller_at_once() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(100, failing_over(vec![target(0, PHONE_B1)], &[503]));
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(300, reply(&first, 486, "b1", "", None));
    assert_eq!(heard(&call.take()), [486]);
    let events = call.take_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, CallEvent::StageFailed(_)))
    );
    assert_eq!(Call::record(&events).hangup.cause, "user_busy");
}

#[test]
fn when_every_stage_failed_the_caller_gets_the_best_failure_of_all() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(100, failing_over(vec![target(0, PHONE_B1)], &[486, 503]));
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(300, reply(&first, 503, "b1", "", None));
    assert_eq!(stage_failed(&call.take_events()).best_status, 503);
    call.dial_stage(300, failing_over(vec![target(1, PHONE_B2)], &[486, 503]));
    let second = invite_to(&call.take(), PHONE_B2);
    call.respond_from(400, PHONE_B2, reply(&second, 486, "b2", "", None));
    assert!(heard(&call.take()).is_empty());
    assert_eq!(stage_failed(&call.take_events()).best_status, 486);
    call.m.no_more_stages(call.at(400));
    call.collect(400);
    assert_eq!(heard(&call.take()), [486]);
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "user_busy");
    assert_eq!(record.hangup.side, HangupSide::Callee);
    let statuses: Vec<_> = record.legs.iter().map(|l| l.final_status).collect();
    assert_eq!(statuses, [Some(486), Some(503), Some(486)]);
}

#[test]
fn a_timeout_of_a_later_stage_outranks_an_earlier_503() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(100, failing_over(vec![target(0, PHONE_B1)], &[503]));
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(300, reply(&first, 503, "b1", "", None));
    call.take_events();
    call.dial_stage(
        300,
        Stage {
            provisional_timeout: Some(Duration::from_secs(1)),
            ..one_stage(vec![target(1, PHONE_B2)])
        },
    );
    call.run_until(1_300);
    assert_eq!(stage_failed(&call.take_events()).best_status, 408);
    call.m.no_more_stages(call.at(1_300));
    call.collect(1_300);
    assert!(heard(&call.take()).contains(&408));
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.side, HangupSide::Switch);
}

#[test]
fn no_more_stages_before_any_stage_gives_the_caller_480() {
    let mut call = Call::start();
    call.take();
    call.m.no_more_stages(call.at(50));
    call.collect(50);
    assert_eq!(heard(&call.take()), [480]);
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.cause, "user_not_registered");
}

#[test]
fn a_caller_cancel_while_waiting_for_the_next_stage_ends_the_call_with_487() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(100, failing_over(vec![target(0, PHONE_B1)], &[503]));
    let first = invite_to(&call.take(), PHONE_B1);
    call.respond(300, reply(&first, 503, "b1", "", None));
    stage_failed(&call.take_events());
    call.take();
    let cancel = invite_text("", None)
        .replacen("INVITE sip:", "CANCEL sip:", 1)
        .replace("10 INVITE", "10 CANCEL");
    call.a_sends(400, &cancel);
    let sent = call.take();
    let mut answers = heard(&sent);
    answers.sort_unstable();
    assert_eq!(answers, [200, 487]);
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "originator_cancel");
    assert_eq!(record.hangup.side, HangupSide::Caller);
    call.dial_stage(450, one_stage(vec![target(1, PHONE_B2)]));
    assert!(call.take().is_empty(), "nothing is dialled after the end");
}

#[test]
fn a_6xx_ends_its_stage_at_once_and_the_call_unless_listed() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(
        100,
        failing_over(vec![target(0, PHONE_B1), target(1, PHONE_B2)], &[503]),
    );
    let sent = call.take();
    let first = invite_to(&sent, PHONE_B1);
    call.respond(300, reply(&first, 603, "b1", "", None));
    assert_eq!(heard(&call.take()), [603]);

    let mut call = Call::start();
    call.take();
    call.dial_stage(
        100,
        failing_over(vec![target(0, PHONE_B1), target(1, PHONE_B2)], &[603]),
    );
    let sent = call.take();
    let first = invite_to(&sent, PHONE_B1);
    call.respond(300, reply(&first, 603, "b1", "", None));
    assert!(heard(&call.take()).is_empty());
    let events = call.take_events();
    let outcome = stage_failed(&events);
    assert_eq!(
        outcome
            .branches
            .iter()
            .map(|b| b.status)
            .collect::<Vec<_>>(),
        [603, 487]
    );
}

#[test]
fn a_branch_limited_to_codecs_gets_an_offer_with_only_those() {
    let mut call = Call::start();
    call.take();
    let mut target = on_trunk(0, PHONE_B1, "carrier-a");
    target.codecs = vec!["pcma".into()];
    call.dial_stage(100, one_stage(vec![target]));
    let invite = invite_to(&call.take(), PHONE_B1);
    let body = String::from_utf8(invite.body().to_vec()).unwrap();
    let audio = body.lines().find(|l| l.starts_with("m=audio")).unwrap();
    assert!(audio.ends_with("RTP/AVP 8 101"), "{body}");
}

#[test]
fn a_branch_whose_codecs_the_caller_did_not_offer_fails_with_488_unsent() {
    let mut call = Call::start();
    call.take();
    let mut target = on_trunk(0, PHONE_B1, "carrier-a");
    target.codecs = vec!["G729".into()];
    call.dial_stage(100, failing_over(vec![target], &[488]));
    let sent = call.take();
    assert!(!sent.iter().any(|s| s.is_request("INVITE")), "{sent:?}");
    let events = call.take_events();
    let outcome = stage_failed(&events);
    assert_eq!(outcome.best_status, 488);
    assert!(!outcome.branches[0].silent);
}

#[test]
fn an_undelivered_invite_fails_its_branch_at_once_and_the_stage_goes_on_without_failover_codes() {
    let mut call = Call::start();
    call.take();
    call.dial_stage(
        100,
        Stage {
            provisional_timeout: Some(Duration::from_secs(10)),
            // Not even 503 listed: a carrier that never saw the INVITE decided nothing.
            ..failing_over(vec![on_trunk(0, PHONE_B1, "carrier-a")], &[])
        },
    );
    let first = invite_to(&call.take(), PHONE_B1);
    call.m.handle_message(
        call.at(150),
        CallMessage::Undelivered {
            request: first,
            peer: peer(PHONE_B1),
        },
    );
    call.collect(150);
    assert!(
        call.take()
            .iter()
            .all(|s| !s.to_a() && !s.is_request("CANCEL")),
        "the caller hears nothing and nothing is cancelled"
    );
    let events = call.take_events();
    assert_eq!(
        stage_failed(&events).branches,
        [BranchOutcome {
            trunk: Some("carrier-a".into()),
            flow: peer(PHONE_B1),
            status: 503,
            silent: true,
        }]
    );

    call.dial_stage(150, one_stage(vec![on_trunk(1, PHONE_B2, "carrier-b")]));
    let second = invite_to(&call.take(), PHONE_B2);
    answer_from(&mut call, 300, PHONE_B2, &second);
    assert_eq!(heard(&call.take()), [200]);
    call.hangup(1_000, HangupCause::NormalClearing);
    let events = call.take_events();
    let record = Call::record(&events);
    let tries: Vec<_> = record.legs[1..]
        .iter()
        .map(|l| (l.trunk.as_deref(), l.final_status, l.stage))
        .collect();
    assert_eq!(
        tries,
        [
            (Some("carrier-a"), Some(503), 1),
            (Some("carrier-b"), Some(200), 2)
        ]
    );
}

#[test]
fn an_invite_transmit_names_its_transaction_so_a_failed_send_ends_the_branch_at_once() {
    let mut call = Call::start();
    call.take();
    call.m.dial(
        call.at(100),
        Stage {
            provisional_timeout: Some(Duration::from_secs(10)),
            ..failing_over(vec![on_trunk(0, PHONE_B1, "carrier-a")], &[503])
        },
    );
    let transmit = call.m.poll_transmit().unwrap();
    assert!(call.m.poll_transmit().is_none());
    let key = transmit
        .transaction
        .expect("a request names its transaction");
    call.m.handle_undelivered(call.at(100), &key);
    call.collect(100);
    let events = call.take_events();
    let outcome = stage_failed(&events);
    assert_eq!(
        (outcome.branches[0].status, outcome.branches[0].silent),
        (503, true)
    );
    // The caller's final response belongs to no client transaction.
    call.m.no_more_stages(call.at(100));
    let to_caller: Vec<_> = std::iter::from_fn(|| call.m.poll_transmit()).collect();
    assert!(!to_caller.is_empty());
    assert!(to_caller.iter().all(|t| t.transaction.is_none()));
}
