//! The reference: the least a userspace relay can do, a blocking `recv_from` / `send_to` loop
//! on one std socket and one thread, forwarding everything to the sink.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Result;

use crate::cpu::ThreadClock;

/// A running reference relay.
pub struct Reference {
    /// Where the generator sends.
    pub input: SocketAddr,
    /// Packets forwarded so far.
    pub relayed: Arc<AtomicU64>,
    /// The relay thread's CPU clock.
    pub clock: ThreadClock,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Reference {
    /// Start relaying to `sink`.
    pub fn start(sink: SocketAddr) -> Result<Self> {
        let input = UdpSocket::bind("127.0.0.1:0")?;
        input.set_read_timeout(Some(Duration::from_millis(50)))?;
        let output = UdpSocket::bind("127.0.0.1:0")?;
        let stop = Arc::new(AtomicBool::new(false));
        let relayed = Arc::new(AtomicU64::new(0));
        let (clock_tx, clock_rx) = std::sync::mpsc::channel();
        let addr = input.local_addr()?;
        let thread = {
            let (stop, relayed) = (Arc::clone(&stop), Arc::clone(&relayed));
            std::thread::spawn(move || {
                let _ = clock_tx.send(ThreadClock::current());
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, _)) = input.recv_from(&mut buf)
                        && output.send_to(&buf[..n], sink).is_ok()
                    {
                        relayed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        let clock = clock_rx.recv()??;
        Ok(Self {
            input: addr,
            relayed,
            clock,
            stop,
            thread,
        })
    }

    /// Stop and join.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
