//! The RTP media relay: per call a [`RelaySession`] with two sides (A towards the caller, B
//! towards the callee), each an RTP+RTCP socket pair from the profile's port range, relaying
//! between them with symmetric-RTP latching guarded against RTP bleed.
//!
//! [`MediaRelay`] is shared by all calls of a profile; each call actor owns its session.
//! Each session runs one tokio task that owns its four sockets and drains every ready datagram
//! per wakeup; the handle talks to it through atomics only, so nothing on the signalling path
//! waits for media.
//!
//! - Forwarding: RTP from A's phone leaves B's RTP socket towards B's phone and vice versa;
//!   RTCP likewise between the RTCP sockets, or on the RTP socket of a side using rtcp-mux
//!   (RFC 5761), where it is told from RTP by its packet type.
//! - Latching (`latch`): a side accepts only its SDP's IP (any port, replies go to the first
//!   source); with `nat` the first source within the first few packets latches instead.
//!   Everything else, and anything before the side's remote is set, counts as `rejected`.
//! - Counters (`stats`): "in" from that side's phone, "out" to it; loss and jitter per RFC 3550
//!   from media-core's `ReceiveStats`.
//! - Endpoint (`endpoint`, `player`): [`RelaySession::attach`] makes the switch the media peer
//!   of one side: relaying stops, that side's RTP feeds the port's DTMF detectors (run inside
//!   the relay task), and the port's [`Player`] sends paced RTP from that side's socket.
//! - Recording (`recorder`, `timeline`): [`RelaySession::record`] taps both sides (and what a
//!   player sends) into a bounded queue; a writer task lays them out on one clock and appends
//!   stereo WAV.

mod audio;
mod endpoint;
#[cfg(test)]
mod endpoint_tests;
mod forward;
mod latch;
mod player;
mod pool;
mod recorder;
#[cfg(test)]
mod recorder_tests;
mod relay;
mod session;
mod stats;
#[cfg(test)]
mod tests;
mod timeline;

pub use audio::{Audio, AudioError};
pub use endpoint::{DIGIT_QUEUE, Digits, DtmfDetection, G711Law, MediaFormat, MediaPort};
pub use player::Player;
pub use recorder::{FLUSH_EVERY, Recording, RecordingOutcome, RecordingStatus, TAP_QUEUE};
pub use relay::{MediaRelay, RelayConfig};
pub use session::{RelaySession, SessionOptions};
pub use stats::LegStats;

use std::net::IpAddr;

/// One side of a relayed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Towards the caller (the A leg).
    A,
    /// Towards the callee (the B leg).
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// Why the media relay could not be set up or a session could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The port range holds no RTP/RTCP pair (an even RTP port and the odd port after it).
    #[error("RTP port range {min}..={max} holds no even/odd port pair")]
    InvalidRange {
        /// Lowest port of the range.
        min: u16,
        /// Highest port of the range.
        max: u16,
    },
    /// The relay address is unspecified (0.0.0.0 or ::) and cannot be advertised in SDP.
    #[error("media address {0} is unspecified; it is advertised in SDP and must be routable")]
    UnspecifiedAddress(IpAddr),
    /// Every port pair of the range is leased to a session.
    #[error("no free RTP port pair left in the range")]
    NoPorts,
    /// Free port pairs were tried and none could be bound (taken by other processes).
    #[error("could not bind an RTP/RTCP pair on {address} after {attempts} attempts: {source}")]
    Bind {
        /// The relay address.
        address: IpAddr,
        /// Pairs tried.
        attempts: usize,
        /// The last bind error.
        source: std::io::Error,
    },
    /// The bound sockets could not be registered with the tokio reactor.
    #[error("could not register the RTP/RTCP pair at port {port} with the reactor: {source}")]
    Register {
        /// The RTP port of the pair.
        port: u16,
        /// The reactor's error.
        source: std::io::Error,
    },
    /// `allocate` was called outside a tokio runtime, so the relay task cannot be spawned.
    #[error("media sessions must be allocated on a tokio runtime")]
    NoRuntime,
}
