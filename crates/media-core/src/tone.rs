//! Call-progress and DTMF tones as 8 kHz linear samples: ringback, busy, beep, each DTMF digit
//! (the two frequencies of ITU-T Q.23), and silence. Cadenced tones repeat forever.
//!
//! Pure: no I/O, no clock.

use crate::telephone_event::DtmfDigit;

/// Sample rate of generated tones.
pub const TONE_RATE: u32 = 8000;

/// A tone the switch can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// North-American ringback: 440 + 480 Hz, 2 s on, 4 s off.
    Ringback,
    /// Busy: 480 + 620 Hz, 0.5 s on, 0.5 s off.
    Busy,
    /// A 1 kHz beep, 250 ms, then silence (the "record after the beep" tone).
    Beep,
    /// A DTMF digit's two frequencies (Q.23), continuous.
    Dtmf(DtmfDigit),
    /// Silence.
    Silence,
}

/// The low and high frequency of a DTMF digit in Hz (ITU-T Q.23).
pub fn dtmf_frequencies(digit: DtmfDigit) -> (f32, f32) {
    let _ = digit;
    (0.0, 0.0)
}

/// Endless samples of one tone, cadence included, at [`TONE_RATE`].
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    tone: Tone,
    position: u64,
}

impl ToneGenerator {
    /// A generator at the start of `tone`'s cadence.
    pub fn new(tone: Tone) -> Self {
        Self { tone, position: 0 }
    }

    /// Writes the next `out.len()` samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let _ = self.tone;
        out.fill(0);
        self.position += out.len() as u64;
    }
}

/// `duration_ms` of `tone` from the start of its cadence.
pub fn tone_samples(tone: Tone, duration_ms: u32) -> Vec<i16> {
    let mut out = vec![0; (duration_ms as usize) * (TONE_RATE as usize) / 1000];
    ToneGenerator::new(tone).fill(&mut out);
    out
}
