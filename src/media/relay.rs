//! The shared relay of a profile: configuration, port pool and session allocation.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::runtime::Handle;

use super::forward::{Leg, Relay};
use super::pool::{BoundPair, PortPool};
use super::session::Shared;
use super::{MediaError, RelaySession, SessionOptions};

/// Where the relay binds and which ports it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// Address the sockets bind to, and the address SDP advertises.
    pub address: IpAddr,
    /// Lowest port of the range (inclusive).
    pub port_min: u16,
    /// Highest port of the range (inclusive).
    pub port_max: u16,
}

/// The media relay shared by all calls of a profile (`Arc<MediaRelay>`).
#[derive(Debug)]
pub struct MediaRelay {
    address: IpAddr,
    pool: PortPool,
}

impl MediaRelay {
    /// A relay over `config`'s port range; fails when the range holds fewer than the two
    /// RTP/RTCP pairs one session needs, or the address cannot be advertised.
    pub fn new(config: RelayConfig) -> Result<Self, MediaError> {
        if config.address.is_unspecified() {
            return Err(MediaError::UnspecifiedAddress(config.address));
        }
        let pool = PortPool::new(config.address, config.port_min, config.port_max)?;
        Ok(Self {
            address: config.address,
            pool,
        })
    }

    /// Bind an RTP+RTCP pair for each side (even RTP port, RTCP on the next) and start relaying
    /// between them on the current tokio runtime. Never blocks: binding is a few syscalls.
    ///
    /// The runtime must have its I/O driver enabled (tokio panics registering a socket
    /// otherwise); outside any runtime this returns [`MediaError::NoRuntime`].
    pub fn allocate(&self, options: SessionOptions) -> Result<RelaySession, MediaError> {
        let runtime = Handle::try_current().map_err(|_| MediaError::NoRuntime)?;
        let (lease, [a, b]) = self.pool.lease()?;
        let local = [
            SocketAddr::new(self.address, a.rtp_port),
            SocketAddr::new(self.address, b.rtp_port),
        ];
        let legs = [register(a, options.nat)?, register(b, options.nat)?];
        let shared = Arc::new(Shared::new([legs[0].rtp_socket(), legs[1].rtp_socket()]));
        let relay = Relay::new(legs, Arc::clone(&shared), lease);
        let task = runtime.spawn(relay.run()).abort_handle();
        tracing::debug!(a = %local[0], b = %local[1], "media session allocated");
        Ok(RelaySession::new(local, shared, options, task))
    }

    /// Sessions open (their relay task still holds its ports).
    pub fn sessions(&self) -> usize {
        self.pool.sessions()
    }

    /// Ports leased to sessions: four per session.
    pub fn ports_in_use(&self) -> usize {
        self.pool.ports_in_use()
    }

    /// Ports the pool hands out: every RTP/RTCP pair of the range.
    pub fn ports_total(&self) -> usize {
        self.pool.ports_total()
    }
}

fn register(pair: BoundPair, nat: bool) -> Result<Leg, MediaError> {
    let port = pair.rtp_port;
    let error = |source| MediaError::Register { port, source };
    let rtp = UdpSocket::from_std(pair.rtp).map_err(error)?;
    let rtcp = UdpSocket::from_std(pair.rtcp).map_err(error)?;
    Ok(Leg::new(rtp, rtcp, nat))
}
