//! Calls the switch answers itself for a media application: the local answer and its SDP,
//! INFO DTMF, BYE and hang-up in the app phase, re-INVITE, transfer to B, and the app phase
//! of an originated call.

use super::basic::answered_call;
use super::originate::{A_CALL_ID, a_answers, originate};
use super::*;
use crate::call::HangupCause;
use crate::call::record::HangupSide;
use crate::media::{G711Law, MediaFormat};

fn offer(formats: &str, maps: &str) -> String {
    format!(
        "v=0\no=phone 4711 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\n\
         m=audio 4000 RTP/AVP {formats}\n{maps}"
    )
}

/// A call whose caller offered `body`, answered by the switch; returns it with the 2xx.
fn answered_by_switch(body: &str) -> (Call, Sent, MediaFormat) {
    let mut call = Call::with(&invite_text("", Some(body)), settings(), anchored());
    call.take();
    let format = call.m.answer_locally(call.at(100)).unwrap();
    call.collect(100);
    let sent = call.take();
    let ok = sent
        .iter()
        .find(|s| s.status() == Some(200) && s.to_a())
        .cloned()
        .unwrap();
    (call, ok, format)
}

fn standard() -> (Call, Sent, MediaFormat) {
    answered_by_switch(&offer(
        "0 8 101",
        "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\n",
    ))
}

/// An in-dialog request from A with its own body type.
fn a_request_typed(method: &str, cseq: u32, a_tag: &str, content_type: &str, body: &str) -> String {
    format!(
        "{method} sip:switchyard@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa-{method}{cseq}
Max-Forwards: 70
From: \"Alice\" <sip:1000@192.0.2.1>;tag=atag
To: <sip:1001@192.0.2.1>;tag={a_tag}
Call-ID: a-call@192.0.2.10
CSeq: {cseq} {method}
Content-Type: {content_type}

{body}"
    )
}

fn ack_for(ok: &Sent) -> String {
    a_request("ACK", 10, &ok.to_tag().unwrap(), "z9hG4bKa-ack", "", None)
}

fn dtmf_events(events: &[CallEvent]) -> Vec<char> {
    events
        .iter()
        .filter_map(|e| match e {
            CallEvent::Dtmf(d) => Some(*d),
            _ => None,
        })
        .collect()
}

#[test]
fn the_switch_answers_with_the_first_g711_codec_on_relay_a_and_echoes_telephone_event() {
    let (mut call, ok, format) = answered_by_switch(&offer(
        "9 8 0 96",
        "a=rtpmap:9 G722/8000\na=rtpmap:96 telephone-event/8000\n",
    ));
    assert_eq!(
        format,
        MediaFormat {
            payload_type: 8,
            law: G711Law::Alaw,
            telephone_event: Some(96),
        }
    );
    let answer = ok.sdp();
    let media = &answer.media[0];
    assert_eq!(media.port, addr(RELAY_A).port());
    assert_eq!(media.formats, ["8", "96"]);
    assert_eq!(answer.connection.as_ref().unwrap().address, "203.0.113.1");
    assert_eq!(media.ptime(), Some(20));
    let text = ok.text();
    assert!(text.contains("a=sendrecv"), "{text}");
    assert!(text.contains("PCMA/8000"), "{text}");
    assert!(ok.header(HeaderName::Contact).is_some());
    assert!(ok.header(HeaderName::Allow).unwrap().contains("INFO"));
    assert!(call.m.in_app());
    assert_eq!(call.m.app_media_format(), Some(format));
    let events = call.take_events();
    assert!(events.iter().any(|e| matches!(e, CallEvent::Answered)));
}

#[test]
fn a_pcma_only_offer_without_events_is_answered_pcma_alone() {
    let (_, ok, format) = answered_by_switch(&offer("8", ""));
    assert_eq!(format.law, G711Law::Alaw);
    assert_eq!(format.telephone_event, None);
    assert_eq!(ok.sdp().media[0].formats, ["8"]);
}

#[test]
fn a_caller_without_g711_gets_488_and_the_call_ends() {
    let mut call = Call::with(
        &invite_text("", Some(&offer("9 18", "a=rtpmap:9 G722/8000\n"))),
        settings(),
        anchored(),
    );
    call.take();
    let result = call.m.answer_locally(call.at(100));
    call.collect(100);
    assert_eq!(result, Err(HangupCause::IncompatibleDestination));
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.status() == Some(488) && s.to_a()),
        "{sent:?}"
    );
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "incompatible_destination");
    assert!(record.answered_at.is_none());
}

#[test]
fn the_2xx_is_retransmitted_until_a_acks_it() {
    let (mut call, ok, _) = standard();
    call.run_until(2000);
    let resent = call.take();
    assert!(
        resent.iter().filter(|s| s.status() == Some(200)).count() >= 2,
        "{resent:?}"
    );
    call.a_sends(2100, &ack_for(&ok));
    call.run_until(10_000);
    let after = call.take();
    assert!(after.iter().all(|s| s.status() != Some(200)), "{after:?}");
    assert!(call.m.in_app());
}

#[test]
fn info_dtmf_of_both_body_types_is_reported_and_answered_200() {
    let (mut call, ok, _) = standard();
    let tag = ok.to_tag().unwrap();
    call.a_sends(100, &ack_for(&ok));
    call.take_events();
    call.a_sends(
        200,
        &a_request_typed(
            "INFO",
            11,
            &tag,
            "application/dtmf-relay",
            "Signal=5\r\nDuration=160\r\n",
        ),
    );
    call.a_sends(
        300,
        &a_request_typed("INFO", 12, &tag, "application/dtmf", "#"),
    );
    let sent = call.take();
    assert_eq!(
        sent.iter().filter(|s| s.status() == Some(200)).count(),
        2,
        "{sent:?}"
    );
    assert_eq!(dtmf_events(&call.take_events()), ['5', '#']);
}

#[test]
fn info_with_another_body_gets_415_with_accept_and_no_digit() {
    let (mut call, ok, _) = standard();
    let tag = ok.to_tag().unwrap();
    call.a_sends(100, &ack_for(&ok));
    call.take_events();
    call.a_sends(200, &a_request_typed("INFO", 11, &tag, "text/plain", "5"));
    let sent = call.take();
    let refusal = sent.iter().find(|s| s.status() == Some(415)).unwrap();
    assert!(
        refusal
            .header(HeaderName::Accept)
            .unwrap()
            .contains("application/dtmf-relay")
    );
    assert!(dtmf_events(&call.take_events()).is_empty());
}

#[test]
fn bye_from_a_in_the_app_ends_the_call_answered_with_normal_clearing() {
    let (mut call, ok, _) = standard();
    let tag = ok.to_tag().unwrap();
    call.a_sends(100, &ack_for(&ok));
    call.a_sends(5000, &a_request("BYE", 11, &tag, "z9hG4bKa-bye", "", None));
    let sent = call.take();
    assert!(sent.iter().any(|s| s.status() == Some(200)), "{sent:?}");
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "normal_clearing");
    assert_eq!(record.hangup.side, HangupSide::Caller);
    assert_eq!(record.answered_at, Some(UnixMillis(1_000_100)));
    assert_eq!(record.legs.len(), 1);
    assert_eq!(record.legs[0].answered_at, Some(UnixMillis(1_000_100)));
    assert_eq!(call.m.hangup_cause(), Some(HangupCause::NormalClearing));
}

#[test]
fn hanging_up_in_the_app_sends_bye_to_a() {
    let (mut call, ok, _) = standard();
    call.a_sends(100, &ack_for(&ok));
    call.hangup(2000, HangupCause::NormalClearing);
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.is_request("BYE") && s.to_a()),
        "{sent:?}"
    );
    let events = call.take_events();
    assert_eq!(Call::record(&events).hangup.side, HangupSide::Switch);
}

#[test]
fn a_hold_re_invite_in_the_app_is_answered_recvonly_and_reported() {
    let (mut call, ok, _) = standard();
    let tag = ok.to_tag().unwrap();
    call.a_sends(100, &ack_for(&ok));
    call.take_events();
    let held = sdp("192.0.2.10", 4000, 2, "sendonly");
    call.a_sends(
        1000,
        &a_request("INVITE", 11, &tag, "z9hG4bKa-re11", "", Some(&held)),
    );
    let sent = call.take();
    let answer = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(answer.text().contains("a=recvonly"), "{}", answer.text());
    assert!(answer.sdp().origin.session_version > ok.sdp().origin.session_version);
    let events = call.take_events();
    assert_eq!(
        remote_media(&events, LegSide::A),
        [(addr("192.0.2.10:4000"), addr("192.0.2.10:4001"), true)]
    );
}

#[test]
fn a_transfer_offers_b_the_switchs_answer_on_relay_b_and_b_answering_bridges_the_call() {
    let (mut call, ok, _) = standard();
    call.a_sends(100, &ack_for(&ok));
    call.take_events();
    call.dial(3000, &[PHONE_B1]);
    let sent = call.take();
    let invite = sent.iter().find(|s| s.is_request("INVITE")).unwrap();
    assert!(invite.to_phone(PHONE_B1));
    let offered = invite.sdp();
    assert_eq!(offered.media[0].port, addr(RELAY_B).port());
    assert_eq!(offered.media[0].formats, ["0", "101"]);
    assert!(sent.iter().all(|s| !s.to_a()), "{sent:?}");
    call.respond(
        3100,
        reply(invite.request(), 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    let b_answer = offer("0 101", "a=rtpmap:101 telephone-event/8000\n")
        .replace("192.0.2.10", "192.0.2.20")
        .replace("4000", "5000");
    call.respond(
        4000,
        reply(
            invite.request(),
            200,
            "btag1",
            "b1@192.0.2.20:5060",
            Some(&b_answer),
        ),
    );
    let sent = call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    assert!(sent.iter().all(|s| !s.to_a()), "{sent:?}");
    let events = call.take_events();
    assert!(events.iter().any(|e| matches!(e, CallEvent::Answered)));
    assert_eq!(remote_media(&events, LegSide::B).len(), 1);
    assert!(!call.m.in_app());
    call.hangup(9000, HangupCause::NormalClearing);
    let sent = call.take();
    assert!(sent.iter().any(|s| s.is_request("BYE") && s.to_a()));
    assert!(
        sent.iter()
            .any(|s| s.is_request("BYE") && s.to_phone(PHONE_B1))
    );
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.answered_at, Some(UnixMillis(1_000_100)));
    assert_eq!(record.legs.len(), 2);
    assert!(record.legs[1].answered_at.is_some());
}

#[test]
fn a_digit_sent_by_info_while_b_rings_after_a_transfer_gets_200() {
    let (mut call, ok, _) = standard();
    let tag = ok.to_tag().unwrap();
    call.a_sends(100, &ack_for(&ok));
    call.dial(3000, &[PHONE_B1]);
    call.take();
    call.a_sends(
        3500,
        &a_request_typed("INFO", 11, &tag, "application/dtmf", "1"),
    );
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.status() == Some(200) && s.to_a()),
        "{sent:?}"
    );
    assert!(!call.m.is_ended());
}

#[test]
fn a_transfer_that_b_refuses_ends_the_call_with_bye_to_a() {
    let (mut call, ok, _) = standard();
    call.a_sends(100, &ack_for(&ok));
    call.dial(3000, &[PHONE_B1]);
    let sent = call.take();
    let invite = sent
        .iter()
        .find(|s| s.is_request("INVITE"))
        .unwrap()
        .clone();
    call.respond(
        3100,
        reply(invite.request(), 486, "btag1", "b1@192.0.2.20:5060", None),
    );
    // The actor has no other stage.
    call.m.no_more_stages(call.at(3100));
    call.collect(3100);
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.is_request("BYE") && s.to_a()),
        "{sent:?}"
    );
    assert!(
        sent.iter().all(|s| s.status().is_none() || !s.to_a()),
        "{sent:?}"
    );
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.cause, "user_busy");
    assert!(record.answered_at.is_some());
}

#[test]
fn no_stage_in_the_app_phase_ends_the_call_with_bye() {
    let (mut call, ok, _) = standard();
    call.a_sends(100, &ack_for(&ok));
    call.m.no_more_stages(call.at(500));
    call.collect(500);
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.is_request("BYE") && s.to_a()),
        "{sent:?}"
    );
    assert_eq!(Call::record(&call.take_events()).legs.len(), 1);
}

#[test]
fn an_originated_call_starts_its_app_when_a_answers_and_reads_info_dtmf() {
    let mut call = originate(&[PHONE_A]);
    a_answers(&mut call);
    let events = call.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, CallEvent::OriginAnswered))
    );
    let format = call.m.start_app(call.at(1100)).unwrap();
    call.collect(1100);
    assert_eq!(format.law, G711Law::Alaw);
    assert_eq!(format.telephone_event, Some(101));
    assert!(call.m.in_app());
    call.take();
    let sent_before = call.take_events();
    assert!(sent_before.iter().any(|e| matches!(e, CallEvent::Answered)));
    let info = format!(
        "INFO sip:switchyard@192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKainfo
Max-Forwards: 70
From: <sip:1000@192.0.2.1>;tag=phone-a
To: \"2000\" <sip:2000@192.0.2.1>;tag={}
Call-ID: {A_CALL_ID}
CSeq: 1 INFO
Content-Type: application/dtmf-relay

Signal=7
Duration=100
",
        switch_tag(&call)
    );
    call.a_sends(2000, &info);
    assert_eq!(dtmf_events(&call.take_events()), ['7']);
    call.hangup(3000, HangupCause::NormalClearing);
    let sent = call.take();
    assert!(
        sent.iter().any(|s| s.is_request("BYE") && s.to_a()),
        "{sent:?}"
    );
    let record = Call::record(&call.take_events()).clone();
    assert!(record.answered_at.is_some());
}

/// The switch's tag on A's dialog of an originated call (the From tag of its INVITE).
fn switch_tag(call: &Call) -> String {
    call.m.caller.tag.clone()
}

#[test]
fn a_bridged_call_reports_each_sides_g711_format_for_music_on_hold() {
    let answered = answered_call(Call::start());
    let expected = MediaFormat {
        payload_type: 0,
        law: G711Law::Ulaw,
        telephone_event: Some(101),
    };
    assert_eq!(answered.call.m.media_format(LegSide::A), Some(expected));
    assert_eq!(answered.call.m.media_format(LegSide::B), Some(expected));
    assert_eq!(answered.call.m.app_media_format(), None);
}
