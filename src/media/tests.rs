//! End-to-end relay tests on 127.0.0.1: real sockets, phones played by plain UDP sockets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use media_core::rtcp::write_receiver_report;
use media_core::rtp::RtpBuilder;
use tokio::net::UdpSocket;

use super::*;

pub(super) const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
pub(super) const WAIT: Duration = Duration::from_secs(2);

// Below the Linux ephemeral range and the default profile range (16384..), so parallel tests
// and other processes on this machine rarely hold these ports.
static NEXT_RANGE: AtomicU32 = AtomicU32::new(0);

/// A range of `pairs` RTP/RTCP pairs whose ports are all free right now.
pub(super) fn free_range(pairs: u16) -> (u16, u16) {
    let offset = std::process::id() % 97 * 40;
    for _ in 0..1000 {
        let n = NEXT_RANGE.fetch_add(1, Ordering::Relaxed);
        let start = (offset + n * 8 * u32::from(pairs)) % 6_000 / 2 * 2;
        let min = 10_000 + u16::try_from(start).unwrap();
        let max = min + 2 * pairs - 1;
        let all_free = (min..=max)
            .all(|port| std::net::UdpSocket::bind(SocketAddr::new(LOCALHOST, port)).is_ok());
        if all_free {
            return (min, max);
        }
    }
    panic!("no free port range below 16000");
}

pub(super) fn relay(pairs: u16) -> MediaRelay {
    let (port_min, port_max) = free_range(pairs);
    MediaRelay::new(RelayConfig {
        address: LOCALHOST,
        port_min,
        port_max,
    })
    .unwrap()
}

pub(super) fn options() -> SessionOptions {
    SessionOptions {
        nat: false,
        media_timeout: None,
    }
}

pub(super) fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port() + 1)
}

/// A phone's RTP and RTCP sockets.
pub(super) struct Phone {
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: UdpSocket,
}

impl Phone {
    pub(super) async fn on(ip: &str) -> Phone {
        Phone {
            rtp: UdpSocket::bind((ip, 0)).await.unwrap(),
            rtcp: UdpSocket::bind((ip, 0)).await.unwrap(),
        }
    }

    pub(super) fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().unwrap()
    }

    pub(super) fn rtcp_addr(&self) -> SocketAddr {
        self.rtcp.local_addr().unwrap()
    }

    /// Point `side` of the session at this phone (separate RTCP port).
    pub(super) fn attach(&self, session: &RelaySession, side: Side) {
        session.set_remote(side, self.rtp_addr(), self.rtcp_addr());
    }
}

pub(super) fn rtp(seq: u16) -> Vec<u8> {
    RtpBuilder::new(0, seq, u32::from(seq) * 160, 0x1234)
        .to_vec(&[0xD5; 160])
        .unwrap()
}

pub(super) fn rtcp() -> Vec<u8> {
    let mut out = [0; 8];
    let n = write_receiver_report(0x1234, &[], &mut out).unwrap();
    out[..n].to_vec()
}

pub(super) async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0; 2048];
    let (n, from) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("datagram within the wait")
        .unwrap();
    (buf[..n].to_vec(), from)
}

pub(super) async fn nothing_arrives(socket: &UdpSocket) {
    let mut buf = [0; 2048];
    let got = tokio::time::timeout(Duration::from_millis(100), socket.recv_from(&mut buf)).await;
    assert!(got.is_err(), "unexpected datagram");
}

/// Wait until the relay task has counted what the test sent.
pub(super) async fn eventually(mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn rtp_is_relayed_both_ways_and_counted() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);

    a.rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    let (data, from) = recv(&b.rtp).await;
    assert_eq!(data, rtp(1));
    assert_eq!(from, session.local_rtp(Side::B));

    b.rtp
        .send_to(&rtp(7), session.local_rtp(Side::B))
        .await
        .unwrap();
    let (data, from) = recv(&a.rtp).await;
    assert_eq!(data, rtp(7));
    assert_eq!(from, session.local_rtp(Side::A));

    let (sa, sb) = (session.stats(Side::A), session.stats(Side::B));
    assert_eq!((sa.packets_in, sa.packets_out), (1, 1));
    assert_eq!((sb.packets_in, sb.packets_out), (1, 1));
    assert_eq!((sa.bytes_in, sb.bytes_out), (172, 172));
    assert_eq!((sa.rejected, sb.rejected), (0, 0));
    assert_eq!(relay.sessions(), 1);
    assert_eq!(relay.ports_in_use(), 4);
}

#[tokio::test]
async fn rtcp_is_relayed_between_the_rtcp_ports() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);

    let local_a_rtcp = rtcp_of(session.local_rtp(Side::A));
    a.rtcp.send_to(&rtcp(), local_a_rtcp).await.unwrap();
    let (data, from) = recv(&b.rtcp).await;
    assert_eq!(data, rtcp());
    assert_eq!(from, rtcp_of(session.local_rtp(Side::B)));

    let sa = session.stats(Side::A);
    assert_eq!((sa.rtcp_in, sa.packets_in), (1, 0));
    assert_eq!(session.stats(Side::B).packets_out, 0);
}

#[tokio::test]
async fn rtcp_mux_side_sends_and_receives_rtcp_on_its_rtp_port() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    // A uses rtcp-mux (RFC 5761), B separate ports.
    session.set_remote(Side::A, a.rtp_addr(), a.rtp_addr());
    b.attach(&session, Side::B);

    a.rtp
        .send_to(&rtcp(), session.local_rtp(Side::A))
        .await
        .unwrap();
    let (data, from) = recv(&b.rtcp).await;
    assert_eq!(data, rtcp());
    assert_eq!(from, rtcp_of(session.local_rtp(Side::B)));

    b.rtcp
        .send_to(&rtcp(), rtcp_of(session.local_rtp(Side::B)))
        .await
        .unwrap();
    let (data, from) = recv(&a.rtp).await;
    assert_eq!(data, rtcp());
    assert_eq!(from, session.local_rtp(Side::A));

    let sa = session.stats(Side::A);
    assert_eq!((sa.rtcp_in, sa.packets_in, sa.packets_out), (1, 0, 0));
    assert_eq!(session.stats(Side::B).rtcp_in, 1);
}

#[tokio::test]
async fn packet_from_a_foreign_address_is_rejected_and_counted() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    let attacker = Phone::on("127.0.0.2").await;
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);

    // RTP bleed: a stranger sends first, on both ports.
    attacker
        .rtp
        .send_to(&rtp(100), session.local_rtp(Side::A))
        .await
        .unwrap();
    attacker
        .rtcp
        .send_to(&rtcp(), rtcp_of(session.local_rtp(Side::A)))
        .await
        .unwrap();
    a.rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    eventually(|| session.stats(Side::A).rejected == 2).await;
    nothing_arrives(&b.rtp).await;
    nothing_arrives(&b.rtcp).await;
    assert_eq!(session.stats(Side::A).packets_in, 1);

    // Replies go to the phone, not to the stranger.
    b.rtp
        .send_to(&rtp(2), session.local_rtp(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&a.rtp).await.0, rtp(2));
    nothing_arrives(&attacker.rtp).await;
}

#[tokio::test]
async fn packets_before_the_remote_is_known_are_rejected() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    b.attach(&session, Side::B);

    a.rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    eventually(|| session.stats(Side::A).rejected == 1).await;
    nothing_arrives(&b.rtp).await;

    a.attach(&session, Side::A);
    a.rtp
        .send_to(&rtp(2), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(2));
}

#[tokio::test]
async fn symmetric_rtp_sends_to_the_port_the_phone_sends_from() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    let a_real = Phone::on("127.0.0.1").await;
    // The SDP names one port, the phone sends from another of the same IP.
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);

    a_real
        .rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    b.rtp
        .send_to(&rtp(2), session.local_rtp(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&a_real.rtp).await.0, rtp(2));
    nothing_arrives(&a.rtp).await;
}

#[tokio::test]
async fn nat_mode_latches_the_first_source_and_then_rejects_others() {
    let relay = relay(2);
    let session = relay
        .allocate(SessionOptions {
            nat: true,
            ..options()
        })
        .unwrap();
    let (behind_nat, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    let stranger = Phone::on("127.0.0.3").await;
    // The SDP carries the phone's private address, which we cannot reach.
    let private: SocketAddr = "10.9.9.9:4000".parse().unwrap();
    session.set_remote(Side::A, private, rtcp_of(private));
    b.attach(&session, Side::B);

    behind_nat
        .rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    b.rtp
        .send_to(&rtp(2), session.local_rtp(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&behind_nat.rtp).await.0, rtp(2));

    stranger
        .rtp
        .send_to(&rtp(50), session.local_rtp(Side::A))
        .await
        .unwrap();
    eventually(|| session.stats(Side::A).rejected == 1).await;
    nothing_arrives(&b.rtp).await;
    b.rtp
        .send_to(&rtp(3), session.local_rtp(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&behind_nat.rtp).await.0, rtp(3));
    nothing_arrives(&stranger.rtp).await;
}

#[tokio::test]
async fn set_remote_resets_latching() {
    let relay = relay(2);
    let session = relay
        .allocate(SessionOptions {
            nat: true,
            ..options()
        })
        .unwrap();
    let (first, second, b) = (
        Phone::on("127.0.0.1").await,
        Phone::on("127.0.0.4").await,
        Phone::on("127.0.0.1").await,
    );
    first.attach(&session, Side::A);
    b.attach(&session, Side::B);
    first
        .rtp
        .send_to(&rtp(1), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(1));
    second
        .rtp
        .send_to(&rtp(2), session.local_rtp(Side::A))
        .await
        .unwrap();
    eventually(|| session.stats(Side::A).rejected == 1).await;

    // A re-INVITE moves the phone: the new source latches.
    second.attach(&session, Side::A);
    second
        .rtp
        .send_to(&rtp(3), session.local_rtp(Side::A))
        .await
        .unwrap();
    assert_eq!(recv(&b.rtp).await.0, rtp(3));
    b.rtp
        .send_to(&rtp(4), session.local_rtp(Side::B))
        .await
        .unwrap();
    assert_eq!(recv(&second.rtp).await.0, rtp(4));
    nothing_arrives(&first.rtp).await;
}

#[tokio::test]
async fn skipped_sequence_numbers_count_as_lost() {
    let relay = relay(2);
    let session = relay.allocate(options()).unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);
    for seq in [1, 2, 5, 6] {
        a.rtp
            .send_to(&rtp(seq), session.local_rtp(Side::A))
            .await
            .unwrap();
        recv(&b.rtp).await;
    }
    let sa = session.stats(Side::A);
    assert_eq!((sa.packets_in, sa.packets_lost), (4, 2));
    assert_eq!(session.stats(Side::B).packets_lost, 0);
}

#[tokio::test]
async fn media_timeout_fires_after_the_configured_time_without_packets() {
    let relay = relay(2);
    let mut session = relay
        .allocate(SessionOptions {
            nat: false,
            media_timeout: Some(Duration::from_millis(200)),
        })
        .unwrap();
    let start = tokio::time::Instant::now();
    tokio::time::timeout(WAIT, session.timed_out())
        .await
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn media_timeout_is_paused_on_hold_and_restarts_on_resume() {
    let relay = relay(2);
    let mut session = relay
        .allocate(SessionOptions {
            nat: false,
            media_timeout: Some(Duration::from_millis(200)),
        })
        .unwrap();
    session.set_on_hold(true);
    let held = tokio::time::timeout(Duration::from_millis(500), session.timed_out()).await;
    assert!(held.is_err(), "timed out while on hold");

    session.set_on_hold(false);
    let resumed = tokio::time::Instant::now();
    tokio::time::timeout(WAIT, session.timed_out())
        .await
        .unwrap();
    assert!(resumed.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn no_media_timeout_configured_never_fires() {
    let relay = relay(2);
    let mut session = relay.allocate(options()).unwrap();
    let got = tokio::time::timeout(Duration::from_millis(300), session.timed_out()).await;
    assert!(got.is_err());
}

#[tokio::test]
async fn rtp_from_either_side_keeps_the_media_timeout_away() {
    let relay = relay(2);
    let mut session = relay
        .allocate(SessionOptions {
            nat: false,
            media_timeout: Some(Duration::from_millis(300)),
        })
        .unwrap();
    let (a, b) = (Phone::on("127.0.0.1").await, Phone::on("127.0.0.1").await);
    a.attach(&session, Side::A);
    b.attach(&session, Side::B);
    let until = tokio::time::Instant::now() + Duration::from_millis(900);
    let mut seq = 0;
    while tokio::time::Instant::now() < until {
        seq += 1;
        // Only B talks; A is silent (one-way audio still counts as media).
        b.rtp
            .send_to(&rtp(seq), session.local_rtp(Side::B))
            .await
            .unwrap();
        recv(&a.rtp).await;
        tokio::select! {
            () = session.timed_out() => panic!("timed out while RTP flows"),
            () = tokio::time::sleep(Duration::from_millis(40)) => {}
        }
    }
    let silent = tokio::time::Instant::now();
    tokio::time::timeout(WAIT, session.timed_out())
        .await
        .unwrap();
    assert!(silent.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn exhausted_pool_gives_no_ports_and_ports_are_reused_after_drop() {
    let relay = relay(2);
    let first = relay.allocate(options()).unwrap();
    let ports = [first.local_rtp(Side::A), first.local_rtp(Side::B)];
    assert!(matches!(
        relay.allocate(options()),
        Err(MediaError::NoPorts)
    ));
    assert_eq!(relay.ports_in_use(), 4);

    drop(first);
    eventually(|| relay.sessions() == 0).await;
    assert_eq!(relay.ports_in_use(), 0);
    let second = relay.allocate(options()).unwrap();
    let mut reused = [second.local_rtp(Side::A), second.local_rtp(Side::B)];
    reused.sort();
    let mut ports = ports;
    ports.sort();
    assert_eq!(reused, ports);
}

#[tokio::test]
async fn a_pair_held_by_another_process_is_skipped() {
    let (port_min, port_max) = free_range(3);
    let relay = MediaRelay::new(RelayConfig {
        address: LOCALHOST,
        port_min,
        port_max,
    })
    .unwrap();
    let _squatter = std::net::UdpSocket::bind(SocketAddr::new(LOCALHOST, port_min + 1)).unwrap();
    let session = relay.allocate(options()).unwrap();
    let used = [
        session.local_rtp(Side::A).port(),
        session.local_rtp(Side::B).port(),
    ];
    assert!(!used.contains(&port_min));
    assert!(used.iter().all(|p| p % 2 == 0));
    assert_eq!(relay.ports_in_use(), 4);
}

#[test]
fn relay_config_is_validated() {
    let config = |address, port_min, port_max| RelayConfig {
        address,
        port_min,
        port_max,
    };
    assert!(matches!(
        MediaRelay::new(config(LOCALHOST, 20000, 20002)),
        Err(MediaError::InvalidRange { .. })
    ));
    assert!(matches!(
        MediaRelay::new(config(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 20000, 20003)),
        Err(MediaError::UnspecifiedAddress(_))
    ));
    let relay = MediaRelay::new(config(LOCALHOST, 20000, 20003)).unwrap();
    assert!(matches!(
        relay.allocate(options()),
        Err(MediaError::NoRuntime)
    ));
    assert_eq!(relay.ports_in_use(), 0);
}
