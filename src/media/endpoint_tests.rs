//! Media port tests on 127.0.0.1: the player's RTP as a phone receives it, relaying while a
//! port is attached and after it is dropped, DTMF from the phone into the port's digits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use media_core::rtp::{RtpBuilder, RtpPacket};
use media_core::telephone_event::{DtmfDigit, TelephoneEvent};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::tests::{Phone, WAIT, nothing_arrives, options, recv, relay, rtp};
use super::*;

pub(super) const PCMU: MediaFormat = MediaFormat {
    payload_type: 0,
    law: G711Law::Ulaw,
    telephone_event: Some(101),
};
const NO_DTMF: DtmfDetection = DtmfDetection {
    rfc4733: false,
    inband: false,
};

/// What the phone saw of one packet.
#[derive(Debug)]
struct Received {
    at: Instant,
    from: std::net::SocketAddr,
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    payload_len: usize,
}

/// Receives `n` RTP packets in a task of their own, stamping each arrival.
fn receive(socket: UdpSocket, n: usize) -> tokio::task::JoinHandle<(UdpSocket, Vec<Received>)> {
    tokio::spawn(async move {
        let mut out = Vec::with_capacity(n);
        let mut buf = [0u8; 2048];
        while out.len() < n {
            let (len, from) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
                .await
                .expect("packet within the wait")
                .unwrap();
            let at = Instant::now();
            let packet = RtpPacket::parse(&buf[..len]).unwrap();
            out.push(Received {
                at,
                from,
                marker: packet.marker(),
                payload_type: packet.payload_type(),
                sequence: packet.sequence(),
                timestamp: packet.timestamp(),
                ssrc: packet.ssrc(),
                payload_len: packet.payload().len(),
            });
        }
        (socket, out)
    })
}

fn assert_continuous(packets: &[Received]) {
    for pair in packets.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
        assert!(!pair[1].marker);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn player_paces_packets_on_absolute_deadlines_without_drift() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let a = Phone::on("127.0.0.1").await;
    a.attach(&session, Side::A);
    let mut port = session.attach(Side::A, PCMU, NO_DTMF);

    let receiving = receive(a.rtp, 40);
    port.player.silence(Duration::from_millis(800)).await;
    let (_, packets) = receiving.await.unwrap();

    assert_eq!(port.player.packets_sent(), 40);
    assert!(packets[0].marker);
    assert_continuous(&packets);
    for packet in &packets {
        assert_eq!(packet.from, session.local_rtp(Side::A), "symmetric RTP");
        assert_eq!((packet.payload_type, packet.payload_len), (0, 160));
        assert_eq!(packet.ssrc, port.player.ssrc());
    }
    let span = packets[39].at - packets[0].at;
    let ideal = Duration::from_millis(39 * 20);
    assert!(
        span.abs_diff(ideal) <= Duration::from_millis(10),
        "40 packets took {span:?}, not {ideal:?}"
    );
    let mean = span / 39;
    assert!(mean.abs_diff(Duration::from_millis(20)) <= Duration::from_millis(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_between_prompts_advances_the_timestamp_and_sets_the_marker() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let a = Phone::on("127.0.0.1").await;
    a.attach(&session, Side::A);
    let mut port = session.attach(Side::A, PCMU, NO_DTMF);

    let receiving = receive(a.rtp, 15);
    let prompt = Audio::from_samples(vec![1000; 800]);
    port.player.play(&prompt).await;
    // Back to back: the stream goes on without a marker.
    port.player.silence(Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    port.player.play(&prompt).await;
    let (_, packets) = receiving.await.unwrap();

    assert!(packets[0].marker);
    assert_continuous(&packets[..10]);
    let (before, after) = (&packets[9], &packets[10]);
    assert_eq!(after.sequence, before.sequence.wrapping_add(1));
    assert_eq!(after.ssrc, before.ssrc);
    assert!(
        after.marker,
        "first packet after a pause carries the marker"
    );
    // The pause of one second at 8 kHz (play returns once its last packet is out).
    let advance = after.timestamp.wrapping_sub(before.timestamp);
    assert!(
        (8_000..=8_400).contains(&advance),
        "timestamp advanced {advance} over a 1 s pause"
    );
    assert_continuous(&packets[10..]);
}

#[tokio::test]
async fn a_player_woken_late_skips_ahead_instead_of_bursting() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    // Received on a thread of its own: the test blocks its runtime.
    let phone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    phone
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let addr = phone.local_addr().unwrap();
    session.set_remote(Side::A, addr, addr);
    let receiver = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = phone.recv(&mut buf) {
            let packet = RtpPacket::parse(&buf[..n]).unwrap();
            got.push((std::time::Instant::now(), packet.timestamp()));
        }
        got
    });
    let mut port = session.attach(Side::A, PCMU, NO_DTMF);

    let block = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        std::thread::sleep(Duration::from_millis(200));
    };
    tokio::join!(port.player.silence(Duration::from_millis(600)), block);
    let packets = receiver.join().unwrap();

    assert!(
        packets.len() < 25,
        "{} packets: missed frames were sent",
        packets.len()
    );
    for window in packets.windows(3) {
        let spread = window[2].0 - window[0].0;
        assert!(
            spread >= Duration::from_millis(15),
            "burst of 3 in {spread:?}"
        );
    }
    // The frames skipped still advance the timestamp: the stream stays on its clock.
    let (first, last) = (packets[0].1, packets[packets.len() - 1].1);
    assert_eq!(last.wrapping_sub(first), 29 * 160);
}

#[tokio::test]
async fn player_sends_to_the_address_the_phone_sends_from() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (signalled, real) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    signalled.attach(&session, Side::A);
    let b = Phone::on("127.0.0.1").await;
    b.attach(&session, Side::B);
    // The phone sends from another port of the IP its SDP named; the relay latches on it.
    real.rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));

    let mut port = session.attach(Side::A, PCMU, NO_DTMF);
    port.player.silence(Duration::from_millis(20)).await;
    let (data, from) = recv(&real.rtp).await;
    assert_eq!(from, session.local_rtp(Side::A));
    assert_eq!(RtpPacket::parse(&data).unwrap().ssrc(), port.player.ssrc());
    nothing_arrives(&signalled.rtp).await;
    // What the player sent counts as sent to the side, next to what the relay forwarded.
    let stats = session.stats(Side::A);
    assert_eq!(stats.packets_out, 1);
    assert_eq!(stats.bytes_out, data.len() as u64);
}

#[tokio::test]
async fn an_attached_port_stops_relaying_and_dropping_it_restores_relaying() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);
    async fn send(session: &RelaySession, phone: &Phone, side: Side, seq: u16) {
        let to = session.local_rtp(side);
        phone.rtp.send_to(&rtp(seq), to).await.unwrap();
    }

    send(&session, &a, Side::A, 1).await;
    assert_eq!(recv(&b.rtp).await.0, rtp(1));

    for attached in [Side::A, Side::B, Side::A] {
        let port = session.attach(attached, PCMU, NO_DTMF);
        send(&session, &a, Side::A, 2).await;
        nothing_arrives(&b.rtp).await;
        send(&session, &b, Side::B, 3).await;
        nothing_arrives(&a.rtp).await;
        drop(port);

        send(&session, &a, Side::A, 4).await;
        assert_eq!(recv(&b.rtp).await.0, rtp(4));
        send(&session, &b, Side::B, 5).await;
        assert_eq!(recv(&a.rtp).await.0, rtp(5));
    }
    // Consumed packets still count as received from the phone.
    assert_eq!(session.stats(Side::A).packets_in, 7);
}

fn event_packet(seq: u16, timestamp: u32, digit: DtmfDigit, duration: u16, end: bool) -> Vec<u8> {
    let event = TelephoneEvent::new(digit.event_code(), 10, duration)
        .unwrap()
        .with_end(end);
    RtpBuilder::new(101, seq, timestamp, 0x4242)
        .marker(duration == 0)
        .to_vec(&event.to_bytes())
        .unwrap()
}

#[tokio::test]
async fn an_rfc4733_event_with_three_end_reports_gives_one_digit() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let a = Phone::on("127.0.0.1").await;
    a.attach(&session, Side::A);
    let detection = DtmfDetection {
        rfc4733: true,
        inband: false,
    };
    let mut port = session.attach(Side::A, PCMU, detection);

    let to = session.local_rtp(Side::A);
    let mut seq = 100;
    for (timestamp, digit) in [(8_000, DtmfDigit::D5), (16_000, DtmfDigit::Pound)] {
        for (duration, end) in [
            (0, false),
            (400, false),
            (800, true),
            (800, true),
            (800, true),
        ] {
            let packet = event_packet(seq, timestamp, digit, duration, end);
            a.rtp.send_to(&packet, to).await.unwrap();
            seq += 1;
        }
    }
    for expected in ['5', '#'] {
        let digit = tokio::time::timeout(WAIT, port.digits.next()).await;
        assert_eq!(digit.expect("a digit"), Some(expected));
    }
    let more = tokio::time::timeout(Duration::from_millis(100), port.digits.next()).await;
    assert!(more.is_err(), "each event is reported once");
}

/// 8 kHz samples of a DTMF digit's two tones (ITU-T Q.23), at about -10 dBm0 each.
fn dtmf_tone(low: f32, high: f32, samples: usize) -> Vec<i16> {
    (0..samples)
        .map(|n| {
            let t = n as f32 / 8000.0;
            let s = (2.0 * std::f32::consts::PI * low * t).sin()
                + (2.0 * std::f32::consts::PI * high * t).sin();
            (s * 5000.0) as i16
        })
        .collect()
}

#[tokio::test]
async fn inband_dtmf_in_the_audio_gives_a_digit() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let a = Phone::on("127.0.0.1").await;
    a.attach(&session, Side::A);
    let detection = DtmfDetection {
        rfc4733: false,
        inband: true,
    };
    let mut port = session.attach(Side::A, PCMU, detection);

    // 100 ms of silence, 100 ms of digit 7 (852 + 1209 Hz), 100 ms of silence.
    let mut audio = vec![0i16; 800];
    audio.extend(dtmf_tone(852.0, 1209.0, 800));
    audio.extend(vec![0i16; 800]);
    let to = session.local_rtp(Side::A);
    for (i, frame) in audio.chunks(160).enumerate() {
        let mut payload = [0u8; 160];
        G711Law::Ulaw.encode(frame, &mut payload);
        let i = u16::try_from(i).unwrap();
        let packet = RtpBuilder::new(0, i, u32::from(i) * 160, 0x77)
            .to_vec(&payload)
            .unwrap();
        a.rtp.send_to(&packet, to).await.unwrap();
    }
    let digit = tokio::time::timeout(WAIT, port.digits.next()).await;
    assert_eq!(digit.expect("an in-band digit"), Some('7'));
}

#[tokio::test]
async fn digits_from_sip_info_come_through_the_sender_of_a_detached_port() {
    let mut port = MediaPort::detached(PCMU);
    port.digits.sender().try_send('9').unwrap();
    assert_eq!(port.digits.next().await, Some('9'));
    // A detached player paces but sends nowhere.
    port.player.silence(Duration::from_millis(40)).await;
    assert_eq!(port.player.packets_sent(), 2);
}
