//! Originated calls (click-to-call): the switch rings A itself, then dials B and bridges both
//! on the relay; A's and B's failures, hang-ups and the operator's hang-up in each phase.

use super::*;
use crate::call::HangupCause;
use crate::call::machine::OriginateSetup;
use crate::call::record::HangupSide;
use sip_core::message::{NameAddr, Uri};

pub(super) const A_CALL_ID: &str = "orig-1@192.0.2.1";
/// A second contact of A.
const PHONE_A2: &str = "192.0.2.11:5060";

fn uri(text: &str) -> Uri {
    Uri::parse(text).unwrap()
}

/// A call originated from 1000 (contacts at `phones`) to 2000, ringing A for 30 s.
pub(super) fn originate(phones: &[&str]) -> Call {
    let t0 = Instant::now();
    let a_targets = phones
        .iter()
        .map(|phone| Target::new(uri(&format!("sip:1000@{phone}")), peer(phone)))
        .collect();
    let setup = OriginateSetup {
        id: CallId::new_random(),
        profile: "default".into(),
        user: "1000".into(),
        a_call_id: A_CALL_ID.into(),
        a_uri: uri("sip:1000@192.0.2.1"),
        a_targets,
        shown_to_a: NameAddr {
            display_name: Some("2000".into()),
            ..NameAddr::new(uri("sip:2000@192.0.2.1"))
        },
        shown_to_b: NameAddr {
            display_name: Some("Sales".into()),
            ..NameAddr::new(uri("sip:5550@192.0.2.1"))
        },
        destination: uri("sip:2000@192.0.2.1"),
        ring_timeout: Duration::from_secs(30),
        settings: settings(),
        relay_a: addr(RELAY_A),
        relay_b: addr(RELAY_B),
        wall: UnixMillis(1_000_000),
    };
    let m = CallMachine::originate(setup, t0);
    let mut call = Call {
        m,
        t0,
        sent: Vec::new(),
        events: Vec::new(),
    };
    call.collect(0);
    call
}

fn invites_to(sent: &[Sent], phone: &str) -> Vec<Request> {
    sent.iter()
        .filter(|s| s.is_request("INVITE") && s.to_phone(phone))
        .map(|s| s.request().clone())
        .collect()
}

fn requests(sent: &[Sent], method: &str, phone: &str) -> usize {
    sent.iter()
        .filter(|s| s.is_request(method) && s.to_phone(phone))
        .count()
}

fn a_answer() -> String {
    "v=0\no=phoneA 1 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n\
     m=audio 4000 RTP/AVP 8 101\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n"
        .into()
}

/// A's phone answers A's INVITE at 1 s (after ringing at 0.2 s).
pub(super) fn a_answers(call: &mut Call) -> Request {
    let sent = call.take();
    let invite = invites_to(&sent, PHONE_A).remove(0);
    call.respond_from(
        200,
        PHONE_A,
        reply(&invite, 180, "phone-a", "1000@192.0.2.10:5060", None),
    );
    call.respond_from(
        1000,
        PHONE_A,
        reply(
            &invite,
            200,
            "phone-a",
            "1000@192.0.2.10:5060",
            Some(&a_answer()),
        ),
    );
    invite
}

/// A BYE from A's phone on A's dialog (A is the UAS of that dialog).
fn bye_from_a(switch_tag: &str) -> String {
    format!(
        "BYE sip:switchyard@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabye
Max-Forwards: 70
From: <sip:1000@192.0.2.1>;tag=phone-a
To: \"2000\" <sip:2000@192.0.2.1>;tag={switch_tag}
Call-ID: {A_CALL_ID}
CSeq: 1 BYE
Content-Length: 0

"
    )
}

fn has_event(events: &[CallEvent], wanted: fn(&CallEvent) -> bool) -> bool {
    events.iter().any(wanted)
}

#[test]
fn a_gets_an_invite_with_the_switchs_offer_on_the_relay_and_the_destination_as_caller() {
    let mut call = originate(&[PHONE_A]);
    let sent = call.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let invite = &sent[0];
    assert!(invite.is_request("INVITE") && invite.to_a());
    assert_eq!(invite.call_id(), A_CALL_ID);
    assert_eq!(
        invite.request().uri().to_string(),
        "sip:1000@192.0.2.10:5060"
    );
    let from = invite.message.headers().from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("2000"));
    assert_eq!(from.uri.to_string(), "sip:2000@192.0.2.1");
    assert!(from.tag().is_some());
    assert_eq!(
        invite.message.headers().to().unwrap().uri.to_string(),
        "sip:1000@192.0.2.1"
    );
    let offer = invite.sdp();
    assert_eq!(offer.media[0].port, 20000);
    assert_eq!(offer.media[0].formats, ["0", "8", "101"]);
    assert!(invite.text().contains("c=IN IP4 203.0.113.1"));
    assert!(!call.m.awaits_stage());
}

#[test]
fn b_is_dialled_only_once_a_answered_and_both_are_bridged_on_the_relay() {
    let mut call = originate(&[PHONE_A]);
    // The actor may have B's route before A answers: it is not dialled yet.
    call.dial(100, &[PHONE_B1]);
    assert!(invites_to(&call.sent, PHONE_B1).is_empty());
    a_answers(&mut call);
    let sent = call.take();
    assert_eq!(requests(&sent, "ACK", PHONE_A), 1, "{sent:?}");
    let events = call.take_events();
    assert!(has_event(&events, |e| matches!(e, CallEvent::Ringing)));
    assert!(has_event(&events, |e| matches!(
        e,
        CallEvent::OriginAnswered
    )));
    assert_eq!(
        remote_media(&events, LegSide::A),
        vec![(addr("192.0.2.10:4000"), addr("192.0.2.10:4001"), false)]
    );
    assert!(call.m.awaits_stage());

    call.dial(1100, &[PHONE_B1]);
    let sent = call.take();
    let b_invite = invites_to(&sent, PHONE_B1).remove(0);
    let from = b_invite.headers().from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("Sales"));
    assert_eq!(from.uri.to_string(), "sip:5550@192.0.2.1");
    assert_eq!(
        b_invite.headers().to().unwrap().uri.to_string(),
        "sip:2000@192.0.2.1"
    );
    assert_ne!(b_invite.headers().call_id().unwrap(), A_CALL_ID);
    // B is offered what A answered, on the relay's B side.
    let offer = SessionDescription::parse_bytes(b_invite.body()).unwrap();
    assert_eq!(offer.media[0].port, 20002);
    assert_eq!(offer.media[0].formats, ["8", "101"]);

    call.respond(
        1500,
        reply(&b_invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let body = "v=0\no=phoneB 1 1 IN IP4 192.0.2.20\ns=-\nc=IN IP4 192.0.2.20\nt=0 0\n\
                m=audio 5000 RTP/AVP 8 101\na=rtpmap:101 telephone-event/8000\n";
    call.respond(
        3000,
        reply(&b_invite, 200, "btag1", "b1@192.0.2.20:5060", Some(body)),
    );
    let sent = call.take();
    assert_eq!(requests(&sent, "ACK", PHONE_B1), 1, "{sent:?}");
    assert!(sent.iter().all(|s| !s.to_a()), "A hears nothing: {sent:?}");
    let events = call.take_events();
    assert!(has_event(&events, |e| matches!(e, CallEvent::Answered)));
    assert_eq!(
        remote_media(&events, LegSide::B),
        vec![(addr("192.0.2.20:5000"), addr("192.0.2.20:5001"), false)]
    );

    // B hangs up: A gets BYE; one record with both legs.
    let b_tag = b_invite.headers().from().unwrap().tag().unwrap().to_owned();
    let b_call_id = b_invite.headers().call_id().unwrap().to_owned();
    call.b_sends(
        60_000,
        PHONE_B1,
        &b_request("BYE", 1, &b_tag, &b_call_id, "z9hG4bKbbye", "", None),
    );
    let sent = call.take();
    assert_eq!(requests(&sent, "BYE", PHONE_A), 1, "{sent:?}");
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "normal_clearing");
    assert_eq!(record.hangup.side, HangupSide::Callee);
    assert_eq!(record.caller.as_deref(), Some("1000"));
    assert_eq!(record.to_uri, "sip:2000@192.0.2.1");
    assert!(record.answered_at.is_some());
    let sides: Vec<_> = record.legs.iter().map(|l| l.side).collect();
    assert_eq!(sides, [LegSide::A, LegSide::B]);
    assert_eq!(record.legs[0].target, "sip:1000@192.0.2.10:5060");
    assert_eq!(record.legs[0].sip_call_id, A_CALL_ID);
    assert_eq!(record.legs[0].final_status, Some(200));
    assert_eq!(record.legs[1].final_status, Some(200));
}

#[test]
fn a_busy_ends_the_call_with_its_cause_and_nothing_is_dialled() {
    let mut call = originate(&[PHONE_A]);
    let invite = invites_to(&call.take(), PHONE_A).remove(0);
    call.respond_from(
        300,
        PHONE_A,
        reply(&invite, 486, "phone-a", "1000@192.0.2.10:5060", None),
    );
    let sent = call.take();
    // RFC 3261 §17.1.1.3: the transaction ACKs the failure.
    assert_eq!(requests(&sent, "ACK", PHONE_A), 1, "{sent:?}");
    let events = call.take_events();
    assert!(!has_event(&events, |e| matches!(
        e,
        CallEvent::OriginAnswered
    )));
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "user_busy");
    assert_eq!(record.hangup.sip_status, 486);
    assert_eq!(record.hangup.side, HangupSide::Caller);
    assert_eq!(record.legs.len(), 1);
    assert_eq!(record.legs[0].final_status, Some(486));
    call.dial(400, &[PHONE_B1]);
    assert!(call.take().is_empty());
}

#[test]
fn a_that_does_not_answer_in_time_is_cancelled_and_the_call_ends_no_answer() {
    let mut call = originate(&[PHONE_A]);
    let invite = invites_to(&call.take(), PHONE_A).remove(0);
    call.respond_from(
        200,
        PHONE_A,
        reply(&invite, 180, "phone-a", "1000@192.0.2.10:5060", None),
    );
    call.run_until(30_000);
    let sent = call.take();
    assert_eq!(requests(&sent, "CANCEL", PHONE_A), 1, "{sent:?}");
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "no_answer");
    assert_eq!(record.legs[0].final_status, Some(487));
    call.respond_from(
        30_100,
        PHONE_A,
        reply(&invite, 487, "phone-a", "1000@192.0.2.10:5060", None),
    );
    assert_eq!(requests(&call.take(), "ACK", PHONE_A), 1);
    call.run_until(100_000);
    assert_eq!(count_finished(&call.take_events()), 1);
}

#[test]
fn the_first_contact_of_a_to_answer_wins_and_the_other_is_cancelled() {
    let mut call = originate(&[PHONE_A, PHONE_A2]);
    let sent = call.take();
    let first = invites_to(&sent, PHONE_A).remove(0);
    let second = invites_to(&sent, PHONE_A2).remove(0);
    call.respond_from(
        100,
        PHONE_A2,
        reply(&second, 180, "phone-a2", "1000@192.0.2.11:5060", None),
    );
    call.respond_from(
        200,
        PHONE_A,
        reply(
            &first,
            200,
            "phone-a",
            "1000@192.0.2.10:5060",
            Some(&a_answer()),
        ),
    );
    let sent = call.take();
    assert_eq!(requests(&sent, "ACK", PHONE_A), 1, "{sent:?}");
    assert_eq!(requests(&sent, "CANCEL", PHONE_A2), 1, "{sent:?}");
    // A late 2xx from the cancelled contact is acknowledged and hung up.
    call.respond_from(
        300,
        PHONE_A2,
        reply(
            &second,
            200,
            "phone-a2",
            "1000@192.0.2.11:5060",
            Some(&a_answer()),
        ),
    );
    let sent = call.take();
    assert_eq!(requests(&sent, "ACK", PHONE_A2), 1, "{sent:?}");
    assert_eq!(requests(&sent, "BYE", PHONE_A2), 1, "{sent:?}");
    let events = call.take_events();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, CallEvent::OriginAnswered))
            .count(),
        1
    );
}

#[test]
fn b_busy_ends_the_call_with_a_bye_to_a_and_bs_cause() {
    let mut call = originate(&[PHONE_A]);
    a_answers(&mut call);
    call.take();
    call.dial(1100, &[PHONE_B1]);
    let b_invite = invites_to(&call.take(), PHONE_B1).remove(0);
    call.respond(
        1500,
        reply(&b_invite, 486, "btag1", "b1@192.0.2.20:5060", None),
    );
    let sent = call.take();
    assert_eq!(requests(&sent, "BYE", PHONE_A), 1, "{sent:?}");
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "user_busy");
    assert_eq!(record.hangup.sip_status, 486);
    assert_eq!(record.hangup.side, HangupSide::Callee);
    assert_eq!(record.legs.len(), 2);
    assert_eq!(record.legs[1].final_status, Some(486));
    assert!(record.answered_at.is_none());
}

#[test]
fn a_hanging_up_while_b_rings_cancels_b() {
    let mut call = originate(&[PHONE_A]);
    a_answers(&mut call);
    let switch_tag = call
        .take()
        .iter()
        .find(|s| s.is_request("ACK"))
        .and_then(Sent::tag_in_from)
        .unwrap();
    call.dial(1100, &[PHONE_B1]);
    let b_invite = invites_to(&call.take(), PHONE_B1).remove(0);
    call.respond(
        1500,
        reply(&b_invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    call.a_sends(5000, &bye_from_a(&switch_tag));
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.status() == Some(200) && s.to_a()),
        "{sent:?}"
    );
    assert_eq!(requests(&sent, "CANCEL", PHONE_B1), 1, "{sent:?}");
    assert_eq!(requests(&sent, "BYE", PHONE_A), 0, "{sent:?}");
    let record = Call::record(&call.take_events()).clone();
    assert_eq!(record.hangup.cause, "originator_cancel");
    assert_eq!(record.hangup.side, HangupSide::Caller);
}

#[test]
fn an_operator_hang_up_while_a_rings_cancels_a() {
    let mut call = originate(&[PHONE_A]);
    let invite = invites_to(&call.take(), PHONE_A).remove(0);
    call.respond_from(
        200,
        PHONE_A,
        reply(&invite, 180, "phone-a", "1000@192.0.2.10:5060", None),
    );
    call.m.handle_message(call.at(1000), CallMessage::HangUp);
    call.collect(1000);
    let sent = call.take();
    assert_eq!(requests(&sent, "CANCEL", PHONE_A), 1, "{sent:?}");
    let record = Call::record(&call.take_events()).clone();
    assert_eq!(record.hangup.cause, "manager_request");
}

#[test]
fn an_operator_hang_up_while_b_rings_cancels_b_and_hangs_up_a() {
    let mut call = originate(&[PHONE_A]);
    a_answers(&mut call);
    call.take();
    call.dial(1100, &[PHONE_B1]);
    let b_invite = invites_to(&call.take(), PHONE_B1).remove(0);
    call.respond(
        1500,
        reply(&b_invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    call.m.handle_message(call.at(2000), CallMessage::HangUp);
    call.collect(2000);
    let sent = call.take();
    assert_eq!(requests(&sent, "CANCEL", PHONE_B1), 1, "{sent:?}");
    assert_eq!(requests(&sent, "BYE", PHONE_A), 1, "{sent:?}");
    let record = Call::record(&call.take_events()).clone();
    assert_eq!(record.hangup.cause, "manager_request");
}

#[test]
fn an_operator_hang_up_of_a_bridged_call_sends_bye_to_both() {
    let mut call = originate(&[PHONE_A]);
    a_answers(&mut call);
    call.take();
    call.dial(1100, &[PHONE_B1]);
    let b_invite = invites_to(&call.take(), PHONE_B1).remove(0);
    let body = sdp("192.0.2.20", 5000, 1, "");
    call.respond(
        2000,
        reply(&b_invite, 200, "btag1", "b1@192.0.2.20:5060", Some(&body)),
    );
    call.take();
    call.m.handle_message(call.at(9000), CallMessage::HangUp);
    call.collect(9000);
    let sent = call.take();
    assert_eq!(requests(&sent, "BYE", PHONE_B1), 1, "{sent:?}");
    assert_eq!(requests(&sent, "BYE", PHONE_A), 1, "{sent:?}");
    let record = Call::record(&call.take_events()).clone();
    assert_eq!(record.hangup.cause, "manager_request");
    assert!(record.answered_at.is_some());
}

#[test]
fn no_route_for_b_after_a_answered_hangs_up_a() {
    let mut call = originate(&[PHONE_A]);
    a_answers(&mut call);
    call.take();
    call.m.reject(call.at(1100), HangupCause::UnallocatedNumber);
    call.collect(1100);
    let sent = call.take();
    assert_eq!(requests(&sent, "BYE", PHONE_A), 1, "{sent:?}");
    let record = Call::record(&call.take_events()).clone();
    assert_eq!(record.hangup.cause, "unallocated_number");
}

#[test]
fn an_originate_without_contacts_ends_at_once() {
    let mut call = originate(&[]);
    assert!(call.take().is_empty());
    let record = Call::record(&call.take_events()).clone();
    assert_eq!(record.hangup.cause, "user_not_registered");
}

/// Random responses, hang-ups and timers on an originated call, two contacts for A: whatever
/// happens, B is dialled only after A answered, Answered and Ended come at most once, nothing
/// comes after Finished, and after a hang-up plus 64*T1 the call has ended exactly once and
/// the machine has finished.
#[test]
fn random_inputs_end_an_originated_call_exactly_once_and_the_machine_always_finishes() {
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    let mut bridged = 0;
    for seed in 0..300u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut call = originate(&[PHONE_A, PHONE_A2]);
        let (mut now, mut seq, mut branch) = (0u64, 1u32, 0u32);
        let (mut answered, mut ended, mut finished, mut origin_answered) = (0, 0, 0, 0);
        let mut outstanding: Vec<Sent> = Vec::new();
        let mut a_tag: Option<String> = None;
        let mut b_dialog: Option<(String, String)> = None;
        for _ in 0..rng.gen_range(5..60) {
            now += rng.gen_range(0..3000);
            match rng.gen_range(0..100) {
                0..=54 => {
                    if let Some(request) = outstanding.choose(&mut rng).map(|s| s.request().clone())
                    {
                        let phone = if request.headers().call_id().unwrap() == A_CALL_ID {
                            PHONE_A
                        } else {
                            PHONE_B1
                        };
                        let invite = request.method().as_str() == "INVITE";
                        let status = if invite {
                            *[100, 180, 200, 200, 486, 487, 603]
                                .choose(&mut rng)
                                .unwrap()
                        } else {
                            200
                        };
                        let body = (invite && status == 200).then(a_answer);
                        let response =
                            reply(&request, status, "phone", "x@192.0.2.99", body.as_deref());
                        call.respond_from(now, phone, response);
                    }
                }
                55..=69 => {
                    if call.m.awaits_stage() {
                        call.dial(now, &[PHONE_B1]);
                    }
                }
                70..=77 => {
                    if let Some(tag) = &a_tag {
                        seq += 1;
                        branch += 1;
                        let text = bye_from_a(tag)
                            .replace("CSeq: 1 BYE", &format!("CSeq: {seq} BYE"))
                            .replace("z9hG4bKabye", &format!("z9hG4bKabye{branch}"));
                        call.a_sends(now, &text);
                    }
                }
                78..=84 => {
                    if let Some((tag, call_id)) = &b_dialog {
                        branch += 1;
                        let text =
                            b_request("BYE", 1, tag, call_id, &format!("z9b{branch}"), "", None)
                                .replace("tag=btag1", "tag=phone");
                        call.b_sends(now, PHONE_B1, &text);
                    }
                }
                85..=89 => {
                    call.m.handle_message(call.at(now), CallMessage::HangUp);
                    call.collect(now);
                }
                _ => call.run_until(now),
            }
            for s in call.take() {
                if s.is_request("INVITE") && s.to_phone(PHONE_B1) {
                    assert_eq!(
                        origin_answered, 1,
                        "seed {seed}: B dialled before A answered"
                    );
                    b_dialog = Some((s.tag_in_from().unwrap(), s.call_id()));
                }
                if s.is_request("INVITE") && s.call_id() == A_CALL_ID {
                    a_tag = s.tag_in_from();
                }
                if s.message.as_request().is_some() && !s.is_request("ACK") {
                    outstanding.push(s);
                }
            }
            for event in call.take_events() {
                assert_eq!(finished, 0, "seed {seed}: {event:?} after Finished");
                match event {
                    CallEvent::OriginAnswered => origin_answered += 1,
                    CallEvent::Answered => answered += 1,
                    CallEvent::Ended(_) => ended += 1,
                    CallEvent::Finished => finished += 1,
                    _ => {}
                }
            }
            assert!(
                origin_answered <= 1 && answered <= 1 && ended <= 1,
                "seed {seed}"
            );
        }
        call.m.hangup(call.at(now), HangupCause::SystemShutdown);
        call.collect(now);
        call.run_until(now + 200_000);
        for event in call.take_events() {
            match event {
                CallEvent::Ended(_) => ended += 1,
                CallEvent::Finished => finished += 1,
                _ => {}
            }
        }
        assert_eq!((ended, finished), (1, 1), "seed {seed}");
        assert_eq!(call.m.poll_timeout(), None, "seed {seed}");
        bridged += answered;
    }
    assert!(bridged >= 10, "only {bridged} of 300 calls were bridged");
}
