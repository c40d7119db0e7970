//! The carrier scenarios against SIPp peers, with no switch in between, so a failing trunk
//! test points at the switch and not at its fixtures: the registrar takes a digest
//! registration and its refresh and fails a wrong password; the carriers answer, refuse with
//! 503 and stay silent as their names say; the phone caller takes either 200 or 503.

use std::path::PathBuf;
use std::time::Duration;

use crate::call_peers::{caller, write_scenario};
use crate::harness::DOMAIN;
use crate::sipp_peer::{SippOutcome, SippPeer, scenario_path};
use crate::trunk_peers::{PSTN_NUMBER, carrier, final_statuses, received_requests, wait_bound};
use crate::trunks::ports;

/// Steps a carrier runs before its scenario proper when it stands in for the switch: challenge
/// the phone's first INVITE with 407 (RFC 3261 §22.3) and take the ACK.
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

/// A copy of carrier scenario `scenario` that challenges the first INVITE, written into `dir`.
fn challenging(dir: &tempfile::TempDir, scenario: &str) -> PathBuf {
    let mut text = std::fs::read_to_string(scenario_path(scenario)).expect("read scenario");
    let open = text.find("<scenario name=").expect("scenario element");
    let body = open + text[open..].find('>').expect("end of scenario tag") + 1;
    text.insert_str(body, &CHALLENGE.replace("DOMAIN", DOMAIN));
    write_scenario(dir.path(), &format!("{scenario}_challenging"), &text)
}

/// Runs phone scenario `uac` against carrier `uas` (challenging first) directly.
fn phone_to_carrier(uac: &str, uas: &str) -> (SippOutcome, SippOutcome) {
    let dir = tempfile::tempdir().expect("temp dir");
    let [port] = ports();
    let callee = SippPeer::uas(uas, port)
        .scenario_file(challenging(&dir, uas))
        .timeout(Duration::from_secs(15))
        .spawn();
    wait_bound(port);
    let phone = caller(uac, ([127, 0, 0, 1], port).into(), PSTN_NUMBER)
        .pause(Duration::from_millis(100))
        .timeout(Duration::from_secs(10))
        .run();
    (phone, callee.wait())
}

/// Runs the registrar against a client that registers, waits `pause`, and refreshes.
fn registration(password: &str, pause: Duration) -> (SippOutcome, SippOutcome) {
    let [port] = ports();
    let registrar = SippPeer::uas("carrier_registrar", port)
        .key("realm", "carrier.test")
        .key("user", "acct")
        .key("password", "secret")
        .timeout(Duration::from_secs(15))
        .spawn();
    wait_bound(port);
    let client = SippPeer::uac("carrier_register_client", ([127, 0, 0, 1], port).into())
        .key("domain", "carrier.test")
        .service("acct")
        .credentials("acct", password)
        .args(&["-auth_uri", "carrier.test"])
        .pause(pause)
        .timeout(Duration::from_secs(10))
        .run();
    (client, registrar.wait())
}

#[test]
fn scenario_registrar_takes_a_digest_registration_and_its_refresh() {
    let (client, registrar) = registration("secret", Duration::from_millis(500));
    client.assert_success("client");
    registrar.assert_success("registrar");
}

#[test]
fn scenario_registrar_fails_a_wrong_password() {
    let (_, registrar) = registration("wrong", Duration::from_millis(500));
    assert_ne!(registrar.code, Some(0), "{}", registrar.output);
}

#[test]
fn scenario_registrar_fails_a_refresh_after_the_granted_5_s() {
    let (_, registrar) = registration("secret", Duration::from_millis(6000));
    assert_ne!(registrar.code, Some(0), "{}", registrar.output);
}

#[test]
fn scenario_carriers_answer_or_refuse_and_the_phone_caller_takes_either() {
    let (uac, uas) = phone_to_carrier("carrier_phone_call_or_503", "carrier_answer");
    uac.assert_success("caller, answered");
    uas.assert_success("answering carrier");
    assert_eq!(
        final_statuses(&uac.messages)
            .into_values()
            .collect::<Vec<_>>(),
        [200]
    );

    let (uac, uas) = phone_to_carrier("carrier_phone_call_or_503", "carrier_503");
    uac.assert_success("caller, refused");
    uas.assert_success("refusing carrier");
    assert_eq!(
        final_statuses(&uac.messages)
            .into_values()
            .collect::<Vec<_>>(),
        [503]
    );

    let (uac, _) = phone_to_carrier("call_uac_load", "carrier_503");
    assert_ne!(
        uac.code,
        Some(0),
        "a plain caller fails on 503: {}",
        uac.output
    );
}

#[test]
fn scenario_carrier_calls_are_answered_and_the_silent_carrier_sends_nothing() {
    let [answering, silent] = ports();
    let answer = carrier("carrier_answer", answering, 1);
    let uac = SippPeer::uac("carrier_inbound_call", ([127, 0, 0, 1], answering).into())
        .key("caller", "+15559876543")
        .service("+15551230001")
        .pause(Duration::from_millis(100))
        .run();
    uac.assert_success("inbound call to an answering carrier");
    answer.wait().assert_success("answering carrier");

    let quiet = carrier("carrier_silent", silent, 1);
    let uac = SippPeer::uac("carrier_inbound_call", ([127, 0, 0, 1], silent).into())
        .key("caller", "+15559876543")
        .service("+15551230001")
        .timeout(Duration::from_secs(2))
        .run();
    assert_ne!(uac.code, Some(0), "nobody answered");
    let quiet = quiet.wait();
    assert_eq!(received_requests(&quiet.messages, "INVITE").len(), 1);
    assert!(
        !quiet.messages.contains("message sent"),
        "the silent carrier sent nothing:\n{}",
        quiet.messages
    );
}
