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

/// Q.23 low-group (row) frequencies in Hz.
pub const DTMF_ROW_HZ: [f32; 4] = [697.0, 770.0, 852.0, 941.0];

/// Q.23 high-group (column) frequencies in Hz.
pub const DTMF_COLUMN_HZ: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Keypad layout: `DTMF_KEYPAD[row][column]`.
pub const DTMF_KEYPAD: [[DtmfDigit; 4]; 4] = [
    [DtmfDigit::D1, DtmfDigit::D2, DtmfDigit::D3, DtmfDigit::A],
    [DtmfDigit::D4, DtmfDigit::D5, DtmfDigit::D6, DtmfDigit::B],
    [DtmfDigit::D7, DtmfDigit::D8, DtmfDigit::D9, DtmfDigit::C],
    [
        DtmfDigit::Star,
        DtmfDigit::D0,
        DtmfDigit::Pound,
        DtmfDigit::D,
    ],
];

/// Row and column of `digit` on the keypad.
fn keypad_position(digit: DtmfDigit) -> (usize, usize) {
    let code = usize::from(digit.event_code());
    match digit {
        DtmfDigit::D0 => (3, 1),
        DtmfDigit::Star => (3, 0),
        DtmfDigit::Pound => (3, 2),
        DtmfDigit::A | DtmfDigit::B | DtmfDigit::C | DtmfDigit::D => (code - 12, 3),
        _ => ((code - 1) / 3, (code - 1) % 3),
    }
}

/// The low and high frequency of a DTMF digit in Hz (ITU-T Q.23).
pub fn dtmf_frequencies(digit: DtmfDigit) -> (f32, f32) {
    let (row, column) = keypad_position(digit);
    (DTMF_ROW_HZ[row], DTMF_COLUMN_HZ[column])
}

/// Peak amplitude of a single tone at -10 dBFS (full scale = a sine peaking at 32767).
const SINGLE_AMPLITUDE: f64 = 10_362.0;

/// Peak amplitude of each tone of a pair, so the pair together is at -10 dBFS and its peaks
/// (twice this) stay well clear of clipping.
const PAIR_AMPLITUDE: f64 = 7_327.0;

/// Samples in one second.
const SECOND: u64 = TONE_RATE as u64;

/// What a tone sounds like: its frequencies and amplitude, and its cadence.
struct Shape {
    freqs: [f64; 2],
    amplitude: f64,
    /// Samples on, and the cadence period in samples (`None`: on once, then silence).
    on: u64,
    period: Option<u64>,
}

fn shape(tone: Tone) -> Option<Shape> {
    let pair = |a: f32, b: f32, on: u64, period: Option<u64>| Shape {
        freqs: [f64::from(a), f64::from(b)],
        amplitude: PAIR_AMPLITUDE,
        on,
        period,
    };
    match tone {
        Tone::Ringback => Some(pair(440.0, 480.0, 2 * SECOND, Some(6 * SECOND))),
        Tone::Busy => Some(pair(480.0, 620.0, SECOND / 2, Some(SECOND))),
        Tone::Dtmf(digit) => {
            let (low, high) = dtmf_frequencies(digit);
            Some(pair(low, high, 1, Some(1)))
        }
        Tone::Beep => Some(Shape {
            freqs: [1000.0, 0.0],
            amplitude: SINGLE_AMPLITUDE,
            on: SECOND / 4,
            period: None,
        }),
        Tone::Silence => None,
    }
}

/// Endless samples of one tone, cadence included, at [`TONE_RATE`]: a pair of tones at
/// -10 dBFS together, the beep at -10 dBFS (full scale: a sine peaking at 32767).
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
        let shape = shape(self.tone);
        for (i, sample) in out.iter_mut().enumerate() {
            let n = self.position + i as u64;
            *sample = shape.as_ref().map_or(0, |s| sample_at(s, n));
        }
        self.position += out.len() as u64;
    }
}

/// Sample `n` of a tone. The phase is a function of `n` alone, so it runs on across `fill`
/// calls and across the cadence's silent parts; all frequencies are whole Hz, so the phase
/// repeats every second and `n` is reduced modulo one second to keep the argument exact.
fn sample_at(shape: &Shape, n: u64) -> i16 {
    let in_cadence = match shape.period {
        Some(period) => n % period < shape.on,
        None => n < shape.on,
    };
    if !in_cadence {
        return 0;
    }
    let t = (n % SECOND) as f64 / SECOND as f64;
    let value: f64 = shape
        .freqs
        .iter()
        .filter(|&&f| f > 0.0)
        .map(|&f| (2.0 * std::f64::consts::PI * f * t).sin())
        .sum();
    (shape.amplitude * value).round() as i16
}

/// `duration_ms` of `tone` from the start of its cadence.
pub fn tone_samples(tone: Tone, duration_ms: u32) -> Vec<i16> {
    let mut out = vec![0; (duration_ms as usize) * (TONE_RATE as usize) / 1000];
    ToneGenerator::new(tone).fill(&mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::dtmf_detect::goertzel_power;

    /// Amplitude of a tone at `freq` in `samples`, from its DFT bin.
    fn amplitude(samples: &[i16], freq: f32) -> f32 {
        2.0 * goertzel_power(samples, freq).sqrt() / samples.len() as f32
    }

    fn is_silent(samples: &[i16]) -> bool {
        samples.iter().all(|&s| s == 0)
    }

    #[test]
    fn dtmf_frequencies_follow_q23() {
        assert_eq!(dtmf_frequencies(DtmfDigit::D1), (697.0, 1209.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::D5), (770.0, 1336.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::D9), (852.0, 1477.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::D0), (941.0, 1336.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::Star), (941.0, 1209.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::Pound), (941.0, 1477.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::A), (697.0, 1633.0));
        assert_eq!(dtmf_frequencies(DtmfDigit::D), (941.0, 1633.0));
    }

    #[test]
    fn dtmf_tone_holds_its_two_frequencies_at_equal_level() {
        let s = tone_samples(Tone::Dtmf(DtmfDigit::D6), 1000);
        let low = amplitude(&s, 770.0);
        let high = amplitude(&s, 1477.0);
        assert!((low - 7327.0).abs() < 50.0, "{low}");
        assert!((high - 7327.0).abs() < 50.0, "{high}");
        assert!(amplitude(&s, 697.0) < 100.0);
        assert!(amplitude(&s, 1336.0) < 100.0);
    }

    #[test]
    fn tone_pairs_are_about_minus_10_dbfs_and_never_clip() {
        let s = tone_samples(Tone::Busy, 500);
        let rms = (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
        // Full scale: a sine peaking at 32767, RMS 23170.
        let dbfs = 20.0 * (rms / 23_170.0).log10();
        assert!((dbfs + 10.0).abs() < 0.5, "{dbfs} dBFS");
        assert!(s.iter().all(|&x| x.unsigned_abs() < 16_000));
    }

    #[test]
    fn ringback_is_440_and_480_hz_two_seconds_on_four_off() {
        let s = tone_samples(Tone::Ringback, 12_000);
        let second = 8000;
        assert!(amplitude(&s[..second], 440.0) > 7000.0);
        assert!(amplitude(&s[..second], 480.0) > 7000.0);
        assert!(!s[2 * second - 100..2 * second].iter().all(|&x| x == 0));
        assert!(is_silent(&s[2 * second..6 * second]));
        assert!(!is_silent(&s[6 * second..6 * second + 100]));
        assert!(is_silent(&s[8 * second..12 * second]));
    }

    #[test]
    fn busy_is_480_and_620_hz_half_a_second_on_and_off() {
        let s = tone_samples(Tone::Busy, 3000);
        assert!(amplitude(&s[..4000], 480.0) > 7000.0);
        assert!(amplitude(&s[..4000], 620.0) > 7000.0);
        for period in 0..3 {
            let start = period * 8000;
            assert!(!is_silent(&s[start..start + 4000]));
            assert!(is_silent(&s[start + 4000..start + 8000]));
        }
    }

    #[test]
    fn beep_is_a_quarter_second_of_1khz_then_silence_forever() {
        let mut generator = ToneGenerator::new(Tone::Beep);
        let mut beep = vec![0; 2000];
        generator.fill(&mut beep);
        assert!(amplitude(&beep, 1000.0) > 10_000.0);
        let mut after = vec![1; 80_000];
        generator.fill(&mut after);
        assert!(is_silent(&after));
    }

    #[test]
    fn silence_is_all_zero() {
        assert!(is_silent(&tone_samples(Tone::Silence, 100)));
    }

    #[test]
    fn phase_runs_on_across_fill_calls() {
        let whole = tone_samples(Tone::Dtmf(DtmfDigit::A), 300);
        let mut generator = ToneGenerator::new(Tone::Dtmf(DtmfDigit::A));
        let mut pieces = Vec::new();
        for len in [1, 159, 160, 7, 500, 1573] {
            let mut chunk = vec![0; len];
            generator.fill(&mut chunk);
            pieces.extend(chunk);
        }
        assert_eq!(pieces.len(), whole.len());
        assert_eq!(pieces, whole);
    }
}
