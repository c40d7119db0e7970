//! The RTP generator: G.711-sized packets (12-byte header + 160 bytes of 20 ms PCMU) to a set
//! of destinations, paced per stream or flat out.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use media_core::rtp::RtpBuilder;

/// How the generator sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// One packet per stream every 20 ms, spread over 2 ms slots.
    Paced,
    /// Round-robin over the streams as fast as one thread can send.
    Flat,
}

const PTIME: Duration = Duration::from_millis(20);
const SLOTS: u32 = 10;

/// Send to `targets` until `stop`; returns the packets sent.
pub fn run(targets: &[SocketAddr], pace: Pace, stop: &Arc<AtomicBool>) -> std::io::Result<u64> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let mut seq = vec![0u16; targets.len()];
    let mut sent = 0u64;
    let mut buf = [0u8; 172];
    match pace {
        Pace::Flat => {
            while !stop.load(Ordering::Relaxed) {
                for (i, target) in targets.iter().enumerate() {
                    seq[i] = seq[i].wrapping_add(1);
                    if socket.send_to(packet(&mut buf, i, seq[i]), target).is_ok() {
                        sent += 1;
                    }
                }
            }
        }
        Pace::Paced => {
            let start = Instant::now();
            let per_slot = targets.len().div_ceil(SLOTS as usize);
            let mut tick = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let slot = (tick % SLOTS) as usize;
                let due = start + PTIME / SLOTS * tick;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let from = (slot * per_slot).min(targets.len());
                let to = (from + per_slot).min(targets.len());
                for i in from..to {
                    seq[i] = seq[i].wrapping_add(1);
                    if socket
                        .send_to(packet(&mut buf, i, seq[i]), targets[i])
                        .is_ok()
                    {
                        sent += 1;
                    }
                }
                tick += 1;
            }
        }
    }
    Ok(sent)
}

/// A PCMU packet of stream `stream` with sequence number `seq`.
fn packet(buf: &mut [u8; 172], stream: usize, seq: u16) -> &[u8] {
    let ssrc = stream as u32 + 1;
    let builder = RtpBuilder::new(0, seq, u32::from(seq).wrapping_mul(160), ssrc);
    let n = builder.write_to(&[0xD5; 160], buf).unwrap_or(0);
    &buf[..n]
}
