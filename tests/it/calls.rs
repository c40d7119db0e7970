//! Calls through the real switch: SIPp caller (user 1000) -> switch -> SIPp callee (user 1001,
//! registered, its media answered by a Rust RTP peer). Audio relayed both ways, direct media,
//! the RTP bleed guard, CANCEL, busy, decline, no answer, unknown and unregistered callees,
//! hold, BYE from each side, media timeout, a burst of calls, and shutdown with calls up; each
//! checks the call records too.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::call_peers::{
    CALLEE, call_profile, caller, received_sdp_audio, registered_callee, registered_callee_with,
    sent_sdp_audio,
};
use crate::cdr::{self, CallRow, Records};
use crate::harness::{Profile, Switch};
use crate::pcap::TONE_SSRC;
use crate::rtp_peer::{PEER_SSRC, RtpPeer};
use crate::sipp_peer::{SippOutcome, SippPeer};

/// How long the switch may take to write the records of calls that just ended.
const RECORDS_WITHIN: Duration = Duration::from_secs(20);

fn callee_user() -> String {
    CALLEE.to_string()
}

/// Waits for exactly one call record and returns it with the others.
fn one_record(switch: &Switch) -> (CallRow, Records) {
    let records = cdr::wait_for(&cdr::database_file(switch.config_dir()), 1, RECORDS_WITHIN);
    assert_eq!(records.calls.len(), 1, "one call, one record: {records:#?}");
    (records.calls[0].clone(), records)
}

/// Asserts the hangup of `call`: cause code, Q.850 value, who hung up, and the SIP status
/// when given.
fn assert_hangup(call: &CallRow, cause: &str, q850: i64, side: &str, sip_status: Option<i64>) {
    assert_eq!(
        (
            call.hangup_cause.as_str(),
            call.q850,
            call.hangup_side.as_str()
        ),
        (cause, q850, side),
        "hangup of {call:#?}"
    );
    if let Some(status) = sip_status {
        assert_eq!(call.sip_status, status, "SIP status of {call:#?}");
    }
}

/// Panics unless both SIPps completed every call; a caller's failure also shows the callee's
/// side.
fn both_succeed(uac: &SippOutcome, uas: &SippOutcome, what: &str) {
    if uac.code != Some(0) || uas.code != Some(0) {
        eprintln!(
            "---- callee SIPp ----\n{}\n--- callee message trace (tail) ---\n{}",
            uas.output,
            crate::sipp_peer::tail(&uas.messages, 12_000)
        );
    }
    uac.assert_success(&format!("{what} (caller)"));
    uas.assert_success(&format!("{what} (callee)"));
}

#[test]
fn a_call_relays_audio_both_ways_through_the_switch_and_is_recorded() {
    let profile = call_profile();
    let switch = Switch::start_with(&profile);
    // The callee's media: counts what arrives and answers with 100 packets of its own, which
    // the caller's SIPp echoes back (-rtp_echo), so they cross the relay twice.
    let media = RtpPeer::answering(100);
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac", switch.addr(), &callee_user())
        .with_audio(100)
        .rtp_echo()
        .pause(Duration::from_millis(3500))
        .run();
    let uas = callee.wait();
    let report = media.finish();
    both_succeed(&uac, &uas, "basic call");

    // RFC 4566 §5.7/§5.14: the address each side was told to send to is the switch's relay,
    // not the other phone.
    let caller_media = sent_sdp_audio(&uac.messages, "INVITE").expect("caller's offer");
    let relay_b = received_sdp_audio(&uas.messages, "INVITE").expect("offer to the callee");
    let relay_a = received_sdp_audio(&uac.messages, "SIP/2.0 200").expect("answer to caller");
    assert_ne!(relay_b, caller_media, "the callee's offer names the relay");
    let (min, max) = profile.rtp_ports.expect("a relay port range");
    for relay in [relay_a, relay_b] {
        assert!(
            (min..=max).contains(&relay.port()),
            "{relay} is a relay port of the profile ({min}-{max})"
        );
    }
    assert_ne!(
        relay_a,
        report_peer_addr(&uas),
        "the caller's answer names the relay"
    );

    assert_eq!(
        report.sources_of(TONE_SSRC),
        vec![relay_b],
        "the caller's audio reaches the callee from the relay address it was offered: {report:#?}"
    );
    assert!(
        report.tone_payloads_with_ssrc(TONE_SSRC) >= 90,
        "at least 90 of the caller's 100 tone packets arrive, payload intact: {report:#?}"
    );
    assert!(
        report.packets_with_ssrc(PEER_SSRC) >= 80,
        "the callee's audio reaches the caller and comes back through the relay: {report:#?}"
    );
    assert_eq!(report.sources_of(PEER_SSRC), vec![relay_b], "{report:#?}");

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "normal_clearing", 16, "caller", Some(200));
    assert!(
        call.answered_at_ms.is_some() && call.billable_secs >= 3,
        "{call:#?}"
    );
    assert_eq!(call.caller.as_deref(), Some("1000"), "{call:#?}");
    let a = records.a_leg(&call);
    assert_eq!(
        Some(&a.sip_call_id),
        uac.call_ids.first(),
        "A leg is SIPp's call"
    );
    let b = records.b_legs(&call);
    assert_eq!(b.len(), 1, "one B leg: {records:#?}");
    assert_eq!(b[0].final_status, Some(200));
    assert!(
        a.packets_in.unwrap_or(0) >= 90 && b[0].packets_out.unwrap_or(0) >= 90,
        "the relay counted the caller's audio in and out: {records:#?}"
    );
    assert!(
        b[0].packets_in.unwrap_or(0) >= 90 && a.packets_out.unwrap_or(0) >= 90,
        "the relay counted the callee's audio in and out: {records:#?}"
    );
}

/// The address the callee's SDP answer named (the Rust RTP peer).
fn report_peer_addr(uas: &SippOutcome) -> std::net::SocketAddr {
    sent_sdp_audio(&uas.messages, "SIP/2.0 200").expect("callee's answer")
}

#[test]
fn rtp_from_a_host_the_sdp_did_not_name_is_not_relayed() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac", switch.addr(), &callee_user())
        .with_audio(100)
        .pause(Duration::from_millis(3000))
        .spawn();
    // Once the call is answered, the relay's caller-side address is known from the 200.
    let deadline = Instant::now() + Duration::from_secs(20);
    let relay_a = loop {
        if let Some(addr) = received_sdp_audio(&uac.messages_so_far(), "SIP/2.0 200") {
            break addr;
        }
        assert!(
            Instant::now() < deadline,
            "the call was not answered in 20 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // A stranger on another host (another loopback address) sends its own stream to that
    // address while the caller's audio flows. (The relay accepts any port of the IP address
    // the SDP named, by design: a stranger on the phone's own IP is not tested here.)
    let stranger = std::net::UdpSocket::bind("127.0.0.2:0").expect("bind stranger");
    for packet in crate::pcap::tone_packets(50, STRANGER_SSRC) {
        stranger.send_to(&packet, relay_a).expect("send");
        std::thread::sleep(Duration::from_millis(20));
    }
    let uac = uac.wait();
    let uas = callee.wait();
    let report = media.finish();
    both_succeed(&uac, &uas, "call with a stranger's RTP");

    assert!(
        report.packets_with_ssrc(TONE_SSRC) >= 90,
        "the caller's audio still flows: {report:#?}"
    );
    assert_eq!(
        report.packets_with_ssrc(STRANGER_SSRC),
        0,
        "RTP bleed: the stranger's packets reached the callee: {report:#?}"
    );
    let (call, records) = one_record(&switch);
    assert!(
        records.a_leg(&call).rejected.unwrap_or(0) >= 1,
        "the relay counts the packets it refused: {records:#?}"
    );
}

/// SSRC of packets from an address no SDP named.
const STRANGER_SSRC: u32 = 0x0bad_0bad;

#[test]
fn direct_media_passes_the_sdp_through_and_the_phones_exchange_rtp_directly() {
    let profile = Profile {
        direct_media: Some(true),
        ..call_profile()
    };
    let switch = Switch::start_with(&profile);
    let media = RtpPeer::answering(50);
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac", switch.addr(), &callee_user())
        .with_audio(50)
        .rtp_echo()
        .pause(Duration::from_millis(2000))
        .run();
    let uas = callee.wait();
    let report = media.finish();
    both_succeed(&uac, &uas, "direct-media call");

    let caller_media = sent_sdp_audio(&uac.messages, "INVITE").expect("caller's offer");
    let callee_media = report_peer_addr(&uas);
    assert_eq!(
        received_sdp_audio(&uas.messages, "INVITE"),
        Some(caller_media),
        "the callee is offered the caller's own media address"
    );
    assert_eq!(
        received_sdp_audio(&uac.messages, "SIP/2.0 200"),
        Some(callee_media),
        "the caller is answered with the callee's own media address"
    );
    assert_eq!(
        report.sources_of(TONE_SSRC),
        vec![caller_media],
        "RTP flows phone to phone: {report:#?}"
    );
    assert!(report.packets_with_ssrc(TONE_SSRC) >= 45, "{report:#?}");

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "normal_clearing", 16, "caller", Some(200));
    for leg in records.legs_of(&call) {
        assert_eq!(
            leg.packets_in, None,
            "no relay, no media counters: {records:#?}"
        );
    }
}

#[test]
fn caller_cancel_before_answer_gets_487_and_the_callee_is_cancelled() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas_no_answer", &media);
    let uac = caller("call_uac_cancel", switch.addr(), &callee_user()).run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "CANCEL before answer");

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "originator_cancel", 16, "caller", Some(487));
    assert!(call.answered_at_ms.is_none(), "{call:#?}");
    assert_eq!(records.a_leg(&call).final_status, Some(487));
    assert_eq!(
        records.b_legs(&call)[0].final_status,
        Some(487),
        "the B leg's record carries the 487 the callee answered the CANCEL with: {records:#?}"
    );
}

#[test]
fn busy_callee_gives_the_caller_486() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas_busy", &media);
    let uac = caller("call_uac_486", switch.addr(), &callee_user()).run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "busy");

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "user_busy", 17, "callee", Some(486));
    assert_eq!(records.b_legs(&call)[0].final_status, Some(486));
}

#[test]
fn declining_callee_gives_the_caller_603() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas_decline", &media);
    let uac = caller("call_uac_603", switch.addr(), &callee_user()).run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "decline");

    let (call, _) = one_record(&switch);
    assert_hangup(&call, "call_rejected", 21, "callee", Some(603));
}

#[test]
fn unanswered_call_gets_480_after_the_ring_timeout_and_the_callee_a_cancel() {
    let profile = Profile {
        ring_timeout_secs: Some(2),
        ..call_profile()
    };
    let switch = Switch::start_with(&profile);
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas_no_answer", &media);
    let started = Instant::now();
    let uac = caller("call_uac_480", switch.addr(), &callee_user()).run();
    let rang_for = started.elapsed();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "no answer");
    assert!(
        rang_for >= Duration::from_secs(2),
        "the 480 came after the 2 s ring timeout, not before ({rang_for:?})"
    );

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "no_answer", 19, "switch", Some(480));
    assert_eq!(
        records.b_legs(&call)[0].final_status,
        Some(487),
        "the B leg's record carries the 487 the callee answered the CANCEL with: {records:#?}"
    );
}

#[test]
fn unknown_extension_gets_404() {
    let switch = Switch::start_with(&call_profile());
    let uac = caller("call_uac_404", switch.addr(), "7777").run();
    uac.assert_success("unknown extension");

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "unallocated_number", 1, "switch", Some(404));
    assert!(records.b_legs(&call).is_empty(), "nobody was dialled");
}

#[test]
fn unregistered_extension_gets_480() {
    let switch = Switch::start_with(&call_profile());
    // 1002 is a user of the profile with no phone registered.
    let uac = caller("call_uac_480", switch.addr(), "1002").run();
    uac.assert_success("unregistered extension");

    let (call, records) = one_record(&switch);
    assert_hangup(&call, "user_not_registered", 20, "switch", Some(480));
    assert!(records.b_legs(&call).is_empty(), "nobody was dialled");
}

#[test]
fn hold_and_unhold_reinvites_are_relayed_to_the_callee() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas_hold", &media);
    let uac = caller("call_uac_hold", switch.addr(), &callee_user()).run();
    let uas = callee.wait();
    // The callee's scenario checks each re-INVITE offers the caller's direction (sendonly,
    // then sendrecv); the caller's checks each 200 carries the callee's answer.
    both_succeed(&uac, &uas, "hold and unhold");

    let (call, _) = one_record(&switch);
    assert_hangup(&call, "normal_clearing", 16, "caller", None);
}

#[test]
fn callee_hangs_up_and_the_caller_gets_the_bye() {
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee_with(
        &switch,
        |port| SippPeer::uas("call_uas_bye", port).pause(Duration::from_millis(1000)),
        &media,
        1,
    );
    let uac = caller("call_uac_wait_bye", switch.addr(), &callee_user())
        .args(&["-recv_timeout", "15000"])
        .run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "callee BYE");

    let (call, _) = one_record(&switch);
    assert_hangup(&call, "normal_clearing", 16, "callee", None);
    assert!(call.answered_at_ms.is_some());
}

#[test]
fn a_call_without_rtp_is_hung_up_on_both_sides_at_the_media_timeout() {
    let profile = Profile {
        media_timeout_secs: Some(2),
        ..call_profile()
    };
    let switch = Switch::start_with(&profile);
    let media = RtpPeer::listen();
    // Neither side sends RTP; both wait for the switch's BYE.
    let callee = registered_callee(&switch, "call_uas", &media);
    let started = Instant::now();
    let uac = caller("call_uac_wait_bye", switch.addr(), &callee_user())
        .args(&["-recv_timeout", "20000"])
        .run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "media timeout");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the BYE came only after the 2 s media timeout"
    );

    let (call, _) = one_record(&switch);
    assert_hangup(&call, "media_timeout", 102, "switch", None);
    assert!(call.answered_at_ms.is_some());
}

#[test]
fn every_call_of_a_burst_gets_exactly_one_record() {
    const CALLS: u32 = 200;
    let switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee_with(
        &switch,
        |port| {
            SippPeer::uas("call_uas", port)
                .without_message_trace()
                .timeout(Duration::from_secs(90))
        },
        &media,
        CALLS,
    );
    let uac = caller("call_uac_load", switch.addr(), &callee_user())
        .calls(CALLS)
        .rate(50, 100)
        .pause(Duration::from_millis(1000))
        .without_message_trace()
        .timeout(Duration::from_secs(60))
        .run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, "200 calls at 50 cps");
    assert_eq!(uac.successful, u64::from(CALLS), "{}", uac.output);

    let records = cdr::wait_for(
        &cdr::database_file(switch.config_dir()),
        CALLS as usize,
        RECORDS_WITHIN,
    );
    assert_eq!(
        records.calls.len(),
        CALLS as usize,
        "one record per call, no more"
    );
    let recorded: BTreeSet<&str> = records
        .calls
        .iter()
        .map(|c| records.a_leg(c).sip_call_id.as_str())
        .collect();
    let made: BTreeSet<&str> = uac.call_ids.iter().map(String::as_str).collect();
    assert_eq!(
        made.len(),
        CALLS as usize,
        "SIPp's trace lists every call it made"
    );
    let missing: Vec<_> = made.difference(&recorded).collect();
    let unknown: Vec<_> = recorded.difference(&made).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "records match the calls one for one; calls without a record: {missing:?}; records \
         of no call: {unknown:?}"
    );
    let not_normal: Vec<&CallRow> = records
        .calls
        .iter()
        .filter(|c| c.hangup_cause != "normal_clearing" || c.hangup_side != "caller")
        .collect();
    assert!(
        not_normal.is_empty(),
        "every call ended by the caller's BYE: {not_normal:#?}"
    );
}

#[test]
fn shutdown_hangs_up_established_calls_and_records_each() {
    const CALLS: u32 = 3;
    let mut switch = Switch::start_with(&call_profile());
    let media = RtpPeer::listen();
    let callee = registered_callee_with(
        &switch,
        |port| SippPeer::uas("call_uas", port).timeout(Duration::from_secs(60)),
        &media,
        CALLS,
    );
    let uac = caller("call_uac_wait_bye", switch.addr(), &callee_user())
        .calls(CALLS)
        .rate(10, CALLS)
        .args(&["-recv_timeout", "40000"])
        .timeout(Duration::from_secs(60))
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while uac.established_calls() < CALLS as usize {
        if Instant::now() > deadline {
            let uac = uac.wait();
            let uas = callee.wait();
            both_succeed(&uac, &uas, "calls before the shutdown");
            panic!("{CALLS} calls were not established within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let status = switch.stop();
    let uac = uac.wait();
    let uas = callee.wait();
    assert_eq!(
        status.code(),
        Some(0),
        "clean exit with calls up: {status:?}"
    );
    both_succeed(&uac, &uas, "BYE to both sides at shutdown");

    let records = cdr::read(&cdr::database_file(switch.config_dir())).unwrap_or_default();
    assert_eq!(
        records.calls.len(),
        CALLS as usize,
        "every call cut by the shutdown has its record when the switch has exited: {records:#?}"
    );
    for call in &records.calls {
        assert_hangup(call, "system_shutdown", 41, "switch", None);
        assert!(call.answered_at_ms.is_some(), "{call:#?}");
    }
}
