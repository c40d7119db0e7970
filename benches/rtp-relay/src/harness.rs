//! Switchyard's `MediaRelay` on a one-worker tokio runtime, with N sessions whose side A takes
//! the generator's packets and whose side B sends them to the sink.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, Result};
use switchyard::media::{MediaRelay, RelayConfig, RelaySession, SessionOptions, Side};
use tokio::runtime::Runtime;

use crate::cpu::ThreadClock;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PORT_MIN: u16 = 44_000;

/// A relay with its sessions.
pub struct Harness {
    /// Each session's side A RTP address, where the generator sends.
    pub targets: Vec<SocketAddr>,
    /// The runtime worker's CPU clock.
    pub clock: ThreadClock,
    sessions: Vec<RelaySession>,
    // Dropped last: the sessions' tasks run on it.
    _runtime: Runtime,
}

impl Harness {
    /// Allocate `count` sessions relaying to `sink`.
    pub fn start(count: usize, sink: SocketAddr, run: usize) -> Result<Self> {
        let worker = format!("relay-wkr-{run}");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(&worker)
            .enable_all()
            .build()?;
        let pairs = u16::try_from(count * 2 + 64)?;
        let relay = MediaRelay::new(RelayConfig {
            address: LOCALHOST,
            port_min: PORT_MIN,
            port_max: PORT_MIN + pairs * 2,
        })?;
        let options = SessionOptions {
            nat: false,
            media_timeout: None,
        };
        let sessions = {
            let _enter = runtime.enter();
            (0..count)
                .map(|_| relay.allocate(options))
                .collect::<Result<Vec<_>, _>>()?
        };
        // Side A accepts any port of 127.0.0.1 (the generator's); side B sends to the sink.
        let phone = SocketAddr::new(LOCALHOST, 9);
        for session in &sessions {
            session.set_remote(Side::A, phone, phone);
            session.set_remote(Side::B, sink, sink);
        }
        // A task that ran on the worker proves the thread exists and carries its name.
        runtime.block_on(async { tokio::spawn(async {}).await })?;
        let clock = ThreadClock::named(&worker).context("finding the runtime worker")?;
        Ok(Self {
            targets: sessions.iter().map(|s| s.local_rtp(Side::A)).collect(),
            clock,
            sessions,
            _runtime: runtime,
        })
    }

    /// Packets sent out of side B so far, over all sessions.
    pub fn relayed(&self) -> u64 {
        self.sessions
            .iter()
            .map(|s| s.stats(Side::B).packets_out)
            .sum()
    }

    /// Packets from side A dropped as foreign (should stay 0).
    pub fn rejected(&self) -> u64 {
        self.sessions
            .iter()
            .map(|s| s.stats(Side::A).rejected)
            .sum()
    }
}
