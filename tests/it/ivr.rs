//! The IVR against the real switch: a SIPp caller dials the demo menu (5000) and presses 1 as
//! RFC 4733 events, as SIP INFO and as in-band tones, and is transferred to the SIPp callee
//! registered as 1001; a caller who presses nothing hears the timeout prompt on every try,
//! then goodbye, and gets the switch's BYE; an unknown key plays the invalid prompt; a webhook
//! step's answer transfers the call. The prompts' audio reaching the caller is counted by an
//! RTP peer the caller's SDP names; a rule's `record = true` on an `ivr` action records the
//! call.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::call_peers::{call_profile, caller, registered_callee, write_scenario};
use crate::cdr::{self, CallRow, Records};
use crate::harness::Switch;
use crate::pcap::write_dtmf_pcap;
use crate::rtp_peer::RtpPeer;
use crate::sipp_peer::{SippOutcome, SippPeer, scenario_path};

/// How long the switch may take to write the records of calls that just ended.
const RECORDS_WITHIN: Duration = Duration::from_secs(20);

/// SIPp's RFC 4733 recording of the digit 1.
const RFC4733_1: &str = "/usr/share/sip-tester/dtmf_2833_1.pcap";
/// SIPp's RFC 4733 recording of the digit 9.
const RFC4733_9: &str = "/usr/share/sip-tester/dtmf_2833_9.pcap";

/// The test menus: short prompts, one-second waits, two tries. `it` transfers on 1; `hook`
/// asks the webhook at HOOK_URL on 1 and falls back to `it`.
const IT_MENUS: &str = r#"
[[menu]]
name = "it"
prompt = "notify/press1.wav"
timeout_secs = 1
retries = 2
invalid_prompt = "demo/invalid.wav"
timeout_prompt = "demo/timeout.wav"
on_failure = { play = "demo/goodbye.wav", hangup = true }
[menu.keys]
"1" = { transfer = "1001" }

[[menu]]
name = "hook"
prompt = "notify/press1.wav"
timeout_secs = 5
retries = 1
[menu.keys]
"1" = [{ set = { who = "10" } }, { webhook = { url = "HOOK_URL", timeout_ms = 3000, fallback = "it" } }]
"#;

/// 5000: the shipped demo; 5001: `it`; 5002: `hook`; anything else rings that user.
const DIALPLAN: &str = r#"
[[context]]
name = "default"
[[context.rule]]
destination = "5000"
ivr = "demo"
[[context.rule]]
destination = "5001"
ivr = "it"
record = true
[[context.rule]]
destination = "5002"
ivr = "hook"
[[context.rule]]
destination_regex = "^(.+)$"
ring = ["$1"]
"#;

/// A switch with the shipped demo menu and the test menus; `inband`: the profile listens for
/// in-band DTMF only.
fn start(hook_url: &str, inband: bool) -> Switch {
    let profile = call_profile();
    let demo = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("dialplans/ivr/demo.toml"),
    )
    .expect("shipped demo menu");
    let menus = IT_MENUS.replace("HOOK_URL", hook_url);
    Switch::start_with_config(|port| {
        let mut text = profile.to_toml(port);
        if inband {
            text = text.replacen("\n[media]\n", "\n[media]\ndtmf = \"inband\"\n", 1);
        }
        vec![
            ("sip-profiles/it.toml".to_owned(), text),
            ("dialplans/default.toml".to_owned(), DIALPLAN.to_owned()),
            ("dialplans/ivr/demo.toml".to_owned(), demo.clone()),
            ("dialplans/ivr/it.toml".to_owned(), menus.clone()),
        ]
    })
}

/// The caller scenario `name` (`ivr_uac`, `ivr_uac_wait_bye`) playing `pcap`, written with
/// its path into `dir`.
fn pcap_scenario(dir: &Path, name: &str, pcap: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario_path(name)).expect("scenario file");
    write_scenario(
        dir,
        &format!("{name}_pcap"),
        &text.replace("DTMF_PCAP", &pcap.display().to_string()),
    )
}

fn one_record(switch: &Switch) -> (CallRow, Records) {
    let records = cdr::wait_for(&cdr::database_file(switch.config_dir()), 1, RECORDS_WITHIN);
    assert_eq!(records.calls.len(), 1, "one call, one record: {records:#?}");
    (records.calls[0].clone(), records)
}

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

/// Calls `number`, runs `uac` (already pointed at the switch), and checks that the IVR
/// transferred the caller to the registered callee, who was answered and then hung up on.
fn transferred_to_callee(switch: &Switch, uac: SippPeer, what: &str) {
    let media = RtpPeer::listen();
    let callee = registered_callee(switch, "call_uas", &media);
    let uac = uac.run();
    let uas = callee.wait();
    both_succeed(&uac, &uas, what);
    switch.wait_for_log("IVR transfer", 1, Duration::from_secs(5));
    let (call, records) = one_record(switch);
    assert_eq!(call.hangup_cause, "normal_clearing", "{call:#?}");
    let b = records.b_legs(&call);
    assert_eq!(b.len(), 1, "the transfer rang the callee: {records:#?}");
    assert_eq!(b[0].final_status, Some(200), "{records:#?}");
}

#[test]
fn pressing_1_as_rfc4733_in_the_demo_menu_transfers_to_1001() {
    let switch = start("http://127.0.0.1:9/ivr", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = pcap_scenario(dir.path(), "ivr_uac", Path::new(RFC4733_1));
    let uac = caller("ivr_uac", switch.addr(), "5000")
        .scenario_file(scenario)
        .pause(Duration::from_secs(8))
        .timeout(Duration::from_secs(40));
    transferred_to_callee(&switch, uac, "RFC 4733 1 in the demo IVR");
    switch.wait_for_log("IVR key", 1, Duration::from_secs(1));
}

#[test]
fn pressing_1_as_sip_info_in_the_demo_menu_transfers_to_1001() {
    let switch = start("http://127.0.0.1:9/ivr", false);
    let uac = caller("ivr_uac_info", switch.addr(), "5000")
        .pause(Duration::from_secs(8))
        .timeout(Duration::from_secs(40));
    transferred_to_callee(&switch, uac, "SIP INFO 1 in the demo IVR");
}

#[test]
fn pressing_1_as_in_band_tones_in_the_demo_menu_transfers_to_1001() {
    let switch = start("http://127.0.0.1:9/ivr", true);
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("dtmf_inband_1.pcap");
    write_dtmf_pcap(&pcap, "1").expect("write in-band DTMF pcap");
    let scenario = pcap_scenario(dir.path(), "ivr_uac", &pcap);
    let uac = caller("ivr_uac", switch.addr(), "5000")
        .scenario_file(scenario)
        .pause(Duration::from_secs(8))
        .timeout(Duration::from_secs(40));
    transferred_to_callee(&switch, uac, "in-band 1 in the demo IVR");
}

#[test]
fn a_silent_caller_hears_the_timeout_prompt_each_try_then_goodbye_and_the_switch_hangs_up() {
    let switch = start("http://127.0.0.1:9/ivr", false);
    // The caller's SDP names a Rust RTP peer, which counts the prompts' packets.
    let ear = RtpPeer::listen();
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(scenario_path("call_uac_wait_bye")).expect("scenario");
    let scenario = write_scenario(
        dir.path(),
        "ivr_uac_listen",
        &text.replace("m=audio [media_port]", "m=audio [rtp_port]"),
    );
    // press1 2.7 s + 1 s wait + timeout 3.2 s, twice, then goodbye 3.2 s: about 17 s.
    caller("call_uac_wait_bye", switch.addr(), "5001")
        .scenario_file(scenario)
        .key("rtp_port", ear.addr().port())
        .args(&["-recv_timeout", "40000"])
        .timeout(Duration::from_secs(45))
        .run()
        .assert_success("the switch hangs up after the tries");
    switch.wait_for_log("IVR timeout: no digit", 2, Duration::from_secs(5));
    switch.wait_for_log("IVR tries used up", 1, Duration::from_secs(5));
    let (call, records) = one_record(&switch);
    assert_eq!(call.hangup_cause, "normal_clearing", "{call:#?}");
    assert!(
        records.b_legs(&call).is_empty(),
        "nobody rang: {records:#?}"
    );
    // About 15 s of prompts: 2.7 + 3.2 + 2.7 + 3.2 + 3.2 s at 50 packets a second.
    let heard = ear.finish();
    let packets: usize = heard.streams.values().map(|s| s.packets).sum();
    assert!(
        (600..=900).contains(&packets),
        "the prompts reached the caller as about 750 packets: {heard:#?}"
    );
    // Rule 5001 says `record = true`: the IVR call was recorded from the switch's answer.
    let recordings = wav_files(&switch.config_dir().join("var/recordings"));
    assert_eq!(recordings.len(), 1, "one recording: {recordings:?}");
}

/// The `*.wav` files under `dir`, at any depth.
fn wav_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "wav") {
                found.push(path);
            }
        }
    }
    found
}

#[test]
fn an_unknown_key_plays_the_invalid_prompt_and_counts_as_a_try() {
    let switch = start("http://127.0.0.1:9/ivr", false);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = pcap_scenario(dir.path(), "ivr_uac_wait_bye", Path::new(RFC4733_9));
    caller("ivr_uac_wait_bye", switch.addr(), "5001")
        .scenario_file(scenario)
        .timeout(Duration::from_secs(45))
        .run()
        .assert_success("9, then the switch's BYE");
    switch.wait_for_log("IVR invalid key", 1, Duration::from_secs(5));
    switch.wait_for_log("IVR tries used up", 1, Duration::from_secs(5));
    let (call, records) = one_record(&switch);
    assert!(
        records.b_legs(&call).is_empty(),
        "nobody rang: {records:#?}"
    );
}

/// A one-request HTTP server answering `body` with 200; the request body it got.
fn ivr_hook(body: &'static str) -> (SocketAddr, Arc<Mutex<Option<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind hook");
    let addr = listener.local_addr().expect("hook addr");
    let got = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&got);
    thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let mut data = Vec::new();
        let mut buf = [0; 4096];
        loop {
            let Ok(n) = socket.read(&mut buf) else { return };
            if n == 0 {
                return;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    *seen.lock().expect("lock") =
                        Some(String::from_utf8_lossy(&data[end + 4..end + 4 + length]).into());
                    break;
                }
            }
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = socket.write_all(answer.as_bytes());
    });
    (addr, got)
}

#[test]
fn a_webhook_step_answering_a_transfer_connects_the_caller_to_1001() {
    let (hook, got) = ivr_hook(r#"{"actions":[{"transfer":"${who}01"}]}"#);
    let switch = start(&format!("http://{hook}/ivr"), false);
    let dir = tempfile::tempdir().expect("temp dir");
    let scenario = pcap_scenario(dir.path(), "ivr_uac", Path::new(RFC4733_1));
    let uac = caller("ivr_uac", switch.addr(), "5002")
        .scenario_file(scenario)
        .pause(Duration::from_secs(6))
        .timeout(Duration::from_secs(40));
    transferred_to_callee(&switch, uac, "a webhook's transfer");
    let body = got
        .lock()
        .expect("lock")
        .clone()
        .expect("the hook was asked");
    let sent: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(sent["menu"], "hook");
    assert_eq!(sent["dialled"], "5002");
    assert_eq!(sent["caller"], "1000");
    assert_eq!(sent["digits"], "1");
    assert_eq!(sent["variables"]["who"], "10");
}
