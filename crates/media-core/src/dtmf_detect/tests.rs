//! Tests of the DTMF detector: detection, tolerances, timing, and talk-off on synthetic
//! speech and music and on the committed prompts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::g711;
use crate::tone::dtmf_frequencies;
use std::f64::consts::PI;

const RATE: f64 = 8000.0;
const ALL_DIGITS: &str = "0123456789*#ABCD";

/// Peak amplitude of each tone when the pair is at -10 dBFS.
const PAIR_AMPLITUDE: f64 = 7327.0;

fn ms(duration_ms: usize) -> usize {
    duration_ms * 8
}

fn digit(c: char) -> DtmfDigit {
    DtmfDigit::from_char(c).unwrap()
}

/// Two sines of the given peak amplitudes and frequencies.
fn pair(low: (f64, f64), high: (f64, f64), len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| {
            let t = n as f64 / RATE;
            low.1 * (2.0 * PI * low.0 * t).sin() + high.1 * (2.0 * PI * high.0 * t + 1.0).sin()
        })
        .collect()
}

fn dtmf(d: DtmfDigit, len: usize) -> Vec<f64> {
    let (low, high) = dtmf_frequencies(d);
    pair(
        (f64::from(low), PAIR_AMPLITUDE),
        (f64::from(high), PAIR_AMPLITUDE),
        len,
    )
}

fn to_i16(signal: &[f64]) -> Vec<i16> {
    signal
        .iter()
        .map(|&x| x.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn detect(signal: &[f64]) -> Vec<DtmfDigit> {
    DtmfDetector::new().process(&to_i16(signal))
}

/// A small deterministic PRNG (xorshift64*), so tests need no `rand`.
struct Prng(u64);

impl Prng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly Gaussian with unit variance (sum of 12 uniforms).
    fn gaussian(&mut self) -> f64 {
        (0..12).map(|_| self.uniform()).sum::<f64>() - 6.0
    }
}

fn power(signal: &[f64]) -> f64 {
    signal.iter().map(|x| x * x).sum::<f64>() / signal.len() as f64
}

fn add_noise(signal: &mut [f64], snr_db: f64, seed: u64) {
    let sigma = (power(signal) / 10f64.powf(snr_db / 10.0)).sqrt();
    let mut rng = Prng(seed);
    for x in signal.iter_mut() {
        *x += sigma * rng.gaussian();
    }
}

fn silence(len: usize) -> Vec<f64> {
    vec![0.0; len]
}

/// A two-pole resonator (one formant) whose centre frequency may change every sample.
struct Resonator {
    y1: f64,
    y2: f64,
}

impl Resonator {
    fn step(&mut self, x: f64, freq: f64, bandwidth: f64) -> f64 {
        let r = (-PI * bandwidth / RATE).exp();
        let y =
            (1.0 - r) * x + 2.0 * r * (2.0 * PI * freq / RATE).cos() * self.y1 - r * r * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Speech-like audio: a glottal pulse train whose pitch glides between 90 and 250 Hz,
/// through three moving formants, in syllables, with bursts of noise (fricatives) between.
fn speech_like(seconds: f64, seed: u64) -> Vec<f64> {
    let len = (seconds * RATE) as usize;
    let mut rng = Prng(seed);
    let mut formants = [0, 1, 2].map(|_| Resonator { y1: 0.0, y2: 0.0 });
    let mut phase = 0.0;
    let rate_a = 0.3 + rng.uniform();
    let rate_b = 0.5 + rng.uniform();
    let mut out = Vec::with_capacity(len);
    for n in 0..len {
        let t = n as f64 / RATE;
        let pitch = 170.0 + 80.0 * (2.0 * PI * rate_a * t).sin() * (2.0 * PI * 0.13 * t).cos();
        let f1 = 500.0 + 250.0 * (2.0 * PI * rate_b * t).sin();
        let f2 = 1500.0 + 700.0 * (2.0 * PI * 0.7 * rate_a * t + 1.0).sin();
        let f3 = 2600.0 + 300.0 * (2.0 * PI * 0.4 * t).sin();
        // Syllables of about 200 ms: voiced for most, a fricative in between.
        let syllable = (t * 5.0).fract();
        phase += pitch / RATE;
        let pulse = if phase >= 1.0 {
            phase -= 1.0;
            1.0
        } else {
            0.0
        };
        let voiced = if syllable < 0.75 {
            let envelope = (PI * syllable / 0.75).sin();
            let x = 4000.0 * pulse + 30.0 * rng.gaussian();
            envelope
                * (formants[0].step(x, f1, 80.0) * 1.0
                    + formants[1].step(x, f2, 120.0) * 0.6
                    + formants[2].step(x, f3, 180.0) * 0.3)
        } else {
            formants.iter_mut().for_each(|f| {
                f.step(0.0, 1000.0, 100.0);
            });
            0.0
        };
        let fricative = if syllable > 0.8 {
            1500.0 * rng.gaussian()
        } else {
            0.0
        };
        out.push(voiced * 6.0 + fricative);
    }
    out
}

/// Music-like audio: chords of notes with six decaying harmonics, one chord every 400 ms.
fn music_like(seconds: f64) -> Vec<f64> {
    // C major, F major, G major, A minor, G7, D minor: MIDI note numbers, octaves 3 to 5.
    let chords: [&[i32]; 6] = [
        &[48, 52, 55, 60, 64],
        &[53, 57, 60, 65, 69],
        &[55, 59, 62, 67, 71],
        &[57, 60, 64, 69, 72],
        &[55, 59, 62, 65, 74],
        &[50, 53, 57, 62, 77],
    ];
    let len = (seconds * RATE) as usize;
    (0..len)
        .map(|n| {
            let t = n as f64 / RATE;
            let index = (t / 0.4) as usize;
            let chord = chords[index % chords.len()];
            let since = t - index as f64 * 0.4;
            let envelope = (-since * 3.0).exp();
            chord
                .iter()
                .map(|&note| {
                    let f = 440.0 * 2f64.powf(f64::from(note - 69) / 12.0);
                    (1..=6)
                        .filter(|&h| f * f64::from(h) < 3900.0)
                        .map(|h| {
                            let h = f64::from(h);
                            (2.0 * PI * f * h * t).sin() / h
                        })
                        .sum::<f64>()
                })
                .sum::<f64>()
                * 2500.0
                * envelope
        })
        .collect()
}

#[test]
fn every_digit_at_minus_10_dbfs_is_detected_once_from_a_60ms_burst() {
    for c in ALL_DIGITS.chars() {
        let mut signal = silence(ms(30));
        signal.extend(dtmf(digit(c), ms(60)));
        signal.extend(silence(ms(60)));
        assert_eq!(detect(&signal), vec![digit(c)], "digit {c}");
    }
}

#[test]
fn digits_are_detected_whatever_the_chunk_size() {
    let mut signal = Vec::new();
    for c in "159#".chars() {
        signal.extend(dtmf(digit(c), ms(70)));
        signal.extend(silence(ms(70)));
    }
    let samples = to_i16(&signal);
    for chunk in [1, 7, 80, 160, 1000, samples.len()] {
        let mut detector = DtmfDetector::new();
        let digits: Vec<_> = samples
            .chunks(chunk)
            .flat_map(|c| detector.process(c))
            .collect();
        assert_eq!(
            digits,
            "159#".chars().map(digit).collect::<Vec<_>>(),
            "{chunk}"
        );
    }
}

#[test]
fn digits_are_detected_in_white_noise_at_15_and_20_db_snr() {
    for (seed, snr) in [(1, 15.0), (2, 20.0), (3, 15.0)] {
        for c in ALL_DIGITS.chars() {
            let mut signal = silence(ms(50));
            signal.extend(dtmf(digit(c), ms(60)));
            signal.extend(silence(ms(50)));
            // Noise measured against the tone, over the whole signal.
            let tone_power = power(&dtmf(digit(c), ms(60)));
            let sigma = (tone_power / 10f64.powf(snr / 10.0)).sqrt();
            let mut rng = Prng(seed * 100 + u64::from(digit(c).event_code()));
            signal.iter_mut().for_each(|x| *x += sigma * rng.gaussian());
            assert_eq!(detect(&signal), vec![digit(c)], "{c} at {snr} dB");
        }
    }
}

fn twisted(d: DtmfDigit, low_db: f64, high_db: f64) -> Vec<f64> {
    let (low, high) = dtmf_frequencies(d);
    let mut signal = pair(
        (f64::from(low), PAIR_AMPLITUDE * 10f64.powf(low_db / 20.0)),
        (f64::from(high), PAIR_AMPLITUDE * 10f64.powf(high_db / 20.0)),
        ms(80),
    );
    signal.extend(silence(ms(40)));
    signal
}

#[test]
fn twist_within_limits_is_detected() {
    for c in ALL_DIGITS.chars() {
        // Normal twist: high group 6 dB weaker; reverse twist: high group 3 dB stronger.
        assert_eq!(detect(&twisted(digit(c), 0.0, -6.0)), vec![digit(c)], "{c}");
        assert_eq!(detect(&twisted(digit(c), -3.0, 0.0)), vec![digit(c)], "{c}");
    }
}

#[test]
fn twist_beyond_limits_is_rejected() {
    for c in ALL_DIGITS.chars() {
        assert_eq!(detect(&twisted(digit(c), 0.0, -10.0)), vec![], "{c} normal");
        assert_eq!(detect(&twisted(digit(c), -6.0, 0.0)), vec![], "{c} reverse");
    }
}

fn off_frequency(d: DtmfDigit, low_factor: f64, high_factor: f64) -> Vec<f64> {
    let (low, high) = dtmf_frequencies(d);
    let mut signal = pair(
        (f64::from(low) * low_factor, PAIR_AMPLITUDE),
        (f64::from(high) * high_factor, PAIR_AMPLITUDE),
        ms(80),
    );
    signal.extend(silence(ms(40)));
    signal
}

#[test]
fn tones_off_frequency_by_1_or_1_5_percent_are_detected() {
    for c in ALL_DIGITS.chars() {
        for (lf, hf) in [(1.01, 1.01), (0.99, 0.99), (1.01, 0.99), (0.985, 1.015)] {
            assert_eq!(
                detect(&off_frequency(digit(c), lf, hf)),
                vec![digit(c)],
                "{c} {lf} {hf}"
            );
        }
    }
}

#[test]
fn tones_off_frequency_by_3_5_or_4_percent_are_rejected() {
    for c in ALL_DIGITS.chars() {
        for (lf, hf) in [
            (1.04, 1.0),
            (0.96, 1.0),
            (1.0, 1.04),
            (1.0, 0.96),
            (1.04, 1.04),
            (1.035, 1.0),
            (1.0, 0.965),
        ] {
            assert_eq!(
                detect(&off_frequency(digit(c), lf, hf)),
                vec![],
                "{c} {lf} {hf}"
            );
        }
    }
}

/// `burst_ms` of a digit starting `offset` samples into the stream.
fn burst(d: DtmfDigit, offset: usize, burst_ms: usize) -> Vec<f64> {
    let mut signal = silence(offset);
    signal.extend(dtmf(d, ms(burst_ms)));
    signal.extend(silence(ms(60)));
    signal
}

#[test]
fn bursts_of_20ms_are_not_reported_at_any_alignment() {
    for c in "1D#0".chars() {
        for offset in 0..BLOCK_LEN {
            assert_eq!(
                detect(&burst(digit(c), offset, 20)),
                vec![],
                "{c} at {offset}"
            );
        }
    }
}

#[test]
fn bursts_of_40ms_and_50ms_are_reported_at_any_alignment() {
    for c in "1D#0".chars() {
        for offset in 0..BLOCK_LEN {
            for length in [40, 50] {
                assert_eq!(
                    detect(&burst(digit(c), offset, length)),
                    vec![digit(c)],
                    "{c} {length} ms at {offset}"
                );
            }
        }
    }
}

#[test]
fn two_presses_separated_by_a_50ms_pause_give_two_digits() {
    for offset in (0..BLOCK_LEN).step_by(7) {
        let mut signal = silence(offset);
        signal.extend(dtmf(DtmfDigit::D5, ms(80)));
        signal.extend(silence(ms(50)));
        signal.extend(dtmf(DtmfDigit::D5, ms(80)));
        signal.extend(silence(ms(50)));
        assert_eq!(detect(&signal), vec![DtmfDigit::D5; 2], "offset {offset}");
    }
}

#[test]
fn two_presses_without_a_pause_give_one_digit() {
    let mut signal = dtmf(DtmfDigit::D5, ms(400));
    signal.extend(silence(ms(50)));
    assert_eq!(detect(&signal), vec![DtmfDigit::D5]);
}

#[test]
fn a_different_digit_right_after_another_is_reported() {
    let mut signal = dtmf(DtmfDigit::D1, ms(100));
    signal.extend(dtmf(DtmfDigit::D2, ms(100)));
    signal.extend(silence(ms(50)));
    assert_eq!(detect(&signal), vec![DtmfDigit::D1, DtmfDigit::D2]);
}

#[test]
fn tones_below_the_minimum_level_are_ignored() {
    // -45 dBFS per tone pair is well under -30 dBm0.
    let quiet: Vec<f64> = dtmf(DtmfDigit::D8, ms(200))
        .iter()
        .map(|x| x * 10f64.powf(-35.0 / 20.0))
        .collect();
    assert_eq!(detect(&quiet), vec![]);
    // -25 dBFS is comfortably above it.
    let soft: Vec<f64> = dtmf(DtmfDigit::D8, ms(200))
        .iter()
        .map(|x| x * 10f64.powf(-15.0 / 20.0))
        .collect();
    assert_eq!(detect(&soft), vec![DtmfDigit::D8]);
}

#[test]
fn a_digit_survives_a_g711_ulaw_and_alaw_round_trip() {
    for c in ALL_DIGITS.chars() {
        let mut signal = silence(ms(20));
        signal.extend(dtmf(digit(c), ms(60)));
        signal.extend(silence(ms(40)));
        let samples = to_i16(&signal);
        let mut codes = vec![0u8; samples.len()];
        let mut decoded = vec![0i16; samples.len()];
        g711::encode_ulaw(&samples, &mut codes).unwrap();
        g711::decode_ulaw(&codes, &mut decoded).unwrap();
        assert_eq!(
            DtmfDetector::new().process(&decoded),
            vec![digit(c)],
            "{c} u-law"
        );
        g711::encode_alaw(&samples, &mut codes).unwrap();
        g711::decode_alaw(&codes, &mut decoded).unwrap();
        assert_eq!(
            DtmfDetector::new().process(&decoded),
            vec![digit(c)],
            "{c} A-law"
        );
    }
}

#[test]
fn speech_like_audio_does_not_trigger() {
    for seed in 1..=6 {
        for gain in [0.3, 1.0, 3.0] {
            let speech: Vec<f64> = speech_like(5.0, seed).iter().map(|x| x * gain).collect();
            assert_eq!(detect(&speech), vec![], "seed {seed} gain {gain}");
        }
    }
}

#[test]
fn speech_like_audio_with_noise_does_not_trigger() {
    let mut speech = speech_like(5.0, 42);
    add_noise(&mut speech, 20.0, 7);
    assert_eq!(detect(&speech), vec![]);
}

#[test]
fn music_like_chords_do_not_trigger() {
    for gain in [0.3, 1.0, 2.0] {
        let music: Vec<f64> = music_like(6.0).iter().map(|x| x * gain).collect();
        assert_eq!(detect(&music), vec![], "gain {gain}");
    }
}

#[test]
fn a_digit_over_speech_like_audio_is_still_detected() {
    let mut signal = speech_like(1.0, 9);
    let tone = dtmf(DtmfDigit::D4, ms(100));
    // Speech 20 dB under the tone.
    let scale = (power(&tone) / power(&signal) / 100.0).sqrt();
    signal.iter_mut().for_each(|x| *x *= scale);
    for (x, t) in signal[ms(400)..].iter_mut().zip(&tone) {
        *x += t;
    }
    assert_eq!(detect(&signal), vec![DtmfDigit::D4]);
}

#[test]
fn the_committed_prompts_and_music_on_hold_do_not_trigger() {
    let sounds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sounds");
    let mut checked = 0;
    let mut dirs = vec![sounds];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "wav") {
                let bytes = std::fs::read(&path).unwrap();
                let samples = crate::wav::decode_mono_8k(&bytes).unwrap();
                let digits = DtmfDetector::new().process(&samples);
                assert_eq!(digits, vec![], "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} WAV files under sounds/");
}
