//! Cost of in-band DTMF detection per 20 ms frame (160 samples at 8 kHz), on speech-like
//! audio (most blocks rejected by the early checks) and on a held DTMF tone (every block runs
//! the full analysis), with two references on the same frames in the same run: G.711 u-law
//! decoding of the frame, and a plain sum of squares over it.
//!
//! Run: `cargo bench -p media-core --bench dtmf_detect` (criterion options after `--`).

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use media_core::dtmf_detect::DtmfDetector;
use media_core::g711;
use media_core::telephone_event::DtmfDigit;
use media_core::tone::{Tone, tone_samples};
use std::f64::consts::PI;

const FRAME: usize = 160;
const RATE: f64 = 8000.0;

/// Two seconds of speech-like audio: a pulse train gliding between 90 and 250 Hz through two
/// moving formant resonators, in syllables.
fn speech_like() -> Vec<i16> {
    let mut state = [[0f64; 2]; 2];
    let mut phase = 0.0;
    (0..2 * RATE as usize)
        .map(|n| {
            let t = n as f64 / RATE;
            let pitch = 170.0 + 80.0 * (2.0 * PI * 0.7 * t).sin();
            phase += pitch / RATE;
            let pulse = if phase >= 1.0 {
                phase -= 1.0;
                4000.0
            } else {
                0.0
            };
            let formants = [
                (500.0 + 250.0 * (2.0 * PI * 1.1 * t).sin(), 80.0),
                (1500.0 + 700.0 * (2.0 * PI * 0.6 * t).sin(), 120.0),
            ];
            let mut out = 0.0;
            for ((freq, bandwidth), s) in formants.into_iter().zip(state.iter_mut()) {
                let r = (-PI * bandwidth / RATE).exp();
                let y = (1.0 - r) * pulse + 2.0 * r * (2.0 * PI * freq / RATE).cos() * s[0]
                    - r * r * s[1];
                s[1] = s[0];
                s[0] = y;
                out += y;
            }
            let envelope = (PI * (t * 5.0).fract()).sin();
            (6.0 * out * envelope).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn frames(c: &mut Criterion, name: &str, audio: &[i16]) {
    let frames: Vec<&[i16]> = audio.chunks_exact(FRAME).collect();
    let ulaw: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut codes = vec![0u8; FRAME];
            let _ = g711::encode_ulaw(f, &mut codes);
            codes
        })
        .collect();
    let mut group = c.benchmark_group(format!("frame_20ms/{name}"));
    group.throughput(Throughput::Elements(FRAME as u64));

    let mut detector = DtmfDetector::new();
    let mut i = 0;
    group.bench_function("dtmf_detector", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            detector.process(black_box(frames[i]))
        })
    });

    let mut decoded = [0i16; FRAME];
    let mut i = 0;
    group.bench_function("g711_ulaw_decode", |b| {
        b.iter(|| {
            i = (i + 1) % ulaw.len();
            let _ = g711::decode_ulaw(black_box(&ulaw[i]), &mut decoded);
            black_box(decoded[0])
        })
    });

    let mut i = 0;
    group.bench_function("sum_of_squares", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            black_box(frames[i])
                .iter()
                .map(|&s| i64::from(s) * i64::from(s))
                .sum::<i64>()
        })
    });
    group.finish();
}

fn detection(c: &mut Criterion) {
    frames(c, "speech_like", &speech_like());
    frames(
        c,
        "dtmf_tone",
        &tone_samples(Tone::Dtmf(DtmfDigit::D5), 2000),
    );
}

criterion_group!(benches, detection);
criterion_main!(benches);
