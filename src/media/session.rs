//! One call's relay session: the handle its call actor owns, and the state it shares with the
//! session's relay task.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::task::AbortHandle;
use tokio::time::Instant;

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
/// `last_rtp_us`; only the handle writes the remotes.
#[derive(Debug)]
pub(super) struct Shared {
    pub epoch: Instant,
    pub remotes: [ArcSwapOption<Remote>; 2],
    pub remotes_changed: AtomicBool,
    pub stats: [SharedLegStats; 2],
    // Microseconds from `epoch` to the last RTP packet accepted from either side.
    pub last_rtp_us: AtomicU64,
}

impl Shared {
    pub fn new() -> Self {
        Self {
            epoch: Instant::now(),
            remotes: [ArcSwapOption::empty(), ArcSwapOption::empty()],
            remotes_changed: AtomicBool::new(false),
            stats: [SharedLegStats::default(), SharedLegStats::default()],
            last_rtp_us: AtomicU64::new(0),
        }
    }

    /// Microseconds since the session started.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
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
    /// sends to the side's phone in `format`. See `endpoint`.
    pub fn attach(
        &self,
        side: Side,
        format: super::MediaFormat,
        detection: super::DtmfDetection,
    ) -> super::MediaPort {
        let _ = (side, format, detection);
        super::MediaPort::placeholder()
    }

    /// Starts recording both sides into `path` (directories created), caller (side A)
    /// left, callee (side B) right. See `recorder`.
    pub fn record(&self, path: std::path::PathBuf) -> super::Recording {
        super::Recording::placeholder(path)
    }

    /// A snapshot of `side`'s counters.
    pub fn stats(&self, side: Side) -> LegStats {
        self.shared.stats[side as usize].snapshot()
    }
}

impl Drop for RelaySession {
    fn drop(&mut self) {
        // The relay task owns the sockets and the port lease; both go when it is dropped.
        self.task.abort();
    }
}
