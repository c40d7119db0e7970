//! The two ends of a test call: SIPp as caller (user 1000) and as a registered callee (user
//! 1001, its media pointed at a Rust RTP peer), configured the way every call test uses them,
//! and what their message traces say about the SDP they received.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{DOMAIN, Profile, Switch, free_port, password_of};
use crate::rtp_peer::RtpPeer;
use crate::sipp_peer::{RunningSipp, SippPeer};

/// The calling user.
pub const CALLER: u32 = 1000;
/// The called user.
pub const CALLEE: u32 = 1001;

/// Relay ports each test switch gets: a block of its own, so switches of tests running in
/// parallel do not compete for the same ports.
const RTP_BLOCK: u16 = 1024;

/// The default test profile with a relay port block of its own: a random
/// [`RTP_BLOCK`]-port block of 16384-32767 whose first ports are free right now.
pub fn call_profile() -> Profile {
    use rand::Rng as _;
    let blocks = (32_768 - 16_384) / RTP_BLOCK;
    let mut rng = rand::thread_rng();
    loop {
        let min = 16_384 + RTP_BLOCK * rng.gen_range(0..blocks);
        let free = (min..min + 16).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if free {
            return Profile {
                rtp_ports: Some((min, min + RTP_BLOCK - 1)),
                ..Profile::default()
            };
        }
    }
}

/// A SIPp caller of `scenario` towards `remote` (the switch, or a SIPp callee directly), as
/// user [`CALLER`], dialling `callee`.
pub fn caller(scenario: &str, remote: SocketAddr, callee: &str) -> SippPeer {
    SippPeer::uac(scenario, remote)
        .key("domain", DOMAIN)
        .key("caller", CALLER)
        .service(callee)
        .credentials(&CALLER.to_string(), &password_of(CALLER))
        // The digest uri must be the Request-URI (`sip:CALLEE@DOMAIN`).
        .args(&["-auth_uri", &format!("{callee}@{DOMAIN}")])
}

/// Registers `user` at `switch` with Contact `sip:user@127.0.0.1:port`, from that port.
pub fn register(switch: &Switch, user: u32, port: u16) {
    SippPeer::uac("register_auth", switch.addr())
        .port(port)
        .key("domain", DOMAIN)
        .key("expires", 300)
        .service(&user.to_string())
        .credentials(&user.to_string(), &password_of(user))
        .args(&["-auth_uri", DOMAIN])
        .timeout(Duration::from_secs(20))
        .run()
        .assert_success("register the callee");
}

/// Starts the SIPp callee `peer` on `port` for `calls` calls, its SDP naming `media`'s port,
/// and waits until it listens.
pub fn callee_with(port: u16, peer: SippPeer, media: &RtpPeer, calls: u32) -> RunningSipp {
    let running = peer
        .key("rtp_port", media.addr().port())
        .calls(calls)
        .spawn();
    wait_listening(port);
    running
}

/// Registers [`CALLEE`] on a free port and starts its SIPp running `scenario` there.
pub fn registered_callee(switch: &Switch, scenario: &str, media: &RtpPeer) -> RunningSipp {
    registered_callee_with(switch, |port| SippPeer::uas(scenario, port), media, 1)
}

/// Like [`registered_callee`] with a prepared [`SippPeer`] for `calls` calls.
pub fn registered_callee_with(
    switch: &Switch,
    peer: impl FnOnce(u16) -> SippPeer,
    media: &RtpPeer,
    calls: u32,
) -> RunningSipp {
    let port = free_port();
    register(switch, CALLEE, port);
    callee_with(port, peer(port), media, calls)
}

/// Waits (bounded) until something holds UDP `port` on 127.0.0.1: SIPp has bound it.
fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "SIPp did not bind 127.0.0.1:{port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The audio address (`c=` + `m=audio`) of the SDP in the first message SIPp received whose
/// first line starts with `first_line`, from a `-trace_msg` log.
pub fn received_sdp_audio(messages: &str, first_line: &str) -> Option<SocketAddr> {
    trace_messages(messages)
        .filter(|(received, _)| *received)
        .map(|(_, text)| text)
        .find(|text| text.trim_start().starts_with(first_line) && text.contains("m=audio"))
        .and_then(sdp_audio)
}

/// The audio address of the SDP in the first message SIPp sent whose first line starts with
/// `first_line`.
pub fn sent_sdp_audio(messages: &str, first_line: &str) -> Option<SocketAddr> {
    trace_messages(messages)
        .filter(|(received, _)| !*received)
        .map(|(_, text)| text)
        .find(|text| text.trim_start().starts_with(first_line) && text.contains("m=audio"))
        .and_then(sdp_audio)
}

/// `(received?, message)` for each message of a `-trace_msg` log, whose entries are a
/// dashed separator line, `UDP message received [N] bytes :` or `... sent (N bytes):`, and
/// the message.
fn trace_messages(log: &str) -> impl Iterator<Item = (bool, &str)> {
    log.split("\n----------------------------------------------- ")
        .filter_map(|entry| {
            let (_, rest) = entry.split_once('\n')?;
            let (header, message) = rest.split_once('\n')?;
            let received = header.contains("received");
            (received || header.contains("sent")).then_some((received, message))
        })
}

/// `c=IN IP4 <addr>` and `m=audio <port>` of an SDP body.
fn sdp_audio(message: &str) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for line in message.lines().map(str::trim) {
        if let Some(addr) = line.strip_prefix("c=IN IP4 ") {
            ip.get_or_insert(addr.trim().parse().ok()?);
        } else if let Some(rest) = line.strip_prefix("m=audio ") {
            port.get_or_insert(rest.split_whitespace().next()?.parse().ok()?);
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// The path of a file in `dir` holding `text`.
pub fn write_scenario(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.xml"));
    std::fs::write(&path, text).expect("write scenario");
    path
}
