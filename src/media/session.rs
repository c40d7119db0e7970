//! One call's relay session: the handle its call actor owns, and the state it shares with the
//! session's relay task.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::net::UdpSocket;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::endpoint::Attachment;
use super::recorder::Tap;
use super::stats::SharedLegStats;
use super::{LegStats, Side};

/// Per-session relay options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionOptions {
    /// Latch onto whatever source sends first (phones behind NAT) instead of requiring the
    /// IP address their SDP named.
    pub nat: bool,
    /// Report [`RelaySession::timed_out`] after this long without RTP from either side.
    pub media_timeout: Option<Duration>,
}

/// A side's remote addresses from its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Remote {
    pub rtp: SocketAddr,
    pub rtcp: SocketAddr,
    // Each set_remote gets a new number, so setting the same addresses again still resets.
    pub generation: u64,
}

/// What the handle and the relay task share. Only the relay task writes the stats and
/// `last_rtp_us`; only the handle writes the remotes; media ports and recordings write the
/// endpoints and the tap, and raise `media_changed` for the relay task.
#[derive(Debug)]
pub(super) struct Shared {
    pub epoch: Instant,
    pub remotes: [ArcSwapOption<Remote>; 2],
    pub remotes_changed: AtomicBool,
    pub stats: [SharedLegStats; 2],
    // Microseconds from `epoch` to the last RTP packet accepted from either side.
    pub last_rtp_us: AtomicU64,
    // Each side's latched RTP source (None until latched, and after set_remote), published by
    // the relay task when it latches; players send there, else to the SDP address.
    pub latched: [ArcSwapOption<SocketAddr>; 2],
    // Each side's RTP socket, owned by the relay task; players send from it while it lives.
    pub rtp_sockets: [Weak<UdpSocket>; 2],
    // The media port attached to each side, if any.
    pub endpoints: [ArcSwapOption<Attachment>; 2],
    // The running recording's tap, if any.
    pub tap: ArcSwapOption<Tap>,
    pub media_changed: AtomicBool,
    attachments: AtomicU64,
    // RTP packets and bytes players sent to each side (the relay task's counters hold only
    // what it forwarded).
    pub played: [(AtomicU64, AtomicU64); 2],
}

impl Shared {
    pub fn new(rtp_sockets: [Weak<UdpSocket>; 2]) -> Self {
        Self {
            epoch: Instant::now(),
            remotes: [ArcSwapOption::empty(), ArcSwapOption::empty()],
            remotes_changed: AtomicBool::new(false),
            stats: [SharedLegStats::default(), SharedLegStats::default()],
            last_rtp_us: AtomicU64::new(0),
            latched: [ArcSwapOption::empty(), ArcSwapOption::empty()],
            rtp_sockets,
            endpoints: [ArcSwapOption::empty(), ArcSwapOption::empty()],
            tap: ArcSwapOption::empty(),
            media_changed: AtomicBool::new(false),
            attachments: AtomicU64::new(0),
            played: Default::default(),
        }
    }

    /// Microseconds since the session started.
    pub fn now_us(&self) -> u64 {
        self.micros_at(Instant::now())
    }

    /// Microseconds from the session start to `at`.
    pub fn micros_at(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    /// A number no other attachment of this session has.
    pub fn next_attachment_id(&self) -> u64 {
        self.attachments.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A call's relay session; dropping it stops the relay and returns its ports.
#[derive(Debug)]
pub struct RelaySession {
    local: [SocketAddr; 2],
    shared: Arc<Shared>,
    media_timeout: Option<Duration>,
    on_hold: AtomicBool,
    // Microseconds from `epoch` from which the media timeout counts (set_remote, hold resume).
    timer_floor_us: AtomicU64,
    generation: AtomicU64,
    task: AbortHandle,
}

impl RelaySession {
    pub(super) fn new(
        local: [SocketAddr; 2],
        shared: Arc<Shared>,
        options: SessionOptions,
        task: AbortHandle,
    ) -> Self {
        Self {
            local,
            shared,
            media_timeout: options.media_timeout,
            on_hold: AtomicBool::new(false),
            timer_floor_us: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            task,
        }
    }

    /// Our RTP address towards `side`: what the SDP sent to that side names. RTCP is on the
    /// next port (RFC 3550 §11).
    pub fn local_rtp(&self, side: Side) -> SocketAddr {
        self.local[side as usize]
    }

    /// The RTP and RTCP addresses `side`'s SDP named: RTCP from `a=rtcp` (RFC 3605) or the RTP
    /// port + 1, the RTP address itself with `a=rtcp-mux` (RFC 5761). Resets that side's
    /// latching and restarts the media timeout. Takes effect at the relay task's next wakeup.
    pub fn set_remote(&self, side: Side, rtp: SocketAddr, rtcp: SocketAddr) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.shared.remotes[side as usize].store(Some(Arc::new(Remote {
            rtp,
            rtcp,
            generation,
        })));
        self.shared.latched[side as usize].store(None);
        self.shared.remotes_changed.store(true, Ordering::Release);
        self.timer_floor_us
            .store(self.shared.now_us(), Ordering::Relaxed);
    }

    /// Pause the media timeout while the call is on hold; resuming restarts it.
    pub fn set_on_hold(&self, on_hold: bool) {
        let was = self.on_hold.swap(on_hold, Ordering::Relaxed);
        if was && !on_hold {
            self.timer_floor_us
                .store(self.shared.now_us(), Ordering::Relaxed);
        }
    }

    /// Resolves once no RTP arrived from either side for the media timeout, counted from the
    /// latest of: allocation, `set_remote`, leaving hold, the last RTP packet. Pending forever
    /// without a timeout or while on hold. Cancel-safe: it keeps no state of its own.
    pub async fn timed_out(&mut self) {
        let Some(timeout) = self.media_timeout else {
            return std::future::pending().await;
        };
        if self.on_hold.load(Ordering::Relaxed) {
            return std::future::pending().await;
        }
        loop {
            let since = self
                .shared
                .last_rtp_us
                .load(Ordering::Relaxed)
                .max(self.timer_floor_us.load(Ordering::Relaxed));
            let deadline = self.shared.epoch + Duration::from_micros(since) + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }

    /// Makes the switch the media peer of `side` until the returned port is dropped: the
    /// side's RTP goes to the port (DTMF detected as `detection` says), the port's player
    /// sends to the side's phone in `format`. While attached, nothing is relayed between the
    /// sides (RTCP still is). A later attach on the same side replaces this one. See
    /// `endpoint`.
    pub fn attach(
        &self,
        side: Side,
        format: super::MediaFormat,
        detection: super::DtmfDetection,
    ) -> super::MediaPort {
        super::MediaPort::attach(&self.shared, side, format, detection)
    }

    /// Starts recording both sides into `path` (directories created), caller (side A)
    /// left, callee (side B) right. One recording per session: a second replaces the first's
    /// tap. Never blocks: the file is created by the writer task, and an error there fails
    /// the recording. See `recorder`.
    pub fn record(&self, path: std::path::PathBuf) -> super::Recording {
        super::recorder::start(&self.shared, path)
    }

    /// What the session shares with its relay task (tests reach the recording tap).
    #[cfg(test)]
    pub(super) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A snapshot of `side`'s counters.
    pub fn stats(&self, side: Side) -> LegStats {
        let mut stats = self.shared.stats[side as usize].snapshot();
        let (packets, bytes) = &self.shared.played[side as usize];
        stats.packets_out += packets.load(Ordering::Relaxed);
        stats.bytes_out += bytes.load(Ordering::Relaxed);
        stats
    }
}

impl Drop for RelaySession {
    fn drop(&mut self) {
        // The relay task owns the sockets and the port lease; both go when it is dropped.
        self.task.abort();
    }
}
