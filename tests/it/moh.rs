//! Music on hold through the real switch: SIPp caller (user 1000) calls the registered SIPp
//! callee (user 1001); one of them puts the call on hold for 2 s with a sendonly (or inactive)
//! re-INVITE, takes it off hold and plays a tone. The other one's media is a Rust recorder: while the call
//! is held it hears the profile's `[media] music_on_hold` from the switch's relay, and the
//! holder's audio again once resumed; without `music_on_hold`, nothing from the switch.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use media_core::g711::decode_ulaw;
use media_core::rtp::RtpPacket;

use crate::call_peers::{CALLEE, call_profile, caller, received_sdp_audio, register};
use crate::harness::{Switch, free_port};
use crate::pcap::{PCMU, SAMPLES_PER_PACKET, TONE_SSRC};
use crate::sipp_peer::{RunningSipp, SippOutcome, SippPeer};

/// The music the test profile plays, relative to `<config-dir>/sounds/` (16 s of chords).
const MUSIC: &str = "moh/default.wav";

/// Tone packets the holder plays once off hold (1 s).
const TONE_PACKETS: usize = 50;

/// How long after the holder's audio is back the music may still arrive.
const STOPS_WITHIN: Duration = Duration::from_millis(200);

/// Bounds each SIPp run (the whole call takes about 4 s).
const SIPP_TIMEOUT: Duration = Duration::from_secs(15);

/// One RTP packet as the listener's media socket received it.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    from: SocketAddr,
    ssrc: u32,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    payload: Vec<u8>,
}

/// The listener's media: records every RTP packet with its arrival time until finished.
struct Recorder {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Received>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind recorder");
        let addr = sock.local_addr().expect("recorder addr");
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("set timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut packets = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                let Ok((len, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let at = Instant::now();
                if let Ok(rtp) = RtpPacket::parse(&buf[..len]) {
                    packets.push(Received {
                        at,
                        from,
                        ssrc: rtp.ssrc(),
                        payload_type: rtp.payload_type(),
                        sequence: rtp.sequence(),
                        timestamp: rtp.timestamp(),
                        payload: rtp.payload().to_vec(),
                    });
                }
            }
            packets
        });
        Recorder {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<Received> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("recorder running")
            .join()
            .expect("recorder thread")
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The test profile's file for a switch on `port`, with `music_on_hold` under `[media]` when
/// given.
fn profile_toml(port: u16, music: Option<&str>) -> String {
    let profile = call_profile();
    let text = profile.to_toml(port);
    // `call_profile` sets the relay port range, so the profile has a `[media]` section.
    assert!(text.contains("\n[media]\n"), "{text}");
    match music {
        Some(music) => text.replacen(
            "\n[media]\n",
            &format!("\n[media]\nmusic_on_hold = \"{music}\"\n"),
            1,
        ),
        None => text,
    }
}

/// A switch with the test profile, playing `music` to held parties when given.
fn start_switch(music: Option<&str>) -> Switch {
    let music = music.map(str::to_owned);
    Switch::start_with_config(move |port| {
        vec![(
            "sip-profiles/it.toml".to_owned(),
            profile_toml(port, music.as_deref()),
        )]
    })
}

/// What the party that did not hold received, and the relay address the switch offered it.
struct HoldRun {
    packets: Vec<Received>,
    relay: SocketAddr,
}

/// Registers [`CALLEE`] and starts its SIPp running `peer` on that port; waits until it
/// listens.
fn start_callee(switch: &Switch, peer: impl FnOnce(u16) -> SippPeer) -> RunningSipp {
    let port = free_port();
    register(switch, CALLEE, port);
    let running = peer(port).timeout(SIPP_TIMEOUT).spawn();
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "SIPp did not bind 127.0.0.1:{port} within 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// Waits for the callee, then panics with both sides' output unless both SIPps succeeded.
fn both_succeed(uac: &SippOutcome, callee: RunningSipp, what: &str) -> SippOutcome {
    let uas = callee.wait();
    if uac.code != Some(0) || uas.code != Some(0) {
        eprintln!(
            "---- callee SIPp ----\n{}\n--- callee message trace (tail) ---\n{}",
            uas.output,
            crate::sipp_peer::tail(&uas.messages, 12_000)
        );
    }
    uac.assert_success(&format!("{what} (caller)"));
    uas.assert_success(&format!("{what} (callee)"));
    uas
}

/// The caller holds 2 s, resumes, plays [`TONE_PACKETS`] tone packets and hangs up; the
/// callee's media is recorded.
fn caller_holds(switch: &Switch) -> HoldRun {
    let media = Recorder::start();
    let callee = start_callee(switch, |port| {
        SippPeer::uas("call_uas_hold", port).key("rtp_port", media.addr.port())
    });
    let uac = caller("moh_uac_hold", switch.addr(), &CALLEE.to_string())
        .with_audio(TONE_PACKETS)
        .pause(Duration::from_millis(1300))
        .timeout(SIPP_TIMEOUT)
        .run();
    let uas = both_succeed(&uac, callee, "the caller holds");
    // RFC 4566 §5.7/§5.14: the callee was told to expect media from the relay's B side.
    let relay = received_sdp_audio(&uas.messages, "INVITE").expect("offer to the callee");
    HoldRun {
        packets: media.finish(),
        relay,
    }
}

/// How a phone puts a call on hold (RFC 3264 §8.4): the direction it offers, and the one the
/// other phone answers with.
#[derive(Debug, Clone, Copy)]
enum Hold {
    /// a=sendonly, answered a=recvonly.
    SendOnly,
    /// a=inactive, answered a=inactive.
    Inactive,
}

impl Hold {
    fn offer(self) -> &'static str {
        match self {
            Hold::SendOnly => "sendonly",
            Hold::Inactive => "inactive",
        }
    }

    fn answer(self) -> &'static str {
        match self {
            Hold::SendOnly => "recvonly",
            Hold::Inactive => "inactive",
        }
    }
}

/// The callee holds 2 s (offering `hold`), resumes, plays [`TONE_PACKETS`] tone packets and
/// hangs up; the caller's media is recorded.
fn callee_holds(switch: &Switch, hold: Hold) -> HoldRun {
    let media = Recorder::start();
    let callee = start_callee(switch, |port| {
        SippPeer::uas("moh_uas_hold", port)
            .key("hold", hold.offer())
            .with_audio(TONE_PACKETS)
            .pause(Duration::from_millis(1300))
    });
    let uac = caller("moh_uac_held", switch.addr(), &CALLEE.to_string())
        .key("rtp_port", media.addr.port())
        .key("hold_answer", hold.answer())
        .timeout(SIPP_TIMEOUT)
        .run();
    both_succeed(&uac, callee, &format!("the callee holds ({hold:?})"));
    // The caller was told to expect media from the relay's A side.
    let relay = received_sdp_audio(&uac.messages, "SIP/2.0 200").expect("answer to the caller");
    HoldRun {
        packets: media.finish(),
        relay,
    }
}

/// Root mean square of the u-law payloads, as linear 16-bit samples.
fn rms_of_ulaw(packets: &[&Received]) -> f64 {
    let mut sum = 0f64;
    let mut n = 0usize;
    for p in packets {
        let mut linear = vec![0i16; p.payload.len()];
        decode_ulaw(&p.payload, &mut linear).expect("decode u-law");
        sum += linear.iter().map(|s| f64::from(*s).powi(2)).sum::<f64>();
        n += linear.len();
    }
    if n == 0 { 0.0 } else { (sum / n as f64).sqrt() }
}

/// Per SSRC, how many packets and from where, for assertion messages.
fn summary(packets: &[Received]) -> String {
    let mut streams: BTreeMap<u32, (usize, Vec<SocketAddr>, Vec<u8>)> = BTreeMap::new();
    for p in packets {
        let s = streams.entry(p.ssrc).or_default();
        s.0 += 1;
        if !s.1.contains(&p.from) {
            s.1.push(p.from);
        }
        if !s.2.contains(&p.payload_type) {
            s.2.push(p.payload_type);
        }
    }
    streams
        .iter()
        .map(|(ssrc, (n, from, pts))| {
            format!("ssrc {ssrc:#010x}: {n} packets from {from:?}, payload types {pts:?}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts what the party that did not hold heard: one music stream from the relay while the
/// call was held (about 2 s of audible 20 ms PCMU packets at 50/s), then the holder's tone,
/// with the music stopped by then.
fn assert_music_until_resume(run: &HoldRun) {
    let HoldRun { packets, relay } = run;
    let streams = summary(packets);
    let tone: Vec<&Received> = packets.iter().filter(|p| p.ssrc == TONE_SSRC).collect();
    let music: Vec<&Received> = packets.iter().filter(|p| p.ssrc != TONE_SSRC).collect();

    let ssrcs: BTreeSet<u32> = music.iter().map(|p| p.ssrc).collect();
    assert_eq!(
        ssrcs.len(),
        1,
        "the listener hears one stream besides the holder's:\n{streams}"
    );
    assert!(
        music.len() >= 70,
        "at least 70 music packets during the 2 s hold:\n{streams}"
    );
    assert!(
        music.iter().all(|p| p.from == *relay),
        "the music comes from the relay address the listener was offered ({relay}):\n{streams}"
    );
    // PCMU is the codec both ends share: the music is in it, 20 ms a packet (RFC 3551 §4.5.14:
    // 8000 samples/s, one byte each).
    assert!(
        music
            .iter()
            .all(|p| p.payload_type == PCMU && p.payload.len() == SAMPLES_PER_PACKET),
        "every music packet is 20 ms of PCMU:\n{streams}"
    );
    // RFC 3550 §5.1: one stream, sequence numbers one apart, timestamps one packet apart.
    for pair in music.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence.wrapping_add(1),
            "music sequence numbers run on without gaps or reordering on loopback"
        );
        assert_eq!(
            pair[1].timestamp.wrapping_sub(pair[0].timestamp),
            SAMPLES_PER_PACKET as u32,
            "music timestamps advance 160 samples a packet"
        );
    }
    let first = music.first().expect("music").at;
    let last = music.last().expect("music").at;
    let span = last.duration_since(first).as_secs_f64();
    let rate = (music.len() - 1) as f64 / span;
    assert!(
        (40.0..=60.0).contains(&rate),
        "music is paced at about 50 packets/s: {} packets in {span:.3} s ({rate:.1}/s)",
        music.len()
    );
    assert!(
        span < 3.5,
        "the music lasts about as long as the 2 s hold, not {span:.3} s"
    );
    let rms = rms_of_ulaw(&music);
    assert!(
        rms > 1000.0,
        "the music is audible, not silence (RMS {rms:.0} of 32767)"
    );

    // Off hold: the holder's audio reaches the listener again, and the music stops.
    assert!(
        tone.len() >= TONE_PACKETS * 8 / 10,
        "at least 80% of the holder's {TONE_PACKETS} tone packets arrive after resume:\n{streams}"
    );
    assert!(
        tone.iter().all(|p| p.from == *relay),
        "the holder's audio comes from the relay:\n{streams}"
    );
    let back = tone.first().expect("tone").at;
    assert!(first < back, "the music played before the holder came back");
    assert!(
        last <= back + STOPS_WITHIN,
        "no music more than {STOPS_WITHIN:?} after the holder's audio is back (last music \
         packet {:?} after it)",
        last.duration_since(back)
    );
}

#[test]
fn music_on_hold_plays_to_the_callee_while_the_caller_holds_until_resume() {
    let switch = start_switch(Some(MUSIC));
    assert_music_until_resume(&caller_holds(&switch));
}

#[test]
fn music_on_hold_plays_to_the_caller_while_the_callee_holds_until_resume() {
    let switch = start_switch(Some(MUSIC));
    assert_music_until_resume(&callee_holds(&switch, Hold::SendOnly));
}

#[test]
fn music_on_hold_plays_while_the_call_is_held_inactive() {
    let switch = start_switch(Some(MUSIC));
    assert_music_until_resume(&callee_holds(&switch, Hold::Inactive));
}

#[test]
fn without_music_on_hold_the_held_party_hears_nothing_from_the_switch() {
    let switch = start_switch(None);
    let HoldRun { packets, relay } = caller_holds(&switch);
    let streams = summary(&packets);

    assert!(
        packets.iter().all(|p| p.ssrc == TONE_SSRC),
        "nothing but the caller's own audio reaches the callee:\n{streams}"
    );
    // The callee's media path works: the caller's audio after resume arrives.
    let tone = packets.iter().filter(|p| p.ssrc == TONE_SSRC).count();
    assert!(
        tone >= TONE_PACKETS * 8 / 10,
        "at least 80% of the caller's {TONE_PACKETS} tone packets reach the callee:\n{streams}"
    );
    assert!(
        packets.iter().all(|p| p.from == relay),
        "through the relay ({relay}):\n{streams}"
    );
}
