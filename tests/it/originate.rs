//! Click-to-call through the API against the real switch: `POST /api/v1/calls` rings user 1001
//! (a SIPp UAS), and once it answers the switch dials 1002 (another SIPp UAS) and bridges both
//! on the relay. The call is listed as `originate`, ends by a BYE or by the API, and its record
//! holds both legs; refusals (unknown or unregistered extension) come back as API errors, and a
//! busy B hangs up A.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::call_peers::{call_profile, callee_with, received_sdp_audio, register};
use crate::cdr::{self, CallRow, Records};
use crate::harness::{Switch, free_port, token};
use crate::http;
use crate::pcap::{TONE_SSRC, tone_packets};
use crate::rtp_peer::{PEER_SSRC, RtpPeer};
use crate::sipp_peer::{RunningSipp, SippOutcome, SippPeer};

/// The extension rung first.
const A: u32 = 1001;
/// The destination.
const B: u32 = 1002;

/// How long the switch may take to write the record of a call that just ended.
const RECORDS_WITHIN: Duration = Duration::from_secs(20);

/// Registers `user` on a free port and starts a SIPp UAS of `scenario` there.
fn phone(switch: &Switch, user: u32, scenario: &str, media: &RtpPeer) -> RunningSipp {
    phone_with(switch, user, media, |port| SippPeer::uas(scenario, port))
}

fn phone_with(
    switch: &Switch,
    user: u32,
    media: &RtpPeer,
    peer: impl FnOnce(u16) -> SippPeer,
) -> RunningSipp {
    let port = free_port();
    register(switch, user, port);
    callee_with(port, peer(port).service(&user.to_string()), media, 1)
}

/// `POST /api/v1/calls` as an agent.
fn originate(switch: &Switch, body: &str) -> http::Answer {
    http::post(
        switch.api_addr(),
        "/api/v1/calls",
        Some(token("agent")),
        body,
    )
}

/// The id of a call the API accepted (202 `{id}`).
fn accepted(answer: &http::Answer) -> String {
    assert_eq!(answer.status, 202, "originate accepted: {}", answer.body);
    answer.json()["id"]
        .as_str()
        .expect("an id in the answer")
        .to_owned()
}

/// Polls `GET /api/v1/calls` (bounded) until call `id` is listed in `state`; returns it.
fn wait_for_state(switch: &Switch, id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = http::get(switch.api_addr(), "/api/v1/calls", Some(token("readonly")));
        assert_eq!(answer.status, 200, "{}", answer.body);
        let json = answer.json();
        let call = json["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["id"] == id))
            .cloned();
        if let Some(call) = call.filter(|c| c["state"] == state) {
            return call;
        }
        assert!(
            Instant::now() < deadline,
            "call {id} not {state} within 15 s: {json}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn one_record(switch: &Switch) -> (CallRow, Records) {
    let records = cdr::wait_for(&cdr::database_file(switch.config_dir()), 1, RECORDS_WITHIN);
    assert_eq!(records.calls.len(), 1, "one call, one record: {records:#?}");
    (records.calls[0].clone(), records)
}

fn succeeded(outcome: &SippOutcome, what: &str) {
    if outcome.code != Some(0) {
        eprintln!(
            "--- {what} message trace (tail) ---\n{}",
            crate::sipp_peer::tail(&outcome.messages, 12_000)
        );
    }
    outcome.assert_success(what);
}

/// Plays A's phone: sends 50 tone packets (20 ms apart) to `relay_a` and counts B's answering
/// packets that come back from it, waiting (bounded) for them.
fn talk_through(relay_a: SocketAddr) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind A's media");
    // Each read waits up to 20 ms: the send pace.
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    let mut received = 0;
    for packet in tone_packets(50, TONE_SSRC) {
        socket.send_to(&packet, relay_a).expect("send RTP");
        received += answers_from(&socket, relay_a);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while received < 40 && Instant::now() < deadline {
        received += answers_from(&socket, relay_a);
    }
    received
}

/// B's answering packets (SSRC [`PEER_SSRC`]) read from `socket` until a read times out.
fn answers_from(socket: &UdpSocket, relay_a: SocketAddr) -> usize {
    let mut buf = [0u8; 2048];
    let mut count = 0;
    while let Ok((len, from)) = socket.recv_from(&mut buf) {
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        if len > 12 && from == relay_a && ssrc == PEER_SSRC {
            count += 1;
        }
    }
    count
}

/// The relay port range of the test switch.
fn relay_port(switch_ports: (u16, u16), addr: SocketAddr) -> bool {
    (switch_ports.0..=switch_ports.1).contains(&addr.port())
}

#[test]
fn originate_rings_a_then_connects_b_through_the_relay_and_records_both_legs() {
    let profile = call_profile();
    let switch = Switch::start_with(&profile);
    let media_a = RtpPeer::listen();
    // B's media answers the first stream it hears with 50 packets of its own.
    let media_b = RtpPeer::answering(50);
    let a = phone(&switch, A, "call_uas", &media_a);
    // B answers, talks for 5 s and hangs up.
    let b = phone_with(&switch, B, &media_b, |port| {
        SippPeer::uas("call_uas_bye", port).pause(Duration::from_secs(5))
    });
    let id = accepted(&originate(
        &switch,
        &format!(r#"{{"from":"{A}","to":"{B}"}}"#),
    ));

    let call = wait_for_state(&switch, &id, "answered");
    assert_eq!(call["direction"], "originate", "{call}");
    assert_eq!(call["caller"], A.to_string(), "{call}");
    let offer_a = received_sdp_audio(&a.messages_so_far(), "INVITE").expect("offer to A");
    let from_b = talk_through(offer_a);
    let b_outcome = b.wait();
    let a_outcome = a.wait();
    succeeded(&a_outcome, "A answers and gets BYE");
    succeeded(&b_outcome, "B answers and hangs up");

    // A is shown the destination as caller; B is shown A.
    assert!(
        a_outcome
            .messages
            .contains(&format!("From: \"{B}\" <sip:{B}@")),
        "A sees the destination calling: {}",
        crate::sipp_peer::tail(&a_outcome.messages, 4000)
    );
    assert!(
        b_outcome.messages.contains(&format!("<sip:{A}@")),
        "B sees A calling"
    );
    // Both were offered the relay, not each other.
    let ports = profile.rtp_ports.expect("relay ports");
    let offer_b = received_sdp_audio(&b_outcome.messages, "INVITE").expect("offer to B");
    assert!(
        relay_port(ports, offer_a),
        "A's offer names the relay: {offer_a}"
    );
    assert!(
        relay_port(ports, offer_b),
        "B's offer names the relay: {offer_b}"
    );
    assert_ne!(offer_a, offer_b);
    // A's audio reaches B from the relay, and B's comes back to A from the relay.
    let report_b = media_b.finish();
    assert!(
        report_b.packets_with_ssrc(TONE_SSRC) >= 40,
        "A's audio reaches B: {report_b:#?}"
    );
    assert_eq!(report_b.sources_of(TONE_SSRC), vec![offer_b]);
    assert!(from_b >= 10, "B's audio reaches A: {from_b} packets");

    let (row, records) = one_record(&switch);
    assert_eq!(row.call_id, id);
    assert_eq!(
        (row.hangup_cause.as_str(), row.hangup_side.as_str()),
        ("normal_clearing", "callee"),
        "{row:#?}"
    );
    assert!(row.answered_at_ms.is_some(), "{row:#?}");
    assert_eq!(row.caller.as_deref(), Some("1001"));
    assert!(row.to_uri.starts_with(&format!("sip:{B}@")), "{row:#?}");
    assert_eq!(records.a_leg(&row).final_status, Some(200));
    let b_legs = records.b_legs(&row);
    assert_eq!(b_legs.len(), 1, "{records:#?}");
    assert_eq!(b_legs[0].final_status, Some(200));
    let _ = media_a.finish();
}

#[test]
fn an_originated_call_hung_up_through_the_api_sends_bye_to_both_phones() {
    let switch = Switch::start_with(&call_profile());
    let media_a = RtpPeer::listen();
    let media_b = RtpPeer::listen();
    let a = phone(&switch, A, "call_uas", &media_a);
    let b = phone(&switch, B, "call_uas", &media_b);
    let id = accepted(&originate(
        &switch,
        &format!(r#"{{"from":"{A}","to":"{B}","caller_id_name":"Sales"}}"#),
    ));
    wait_for_state(&switch, &id, "answered");
    let answer = http::post(
        switch.api_addr(),
        &format!("/api/v1/calls/{id}/hangup"),
        Some(token("supervisor")),
        "",
    );
    assert_eq!(answer.status, 202, "{}", answer.body);
    let a_outcome = a.wait();
    let b_outcome = b.wait();
    succeeded(&a_outcome, "A gets BYE");
    succeeded(&b_outcome, "B gets BYE");
    assert!(
        b_outcome.messages.contains("From: \"Sales\""),
        "B sees the caller-ID name"
    );
    let (row, records) = one_record(&switch);
    assert_eq!(row.hangup_cause, "manager_request", "{row:#?}");
    assert_eq!(records.legs_of(&row).len(), 2, "{records:#?}");
    let _ = (media_a.finish(), media_b.finish());
}

#[test]
fn a_busy_destination_hangs_up_the_originating_phone_with_bye() {
    let switch = Switch::start_with(&call_profile());
    let media_a = RtpPeer::listen();
    let media_b = RtpPeer::listen();
    let a = phone(&switch, A, "call_uas", &media_a);
    let b = phone(&switch, B, "call_uas_busy", &media_b);
    let id = accepted(&originate(
        &switch,
        &format!(r#"{{"from":"{A}","to":"{B}"}}"#),
    ));
    succeeded(&b.wait(), "B is busy");
    succeeded(&a.wait(), "A answers and gets BYE");
    let (row, records) = one_record(&switch);
    assert_eq!(row.call_id, id);
    assert_eq!(
        (row.hangup_cause.as_str(), row.sip_status),
        ("user_busy", 486),
        "{row:#?}"
    );
    assert!(row.answered_at_ms.is_none(), "{row:#?}");
    assert_eq!(records.a_leg(&row).final_status, Some(200));
    assert_eq!(records.b_legs(&row)[0].final_status, Some(486));
    let _ = (media_a.finish(), media_b.finish());
}

#[test]
fn originate_refuses_unknown_and_unregistered_extensions_before_anything_rings() {
    let switch = Switch::start_with(&call_profile());
    let unknown = originate(&switch, r#"{"from":"9999","to":"1002"}"#);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.json()["code"], "unknown_extension");
    let unregistered = originate(&switch, r#"{"from":"1001","to":"1002"}"#);
    assert_eq!(unregistered.status, 409, "{}", unregistered.body);
    assert_eq!(unregistered.json()["code"], "not_registered");

    register(&switch, A, free_port());
    let nowhere = originate(&switch, r#"{"from":"1001","to":"9999"}"#);
    assert_eq!(nowhere.status, 404, "{}", nowhere.body);
    assert!(nowhere.body.contains("9999"), "{}", nowhere.body);
    let context = originate(&switch, r#"{"from":"1001","to":"1002","context":"nope"}"#);
    assert_eq!(context.status, 422, "{}", context.body);
    let profile = originate(&switch, r#"{"from":"1001","to":"1002","profile":"nope"}"#);
    assert_eq!(profile.status, 422, "{}", profile.body);
    let calls = http::get(switch.api_addr(), "/api/v1/calls", Some(token("readonly")));
    assert_eq!(calls.json()["items"], serde_json::json!([]), "nothing rang");
}

#[test]
fn an_originating_phone_that_does_not_answer_is_cancelled_and_nothing_else_rings() {
    let switch = Switch::start_with(&call_profile());
    let media_a = RtpPeer::listen();
    let a = phone(&switch, A, "call_uas_no_answer", &media_a);
    // B is registered, but no phone listens there: it must never be rung.
    register(&switch, B, free_port());
    let started = Instant::now();
    let id = accepted(&originate(
        &switch,
        &format!(r#"{{"from":"{A}","to":"{B}","timeout_secs":2}}"#),
    ));
    succeeded(&a.wait(), "A rings and gets CANCEL");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "A rang for its timeout"
    );
    let (row, records) = one_record(&switch);
    assert_eq!(row.call_id, id);
    assert_eq!(row.hangup_cause, "no_answer", "{row:#?}");
    assert_eq!(
        records.legs_of(&row).len(),
        1,
        "B was not dialled: {records:#?}"
    );
    assert_eq!(records.a_leg(&row).final_status, Some(487));
}

#[test]
fn a_busy_originating_phone_ends_the_call_with_user_busy() {
    let switch = Switch::start_with(&call_profile());
    let media_a = RtpPeer::listen();
    let a = phone(&switch, A, "call_uas_busy", &media_a);
    register(&switch, B, free_port());
    let id = accepted(&originate(
        &switch,
        &format!(r#"{{"from":"{A}","to":"{B}"}}"#),
    ));
    succeeded(&a.wait(), "A is busy");
    let (row, records) = one_record(&switch);
    assert_eq!(row.call_id, id);
    assert_eq!(
        (
            row.hangup_cause.as_str(),
            row.sip_status,
            row.hangup_side.as_str()
        ),
        ("user_busy", 486, "caller"),
        "{row:#?}"
    );
    assert_eq!(
        records.legs_of(&row).len(),
        1,
        "B was not dialled: {records:#?}"
    );
}
