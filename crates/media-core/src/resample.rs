//! Sample-rate conversion for prompts: 16 kHz to 8 kHz with a low-pass filter, so content
//! above 4 kHz does not fold back into the telephone band.
//!
//! Pure: no I/O, no clock.

use std::sync::OnceLock;

/// Taps of the anti-aliasing filter (odd, so the filter has a whole-sample delay).
const TAPS: usize = 63;

/// Cutoff of the anti-aliasing filter in Hz at the 16 kHz input rate: the telephone band
/// (to 3.4 kHz) passes, and the Hamming window's transition (about 0.8 kHz wide) ends near
/// the 4 kHz Nyquist frequency of the output.
const CUTOFF_HZ: f64 = 3600.0;

const INPUT_RATE: f64 = 16000.0;

/// Hamming-windowed sinc low-pass, normalised to unity gain at DC.
fn coefficients() -> &'static [f32; TAPS] {
    static COEFFICIENTS: OnceLock<[f32; TAPS]> = OnceLock::new();
    COEFFICIENTS.get_or_init(|| {
        let fc = CUTOFF_HZ / INPUT_RATE;
        let mid = (TAPS / 2) as f64;
        let mut h = [0f64; TAPS];
        for (i, tap) in h.iter_mut().enumerate() {
            let t = i as f64 - mid;
            let sinc = if t == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f64::consts::PI * fc * t).sin() / (std::f64::consts::PI * t)
            };
            let window =
                0.54 - 0.46 * (2.0 * std::f64::consts::PI * i as f64 / (TAPS - 1) as f64).cos();
            *tap = sinc * window;
        }
        let sum: f64 = h.iter().sum();
        h.map(|c| (c / sum) as f32)
    })
}

/// Halves the sample rate of `input` (16 kHz to 8 kHz) after a low-pass FIR filter.
pub fn downsample_16k_to_8k(input: &[i16]) -> Vec<i16> {
    let h = coefficients();
    let half = TAPS / 2;
    (0..input.len().div_ceil(2))
        .map(|n| {
            // Output n is centred on input 2n; samples beyond either end count as silence.
            let centre = 2 * n;
            let mut acc = 0f32;
            for (k, &c) in h.iter().enumerate() {
                if let Some(&x) = (centre + k).checked_sub(half).and_then(|i| input.get(i)) {
                    acc += c * f32::from(x);
                }
            }
            acc.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn sine_16k(freq: f64, amplitude: f64, len: usize) -> Vec<i16> {
        (0..len)
            .map(|n| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * n as f64 / INPUT_RATE).sin())
                    as i16
            })
            .collect()
    }

    fn rms(samples: &[i16]) -> f64 {
        let sum: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        (sum / samples.len() as f64).sqrt()
    }

    fn gain_db(freq: f64) -> f64 {
        let input = sine_16k(freq, 10_000.0, 16_000);
        let output = downsample_16k_to_8k(&input);
        assert_eq!(output.len(), 8_000);
        // Leave out the filter's start-up at both ends.
        20.0 * (rms(&output[100..7_900]) / rms(&input[200..15_800])).log10()
    }

    #[test]
    fn a_1khz_tone_keeps_its_level() {
        let g = gain_db(1000.0);
        assert!(g.abs() < 1.0, "{g} dB");
    }

    #[test]
    fn the_telephone_band_passes_within_a_decibel() {
        for f in [300.0, 2000.0, 3000.0] {
            let g = gain_db(f);
            assert!(g.abs() < 1.0, "{f} Hz: {g} dB");
        }
    }

    #[test]
    fn a_6khz_tone_is_attenuated_by_at_least_30_db() {
        let g = gain_db(6000.0);
        assert!(g <= -30.0, "{g} dB");
    }

    #[test]
    fn output_has_half_the_samples_rounded_up() {
        assert!(downsample_16k_to_8k(&[]).is_empty());
        assert_eq!(downsample_16k_to_8k(&[1]).len(), 1);
        assert_eq!(downsample_16k_to_8k(&[1; 7]).len(), 4);
    }

    #[test]
    fn a_full_scale_square_wave_saturates_instead_of_wrapping() {
        // 200 Hz square wave: the filter's overshoot on each edge exceeds full scale.
        let square: Vec<i16> = (0..1600)
            .map(|n| {
                if (n / 40) % 2 == 0 {
                    i16::MAX
                } else {
                    i16::MIN
                }
            })
            .collect();
        let out = downsample_16k_to_8k(&square);
        for (n, &s) in out.iter().enumerate().skip(40).take(700) {
            // The middle of each half-period keeps the sign of the input there.
            match (2 * n) % 80 {
                10..=30 => assert!(s > 30_000, "{n}: {s}"),
                50..=70 => assert!(s < -30_000, "{n}: {s}"),
                _ => {}
            }
        }
    }
}
