//! Call recording through the real switch: SIPp caller (user 1000, a 1 kHz tone) -> switch ->
//! registered SIPp callee (user 1001, a 400 Hz tone), recorded from answer by profile policy
//! or through the API. The WAV file is checked the way an operator would: `sox --i`, each
//! channel's tone (Goertzel), length against the record, SHA-256, the API download; and a
//! recordings directory that cannot be written fails the recording, never the call.

use std::f64::consts::PI;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use media_core::g711;
use media_core::rtp::RtpBuilder;
use serde_json::Value;
use sha2::Digest as _;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::http::Request;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::call_peers::{CALLEE, call_profile, caller, register, write_scenario};
use crate::harness::{Profile, Switch, free_port, token};
use crate::http;
use crate::rtp_peer::RtpPeer;
use crate::sipp_peer::{RunningSipp, SippPeer};

/// The caller's tone (the shared test pcap).
const CALLER_HZ: f64 = 1000.0;
/// The callee's tone.
const CALLEE_HZ: f64 = 400.0;
/// How long the switch may take to write the record of a call that just ended.
const RECORD_WITHIN: Duration = Duration::from_secs(20);
/// How long anything the switch does at once may take to show.
const PROMPTLY: Duration = Duration::from_secs(15);

/// A profile file: the call test profile on `port`, then `[recording]` as given.
fn profile_with_recording(profile: &Profile, port: u16, recording: &str) -> String {
    format!("{}\n[recording]\n{recording}\n", profile.to_toml(port))
}

/// Writes a pcap of `packets` PCMU RTP packets of a `hz` tone, 20 ms apart (SIPp's
/// `play_pcap_audio` keeps the UDP payload and rewrites addresses and ports).
fn write_tone_pcap(path: &Path, hz: f64, packets: usize) {
    let mut out = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65_535, 1] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for n in 0..packets {
        let mut linear = [0i16; 160];
        for (i, sample) in linear.iter_mut().enumerate() {
            let t = (n * 160 + i) as f64 / 8000.0;
            *sample = (8192.0 * (2.0 * PI * hz * t).sin()).round() as i16;
        }
        let mut payload = [0u8; 160];
        g711::encode_ulaw(&linear, &mut payload).expect("equal lengths");
        let rtp = RtpBuilder::new(0, n as u16, (n * 160) as u32, 0x4341_4c4c)
            .marker(n == 0)
            .to_vec(&payload)
            .expect("RTP packet");
        let frame = udp_frame(&rtp);
        let at_us = n as u32 * 20_000;
        for word in [
            at_us / 1_000_000,
            at_us % 1_000_000,
            frame.len() as u32,
            frame.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// Ethernet II + IPv4 (header checksum set) + UDP (no checksum, RFC 768) around `payload`.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let ip_len = 28 + payload.len();
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0];
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(ip_len as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&40_000u16.to_be_bytes());
    f.extend_from_slice(&40_002u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The callee's scenario: `call_uas` that plays `pcap` (an absolute path) after the ACK.
fn callee_scenario(dir: &Path, pcap: &Path) -> PathBuf {
    let base = std::fs::read_to_string(crate::sipp_peer::scenario_path("call_uas"))
        .expect("call_uas scenario");
    let ack = r#"<recv request="ACK" rtd="true" crlf="true"/>"#;
    assert!(base.contains(ack), "call_uas has its ACK step");
    let play = format!(
        "{ack}\n\n  <nop>\n    <action>\n      <exec play_pcap_audio=\"{}\"/>\n    </action>\n  </nop>",
        pcap.display()
    );
    write_scenario(dir, "call_uas_tone", &base.replacen(ack, &play, 1))
}

/// A registered callee playing a `CALLEE_HZ` tone of `packets` after answering; its SDP names
/// `media` (which receives the caller's audio).
fn tone_callee(switch: &Switch, work: &Path, media: &RtpPeer, packets: usize) -> RunningSipp {
    let pcap = work.join("callee_tone.pcap");
    write_tone_pcap(&pcap, CALLEE_HZ, packets);
    let scenario = callee_scenario(work, &pcap);
    let port = free_port();
    register(switch, CALLEE, port);
    let running = SippPeer::uas("call_uas_tone", port)
        .scenario_file(scenario)
        .key("rtp_port", media.addr().port())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(Instant::now() < deadline, "the callee's SIPp did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// The first record once there is one, from `GET /api/v1/records`.
fn the_record(switch: &Switch) -> Value {
    let deadline = Instant::now() + RECORD_WITHIN;
    loop {
        let page = http::get(
            switch.api_addr(),
            "/api/v1/records",
            Some(token("readonly")),
        )
        .json();
        if let Some(record) = page["items"].as_array().and_then(|items| items.first()) {
            return record.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no call record within {RECORD_WITHIN:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The id of the one answered call in progress.
fn answered_call(switch: &Switch) -> String {
    let deadline = Instant::now() + PROMPTLY;
    loop {
        let calls = http::get(switch.api_addr(), "/api/v1/calls", Some(token("readonly"))).json();
        if let Some(call) = calls["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["state"] == "answered"))
        {
            return call["id"].as_str().expect("call id").to_owned();
        }
        assert!(Instant::now() < deadline, "no answered call: {calls}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `POST /api/v1/calls/{id}/recording` with `action`, as a supervisor.
fn control(switch: &Switch, call: &str, action: &str) -> http::Answer {
    http::post(
        switch.api_addr(),
        &format!("/api/v1/calls/{call}/recording"),
        Some(token("supervisor")),
        &format!(r#"{{"action":"{action}"}}"#),
    )
}

/// The value of the sample `series` in the switch's `/metrics`.
fn metric(switch: &Switch, series: &str) -> Option<f64> {
    let text = http::get(switch.api_addr(), "/metrics", None).body;
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// A stereo 16-bit PCM WAV file: sample rate and the two channels.
struct Wav {
    channels: u16,
    rate: u32,
    left: Vec<f64>,
    right: Vec<f64>,
}

fn read_wav(bytes: &[u8]) -> Wav {
    assert_eq!(&bytes[0..4], b"RIFF", "a RIFF file");
    assert_eq!(&bytes[8..12], b"WAVE", "a WAVE file");
    let (mut at, mut format, mut data) = (12, None, None);
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => format = Some(body.to_vec()),
            b"data" => data = Some(body.to_vec()),
            _ => {}
        }
        at += 8 + len + (len & 1);
    }
    let format = format.expect("a fmt chunk");
    let data = data.expect("a data chunk");
    assert_eq!(u16::from_le_bytes([format[0], format[1]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([format[14], format[15]]), 16, "16-bit");
    let channels = u16::from_le_bytes([format[2], format[3]]);
    let rate = u32::from_le_bytes(format[4..8].try_into().unwrap());
    let samples: Vec<f64> = data
        .chunks_exact(2)
        .map(|s| f64::from(i16::from_le_bytes([s[0], s[1]])))
        .collect();
    let step = usize::from(channels.max(1));
    Wav {
        channels,
        rate,
        left: samples.iter().step_by(step).copied().collect(),
        right: samples.iter().skip(1).step_by(step).copied().collect(),
    }
}

/// Goertzel power of `hz` in `samples` at 8 kHz.
fn power(samples: &[f64], hz: f64) -> f64 {
    let coeff = 2.0 * (2.0 * PI * hz / 8000.0).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in samples {
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    s1 * s1 + s2 * s2 - coeff * s1 * s2
}

/// `sox --i -<flag> file`, trimmed.
fn sox_info(flag: &str, file: &Path) -> String {
    let out = Command::new("sox")
        .args(["--i", flag])
        .arg(file)
        .output()
        .expect("sox is needed (Debian's 'sox' package; scripts/test installs it)");
    assert!(out.status.success(), "sox --i: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `GET path` with a bearer token: status, headers (lower-case names) and the body's bytes.
fn get_bytes(addr: SocketAddr, path: &str, bearer: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect to the API");
    stream.set_read_timeout(Some(PROMPTLY)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {bearer}\r\n\r\n"
    )
    .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[end + 4..].to_vec())
}

/// A blocking reader of `/api/v1/events` (readonly token).
struct Events(tungstenite::WebSocket<TcpStream>);

impl Events {
    fn connect(switch: &Switch, query: &str) -> Events {
        let addr = switch.api_addr();
        let request = Request::get(format!("ws://{addr}/api/v1/events{query}"))
            .header("Host", addr.to_string())
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", generate_key())
            .header("Authorization", format!("Bearer {}", token("readonly")))
            .body(())
            .unwrap();
        let stream = TcpStream::connect(addr).expect("connect to the API");
        stream.set_read_timeout(Some(PROMPTLY)).expect("timeout");
        let (ws, _) = tungstenite::client::client(request, stream)
            .unwrap_or_else(|e| panic!("event stream handshake: {e}"));
        let mut events = Events(ws);
        assert_eq!(events.next()["type"], "stream.hello");
        events
    }

    fn next(&mut self) -> Value {
        loop {
            match self.0.read().expect("an event within the read timeout") {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Close(frame) => panic!("event stream closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Events until one of type `last` (included).
    fn until(&mut self, last: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let event = self.next();
            let done = event["type"] == last;
            out.push(event);
            if done {
                return out;
            }
        }
    }
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

#[test]
fn policy_all_records_both_sides_of_a_call_into_a_stereo_wav_the_api_serves() {
    let profile = call_profile();
    let switch = Switch::start_with_config(|port| {
        vec![(
            "sip-profiles/it.toml".to_owned(),
            profile_with_recording(&profile, port, "policy = \"all\""),
        )]
    });
    let work = tempfile::tempdir().expect("temp dir");
    let media = RtpPeer::listen();
    let callee = tone_callee(&switch, work.path(), &media, 150);
    let uac = caller("call_uac", switch.addr(), &CALLEE.to_string())
        .with_audio(150)
        .pause(Duration::from_millis(4000))
        .run();
    let uas = callee.wait();
    uac.assert_success("recorded call (caller)");
    uas.assert_success("recorded call (callee)");

    let record = the_record(&switch);
    let recording = &record["recording"];
    assert_eq!(recording["status"], "complete", "{record:#}");
    let path = PathBuf::from(recording["path"].as_str().expect("a path"));
    let file = if path.is_absolute() {
        path
    } else {
        switch.config_dir().join("var/recordings").join(path)
    };
    let call_id = record["call_id"].as_str().expect("call id");
    assert!(
        file.ends_with(format!("{call_id}.wav")),
        "<dir>/YYYY/MM/DD/<call id>.wav: {}",
        file.display()
    );
    let bytes = std::fs::read(&file).expect("the recording file");

    assert_eq!(sox_info("-c", &file), "2", "stereo");
    assert_eq!(sox_info("-r", &file), "8000", "8 kHz");
    let wav = read_wav(&bytes);
    assert_eq!((wav.channels, wav.rate), (2, 8000));

    let answered = record["answered_at"].as_u64().expect("answered");
    let ended = record["ended_at"].as_u64().expect("ended");
    let call_ms = ended - answered;
    let duration_ms = recording["duration_ms"].as_u64().expect("duration");
    assert!(
        call_ms.abs_diff(duration_ms) <= 200,
        "recording {duration_ms} ms, call answered for {call_ms} ms"
    );
    let file_ms = wav.left.len() as u64 / 8;
    assert!(
        file_ms.abs_diff(duration_ms) <= 200,
        "the file holds {file_ms} ms, the record says {duration_ms} ms"
    );

    // The caller's side is the left channel, the callee's the right.
    let (l1k, l400) = (power(&wav.left, CALLER_HZ), power(&wav.left, CALLEE_HZ));
    let (r1k, r400) = (power(&wav.right, CALLER_HZ), power(&wav.right, CALLEE_HZ));
    assert!(
        l1k > 100.0 * l400,
        "left: the caller's 1 kHz ({l1k:e}) over 400 Hz ({l400:e})"
    );
    assert!(
        r400 > 100.0 * r1k,
        "right: the callee's 400 Hz ({r400:e}) over 1 kHz ({r1k:e})"
    );

    let sha = format!("{:x}", sha2::Sha256::digest(&bytes));
    assert_eq!(recording["sha256"], sha.as_str(), "SHA-256 of the file");

    let (status, headers, body) = get_bytes(
        switch.api_addr(),
        &format!("/api/v1/recordings/{call_id}"),
        token("supervisor"),
    );
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("audio/wav"));
    assert_eq!(
        header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert!(body == bytes, "the download is the file, byte for byte");
    let (status, _, _) = get_bytes(
        switch.api_addr(),
        &format!("/api/v1/recordings/{call_id}"),
        token("agent"),
    );
    assert_eq!(status, 403, "recordings are for supervisors");

    let list = http::get(
        switch.api_addr(),
        "/api/v1/recordings",
        Some(token("supervisor")),
    )
    .json();
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list:#}");
    let item = &list["items"][0];
    assert_eq!(item["call_id"], call_id);
    assert_eq!(item["sha256"], sha.as_str());
    assert_eq!(item["status"], "complete");
    assert_eq!(item["duration_ms"].as_u64(), Some(duration_ms));
    assert_eq!(item["started_at"], record["started_at"]);
    assert_eq!(list["next_cursor"], Value::Null);
    assert_eq!(
        metric(&switch, "switchyard_recordings_total{result=\"complete\"}"),
        Some(1.0)
    );
    assert_eq!(metric(&switch, "switchyard_recordings_active"), Some(0.0));
}

#[test]
fn a_supervisor_starts_pauses_resumes_and_stops_the_recording_of_a_call() {
    let profile = call_profile();
    let switch = Switch::start_with(&profile);
    let mut events = Events::connect(&switch, "?types=recording.*");
    let media = RtpPeer::answering(400);
    let port = free_port();
    register(&switch, CALLEE, port);
    let callee = SippPeer::uas("call_uas", port)
        .key("rtp_port", media.addr().port())
        .spawn();
    let uac = caller("call_uac", switch.addr(), &CALLEE.to_string())
        .with_audio(400)
        .pause(Duration::from_millis(8000))
        .spawn();
    let call = answered_call(&switch);

    let unknown = control(&switch, "00000000-0000-4000-8000-000000000000", "start");
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let refused = http::post(
        switch.api_addr(),
        &format!("/api/v1/calls/{call}/recording"),
        Some(token("agent")),
        r#"{"action":"start"}"#,
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    let bad = control(&switch, &call, "rewind");
    assert_eq!(
        (bad.status, bad.json()["code"].as_str()),
        (400, Some("invalid_body"))
    );
    let early = control(&switch, &call, "pause");
    assert_eq!(
        (early.status, early.json()["code"].as_str()),
        (409, Some("conflict")),
        "nothing to pause yet: {}",
        early.body
    );

    let started = control(&switch, &call, "start");
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.json()["active"], true);
    let again = control(&switch, &call, "start");
    assert_eq!(again.status, 409, "{}", again.body);
    for (action, active) in [("pause", false), ("resume", true), ("stop", false)] {
        std::thread::sleep(Duration::from_millis(500));
        let answer = control(&switch, &call, action);
        assert_eq!(answer.status, 200, "{action}: {}", answer.body);
        assert_eq!(answer.json()["active"], active, "{action}: {}", answer.body);
    }

    let recorded = events.until("recording.stopped");
    assert_eq!(
        types(&recorded),
        [
            "recording.started",
            "recording.paused",
            "recording.resumed",
            "recording.stopped"
        ],
        "{recorded:#?}"
    );
    assert!(
        recorded.iter().all(|e| e["call_id"] == call.as_str()),
        "{recorded:#?}"
    );
    let stopped = &recorded[3]["data"];

    uac.wait().assert_success("caller of the recorded call");
    callee.wait().assert_success("callee of the recorded call");
    let record = the_record(&switch);
    let recording = &record["recording"];
    assert_eq!(recording["status"], "complete", "{record:#}");
    assert_eq!(recording["path"], stopped["path"], "{record:#} {stopped}");
    assert_eq!(
        recording["sha256"], stopped["sha256"],
        "{record:#} {stopped}"
    );
    let duration = recording["duration_ms"].as_u64().expect("duration");
    assert!(
        (1_000..=2_500).contains(&duration),
        "from start to stop, about 1.5 s: {duration} ms"
    );
    let (status, _, body) = get_bytes(
        switch.api_addr(),
        &format!("/api/v1/recordings/{call}"),
        token("admin"),
    );
    assert_eq!(status, 200);
    assert_eq!(read_wav(&body).channels, 2);
}

#[test]
fn a_recordings_directory_that_cannot_be_written_fails_the_recording_but_not_the_call() {
    let profile = call_profile();
    // The directory would be under a plain file: it cannot be created, not even by root.
    let switch = Switch::start_with_config(|port| {
        vec![
            ("blocker".to_owned(), "a file, not a directory\n".to_owned()),
            (
                "sip-profiles/it.toml".to_owned(),
                profile_with_recording(
                    &profile,
                    port,
                    "policy = \"all\"\ndirectory = \"blocker/recordings\"",
                ),
            ),
        ]
    });
    let mut events = Events::connect(&switch, "?types=recording.*");
    let media = RtpPeer::answering(100);
    let port = free_port();
    register(&switch, CALLEE, port);
    let callee = SippPeer::uas("call_uas", port)
        .key("rtp_port", media.addr().port())
        .spawn();
    let uac = caller("call_uac", switch.addr(), &CALLEE.to_string())
        .with_audio(100)
        .pause(Duration::from_millis(2500))
        .run();
    uac.assert_success("caller of a call whose recording fails");
    callee
        .wait()
        .assert_success("callee of a call whose recording fails");

    let seen = events.until("recording.failed");
    let failed = seen.last().expect("the failure");
    assert!(
        failed["data"]["reason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{failed}"
    );
    let record = the_record(&switch);
    assert_eq!(record["hangup"]["cause"], "normal_clearing", "{record:#}");
    assert!(record["answered_at"].is_u64(), "{record:#}");
    let recording = &record["recording"];
    assert_eq!(recording["status"], "failed", "{record:#}");
    assert!(recording["error"].is_string(), "{record:#}");
    assert_eq!(recording["sha256"], Value::Null, "{record:#}");
    assert_eq!(
        metric(&switch, "switchyard_recordings_total{result=\"failed\"}"),
        Some(1.0)
    );
    let call_id = record["call_id"].as_str().expect("call id");
    let missing = http::get(
        switch.api_addr(),
        &format!("/api/v1/recordings/{call_id}"),
        Some(token("supervisor")),
    );
    assert_eq!(
        (missing.status, missing.json()["code"].as_str()),
        (404, Some("not_found"))
    );
}
