//! A session's relay task: drains all four sockets on each wakeup, checks each datagram
//! against its stream's latch and forwards it out of the other side.
//!
//! RTP from side A's phone leaves side B's RTP socket towards B's phone and vice versa; RTCP
//! likewise between the RTCP sockets, or on the RTP sockets with rtcp-mux (RFC 5761 §4).
//!
//! While a media port is attached to either side, RTP is not relayed at all: the attached
//! side's goes to the port's DTMF detectors, and the port's player owns the other direction.
//! A running recording's tap gets a copy of every accepted RTP packet. Both are picked up
//! from `Shared` when `media_changed` is raised, so plain relaying checks only local fields.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use media_core::rtp::{PacketKind, classify};
use socket2::{SockAddr, SockRef};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use super::Side;
use super::endpoint::Endpoint;
use super::latch::{Latch, Verdict};
use super::pool::PortLease;
use super::recorder::Tap;
use super::session::Shared;
use super::stats::LegCounters;

// Larger than any RTP packet on an Ethernet path; longer datagrams are truncated and dropped.
const DATAGRAM_MAX: usize = 2048;

thread_local! {
    // One receive buffer per runtime worker thread, not one per session.
    static BUFFER: RefCell<[u8; DATAGRAM_MAX]> = const { RefCell::new([0; DATAGRAM_MAX]) };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Rtp,
    Rtcp,
}

/// One side: its two sockets, the latch of each stream and its counters.
#[derive(Debug)]
pub(super) struct Leg {
    // Shared (weakly) with the players of media ports on this side.
    rtp: Arc<UdpSocket>,
    rtcp: UdpSocket,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    // RFC 5761: the side's SDP named one address for RTP and RTCP.
    muxed: bool,
    generation: u64,
    counters: LegCounters,
}

impl Leg {
    pub fn new(rtp: UdpSocket, rtcp: UdpSocket, nat: bool) -> Self {
        Self {
            rtp: Arc::new(rtp),
            rtcp,
            rtp_latch: Latch::new(nat),
            rtcp_latch: Latch::new(nat),
            muxed: false,
            generation: 0,
            counters: LegCounters::default(),
        }
    }

    /// The RTP socket, for the players of media ports on this side.
    pub fn rtp_socket(&self) -> std::sync::Weak<UdpSocket> {
        Arc::downgrade(&self.rtp)
    }

    fn socket(&self, port: Port) -> &UdpSocket {
        match port {
            Port::Rtp => &self.rtp,
            Port::Rtcp => &self.rtcp,
        }
    }

    /// Where RTCP for this side's phone goes, and from which socket.
    fn rtcp_route(&self) -> (&UdpSocket, Option<SocketAddr>) {
        if self.muxed {
            (&self.rtp, self.rtp_latch.destination())
        } else {
            (&self.rtcp, self.rtcp_latch.destination())
        }
    }
}

/// The relay task's state; it owns the sockets and the port lease.
#[derive(Debug)]
pub(super) struct Relay {
    legs: [Leg; 2],
    shared: Arc<Shared>,
    // Alternates which side is drained first, so a flood on one side cannot starve the other.
    first: usize,
    // The media port attached to each side; `attached` is true while either is.
    endpoints: [Option<Endpoint>; 2],
    attached: bool,
    tap: Option<Arc<Tap>>,
    _lease: PortLease,
}

impl Relay {
    pub fn new(legs: [Leg; 2], shared: Arc<Shared>, lease: PortLease) -> Self {
        Self {
            legs,
            shared,
            first: 0,
            endpoints: [None, None],
            attached: false,
            tap: None,
            _lease: lease,
        }
    }

    /// Relay until the session handle aborts the task.
    pub async fn run(mut self) {
        std::future::poll_fn(|cx| self.poll(cx)).await;
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // A plain load first: the swap's locked write is paid only when something changed.
        if self.shared.remotes_changed.load(Ordering::Relaxed)
            && self.shared.remotes_changed.swap(false, Ordering::Acquire)
        {
            self.apply_remotes();
        }
        if self.shared.media_changed.load(Ordering::Relaxed)
            && self.shared.media_changed.swap(false, Ordering::Acquire)
        {
            self.apply_media();
        }
        // One clock read per wakeup: packets drained together share an arrival time for the
        // jitter estimate (RFC 3550 A.8).
        let now_us = self.shared.now_us();
        let mut rtp_seen = false;
        self.first ^= 1;
        BUFFER.with_borrow_mut(|buf| {
            for side in [self.first, self.first ^ 1] {
                for port in [Port::Rtp, Port::Rtcp] {
                    rtp_seen |= self.drain(cx, side, port, buf, now_us);
                }
            }
        });
        if rtp_seen {
            self.shared.last_rtp_us.store(now_us, Ordering::Relaxed);
        }
        for (shared, leg) in self.shared.stats.iter().zip(&self.legs) {
            shared.publish(&leg.counters);
        }
        // Every socket returned Pending, which registered this task's waker (or the cooperative
        // budget ran out, which scheduled it again).
        Poll::Pending
    }

    fn apply_remotes(&mut self) {
        for ((slot, latched), leg) in self
            .shared
            .remotes
            .iter()
            .zip(&self.shared.latched)
            .zip(&mut self.legs)
        {
            if let Some(remote) = slot.load_full()
                && remote.generation != leg.generation
            {
                leg.generation = remote.generation;
                latched.store(None);
                leg.rtp_latch.reset(remote.rtp);
                leg.rtcp_latch.reset(remote.rtcp);
                leg.muxed = remote.rtp == remote.rtcp;
            }
        }
    }

    /// Picks up attached and detached media ports and the recording tap.
    fn apply_media(&mut self) {
        for (slot, endpoint) in self.shared.endpoints.iter().zip(&mut self.endpoints) {
            match slot.load_full() {
                Some(attachment) => {
                    if endpoint.as_ref().map(Endpoint::id) != Some(attachment.id) {
                        *endpoint = Some(Endpoint::new(attachment));
                    }
                }
                None => *endpoint = None,
            }
        }
        self.attached = self.endpoints.iter().any(Option::is_some);
        self.tap = self.shared.tap.load_full();
    }

    /// Relay every datagram ready on one socket; true when RTP was accepted.
    fn drain(
        &mut self,
        cx: &mut Context<'_>,
        side: usize,
        port: Port,
        buf: &mut [u8; DATAGRAM_MAX],
        now_us: u64,
    ) -> bool {
        let mut rtp_seen = false;
        loop {
            let mut read = ReadBuf::new(buf);
            let source = match self.legs[side].socket(port).poll_recv_from(cx, &mut read) {
                Poll::Ready(Ok(source)) => source,
                Poll::Ready(Err(error)) => {
                    // Unconnected UDP sockets report no ICMP errors; anything else is transient.
                    tracing::debug!(%error, "RTP relay receive failed");
                    return rtp_seen;
                }
                Poll::Pending => return rtp_seen,
            };
            let len = read.filled().len();
            rtp_seen |= self.relay(side, port, source, &buf[..len], now_us);
        }
    }

    /// Check one datagram and forward it; true when it was RTP and accepted.
    fn relay(
        &mut self,
        side: usize,
        port: Port,
        source: SocketAddr,
        data: &[u8],
        now: u64,
    ) -> bool {
        let kind = match (port, classify(data)) {
            (Port::Rtp, kind) => kind,
            (Port::Rtcp, PacketKind::Rtcp) => PacketKind::Rtcp,
            (Port::Rtcp, _) => PacketKind::Other,
        };
        let leg = &mut self.legs[side];
        let latch = match port {
            Port::Rtp => &mut leg.rtp_latch,
            Port::Rtcp => &mut leg.rtcp_latch,
        };
        let verdict = match kind {
            PacketKind::Other => Verdict::Reject,
            _ => latch.check(source),
        };
        match verdict {
            Verdict::Reject => {
                leg.counters.rejected += 1;
                return false;
            }
            // Players of media ports send where the relay would (rare: once per latch).
            Verdict::Latched if port == Port::Rtp => {
                self.shared.latched[side].store(Some(Arc::new(source)));
            }
            _ => {}
        }
        match kind {
            PacketKind::Rtp => {
                self.legs[side].counters.rtp_in(data, now);
                if let Some(tap) = &self.tap {
                    tap.offer_rtp(side_of(side), now, data);
                }
                if self.attached {
                    if let Some(endpoint) = &mut self.endpoints[side] {
                        endpoint.receive(data);
                    }
                    return true;
                }
                let out = &mut self.legs[side ^ 1];
                if let Some(to) = out.rtp_latch.destination()
                    && send(&out.rtp, data, to)
                {
                    out.counters.packets_out += 1;
                    out.counters.bytes_out += data.len() as u64;
                }
                true
            }
            _ => {
                let (socket, to) = self.legs[side ^ 1].rtcp_route();
                if let Some(to) = to {
                    send(socket, data, to);
                }
                self.legs[side].counters.rtcp_in += 1;
                false
            }
        }
    }
}

fn side_of(index: usize) -> Side {
    if index == 0 { Side::A } else { Side::B }
}

/// Send without waiting: a full socket buffer drops the datagram, as the network would.
fn send(socket: &UdpSocket, data: &[u8], to: SocketAddr) -> bool {
    // Straight to the kernel: tokio's write readiness is unknown until its driver has seen the
    // socket writable once, and a relay never waits for writability anyway.
    match SockRef::from(socket).send_to(data, &SockAddr::from(to)) {
        Ok(_) => true,
        Err(error) => {
            tracing::trace!(%error, "RTP relay send dropped a datagram");
            false
        }
    }
}
