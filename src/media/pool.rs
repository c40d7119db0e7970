//! The port pool: even RTP ports (RTCP on the odd port after, RFC 3550 §11) from the profile's
//! range, leased to sessions and returned when their relay task ends.
//!
//! Freed pairs go to the back of the queue, so a port is reused as late as possible and stray
//! packets for a finished call do not reach the next one. The queue starts at a random pair.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::MediaError;

// Bind attempts per allocated pair before giving up: pairs held by other processes are skipped,
// but a range that is mostly taken must not stall signalling with thousands of bind calls.
const BIND_ATTEMPTS: usize = 16;

/// The RTP and RTCP sockets of one side, bound but not yet registered with tokio.
#[derive(Debug)]
pub(super) struct BoundPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub rtp_port: u16,
}

#[derive(Debug)]
struct PoolShared {
    // Free RTP (even) ports; locked only to allocate and release, never on the packet path.
    free: Mutex<VecDeque<u16>>,
    leased_pairs: AtomicUsize,
    sessions: AtomicUsize,
}

/// The free RTP/RTCP port pairs of one relay.
#[derive(Debug, Clone)]
pub(super) struct PortPool {
    address: IpAddr,
    shared: Arc<PoolShared>,
    pairs: usize,
}

/// Two port pairs leased to one session; returned to the pool on drop.
#[derive(Debug)]
pub(super) struct PortLease {
    shared: Arc<PoolShared>,
    ports: [u16; 2],
}

impl PortPool {
    /// A pool of every even port `p` with `p` and `p + 1` inside `min..=max`.
    pub fn new(address: IpAddr, min: u16, max: u16) -> Result<Self, MediaError> {
        let first = min.checked_add(min % 2).filter(|p| *p != 0);
        let mut free: VecDeque<u16> = match first {
            Some(first) if min <= max => (first..max).step_by(2).collect(),
            _ => VecDeque::new(),
        };
        // Start at a random place in the range: two switches (or a restarted one whose old
        // ports linger) sharing a range then rarely try the same ports first.
        if !free.is_empty() {
            let start = rand::random::<usize>() % free.len();
            free.rotate_left(start);
        }
        // A session needs two pairs, one per side.
        if free.len() < 2 {
            return Err(MediaError::InvalidRange { min, max });
        }
        let pairs = free.len();
        Ok(Self {
            address,
            pairs,
            shared: Arc::new(PoolShared {
                free: Mutex::new(free),
                leased_pairs: AtomicUsize::new(0),
                sessions: AtomicUsize::new(0),
            }),
        })
    }

    /// Lease and bind two pairs (side A, side B).
    pub fn lease(&self) -> Result<(PortLease, [BoundPair; 2]), MediaError> {
        let a = self.bind_pair()?;
        let b = match self.bind_pair() {
            Ok(b) => b,
            Err(e) => {
                self.release(&[a.rtp_port]);
                return Err(e);
            }
        };
        self.shared.sessions.fetch_add(1, Ordering::Relaxed);
        let lease = PortLease {
            shared: Arc::clone(&self.shared),
            ports: [a.rtp_port, b.rtp_port],
        };
        Ok((lease, [a, b]))
    }

    fn bind_pair(&self) -> Result<BoundPair, MediaError> {
        let mut last_error = None;
        for attempt in 1..=BIND_ATTEMPTS {
            let Some(port) = self.take() else {
                return Err(match last_error {
                    Some(source) => MediaError::Bind {
                        address: self.address,
                        attempts: attempt - 1,
                        source,
                    },
                    None => MediaError::NoPorts,
                });
            };
            match self.bind_at(port) {
                Ok(pair) => {
                    self.shared.leased_pairs.fetch_add(1, Ordering::Relaxed);
                    return Ok(pair);
                }
                Err(e) => {
                    // Held by another process: back of the queue, try the next pair.
                    self.put_back(port);
                    last_error = Some(e);
                }
            }
        }
        Err(MediaError::Bind {
            address: self.address,
            attempts: BIND_ATTEMPTS,
            source: last_error.unwrap_or_else(|| std::io::ErrorKind::AddrInUse.into()),
        })
    }

    fn bind_at(&self, port: u16) -> std::io::Result<BoundPair> {
        let rtp = UdpSocket::bind(SocketAddr::new(self.address, port))?;
        let rtcp = UdpSocket::bind(SocketAddr::new(self.address, port + 1))?;
        rtp.set_nonblocking(true)?;
        rtcp.set_nonblocking(true)?;
        Ok(BoundPair {
            rtp,
            rtcp,
            rtp_port: port,
        })
    }

    fn take(&self) -> Option<u16> {
        self.shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    fn put_back(&self, port: u16) {
        self.shared
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(port);
    }

    fn release(&self, ports: &[u16]) {
        release(&self.shared, ports);
    }

    /// Sessions holding a lease.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::Relaxed)
    }

    /// Ports leased (two per pair).
    pub fn ports_in_use(&self) -> usize {
        self.shared.leased_pairs.load(Ordering::Relaxed) * 2
    }

    /// Ports in the range that the pool hands out (two per pair).
    pub fn ports_total(&self) -> usize {
        self.pairs * 2
    }
}

fn release(shared: &PoolShared, ports: &[u16]) {
    let mut free = shared.free.lock().unwrap_or_else(PoisonError::into_inner);
    free.extend(ports);
    shared
        .leased_pairs
        .fetch_sub(ports.len(), Ordering::Relaxed);
}

impl Drop for PortLease {
    fn drop(&mut self) {
        release(&self.shared, &self.ports);
        self.shared.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn range_needs_two_even_odd_pairs() {
        assert!(matches!(
            PortPool::new(LOCALHOST, 20001, 20004),
            Err(MediaError::InvalidRange { .. })
        ));
        assert!(PortPool::new(LOCALHOST, 20001, 20005).is_ok());
        assert!(PortPool::new(LOCALHOST, 20000, 20003).is_ok());
        assert!(PortPool::new(LOCALHOST, 30000, 20000).is_err());
        assert!(PortPool::new(LOCALHOST, 0, 3).is_err());
        assert!(PortPool::new(LOCALHOST, 65532, 65535).is_ok());
    }

    #[test]
    fn odd_port_min_starts_at_the_next_even_port() {
        let pool = PortPool::new(LOCALHOST, 20001, 20005).unwrap();
        let free = pool.shared.free.lock().unwrap();
        let mut ports: Vec<u16> = free.iter().copied().collect();
        ports.sort_unstable();
        assert_eq!(ports, vec![20002, 20004]);
    }
}
