//! The player of a [`super::MediaPort`]: G.711 RTP to the phone on the port's side, sent from
//! that side's own socket (symmetric RTP) to its latched address, else the SDP address.
//!
//! One 20 ms packet per deadline, deadlines absolute (`start + n * 20 ms`) so the stream never
//! drifts; a player that wakes more than [`MAX_BEHIND`] frames late skips the missed frames
//! instead of bursting them. One random SSRC per port; sequence numbers continue across
//! prompts; the timestamp follows the wall clock, so a pause between prompts advances it by
//! the pause, and the first packet after a pause carries the marker bit (RFC 3551 §4.1).
//! Every send is a nonblocking `sendto`: a full socket buffer drops the packet.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use media_core::tone::{Tone, ToneGenerator};
use socket2::{SockAddr, SockRef};
use tokio::time::Instant;

use super::audio::Audio;
use super::endpoint::{AttachGuard, MediaFormat};
use crate::telemetry::metrics::metrics;

/// Samples in one packet: 20 ms at 8 kHz.
pub(super) const FRAME: usize = 160;
/// Time one packet covers.
pub(super) const FRAME_TIME: Duration = Duration::from_millis(20);
/// Frames a late player may fall behind before it skips ahead.
const MAX_BEHIND: u32 = 3;
// RTP fixed header (RFC 3550 §5.1) without CSRCs or extension.
const HEADER: usize = 12;

/// Plays audio to the phone on the port's side.
#[derive(Debug)]
pub struct Player {
    format: MediaFormat,
    port: Option<Arc<AttachGuard>>,
    ssrc: u32,
    sequence: u16,
    // Timestamp and deadline of the last packet sent (the timestamp of the next if none yet).
    timestamp: u32,
    last: Option<Instant>,
    packets_sent: u64,
}

/// Where a stream of frames starts: the first deadline, its timestamp and marker bit.
struct Start {
    deadline: Instant,
    timestamp: u32,
    marker: bool,
}

impl Player {
    pub(super) fn new(format: MediaFormat, port: Option<Arc<AttachGuard>>) -> Self {
        Self {
            format,
            port,
            ssrc: rand::random(),
            // RFC 3550 §5.1: random initial sequence number and timestamp.
            sequence: rand::random(),
            timestamp: rand::random(),
            last: None,
            packets_sent: 0,
        }
    }

    /// Plays `audio` once, to its end; dropping the future stops it at the current packet.
    pub async fn play(&mut self, audio: &Audio) {
        let samples = audio.samples();
        let mut position = 0;
        self.stream(true, |frame| {
            let Some(rest) = samples.get(position..).filter(|rest| !rest.is_empty()) else {
                return false;
            };
            let n = rest.len().min(FRAME);
            frame[..n].copy_from_slice(&rest[..n]);
            frame[n..].fill(0);
            position += n;
            true
        })
        .await;
    }

    /// Plays `audio` again and again until the future is dropped (music on hold).
    pub async fn play_looped(&mut self, audio: &Audio) {
        let samples = audio.samples();
        if samples.is_empty() {
            return self
                .stream(true, |frame| {
                    frame.fill(0);
                    true
                })
                .await;
        }
        let mut position = 0;
        self.stream(true, |frame| {
            for sample in frame.iter_mut() {
                *sample = samples[position];
                position = (position + 1) % samples.len();
            }
            true
        })
        .await;
    }

    /// Plays `tone` for `duration`.
    pub async fn play_tone(&mut self, tone: Tone, duration: Duration) {
        let mut generator = ToneGenerator::new(tone);
        let mut frames = frames_in(duration);
        self.stream(true, |frame| {
            if frames == 0 {
                return false;
            }
            frames -= 1;
            generator.fill(frame);
            true
        })
        .await;
    }

    /// Sends silence for `duration` (keeps the phone's jitter buffer and NAT binding fed).
    pub async fn silence(&mut self, duration: Duration) {
        let mut frames = frames_in(duration);
        self.stream(false, |frame| {
            if frames == 0 {
                return false;
            }
            frames -= 1;
            frame.fill(0);
            true
        })
        .await;
    }

    /// Packets sent so far (counted when they leave the player: a side without an address
    /// yet, or a full socket buffer, drops them, as the network would).
    pub fn packets_sent(&self) -> u64 {
        self.packets_sent
    }

    /// The SSRC of the port's stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sends the frames `fill` writes (false: no more) on their deadlines, `counted` as a
    /// playback in the metrics (prompts, tones, music; not silence). State changes only when a
    /// packet goes out, so dropping the future anywhere leaves the player consistent.
    async fn stream(&mut self, counted: bool, mut fill: impl FnMut(&mut [i16; FRAME]) -> bool) {
        let Start {
            mut deadline,
            mut timestamp,
            mut marker,
        } = self.start(Instant::now());
        let _playing = counted.then(Playing::start);
        let mut frame = [0i16; FRAME];
        loop {
            if !fill(&mut frame) {
                return;
            }
            tokio::time::sleep_until(deadline).await;
            let late = Instant::now().saturating_duration_since(deadline);
            if late > FRAME_TIME * MAX_BEHIND {
                // Woken far too late (an overloaded runtime): skip what should have gone out
                // already rather than burst it; the phone sees a short loss.
                let skipped = whole_frames(late);
                for _ in 0..skipped {
                    if !fill(&mut frame) {
                        return;
                    }
                }
                deadline += FRAME_TIME * skipped;
                timestamp = timestamp.wrapping_add(skipped * FRAME as u32);
            }
            self.send(&frame, timestamp, marker, deadline);
            marker = false;
            deadline += FRAME_TIME;
            timestamp = timestamp.wrapping_add(FRAME as u32);
        }
    }

    /// Where the next stream starts: right after the last packet when it follows on (within a
    /// frame), else now, with the timestamp advanced by the time since the last packet.
    fn start(&self, now: Instant) -> Start {
        let Some(last) = self.last else {
            return Start {
                deadline: now,
                timestamp: self.timestamp,
                marker: true,
            };
        };
        let next = last + FRAME_TIME;
        if now <= next + FRAME_TIME {
            return Start {
                deadline: next,
                timestamp: self.timestamp.wrapping_add(FRAME as u32),
                marker: false,
            };
        }
        let gap = now.saturating_duration_since(last);
        // 8 samples per millisecond; wraps like every RTP timestamp (RFC 3550 §5.1).
        let samples = (gap.as_micros() * 8 / 1000) as u32;
        Start {
            deadline: now,
            timestamp: self.timestamp.wrapping_add(samples),
            marker: true,
        }
    }

    fn send(&mut self, frame: &[i16; FRAME], timestamp: u32, marker: bool, deadline: Instant) {
        let mut packet = [0u8; HEADER + FRAME];
        packet[0] = 0x80; // RFC 3550 §5.1: version 2, no padding, extension or CSRCs.
        packet[1] = (u8::from(marker) << 7) | (self.format.payload_type & 0x7F);
        packet[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        packet[4..8].copy_from_slice(&timestamp.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        self.format.law.encode(frame, &mut packet[HEADER..]);
        if let Some(port) = &self.port {
            let shared = &port.shared;
            let socket = shared.rtp_sockets[port.side as usize].upgrade();
            if let (Some(socket), Some(to)) = (socket, port.destination()) {
                match SockRef::from(&*socket).send_to(&packet, &SockAddr::from(to)) {
                    Ok(_) => {
                        let (packets, bytes) = &shared.played[port.side as usize];
                        packets.fetch_add(1, Ordering::Relaxed);
                        bytes.fetch_add(packet.len() as u64, Ordering::Relaxed);
                    }
                    Err(error) => tracing::trace!(%error, "player dropped a packet"),
                }
            }
            if let Some(tap) = shared.tap.load().as_deref() {
                // The switch speaks for the other side: a prompt played to the caller is
                // recorded in the callee's channel.
                tap.offer(
                    port.side.other(),
                    shared.micros_at(deadline),
                    self.format.law,
                    self.ssrc,
                    timestamp,
                    &packet[HEADER..],
                );
            }
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = timestamp;
        self.last = Some(deadline);
        self.packets_sent += 1;
    }
}

/// Counts a playback in the metrics for as long as it lives (a dropped play included).
struct Playing;

impl Playing {
    fn start() -> Self {
        metrics().playback_started();
        Playing
    }
}

impl Drop for Playing {
    fn drop(&mut self) {
        metrics().playback_finished();
    }
}

fn frames_in(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros().div_ceil(FRAME_TIME.as_micros())).unwrap_or(u32::MAX)
}

fn whole_frames(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros() / FRAME_TIME.as_micros()).unwrap_or(u32::MAX)
}
