//! The call scenarios against each other, SIPp to SIPp with no switch in between, so a failing
//! call test points at the switch and not at its fixtures. The callee side is given a 407
//! challenge first (what the switch does to every new INVITE), inserted into a copy of its
//! scenario.

use std::path::PathBuf;
use std::time::Duration;

use crate::call_peers::{CALLEE, callee_with, caller, sent_sdp_audio, write_scenario};
use crate::harness::{DOMAIN, free_port};
use crate::pcap::TONE_SSRC;
use crate::rtp_peer::{PEER_SSRC, RtpPeer};
use crate::sipp_peer::{SippOutcome, SippPeer, scenario_path};

/// Steps a SIPp callee runs before its scenario proper: challenge the first INVITE with 407
/// (RFC 3261 §22.3) and take the ACK.
const CHALLENGE: &str = r#"
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 407 Proxy Authentication Required
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag07[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Proxy-Authenticate: Digest realm="DOMAIN", nonce="5a5a5a5a0123456789", algorithm=MD5, qop="auth"
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
"#;

/// A copy of callee scenario `scenario` (with `edits` applied) that challenges first, written
/// into `dir`.
fn challenging(dir: &tempfile::TempDir, scenario: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(scenario_path(scenario)).expect("read scenario");
    for (from, to) in edits {
        assert!(text.contains(from), "{scenario} has no {from:?}");
        text = text.replace(from, to);
    }
    let open = text.find("<scenario name=").expect("scenario element");
    let body = open + text[open..].find('>').expect("end of scenario tag") + 1;
    text.insert_str(body, &CHALLENGE.replace("DOMAIN", DOMAIN));
    write_scenario(dir.path(), &format!("{scenario}_challenging"), &text)
}

/// Runs `uac` (configured by `call`) against callee scenario `uas` (edited by `edits`, run
/// with `uas_args`) directly, and returns both verdicts and the callee's media peer report.
fn direct(
    uac: &str,
    uas: &str,
    edits: &[(&str, &str)],
    uas_args: &[&str],
    media: RtpPeer,
    calls: u32,
    call: impl FnOnce(SippPeer) -> SippPeer,
) -> (SippOutcome, SippOutcome, crate::rtp_peer::PeerReport) {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let scenario = challenging(&dir, uas, edits);
    let callee = callee_with(
        port,
        SippPeer::uas(uas, port)
            .scenario_file(scenario)
            .args(uas_args),
        &media,
        calls,
    );
    let remote = ([127, 0, 0, 1], port).into();
    let uac_out = call(caller(uac, remote, &CALLEE.to_string()).calls(calls)).run();
    let uas_out = callee.wait();
    (uac_out, uas_out, media.finish())
}

fn both_succeed(uac: &SippOutcome, uas: &SippOutcome, what: &str) {
    uac.assert_success(&format!("{what} (caller)"));
    uas.assert_success(&format!("{what} (callee)"));
}

#[test]
fn scenario_call_plays_the_generated_pcap_to_the_callee_media_and_gets_the_echo() {
    let (uac, uas, media) = direct(
        "call_uac",
        "call_uas",
        &[],
        &[],
        RtpPeer::answering(50),
        1,
        |c| {
            c.with_audio(50)
                .rtp_echo()
                .pause(Duration::from_millis(2000))
        },
    );
    both_succeed(&uac, &uas, "basic call");
    let caller_media = sent_sdp_audio(&uac.messages, "INVITE").expect("caller's SDP offer");
    assert_eq!(
        media.sources_of(TONE_SSRC),
        vec![caller_media],
        "the pcap is played from the offer's address: {media:#?}"
    );
    assert!(
        media.tone_payloads_with_ssrc(TONE_SSRC) >= 45,
        "the 50 tone packets arrive intact: {media:#?}"
    );
    assert!(
        media.packets_with_ssrc(PEER_SSRC) >= 40,
        "SIPp echoes the callee's RTP back: {media:#?}"
    );
}

#[test]
fn scenario_cancel_before_answer_gets_200_and_487() {
    let (uac, uas, _) = direct(
        "call_uac_cancel",
        "call_uas_no_answer",
        &[],
        &[],
        RtpPeer::listen(),
        1,
        |c| c,
    );
    both_succeed(&uac, &uas, "CANCEL before answer");
}

#[test]
fn scenario_busy_and_decline_are_refused_and_acked() {
    for (uac, uas) in [
        ("call_uac_486", "call_uas_busy"),
        ("call_uac_603", "call_uas_decline"),
    ] {
        let (c, s, _) = direct(uac, uas, &[], &[], RtpPeer::listen(), 1, |c| c);
        both_succeed(&c, &s, uac);
    }
}

#[test]
fn scenario_480_and_404_refusals_are_acked() {
    for (uac, status) in [
        ("call_uac_480", "480 Temporarily Unavailable"),
        ("call_uac_404", "404 Not Found"),
    ] {
        let (c, s, _) = direct(
            uac,
            "call_uas_busy",
            &[("486 Busy Here", status)],
            &[],
            RtpPeer::listen(),
            1,
            |c| c,
        );
        both_succeed(&c, &s, uac);
    }
}

#[test]
fn scenario_callee_hangs_up_and_the_caller_answers_the_bye() {
    let (uac, uas, _) = direct(
        "call_uac_wait_bye",
        "call_uas_bye",
        &[],
        &["-d", "500"],
        RtpPeer::listen(),
        1,
        |c| c.args(&["-recv_timeout", "10000"]),
    );
    both_succeed(&uac, &uas, "callee BYE");
}

#[test]
fn scenario_hold_and_unhold_reinvites_are_answered_with_the_mirrored_direction() {
    let (uac, uas, _) = direct(
        "call_uac_hold",
        "call_uas_hold",
        &[],
        &[],
        RtpPeer::listen(),
        1,
        |c| c,
    );
    both_succeed(&uac, &uas, "hold and unhold");
}

#[test]
fn scenario_load_caller_completes_every_call() {
    let (uac, uas, _) = direct(
        "call_uac_load",
        "call_uas",
        &[],
        &[],
        RtpPeer::listen(),
        5,
        |c| c.rate(10, 5).pause(Duration::from_millis(200)),
    );
    both_succeed(&uac, &uas, "load caller");
    assert_eq!(uac.successful, 5, "{}", uac.output);
    assert_eq!(uac.call_ids.len(), 5, "{:?}", uac.call_ids);
}
