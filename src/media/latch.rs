//! Symmetric-RTP latching for one stream (one of our sockets and the peer sending to it),
//! guarded against RTP bleed: which sources are accepted and where replies go.
//!
//! Pure: no I/O, no clock.
//!
//! Without NAT handling a stream accepts only the IP address that the side's SDP named, on any
//! port, and sends to the first accepted source from then on. With NAT handling the SDP address
//! is not trusted (it is the phone's private address); the first packet from any source latches,
//! but only during the first [`NAT_LATCH_WINDOW`] packets after the remote was set: later
//! strangers are rejected, so a scan of the port range cannot take over an established stream.

use std::net::SocketAddr;

/// Packets after `set_remote` during which a NAT stream may (re)latch.
pub(super) const NAT_LATCH_WINDOW: u32 = 5;

/// Whether a datagram is accepted from `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// From the peer: relay it.
    Accept,
    /// From the peer, which latched onto this source just now: relay it, and replies go
    /// to this source from now on.
    Latched,
    /// Foreign or early: drop it and count it as rejected.
    Reject,
}

/// Latching state of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Latch {
    nat: bool,
    // The address the SDP named; None until the side's remote is known.
    signalled: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    seen: u32,
}

impl Latch {
    /// A stream with no known remote: everything is rejected until [`Latch::reset`].
    pub fn new(nat: bool) -> Self {
        Self {
            nat,
            signalled: None,
            latched: None,
            seen: 0,
        }
    }

    /// New SDP for the side: forget the latch and expect `signalled`.
    pub fn reset(&mut self, signalled: SocketAddr) {
        self.signalled = Some(signalled);
        self.latched = None;
        self.seen = 0;
    }

    /// Decide on a datagram from `source`, latching when the rules allow.
    pub fn check(&mut self, source: SocketAddr) -> Verdict {
        let Some(signalled) = self.signalled else {
            return Verdict::Reject;
        };
        let in_window = self.seen < NAT_LATCH_WINDOW;
        self.seen = self.seen.saturating_add(1);
        if self.latched == Some(source) {
            return Verdict::Accept;
        }
        if self.nat {
            // A stranger may latch only while the window is open and nothing latched yet; the
            // address the SDP named wins over a stranger that came first within the window.
            if in_window && (self.latched.is_none() || source == signalled) {
                self.latched = Some(source);
                return Verdict::Latched;
            }
            return Verdict::Reject;
        }
        if source.ip() != signalled.ip() {
            return Verdict::Reject;
        }
        if self.latched.is_none() {
            self.latched = Some(source);
            return Verdict::Latched;
        }
        Verdict::Accept
    }

    /// Where packets for the peer go: the latched source, else the SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_is_accepted_before_the_remote_is_known() {
        let mut latch = Latch::new(false);
        assert_eq!(latch.check(addr("10.0.0.1:4000")), Verdict::Reject);
        assert_eq!(latch.destination(), None);
    }

    #[test]
    fn without_nat_only_the_signalled_ip_is_accepted_and_its_port_latches() {
        let mut latch = Latch::new(false);
        latch.reset(addr("10.0.0.1:4000"));
        assert_eq!(latch.destination(), Some(addr("10.0.0.1:4000")));
        assert_eq!(latch.check(addr("10.0.0.9:4000")), Verdict::Reject);
        assert_eq!(latch.check(addr("10.0.0.1:5000")), Verdict::Latched);
        assert_eq!(latch.destination(), Some(addr("10.0.0.1:5000")));
        // Same IP, another port: accepted, but replies keep going to the latched port.
        assert_eq!(latch.check(addr("10.0.0.1:6000")), Verdict::Accept);
        assert_eq!(latch.destination(), Some(addr("10.0.0.1:5000")));
        for _ in 0..10 {
            assert_eq!(latch.check(addr("10.0.0.9:4000")), Verdict::Reject);
        }
    }

    #[test]
    fn with_nat_the_first_source_latches_and_strangers_are_rejected() {
        let mut latch = Latch::new(true);
        latch.reset(addr("192.168.1.10:4000"));
        assert_eq!(latch.check(addr("203.0.113.5:31000")), Verdict::Latched);
        assert_eq!(latch.destination(), Some(addr("203.0.113.5:31000")));
        assert_eq!(latch.check(addr("198.51.100.7:9")), Verdict::Reject);
        assert_eq!(latch.check(addr("203.0.113.5:31000")), Verdict::Accept);
    }

    #[test]
    fn with_nat_the_signalled_address_wins_only_inside_the_window() {
        let mut latch = Latch::new(true);
        latch.reset(addr("10.0.0.1:4000"));
        assert_eq!(latch.check(addr("198.51.100.7:9")), Verdict::Latched);
        assert_eq!(latch.check(addr("10.0.0.1:4000")), Verdict::Latched);
        assert_eq!(latch.destination(), Some(addr("10.0.0.1:4000")));
        assert_eq!(latch.check(addr("198.51.100.7:9")), Verdict::Reject);

        let mut late = Latch::new(true);
        late.reset(addr("10.0.0.1:4000"));
        assert_eq!(late.check(addr("198.51.100.7:9")), Verdict::Latched);
        for _ in 1..NAT_LATCH_WINDOW {
            assert_eq!(late.check(addr("198.51.100.7:9")), Verdict::Accept);
        }
        assert_eq!(late.check(addr("10.0.0.1:4000")), Verdict::Reject);
    }

    #[test]
    fn with_nat_nothing_latches_after_the_window() {
        let mut latch = Latch::new(true);
        latch.reset(addr("10.0.0.1:4000"));
        // A packet latches only while the window is open; reset opens it again.
        latch.seen = NAT_LATCH_WINDOW;
        assert_eq!(latch.check(addr("203.0.113.5:31000")), Verdict::Reject);
        latch.reset(addr("10.0.0.1:4000"));
        assert_eq!(latch.check(addr("203.0.113.5:31000")), Verdict::Latched);
    }
}
