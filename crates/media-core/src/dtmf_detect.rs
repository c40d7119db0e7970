//! In-band DTMF detection: a Goertzel filter bank over 8 kHz linear audio, following the usual
//! touch-tone receiver rules (ITU-T Q.24): each of the two frequencies within tolerance, twist
//! limits, a minimum level, tone and pause duration, and checks against speech and music
//! (signal energy concentrated in the two tones, which leaves no room for strong harmonics or
//! other partials; each tone clearly above the rest of its group) so talk-off is rare.
//!
//! Pure: no I/O, no clock: time is the count of samples fed in.

use std::sync::OnceLock;

use crate::telephone_event::DtmfDigit;
use crate::tone::{DTMF_COLUMN_HZ, DTMF_KEYPAD, DTMF_ROW_HZ};

/// Sample rate the detector expects.
pub const DETECTOR_RATE: u32 = 8000;

/// Samples per analysis block (12.75 ms). With 102 samples the bins of neighbouring Q.23
/// frequencies fall near each other's nulls, so a tone barely leaks into the other bins.
pub const BLOCK_LEN: usize = 102;

/// Peak amplitude of a 0 dBm0 sine in 16-bit linear samples (G.711: 3.17 dB below the
/// largest sine the codec carries).
const DBM0_AMPLITUDE: f32 = 22_770.0;

/// Lowest level accepted for each tone of the pair: -33 dBm0, so the pair is about -30 dBm0.
const MIN_TONE_DBM0: f32 = -33.0;

/// Largest normal twist (high group weaker than low group), as a power ratio: 8 dB.
const MAX_NORMAL_TWIST: f32 = 6.31;

/// Largest reverse twist (high group stronger than low group), as a power ratio: 4 dB.
const MAX_REVERSE_TWIST: f32 = 2.51;

/// How far each tone must stand above every other frequency of its group: 8 dB.
const MIN_GROUP_MARGIN: f32 = 6.31;

/// Share of the block's energy the two tones must carry (talk-off guard). Above 0.784
/// (80 of 102 samples), so a 20 ms burst, which fills two blocks only partly, never passes
/// in two blocks running.
const MIN_TONE_SHARE: f32 = 0.82;

/// Relative offset of the guard bins either side of each nominal frequency. A tone is nearer
/// the nominal bin than a guard bin up to half this (2.5%): Q.24 asks for acceptance up to
/// 1.5% and rejection from 3.5%.
const GUARD_OFFSET: f32 = 0.05;

/// Relative offset of the bins either side of each nominal frequency used to measure a tone
/// that is off its nominal frequency but within tolerance: at 1.5% off, 1633 Hz is a third of
/// a bin away from its nominal bin and would show 1.4 dB too weak.
const NEAR_OFFSET: f32 = 0.02;

/// Consecutive blocks that must agree on a digit before it is reported (25.5 ms).
const BLOCKS_TO_REPORT: u8 = 2;

/// Consecutive blocks without the digit that end it, so it can be reported again (25.5 ms).
const BLOCKS_TO_RELEASE: u8 = 2;

/// Goertzel coefficients (2 cos ω) of the eight nominal frequencies (rows, then columns), of
/// their guard bins below and above, and of the bins just below and above.
struct Coefficients {
    /// Smallest |X|² of a tone at the minimum level; a tone of peak amplitude A over the
    /// block gives |X|² = (A·N/2)² and carries A²·N/2 of energy.
    min_power: f32,
    /// Energy of a block holding two tones at the minimum level (A²·N).
    min_energy: f32,
    nominal: [f32; 8],
    guard: [[f32; 2]; 8],
    near: [[f32; 2]; 8],
}

fn coefficient(freq: f32) -> f32 {
    2.0 * (2.0 * std::f32::consts::PI * freq / DETECTOR_RATE as f32).cos()
}

fn coefficients() -> &'static Coefficients {
    static COEFFICIENTS: OnceLock<Coefficients> = OnceLock::new();
    COEFFICIENTS.get_or_init(|| {
        let freqs: Vec<f32> = DTMF_ROW_HZ.iter().chain(&DTMF_COLUMN_HZ).copied().collect();
        let mut nominal = [0.0; 8];
        let mut guard = [[0.0; 2]; 8];
        let mut near = [[0.0; 2]; 8];
        let around = |f: f32, offset: f32| {
            [
                coefficient(f * (1.0 - offset)),
                coefficient(f * (1.0 + offset)),
            ]
        };
        for (i, &f) in freqs.iter().enumerate() {
            nominal[i] = coefficient(f);
            guard[i] = around(f, GUARD_OFFSET);
            near[i] = around(f, NEAR_OFFSET);
        }
        let n = BLOCK_LEN as f32;
        let min_amplitude = DBM0_AMPLITUDE * 10f32.powf(MIN_TONE_DBM0 / 20.0);
        Coefficients {
            min_power: (min_amplitude * n / 2.0).powi(2),
            min_energy: min_amplitude * min_amplitude * n,
            nominal,
            guard,
            near,
        }
    })
}

/// Squared magnitudes of the block's DFT at the frequencies whose Goertzel coefficients
/// (2 cos ω) are `coeffs`, in one pass: the independent recursions interleave, so several
/// cost little more than one.
fn goertzel_bank<const K: usize>(block: &[f32], coeffs: &[f32; K]) -> [f32; K] {
    let mut s1 = [0f32; K];
    let mut s2 = [0f32; K];
    for &x in block {
        for i in 0..K {
            let s = x + coeffs[i] * s1[i] - s2[i];
            s2[i] = s1[i];
            s1[i] = s;
        }
    }
    let mut power = [0f32; K];
    for i in 0..K {
        power[i] = s1[i] * s1[i] + s2[i] * s2[i] - coeffs[i] * s1[i] * s2[i];
    }
    power
}

/// Squared DFT magnitude of `samples` at `freq` Hz (8 kHz sampling).
#[cfg(test)]
pub(crate) fn goertzel_power(samples: &[i16], freq: f32) -> f32 {
    let block: Vec<f32> = samples.iter().map(|&s| f32::from(s)).collect();
    goertzel_bank(&block, &[coefficient(freq)])[0]
}

/// Index and value of the largest of `powers`, and whether it beats every other by `margin`.
fn dominant(powers: &[f32]) -> (usize, f32, bool) {
    let mut best = 0;
    for (i, &p) in powers.iter().enumerate() {
        if p > powers[best] {
            best = i;
        }
    }
    let peak = powers[best];
    let clear = powers
        .iter()
        .enumerate()
        .all(|(i, &p)| i == best || p * MIN_GROUP_MARGIN <= peak);
    (best, peak, clear)
}

/// The digit whose tones one block holds, if it passes every check.
fn analyse(block: &[f32; BLOCK_LEN]) -> Option<DtmfDigit> {
    let n = BLOCK_LEN as f32;
    let coeffs = coefficients();
    let energy: f32 = block.iter().map(|x| x * x).sum();
    // Anything quieter than two tones at the minimum level is not worth filtering.
    if energy < coeffs.min_energy {
        return None;
    }
    let min_power = coeffs.min_power;
    let power = goertzel_bank(block, &coeffs.nominal);
    let (row, row_power, row_clear) = dominant(&power[..4]);
    let (column, column_power, column_clear) = dominant(&power[4..]);
    if !row_clear || !column_clear || row_power < min_power || column_power < min_power {
        return None;
    }
    if row_power > column_power * MAX_NORMAL_TWIST || column_power > row_power * MAX_REVERSE_TWIST {
        return None;
    }
    // Guard and near bins of the row, then of the column.
    let column_index = column + 4;
    let [rg, rn, cg, cn] = [
        coeffs.guard[row],
        coeffs.near[row],
        coeffs.guard[column_index],
        coeffs.near[column_index],
    ];
    let side = goertzel_bank(
        block,
        &[rg[0], rg[1], rn[0], rn[1], cg[0], cg[1], cn[0], cn[1]],
    );
    let mut tone_energy = 0.0;
    for (nominal_power, bins) in [(row_power, &side[..4]), (column_power, &side[4..])] {
        // Frequency tolerance: each tone must be nearer its nominal frequency than either guard.
        if bins[0] >= nominal_power || bins[1] >= nominal_power {
            return None;
        }
        // A tone off its nominal frequency within tolerance is measured in the nearest bin.
        tone_energy += 2.0 * nominal_power.max(bins[2]).max(bins[3]) / n;
    }
    if tone_energy < MIN_TONE_SHARE * energy {
        return None;
    }
    Some(DTMF_KEYPAD[row][column])
}

/// Detects DTMF digits in a stream of 8 kHz samples fed in chunks of any size.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    block: [f32; BLOCK_LEN],
    filled: usize,
    /// The digit the latest blocks agree on, and in how many blocks running.
    candidate: Option<DtmfDigit>,
    candidate_blocks: u8,
    /// The digit last reported while its tone lasts, and the blocks since it was last heard.
    reported: Option<DtmfDigit>,
    blocks_without_reported: u8,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self {
            block: [0.0; BLOCK_LEN],
            filled: 0,
            candidate: None,
            candidate_blocks: 0,
            reported: None,
            blocks_without_reported: 0,
        }
    }
}

impl DtmfDetector {
    /// A detector that has heard nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds samples; returns each digit once, when its tone has lasted the minimum duration
    /// (after a pause of at least the minimum since the previous digit).
    pub fn process(&mut self, samples: &[i16]) -> Vec<DtmfDigit> {
        let mut digits = Vec::new();
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (BLOCK_LEN - self.filled).min(rest.len());
            let (now, later) = rest.split_at(take);
            for (slot, &s) in self.block[self.filled..].iter_mut().zip(now) {
                *slot = f32::from(s);
            }
            self.filled += take;
            rest = later;
            if self.filled == BLOCK_LEN {
                self.filled = 0;
                let hit = analyse(&self.block);
                if let Some(digit) = self.on_block(hit) {
                    digits.push(digit);
                }
            }
        }
        digits
    }

    /// Duration rules over the per-block results: the digit to report after this block.
    fn on_block(&mut self, hit: Option<DtmfDigit>) -> Option<DtmfDigit> {
        if hit.is_some() && hit == self.candidate {
            self.candidate_blocks = self.candidate_blocks.saturating_add(1);
        } else {
            self.candidate = hit;
            self.candidate_blocks = 1;
        }
        if self.reported.is_some() {
            if hit == self.reported {
                self.blocks_without_reported = 0;
            } else {
                self.blocks_without_reported += 1;
                if self.blocks_without_reported >= BLOCKS_TO_RELEASE {
                    self.reported = None;
                }
            }
        }
        let digit = self.candidate?;
        if self.candidate_blocks >= BLOCKS_TO_REPORT && self.reported != Some(digit) {
            self.reported = Some(digit);
            self.blocks_without_reported = 0;
            return Some(digit);
        }
        None
    }
}

#[cfg(test)]
mod tests;
