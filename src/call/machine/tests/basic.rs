//! A call from A to B: setup, answer, hang-up from either side, and what crosses sides.

use super::*;
use crate::call::record::HangupSide;

/// Parts of an answered call the tests need to write in-dialog requests.
pub(in crate::call::machine) struct Answered {
    pub(in crate::call::machine) call: Call,
    /// The switch's tag towards the caller.
    pub(in crate::call::machine) a_tag: String,
    /// The switch's tag towards the callee.
    pub(in crate::call::machine) b_tag: String,
    pub(in crate::call::machine) b_call_id: String,
}

/// Caller offers, B1 rings and answers at 2 s, the caller ACKs at 2.1 s.
pub(in crate::call::machine) fn answered_call(call: Call) -> Answered {
    let mut call = call;
    call.take();
    call.dial(100, &[PHONE_B1]);
    let sent = call.take();
    let b_invite = sent[0].request().clone();
    let b_tag = sent[0].tag_in_from().unwrap();
    let b_call_id = sent[0].call_id();
    call.respond(
        500,
        reply(&b_invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let body = sdp("192.0.2.20", 5000, 1, "");
    call.respond(
        2000,
        reply(&b_invite, 200, "btag1", "b1@192.0.2.20:5060", Some(&body)),
    );
    let sent = call.take();
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    let a_tag = ok.to_tag().unwrap();
    if !b_invite.body().is_empty() {
        call.a_sends(
            2100,
            &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", None),
        );
    }
    call.take_events();
    Answered {
        call,
        a_tag,
        b_tag,
        b_call_id,
    }
}

#[test]
fn new_sends_100_trying_and_reports_the_callers_media() {
    let mut call = Call::start();
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(100));
    assert!(sent[0].to_a());
    assert_eq!(sent[0].to_tag(), None);
    let events = call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A),
        vec![(addr("192.0.2.10:4000"), addr("192.0.2.10:4001"), false)]
    );
}

#[test]
fn the_callee_gets_an_invite_built_by_the_switch_with_the_offer_rewritten() {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    let invite = &sent[0];
    assert!(invite.is_request("INVITE"));
    assert_eq!(invite.destination, Destination::Flow(peer(PHONE_B1)));
    let request = invite.request();
    assert_eq!(request.uri().to_string(), "sip:1001-0@192.0.2.20:5060");
    let via = request.headers().via().unwrap();
    assert_eq!(via.len(), 1);
    assert_eq!(via[0].sent_by(), SWITCH);
    assert!(via[0].is_rfc3261_branch());
    assert!(via[0].params().contains("rport"));
    assert_eq!(request.headers().max_forwards().unwrap(), Some(69));
    let from = request.headers().from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("Alice"));
    assert_eq!(from.uri.to_string(), "sip:1000@192.0.2.1");
    assert_ne!(from.tag(), Some("atag"));
    let to = request.headers().to().unwrap();
    assert_eq!(to.uri.to_string(), "sip:1001@192.0.2.1");
    assert_eq!(to.tag(), None);
    assert_ne!(invite.call_id(), "a-call@192.0.2.10");
    assert_eq!(invite.call_id(), call.m.b_call_id());
    assert_eq!(request.headers().cseq().unwrap().to_string(), "1 INVITE");
    assert_eq!(
        invite.header(HeaderName::Contact).unwrap(),
        "<sip:switchyard@192.0.2.1:5060>"
    );
    assert_eq!(invite.header(HeaderName::Supported).unwrap(), "timer");
    assert_eq!(
        invite.header(HeaderName::UserAgent).unwrap(),
        "Switchyard-test"
    );
    assert!(invite.header(HeaderName::RecordRoute).is_none());
    let offer = invite.sdp();
    assert_eq!(offer.origin.username, "switchyard");
    assert_eq!(offer.origin.address, "203.0.113.1");
    assert_eq!(offer.connection.as_ref().unwrap().address, "203.0.113.1");
    assert_eq!(offer.media[0].port, 20002);
    assert_eq!(offer.media[1].port, 0, "other streams are disabled");
}

#[test]
fn basic_call_is_answered_and_the_caller_hangs_up() {
    let mut call = Call::start();
    call.take();
    call.take_events();
    call.dial(100, &[PHONE_B1]);
    let b_invite = call.take()[0].request().clone();
    let b_tag = b_invite.headers().from().unwrap().tag().unwrap().to_owned();

    call.respond(
        500,
        reply(&b_invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(180));
    assert!(sent[0].to_a());
    let a_tag = sent[0].to_tag().unwrap();
    assert_ne!(a_tag, "btag1");
    assert_eq!(
        sent[0].header(HeaderName::Contact).unwrap(),
        "<sip:switchyard@192.0.2.1:5060>"
    );

    let answer = sdp("192.0.2.20", 5000, 1, "");
    call.respond(
        2000,
        reply(&b_invite, 200, "btag1", "b1@192.0.2.20:5060", Some(&answer)),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ack = sent.iter().find(|s| s.is_request("ACK")).unwrap();
    assert!(ack.to_phone(PHONE_B1));
    assert_eq!(ack.request().uri().to_string(), "sip:b1@192.0.2.20:5060");
    assert_eq!(ack.call_id(), call.m.b_call_id());
    assert_eq!(ack.to_tag().as_deref(), Some("btag1"));
    assert_eq!(ack.tag_in_from().as_deref(), Some(b_tag.as_str()));
    assert_eq!(ack.header(HeaderName::CSeq).unwrap(), "1 ACK");
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok.to_a());
    assert_eq!(
        ok.to_tag().as_deref(),
        Some(a_tag.as_str()),
        "same tag as the 180"
    );
    assert_eq!(ok.call_id(), "a-call@192.0.2.10");
    assert_eq!(
        ok.header(HeaderName::RecordRoute).unwrap(),
        "<sip:proxy-a.example;lr>"
    );
    let answer_to_a = ok.sdp();
    assert_eq!(
        answer_to_a.connection.as_ref().unwrap().address,
        "203.0.113.1"
    );
    assert_eq!(answer_to_a.media[0].port, 20000);
    assert_eq!(answer_to_a.origin.username, "switchyard");
    let events = call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::B),
        vec![(addr("192.0.2.20:5000"), addr("192.0.2.20:5001"), false)]
    );
    assert!(events.iter().any(|e| matches!(e, CallEvent::Answered)));

    call.a_sends(
        2100,
        &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", None),
    );
    assert!(call.take().is_empty(), "the ACK is absorbed");
    call.run_until(10_000);
    assert!(
        call.take().iter().all(|s| s.status() != Some(200)),
        "no 2xx retransmission after the ACK"
    );

    call.a_sends(
        20_000,
        &a_request("BYE", 11, &a_tag, "z9hG4bKa-bye", "", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok.to_a());
    assert_eq!(ok.header(HeaderName::CSeq).unwrap(), "11 BYE");
    let bye = sent.iter().find(|s| s.is_request("BYE")).unwrap();
    assert!(bye.to_phone(PHONE_B1));
    assert_eq!(bye.request().uri().to_string(), "sip:b1@192.0.2.20:5060");
    assert_eq!(bye.call_id(), call.m.b_call_id());
    assert_eq!(bye.tag_in_from().as_deref(), Some(b_tag.as_str()));
    assert_eq!(bye.to_tag().as_deref(), Some("btag1"));
    assert_eq!(
        bye.header(HeaderName::Route).unwrap(),
        "<sip:proxy-b.example;lr>"
    );
    assert_eq!(bye.header(HeaderName::CSeq).unwrap(), "2 BYE");

    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "normal_clearing");
    assert_eq!(record.hangup.side, HangupSide::Caller);
    assert_eq!(record.hangup.sip_status, 200);
    assert_eq!(record.started_at, UnixMillis(1_000_000));
    assert_eq!(record.answered_at, Some(UnixMillis(1_002_000)));
    assert_eq!(record.ended_at, UnixMillis(1_020_000));
    assert_eq!(record.billable_secs(), 18);
    assert_eq!(record.from_uri, "sip:1000@192.0.2.1");
    assert_eq!(record.to_uri, "sip:1001@192.0.2.1");
    assert_eq!(record.legs.len(), 2);
    let (a, b) = (&record.legs[0], &record.legs[1]);
    assert_eq!((a.side, a.final_status), (LegSide::A, Some(200)));
    assert_eq!(a.local_tag, a_tag);
    assert_eq!(a.remote_tag.as_deref(), Some("atag"));
    assert_eq!(a.signalling_addr, Some(addr(PHONE_A)));
    assert_eq!((b.side, b.final_status), (LegSide::B, Some(200)));
    assert_eq!(b.local_tag, b_tag);
    assert_eq!(b.remote_tag.as_deref(), Some("btag1"));
    assert_eq!(b.target, "sip:1001-0@192.0.2.20:5060");
    assert_eq!(b.started_at, UnixMillis(1_000_100));
    assert_eq!(b.answered_at, Some(UnixMillis(1_002_000)));
    assert!(call.m.is_ended());

    let bye = bye.request().clone();
    call.respond(20_050, reply(&bye, 200, "btag1", "", None));
    call.run_until(60_000);
    let events = call.take_events();
    assert_eq!(count_finished(&events), 1);
    assert!(!events.iter().any(|e| matches!(e, CallEvent::Ended(_))));
    assert_eq!(call.m.poll_timeout(), None);
}

#[test]
fn the_callee_hangs_up_and_the_caller_gets_bye() {
    let Answered {
        mut call,
        a_tag,
        b_tag,
        b_call_id,
        ..
    } = answered_call(Call::start());
    call.take();
    call.b_sends(
        9_000,
        PHONE_B1,
        &b_request("BYE", 1, &b_tag, &b_call_id, "z9hG4bKb-bye", "", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok.to_phone(PHONE_B1));
    let bye = sent.iter().find(|s| s.is_request("BYE")).unwrap();
    assert!(bye.to_a());
    assert_eq!(bye.request().uri().to_string(), "sip:1000@192.0.2.10:5060");
    assert_eq!(bye.call_id(), "a-call@192.0.2.10");
    assert_eq!(bye.tag_in_from().as_deref(), Some(a_tag.as_str()));
    assert_eq!(bye.to_tag().as_deref(), Some("atag"));
    assert_eq!(
        bye.header(HeaderName::Route).unwrap(),
        "<sip:proxy-a.example;lr>"
    );
    assert_eq!(bye.header(HeaderName::CSeq).unwrap(), "1 BYE");
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.side, HangupSide::Callee);
    assert_eq!(record.hangup.cause, "normal_clearing");

    // A retransmitted BYE from B gets the same 200 from its transaction; a new request 481.
    call.b_sends(
        9_500,
        PHONE_B1,
        &b_request("BYE", 1, &b_tag, &b_call_id, "z9hG4bKb-bye", "", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].status(), Some(200));
    call.b_sends(
        9_600,
        PHONE_B1,
        &b_request("INFO", 2, &b_tag, &b_call_id, "z9hG4bKb-info", "", None),
    );
    assert_eq!(call.take()[0].status(), Some(481));
    assert!(
        !call
            .take_events()
            .iter()
            .any(|e| matches!(e, CallEvent::Ended(_)))
    );
}

/// Text of A-side identifiers that must never reach B, and the reverse.
const A_ONLY: [&str; 7] = [
    "192.0.2.10",
    "proxy-a",
    "atag",
    "a-call",
    "z9hG4bKa1",
    "PhoneA",
    "10.9.9.9",
];
const B_ONLY: [&str; 5] = ["192.0.2.20", "proxy-b", "btag1", "PhoneB", "b1@"];

#[test]
fn no_via_contact_record_route_or_tag_crosses_sides() {
    let Answered {
        mut call, a_tag, ..
    } = answered_call(Call::start());
    call.a_sends(
        30_000,
        &a_request("BYE", 11, &a_tag, "z9hG4bKa-bye", "", None),
    );
    let mut all = call.take();
    // And the other direction on a second call.
    let second = answered_call(Call::start());
    let mut call = second.call;
    let bye = b_request(
        "BYE",
        1,
        &second.b_tag,
        &second.b_call_id,
        "z9hG4bKb-bye",
        "",
        None,
    );
    call.b_sends(9_000, PHONE_B1, &bye);
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.is_request("BYE") && s.to_a()),
        "{sent:?}"
    );
    all.extend(sent);
    let mut setup = Call::start();
    setup.dial(100, &[PHONE_B1]);
    let invite = setup
        .take()
        .into_iter()
        .find(|s| s.is_request("INVITE"))
        .unwrap();
    let b_invite = invite.request().clone();
    setup.respond(
        500,
        reply(&b_invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    setup.respond(
        900,
        reply(
            &b_invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    all.push(invite);
    all.extend(setup.take());
    let methods: Vec<String> = all
        .iter()
        .map(|s| {
            format!(
                "{:?}{}",
                s.status(),
                s.message.as_request().map_or("", |r| r.method().as_str())
            )
        })
        .collect();
    for needed in ["NoneINVITE", "Some(180)", "Some(200)", "NoneBYE", "NoneACK"] {
        assert!(methods.iter().any(|m| m == needed), "{methods:?}");
    }
    for sent in &all {
        let text = sent.text();
        let forbidden: &[&str] = if sent.to_a() { &B_ONLY } else { &A_ONLY };
        for word in forbidden {
            assert!(!text.contains(word), "{word} leaked into:\n{text}");
        }
    }
}

#[test]
fn direct_media_passes_the_sdp_through_untouched() {
    let offer = sdp("192.0.2.10", 4000, 1, "");
    let mut call = Call::with(
        &invite_text("", Some(&offer)),
        settings(),
        MediaPlan::Direct,
    );
    call.dial(100, &[PHONE_B1]);
    let invite = call
        .take()
        .into_iter()
        .find(|s| s.is_request("INVITE"))
        .unwrap();
    assert_eq!(
        invite.message.body().as_ref(),
        offer.replace('\n', "\r\n").as_bytes()
    );
}
