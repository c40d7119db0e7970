//! A Rust RTP endpoint standing in for a phone's media: receives on a 127.0.0.1 socket and
//! counts packets per (source address, SSRC); optionally answers the first source it hears
//! with a tone stream of its own, symmetric RTP style (RFC 4961: send from the port it receives
//! on, to the port it hears from).

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use media_core::rtp::RtpPacket;

use crate::pcap::{tone_frame, tone_packets};

/// SSRC of the stream the peer sends back.
pub const PEER_SSRC: u32 = 0x5045_4552;

/// What one stream (source address + SSRC) delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamCount {
    /// RTP packets received.
    pub packets: usize,
    /// Packets whose payload was the test tone, byte for byte.
    pub tone_payloads: usize,
    /// Payload types seen.
    pub payload_types: Vec<u8>,
}

/// Everything the peer received and sent.
#[derive(Debug, Clone, Default)]
pub struct PeerReport {
    /// Per `(source, ssrc)`.
    pub streams: BTreeMap<(SocketAddr, u32), StreamCount>,
    /// Datagrams that did not parse as RTP.
    pub not_rtp: usize,
    /// Packets the peer sent, and where.
    pub sent: Option<(SocketAddr, usize)>,
}

impl PeerReport {
    /// Packets received with `ssrc`, from any source.
    pub fn packets_with_ssrc(&self, ssrc: u32) -> usize {
        self.streams
            .iter()
            .filter(|((_, s), _)| *s == ssrc)
            .map(|(_, c)| c.packets)
            .sum()
    }

    /// Tone payloads received with `ssrc`, from any source.
    pub fn tone_payloads_with_ssrc(&self, ssrc: u32) -> usize {
        self.streams
            .iter()
            .filter(|((_, s), _)| *s == ssrc)
            .map(|(_, c)| c.tone_payloads)
            .sum()
    }

    /// The source addresses that sent `ssrc`.
    pub fn sources_of(&self, ssrc: u32) -> Vec<SocketAddr> {
        self.streams
            .keys()
            .filter(|(_, s)| *s == ssrc)
            .map(|(a, _)| *a)
            .collect()
    }
}

/// A running peer; [`RtpPeer::finish`] stops it and returns its report.
pub struct RtpPeer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<PeerReport>>,
}

impl RtpPeer {
    /// A peer that only listens.
    pub fn listen() -> RtpPeer {
        RtpPeer::start(0)
    }

    /// A peer that, once it hears a first packet, sends `reply_packets` tone packets (SSRC
    /// [`PEER_SSRC`], 20 ms apart) back to that packet's source.
    pub fn answering(reply_packets: usize) -> RtpPeer {
        RtpPeer::start(reply_packets)
    }

    fn start(reply_packets: usize) -> RtpPeer {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind RTP peer");
        let addr = sock.local_addr().expect("RTP peer addr");
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .expect("set timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || run(&sock, &flag, reply_packets));
        RtpPeer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Where the peer receives (the port to name in SDP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the peer and returns what it saw.
    pub fn finish(mut self) -> PeerReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("peer running")
            .join()
            .expect("RTP peer thread")
    }
}

impl Drop for RtpPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(sock: &UdpSocket, stop: &AtomicBool, reply_packets: usize) -> PeerReport {
    let tone = tone_frame();
    let replies = tone_packets(reply_packets, PEER_SSRC);
    let mut report = PeerReport::default();
    let mut buf = [0u8; 2048];
    // (destination, next packet index, when it is due)
    let mut sending: Option<(SocketAddr, usize, Instant)> = None;
    while !stop.load(Ordering::Relaxed) {
        if let Some((to, next, due)) = sending.as_mut()
            && *next < replies.len()
            && Instant::now() >= *due
        {
            let _ = sock.send_to(&replies[*next], *to);
            *next += 1;
            *due += Duration::from_millis(20);
            report.sent = Some((*to, *next));
        }
        let Ok((len, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(rtp) = RtpPacket::parse(&buf[..len]) else {
            report.not_rtp += 1;
            continue;
        };
        let count = report.streams.entry((from, rtp.ssrc())).or_default();
        count.packets += 1;
        if rtp.payload() == tone {
            count.tone_payloads += 1;
        }
        if !count.payload_types.contains(&rtp.payload_type()) {
            count.payload_types.push(rtp.payload_type());
        }
        if sending.is_none() && reply_packets > 0 && rtp.ssrc() != PEER_SSRC {
            sending = Some((from, 0, Instant::now()));
        }
    }
    report
}
