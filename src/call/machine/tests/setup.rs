//! Call setup edge cases: an answer only in the 183, redirects, an INVITE that cannot make a
//! dialog, and a callee reached over TCP.

use super::*;
use crate::call::record::HangupSide;
use sip_core::message::Uri;

fn ringing() -> (Call, Request) {
    let mut call = Call::start();
    call.take();
    call.dial(100, &[PHONE_B1]);
    let invite = call.take()[0].request().clone();
    (call, invite)
}

#[test]
fn a_2xx_without_sdp_takes_the_answer_the_same_dialog_sent_in_its_183() {
    let (mut call, invite) = ringing();
    let early = sdp("192.0.2.20", 5000, 1, "");
    call.respond(
        400,
        reply(&invite, 183, "btag1", "b1@192.0.2.20:5060", Some(&early)),
    );
    let progress = call.take()[0].sdp();
    call.respond(
        2000,
        reply(&invite, 200, "btag1", "b1@192.0.2.20:5060", None),
    );
    let sent = call.take();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    assert!(!sent.iter().any(|s| s.is_request("BYE")));
    let ok = sent.iter().find(|s| s.status() == Some(200)).unwrap();
    assert!(ok.to_a());
    let answer = ok.sdp();
    assert_eq!(answer.media[0].port, 20000);
    assert_eq!(answer.connection.as_ref().unwrap().address, "203.0.113.1");
    assert_eq!(
        answer.origin.session_version, progress.origin.session_version,
        "the same answer as in the 183"
    );
    let events = call.take_events();
    assert!(events.iter().any(|e| matches!(e, CallEvent::Answered)));
    assert!(
        remote_media(&events, LegSide::B)
            .iter()
            .all(|m| m.0 == addr("192.0.2.20:5000"))
    );
    assert!(!call.m.is_ended());
}

#[test]
fn a_2xx_without_sdp_and_no_answer_on_its_dialog_before_is_refused_with_488() {
    let (mut call, invite) = ringing();
    // Early media from another dialog (a fork behind a proxy) does not count.
    let early = sdp("192.0.2.20", 5000, 1, "");
    call.respond(
        400,
        reply(
            &invite,
            183,
            "btag-other",
            "b9@192.0.2.20:5060",
            Some(&early),
        ),
    );
    call.take();
    call.respond(
        2000,
        reply(&invite, 200, "btag1", "b1@192.0.2.20:5060", None),
    );
    let sent = call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    assert!(
        sent.iter()
            .any(|s| s.is_request("BYE") && s.to_phone(PHONE_B1))
    );
    let refused = sent.iter().find(|s| s.to_a()).unwrap();
    assert_eq!(refused.status(), Some(488));
    let events = call.take_events();
    assert!(!events.iter().any(|e| matches!(e, CallEvent::Answered)));
    assert_eq!(Call::record(&events).hangup.sip_status, 488);
}

#[test]
fn a_redirect_from_the_only_branch_gives_the_caller_480_without_its_contact() {
    let (mut call, invite) = ringing();
    let mut moved = reply(&invite, 302, "btag1", "", None);
    moved
        .headers_mut()
        .push(HeaderName::Contact, "<sip:elsewhere@198.51.100.7>");
    call.respond(500, moved);
    let sent = call.take();
    assert!(
        sent.iter()
            .any(|s| s.is_request("ACK") && s.to_phone(PHONE_B1))
    );
    let answer = sent.iter().find(|s| s.to_a()).unwrap();
    assert_eq!(answer.status(), Some(480));
    assert!(answer.header(HeaderName::Contact).is_none());
    assert!(!answer.text().contains("elsewhere"));
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.sip_status, 480);
    assert_eq!(record.hangup.side, HangupSide::Callee);
    assert_eq!(record.legs[1].final_status, Some(302));
}

#[test]
fn an_invite_without_contact_gets_400_and_ends_the_call() {
    let text = invite_text("", Some(&sdp("192.0.2.10", 4000, 1, "")))
        .replace("Contact: <sip:1000@192.0.2.10:5060>\n", "");
    let mut call = Call::with(&text, settings(), anchored());
    let sent = call.take();
    let statuses: Vec<_> = sent.iter().map(Sent::status).collect();
    assert_eq!(statuses, vec![Some(100), Some(400)]);
    assert!(sent.iter().all(Sent::to_a));
    let events = call.take_events();
    let record = Call::record(&events);
    assert_eq!(record.hangup.sip_status, 400);
    assert_eq!(record.hangup.side, HangupSide::Switch);
    assert!(call.m.is_ended());
    call.dial(100, &[PHONE_B1]);
    assert!(call.take().is_empty(), "nothing is dialled");
}

fn tcp(phone: &str) -> Peer {
    Peer {
        transport: Transport::Tcp,
        remote: addr(phone),
        local: addr(SWITCH),
    }
}

#[test]
fn a_callee_on_tcp_gets_tcp_via_and_contact_and_no_retransmissions() {
    let mut call = Call::start();
    call.take();
    let target = Target::new(
        Uri::parse("sip:1001@192.0.2.20:5060;transport=tcp").unwrap(),
        tcp(PHONE_B1),
    );
    call.m.dial(call.at(100), one_stage(vec![target]));
    call.collect(100);
    let sent = call.take();
    assert_eq!(sent.len(), 1);
    let invite = &sent[0];
    assert_eq!(invite.destination, Destination::Flow(tcp(PHONE_B1)));
    let via = invite.request().headers().top_via().unwrap();
    assert!(
        via.to_string().starts_with("SIP/2.0/TCP 192.0.2.1:5060;"),
        "{via}"
    );
    assert_eq!(
        invite.header(HeaderName::Contact).unwrap(),
        "<sip:switchyard@192.0.2.1:5060;transport=tcp>"
    );
    // RFC 3261 §17.1.1.2: no Timer A over a reliable transport.
    call.run_until(10_000);
    assert!(call.take().is_empty());

    let invite = invite.request().clone();
    call.respond(
        10_100,
        reply(&invite, 180, "btag1", "b1@192.0.2.20:5060", None),
    );
    call.respond(
        11_000,
        reply(
            &invite,
            200,
            "btag1",
            "b1@192.0.2.20:5060;transport=tcp",
            Some(&sdp("192.0.2.20", 5000, 1, "")),
        ),
    );
    let sent = call.take();
    let ack = sent.iter().find(|s| s.is_request("ACK")).unwrap();
    assert_eq!(ack.destination, Destination::Flow(tcp(PHONE_B1)));
    assert!(
        ack.request()
            .headers()
            .top_via()
            .unwrap()
            .to_string()
            .starts_with("SIP/2.0/TCP ")
    );
    let a_tag = sent
        .iter()
        .find(|s| s.status() == Some(200))
        .unwrap()
        .to_tag()
        .unwrap();
    call.a_sends(
        11_100,
        &a_request("ACK", 10, &a_tag, "z9hG4bKa-ack", "", None),
    );
    call.a_sends(
        20_000,
        &a_request("BYE", 11, &a_tag, "z9hG4bKa-bye", "", None),
    );
    let sent = call.take();
    let bye = sent.iter().find(|s| s.is_request("BYE")).unwrap();
    assert_eq!(bye.destination, Destination::Flow(tcp(PHONE_B1)));
    assert_eq!(
        bye.request().uri().to_string(),
        "sip:b1@192.0.2.20:5060;transport=tcp"
    );
    assert!(
        bye.request()
            .headers()
            .top_via()
            .unwrap()
            .to_string()
            .starts_with("SIP/2.0/TCP ")
    );
    // RFC 3261 §17.1.2.2: no Timer E over a reliable transport.
    call.run_until(30_000);
    let sent = call.take();
    assert!(sent.iter().all(|s| !s.is_request("BYE")), "{sent:?}");
}
