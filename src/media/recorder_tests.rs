//! Recording tests on 127.0.0.1: phones send tones on both sides, the file is read back and
//! each channel checked for its side's tone; pause, write failures and tap overflow.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use media_core::rtp::RtpBuilder;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::endpoint_tests::PCMU;
use super::tests::{Phone, WAIT, options, recv, relay, rtp};
use super::*;

/// `samples` of a sine at `freq` Hz, 8 kHz.
fn sine(freq: f32, start: usize, samples: usize) -> Vec<i16> {
    (start..start + samples)
        .map(|n| {
            let t = n as f32 / 8000.0;
            ((2.0 * std::f32::consts::PI * freq * t).sin() * 8000.0) as i16
        })
        .collect()
}

/// Relative power of `freq` in `samples` (Goertzel).
fn power(samples: &[i16], freq: f32) -> f32 {
    let coeff = 2.0 * (2.0 * std::f32::consts::PI * freq / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s0 = f32::from(x) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / samples.len().max(1) as f32
}

fn rms(samples: &[i16]) -> f32 {
    let sum: f32 = samples.iter().map(|&s| f32::from(s) * f32::from(s)).sum();
    (sum / samples.len().max(1) as f32).sqrt()
}

/// A phone sending a G.711 u-law tone, one packet per call of `send`.
struct TonePhone {
    phone: Phone,
    freq: f32,
    sent: usize,
    ssrc: u32,
}

impl TonePhone {
    async fn new(session: &RelaySession, side: Side, freq: f32) -> Self {
        let phone = Phone::on("127.0.0.1").await;
        phone.attach(session, side);
        Self {
            phone,
            freq,
            sent: 0,
            ssrc: 0x1000 + side as u32,
        }
    }

    async fn send(&mut self, session: &RelaySession, side: Side) {
        let samples = sine(self.freq, self.sent * 160, 160);
        let mut payload = [0u8; 160];
        G711Law::Ulaw.encode(&samples, &mut payload);
        let seq = u16::try_from(self.sent % 65_536).unwrap();
        let timestamp = u32::try_from(self.sent * 160).unwrap();
        let packet = RtpBuilder::new(0, seq, timestamp, self.ssrc)
            .to_vec(&payload)
            .unwrap();
        self.phone
            .rtp
            .send_to(&packet, session.local_rtp(side))
            .await
            .unwrap();
        self.sent += 1;
    }
}

/// Sends `frames` 20 ms frames from both phones (or only `a`), paced.
async fn talk(session: &RelaySession, a: &mut TonePhone, b: Option<&mut TonePhone>, frames: u32) {
    let mut b = b;
    let start = Instant::now();
    for n in 0..frames {
        tokio::time::sleep_until(start + Duration::from_millis(20) * n).await;
        a.send(session, Side::A).await;
        if let Some(b) = b.as_deref_mut() {
            b.send(session, Side::B).await;
        }
    }
}

/// The two channels of a recording, after checking its header against the file size.
fn read_stereo(path: &Path) -> (Vec<i16>, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() >= 44);
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let u16_at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap());
    assert_eq!(&bytes[0..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(u32_at(4) as usize, bytes.len() - 8, "RIFF size");
    assert_eq!(u16_at(22), 2, "channels");
    assert_eq!(u32_at(24), 8000, "sample rate");
    assert_eq!(u16_at(34), 16, "bits per sample");
    assert_eq!(&bytes[36..40], b"data");
    assert_eq!(u32_at(40) as usize, bytes.len() - 44, "data size");
    let mut left = Vec::new();
    let mut right = Vec::new();
    for frame in bytes[44..].chunks_exact(4) {
        left.push(i16::from_le_bytes([frame[0], frame[1]]));
        right.push(i16::from_le_bytes([frame[2], frame[3]]));
    }
    (left, right)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_puts_the_caller_left_and_the_callee_right() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let mut a = TonePhone::new(&session, Side::A, 400.0).await;
    let mut b = TonePhone::new(&session, Side::B, 1000.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("2026/11/23/call.wav");

    let started = Instant::now();
    let recording = session.record(path.clone());
    talk(&session, &mut a, Some(&mut b), 50).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The call's length: from starting the recording to stopping it.
    let elapsed = started.elapsed();
    let outcome = recording.stop().await;

    assert_eq!(outcome.status, RecordingStatus::Complete);
    assert_eq!(outcome.path, path);
    assert_eq!(outcome.dropped_packets, 0);
    assert!(
        outcome.duration.abs_diff(elapsed) <= Duration::from_millis(100),
        "recorded {:?} of {elapsed:?}",
        outcome.duration
    );
    let file = std::fs::read(&path).unwrap();
    let sha256: String = Sha256::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(outcome.sha256, Some(sha256));

    let (left, right) = read_stereo(&path);
    assert_eq!(left.len() as u128, outcome.duration.as_micros() * 8 / 1000);
    let (left, right) = (&left[1600..6400], &right[1600..6400]);
    assert!(
        power(left, 400.0) > 100.0 * power(left, 1000.0),
        "left is the caller's tone"
    );
    assert!(
        power(right, 1000.0) > 100.0 * power(right, 400.0),
        "right is the callee's tone"
    );
    assert!(rms(left) > 3000.0 && rms(right) > 3000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_time_is_recorded_as_silence() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let mut a = TonePhone::new(&session, Side::A, 400.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paused.wav");

    let started = Instant::now();
    let recording = session.record(path.clone());
    talk(&session, &mut a, None, 15).await;
    recording.pause();
    let paused = started.elapsed();
    assert!(recording.is_paused());
    talk(&session, &mut a, None, 15).await;
    recording.resume();
    let resumed = started.elapsed();
    talk(&session, &mut a, None, 15).await;
    let ended = started.elapsed();
    let outcome = recording.stop().await;
    assert_eq!(outcome.status, RecordingStatus::Complete);
    assert!(outcome.duration.abs_diff(ended) <= Duration::from_millis(100));

    let (left, _) = read_stereo(&path);
    // Sample index of a moment, 50 ms inside the stretch it bounds.
    let at =
        |t: Duration, inward: i64| usize::try_from((t.as_millis() as i64 + inward) * 8).unwrap();
    let zero = Duration::ZERO;
    assert!(rms(&left[at(zero, 50)..at(paused, -50)]) > 3000.0);
    assert!(
        rms(&left[at(paused, 50)..at(resumed, -50)]) < 1.0,
        "paused time is silent"
    );
    assert!(rms(&left[at(resumed, 50)..at(ended, -50)]) > 3000.0);
}

#[tokio::test]
async fn a_recording_on_a_full_disk_fails_and_the_call_keeps_relaying() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);

    let mut recording = session.record("/dev/full".into());
    let reason = tokio::time::timeout(WAIT, recording.failed())
        .await
        .expect("the recording fails");
    assert!(reason.contains("/dev/full"), "{reason}");

    for seq in 1..=3 {
        a.rtp
            .send_to(&rtp(seq), session.local_rtp(Side::A))
            .await
            .unwrap();
        assert_eq!(recv(&b.rtp).await.0, rtp(seq));
    }
    let outcome = recording.stop().await;
    assert!(matches!(outcome.status, RecordingStatus::Failed(_)));
    assert_eq!(outcome.sha256, None);
}

#[tokio::test]
async fn a_recording_where_no_directory_can_be_made_fails() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let file = tempfile::NamedTempFile::new().unwrap();
    let path = file.path().join("under-a-file/call.wav");

    let mut recording = session.record(path);
    let reason = tokio::time::timeout(WAIT, recording.failed())
        .await
        .expect("the recording fails");
    assert!(reason.starts_with("cannot create"), "{reason}");
    assert!(matches!(
        recording.stop().await.status,
        RecordingStatus::Failed(_)
    ));
}

#[tokio::test]
async fn stopping_a_recording_whose_disk_hangs_gives_up_and_fails() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Opening a FIFO for writing blocks until a reader comes: a disk that does not answer.
    let fifo = dir.path().join("hung.wav");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());

    let recording = session.record(fifo.clone());
    let started = Instant::now();
    let outcome = recording.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stop is bounded"
    );
    assert!(matches!(outcome.status, RecordingStatus::Failed(_)));
    // Unblock the writer so the runtime can shut down.
    std::thread::spawn(move || {
        let mut reader = std::fs::File::open(fifo).unwrap();
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
    });
}

#[tokio::test]
async fn a_full_tap_drops_and_counts_without_blocking() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recording = session.record(dir.path().join("flood.wav"));

    // The writer cannot run while this (single-threaded) test does not yield.
    let tap = session.shared().tap.load_full().unwrap();
    let offered = TAP_QUEUE + 500;
    for n in 0..offered {
        let timestamp = u32::try_from(n * 8).unwrap();
        tap.offer(Side::A, 0, G711Law::Ulaw, 1, timestamp, &[0xFF; 8]);
    }
    assert_eq!(recording.dropped_packets(), 500);

    let outcome = recording.stop().await;
    assert_eq!(outcome.status, RecordingStatus::Complete);
    assert_eq!(outcome.dropped_packets, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_player_sends_is_recorded_as_the_other_side() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let mut a = TonePhone::new(&session, Side::A, 400.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompt.wav");
    let mut port = session.attach(
        Side::A,
        PCMU,
        super::DtmfDetection {
            rfc4733: false,
            inband: false,
        },
    );

    let recording = session.record(path.clone());
    let prompt = Audio::from_samples(sine(1000.0, 0, 8000));
    let played = async { port.player.play(&prompt).await };
    tokio::join!(played, talk(&session, &mut a, None, 50));
    let outcome = recording.stop().await;
    assert_eq!(outcome.status, RecordingStatus::Complete);

    let (left, right) = read_stereo(&path);
    let (left, right) = (&left[1600..6400], &right[1600..6400]);
    assert!(
        power(left, 400.0) > 100.0 * power(left, 1000.0),
        "left: the caller"
    );
    assert!(
        power(right, 1000.0) > 100.0 * power(right, 400.0),
        "right: the prompt"
    );
}
