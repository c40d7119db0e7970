//! Where a recording puts each side's audio: both channels on one sample clock that starts with
//! the recording, so the file stays as long as the call and the sides stay aligned.
//!
//! A packet goes at its arrival time (rounded to a 20 ms frame), unless it continues the
//! previous packet of the same stream (its RTP timestamp follows on and it arrived close to
//! where the stream's audio ends): then it goes right after it, so network jitter neither
//! opens gaps nor overlaps packets. Gaps (silence suppression, hold, pause) stay silent; two
//! streams on one side (a phone and the switch's player) are mixed.
//!
//! Pure: no I/O, no clock.

use super::Side;

/// Samples per second per channel.
pub(super) const RATE: u64 = 8000;
// A packet's arrival position is rounded to a 20 ms frame.
const FRAME: u64 = 160;
// How far (in samples) a following packet may sit from its arrival position and still be
// placed right after its predecessor: 60 ms.
const CONTINUE_WINDOW: u64 = 480;
// Streams remembered per side (a phone, the switch's player, an SSRC change).
const STREAMS: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Stream {
    ssrc: u32,
    next_timestamp: u32,
    // Sample position right after the stream's last packet.
    end: u64,
}

/// Both channels of a recording from `start_us` on; [`Timeline::take`] hands out the samples
/// that are final.
#[derive(Debug)]
pub(super) struct Timeline {
    start_us: u64,
    // Samples per channel handed out so far.
    taken: u64,
    // Per side, the samples from `taken` on.
    pending: [Vec<i16>; 2],
    streams: [Vec<Stream>; 2],
}

impl Timeline {
    /// A timeline whose sample 0 is at `start_us` on the session clock.
    pub fn new(start_us: u64) -> Self {
        Self {
            start_us,
            taken: 0,
            pending: [Vec::new(), Vec::new()],
            streams: [Vec::new(), Vec::new()],
        }
    }

    /// The sample position of a session-clock time (before the start: 0).
    pub fn position(&self, at_us: u64) -> u64 {
        at_us.saturating_sub(self.start_us) * RATE / 1_000_000
    }

    /// The end of the latest audio placed on either side.
    pub fn end(&self) -> u64 {
        let longest = self.pending.iter().map(Vec::len).max().unwrap_or(0);
        self.taken + longest as u64
    }

    /// Places one packet's decoded `samples` from `side`.
    pub fn place(
        &mut self,
        side: Side,
        arrival_us: u64,
        ssrc: u32,
        timestamp: u32,
        samples: &[i16],
    ) {
        let arrival = (self.position(arrival_us) + FRAME / 2) / FRAME * FRAME;
        let streams = &mut self.streams[side as usize];
        let index = match streams.iter().position(|s| s.ssrc == ssrc) {
            Some(index) => index,
            None => {
                if streams.len() == STREAMS
                    && let Some((oldest, _)) = streams.iter().enumerate().min_by_key(|(_, s)| s.end)
                {
                    streams.swap_remove(oldest);
                }
                streams.push(Stream {
                    ssrc,
                    next_timestamp: timestamp,
                    end: arrival,
                });
                streams.len() - 1
            }
        };
        let stream = &mut streams[index];
        let follows =
            stream.next_timestamp == timestamp && stream.end.abs_diff(arrival) <= CONTINUE_WINDOW;
        let at = if follows {
            stream.end
        } else if stream.end > arrival + CONTINUE_WINDOW {
            // The stream runs ahead of the clock (a sender faster than real time): what it
            // sends beyond the window is dropped, so the recording stays as long as the call.
            return;
        } else {
            // Never over the stream's own audio: a packet of the same stream lands after it.
            arrival.max(stream.end)
        };
        let len = samples.len() as u64;
        stream.end = at + len;
        stream.next_timestamp = timestamp.wrapping_add(len as u32);

        let skip = self.taken.saturating_sub(at);
        let Some(samples) = samples.get(usize::try_from(skip).unwrap_or(usize::MAX)..) else {
            return; // Entirely before what was already handed out.
        };
        let offset = usize::try_from(at + skip - self.taken).unwrap_or(usize::MAX);
        let channel = &mut self.pending[side as usize];
        if channel.len() < offset + samples.len() {
            channel.resize(offset + samples.len(), 0);
        }
        for (out, &sample) in channel[offset..].iter_mut().zip(samples) {
            *out = out.saturating_add(sample);
        }
    }

    /// Hands out the samples up to position `upto` as interleaved 16-bit little-endian stereo
    /// (left = side A), silence where a side has nothing.
    pub fn take(&mut self, upto: u64, out: &mut Vec<u8>) {
        let n = usize::try_from(upto.saturating_sub(self.taken)).unwrap_or(usize::MAX);
        out.reserve(n * 4);
        let [left, right] = &self.pending;
        for i in 0..n {
            out.extend_from_slice(&left.get(i).copied().unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&right.get(i).copied().unwrap_or(0).to_le_bytes());
        }
        for channel in &mut self.pending {
            channel.drain(..n.min(channel.len()));
        }
        self.taken += n as u64;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn samples(out: &[u8]) -> Vec<(i16, i16)> {
        out.chunks(4)
            .map(|c| {
                (
                    i16::from_le_bytes([c[0], c[1]]),
                    i16::from_le_bytes([c[2], c[3]]),
                )
            })
            .collect()
    }

    #[test]
    fn sides_go_to_their_channels_at_their_arrival_time() {
        let mut timeline = Timeline::new(1_000_000);
        timeline.place(Side::A, 1_000_000, 1, 0, &[100; 160]);
        timeline.place(Side::B, 1_040_000, 2, 0, &[-100; 160]);
        let mut out = Vec::new();
        timeline.take(640, &mut out);
        let s = samples(&out);
        assert_eq!(s.len(), 640);
        assert_eq!(s[0], (100, 0));
        assert_eq!(s[159], (100, 0));
        assert_eq!(s[160], (0, 0));
        assert_eq!(s[320], (0, -100));
        assert_eq!(s[480], (0, 0));
    }

    #[test]
    fn jittered_packets_of_one_stream_follow_each_other_without_gaps() {
        let mut timeline = Timeline::new(0);
        // Arrivals 0, 35, 38, 60 ms: jitter, but timestamps follow on.
        for (i, arrival) in [0, 35_000, 38_000, 60_000].into_iter().enumerate() {
            timeline.place(Side::A, arrival, 7, i as u32 * 160, &[1000; 160]);
        }
        let mut out = Vec::new();
        timeline.take(800, &mut out);
        let s = samples(&out);
        assert!(s[..640].iter().all(|&(l, _)| l == 1000));
        assert!(s[640..].iter().all(|&(l, _)| l == 0));
    }

    #[test]
    fn a_talkspurt_after_silence_goes_at_its_arrival_time() {
        let mut timeline = Timeline::new(0);
        timeline.place(Side::B, 0, 7, 0, &[5; 160]);
        timeline.place(Side::B, 1_000_000, 7, 8_160, &[6; 160]);
        let mut out = Vec::new();
        timeline.take(8_320, &mut out);
        let s = samples(&out);
        assert_eq!(s[8_000], (0, 6));
        assert_eq!(s[7_999], (0, 0));
    }

    #[test]
    fn audio_before_what_was_taken_is_dropped() {
        let mut timeline = Timeline::new(0);
        let mut out = Vec::new();
        timeline.take(1_000, &mut out);
        timeline.place(Side::A, 0, 1, 0, &[9; 160]);
        assert_eq!(timeline.end(), 1_000);
        out.clear();
        timeline.take(1_100, &mut out);
        assert!(samples(&out).iter().all(|&s| s == (0, 0)));
    }

    #[test]
    fn a_stream_faster_than_the_clock_is_not_recorded_past_it() {
        let mut timeline = Timeline::new(0);
        // One second of audio arriving within 100 ms.
        for i in 0..50u32 {
            timeline.place(Side::A, u64::from(i) * 2_000, 3, i * 160, &[7; 160]);
        }
        assert!(
            timeline.end() <= 800 + CONTINUE_WINDOW + FRAME,
            "{}",
            timeline.end()
        );
    }

    #[test]
    fn two_streams_on_one_side_are_mixed() {
        let mut timeline = Timeline::new(0);
        timeline.place(Side::A, 0, 1, 0, &[100; 160]);
        timeline.place(Side::A, 0, 2, 0, &[20; 160]);
        let mut out = Vec::new();
        timeline.take(160, &mut out);
        assert!(samples(&out).iter().all(|&s| s == (120, 0)));
    }
}
