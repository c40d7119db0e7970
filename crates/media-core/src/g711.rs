//! ITU-T G.711 μ-law and A-law companding: 16-bit linear PCM to and from 8-bit codes.
//!
//! Pure: no I/O, no clock. Written from the G.711 segment/step algorithm.
//!
//! Scaling: G.711 defines μ-law on 14-bit and A-law on 13-bit signed linear values. Here linear
//! samples are 16-bit: μ-law values are the 14-bit values shifted left by 2, A-law values the
//! 13-bit values shifted left by 3. So μ-law spans ±32124 and A-law ±32256.

/// Errors from the frame (slice) conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum G711Error {
    /// The output slice does not hold exactly one element per input element.
    #[error("output length {output} does not match input length {input}")]
    LengthMismatch {
        /// Number of input elements.
        input: usize,
        /// Number of output elements.
        output: usize,
    },
}

/// μ-law bias in 16-bit units (33 in 14-bit units, shifted by 2).
const ULAW_BIAS: i32 = 0x84;
/// Largest 16-bit magnitude that μ-law encodes without clipping (`ULAW_CLIP + ULAW_BIAS` = 0x7FFF).
const ULAW_CLIP: i32 = 32635;
/// A-law inverts every even bit of the transmitted code.
const ALAW_EVEN_BITS: u8 = 0x55;

/// Position of the highest set bit of a non-zero value.
const fn highest_bit(v: u32) -> u32 {
    31 - v.leading_zeros()
}

/// Encodes one 16-bit linear sample as a μ-law code.
pub const fn linear_to_ulaw(sample: i16) -> u8 {
    let x = sample as i32;
    let (sign, mut mag) = if x < 0 { (0x80u8, -x) } else { (0u8, x) };
    if mag > ULAW_CLIP {
        mag = ULAW_CLIP;
    }
    // G.711 μ-law: add the bias, then the chord (exponent) is the highest set bit above bit 7
    // and the step (mantissa) the four bits below it.
    let biased = (mag + ULAW_BIAS) as u32;
    let exponent = highest_bit(biased) - 7;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | ((exponent as u8) << 4) | mantissa as u8)
}

/// Decodes one μ-law code to a 16-bit linear sample.
pub const fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

const fn ulaw_decode_computed(code: u8) -> i16 {
    let c = !code;
    let exponent = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    // G.711 μ-law decoder, 14-bit units: ((2m + 33) << e) - 33; shifted by 2 to 16-bit.
    let magnitude = (((2 * mantissa + 33) << exponent) - 33) << 2;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one 16-bit linear sample as an A-law code.
pub const fn linear_to_alaw(sample: i16) -> u8 {
    let x = sample as i32;
    // A-law is symmetric about zero: negative values use the one's complement magnitude, so
    // -1..-16 and 0..15 land in mirrored intervals.
    let (sign, mag) = if x >= 0 { (0x80u8, x) } else { (0u8, -x - 1) };
    // 12-bit magnitude of the 13-bit A-law value, in half-steps of segment 0.
    let ix = (mag >> 4) as u32;
    let (segment, mantissa) = if ix < 16 {
        (0u32, ix)
    } else {
        let segment = highest_bit(ix) - 3;
        (segment, (ix >> (segment - 1)) & 0x0F)
    };
    (sign | ((segment as u8) << 4) | mantissa as u8) ^ ALAW_EVEN_BITS
}

/// Decodes one A-law code to a 16-bit linear sample.
pub const fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

const fn alaw_decode_computed(code: u8) -> i16 {
    let c = code ^ ALAW_EVEN_BITS;
    let segment = ((c >> 4) & 0x07) as i32;
    let mantissa = (c & 0x0F) as i32;
    // G.711 A-law decoder, 13-bit units: segment 0: 2m + 1; segment s >= 1: (2m + 33) << (s - 1).
    // Shifted by 3 to 16-bit.
    let value = if segment == 0 {
        2 * mantissa + 1
    } else {
        (2 * mantissa + 33) << (segment - 1)
    };
    let magnitude = value << 3;
    if c & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const ULAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode_computed(i as u8);
        i += 1;
    }
    table
};

const ALAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode_computed(i as u8);
        i += 1;
    }
    table
};

const ULAW_TO_ALAW: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = linear_to_alaw(ulaw_decode_computed(i as u8));
        i += 1;
    }
    table
};

const ALAW_TO_ULAW: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = linear_to_ulaw(alaw_decode_computed(i as u8));
        i += 1;
    }
    table
};

/// Transcodes one μ-law code to A-law through its linear value.
pub const fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[code as usize]
}

/// Transcodes one A-law code to μ-law through its linear value.
pub const fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[code as usize]
}

fn convert<I: Copy, O>(input: &[I], output: &mut [O], f: impl Fn(I) -> O) -> Result<(), G711Error> {
    if input.len() != output.len() {
        return Err(G711Error::LengthMismatch {
            input: input.len(),
            output: output.len(),
        });
    }
    for (o, &i) in output.iter_mut().zip(input) {
        *o = f(i);
    }
    Ok(())
}

/// Encodes a frame of linear samples as μ-law; `output` must be as long as `input`.
pub fn encode_ulaw(input: &[i16], output: &mut [u8]) -> Result<(), G711Error> {
    convert(input, output, linear_to_ulaw)
}

/// Decodes a frame of μ-law codes to linear samples; `output` must be as long as `input`.
pub fn decode_ulaw(input: &[u8], output: &mut [i16]) -> Result<(), G711Error> {
    convert(input, output, ulaw_to_linear)
}

/// Encodes a frame of linear samples as A-law; `output` must be as long as `input`.
pub fn encode_alaw(input: &[i16], output: &mut [u8]) -> Result<(), G711Error> {
    convert(input, output, linear_to_alaw)
}

/// Decodes a frame of A-law codes to linear samples; `output` must be as long as `input`.
pub fn decode_alaw(input: &[u8], output: &mut [i16]) -> Result<(), G711Error> {
    convert(input, output, alaw_to_linear)
}

/// Transcodes a frame of μ-law codes to A-law; `output` must be as long as `input`.
pub fn transcode_ulaw_to_alaw(input: &[u8], output: &mut [u8]) -> Result<(), G711Error> {
    convert(input, output, ulaw_to_alaw)
}

/// Transcodes a frame of A-law codes to μ-law; `output` must be as long as `input`.
pub fn transcode_alaw_to_ulaw(input: &[u8], output: &mut [u8]) -> Result<(), G711Error> {
    convert(input, output, alaw_to_ulaw)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// G.711 Table 2a (μ-law): decoder output magnitude in 14-bit units for chord `e`, step `m`.
    fn ulaw_reference_14bit(e: i32, m: i32) -> i32 {
        ((2 * m + 33) << e) - 33
    }

    /// G.711 Table 1a (A-law): decoder output magnitude in 13-bit units for segment `s`, step `m`.
    fn alaw_reference_13bit(s: i32, m: i32) -> i32 {
        if s == 0 {
            2 * m + 1
        } else {
            (2 * m + 33) << (s - 1)
        }
    }

    #[test]
    fn ulaw_decode_of_every_code_matches_g711_table() {
        for code in 0..=255u8 {
            let c = !code;
            let e = i32::from((c >> 4) & 7);
            let m = i32::from(c & 0x0F);
            let mag = ulaw_reference_14bit(e, m) << 2;
            let expected = if c & 0x80 != 0 { -mag } else { mag };
            assert_eq!(
                i32::from(ulaw_to_linear(code)),
                expected,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn alaw_decode_of_every_code_matches_g711_table() {
        for code in 0..=255u8 {
            let c = code ^ 0x55;
            let s = i32::from((c >> 4) & 7);
            let m = i32::from(c & 0x0F);
            let mag = alaw_reference_13bit(s, m) << 3;
            let expected = if c & 0x80 != 0 { mag } else { -mag };
            assert_eq!(
                i32::from(alaw_to_linear(code)),
                expected,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn ulaw_well_known_codes_decode_to_reference_values() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    }

    #[test]
    fn alaw_well_known_codes_decode_to_reference_values() {
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn first_steps_decode_to_the_table_values_worked_by_hand() {
        // μ-law 0xF0: chord 0 step 15 -> 63 - 33 = 30 (14-bit) -> 120.
        assert_eq!(ulaw_to_linear(0xF0), 120);
        // μ-law 0xEF: chord 1 step 0 -> 66 - 33 = 33 (14-bit) -> 132.
        assert_eq!(ulaw_to_linear(0xEF), 132);
        // μ-law 0x6F: same magnitude, negative.
        assert_eq!(ulaw_to_linear(0x6F), -132);
        // A-law 0xD4: segment 0 step 1 -> 3 (13-bit) -> 24.
        assert_eq!(alaw_to_linear(0xD4), 24);
        // A-law 0xC5: segment 1 step 0 -> 33 (13-bit) -> 264.
        assert_eq!(alaw_to_linear(0xC5), 264);
        // A-law 0x45: same magnitude, negative.
        assert_eq!(alaw_to_linear(0x45), -264);
    }

    #[test]
    fn ulaw_encode_of_decode_returns_every_code_but_negative_zero() {
        for code in 0..=255u8 {
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                linear_to_ulaw(ulaw_to_linear(code)),
                expected,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn alaw_encode_of_decode_returns_every_code() {
        for code in 0..=255u8 {
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "code {code:#04x}"
            );
        }
    }

    #[test]
    fn encoding_is_monotonic_over_every_linear_sample() {
        let mut prev_u = i16::MIN;
        let mut prev_a = i16::MIN;
        for x in i16::MIN..=i16::MAX {
            let u = ulaw_to_linear(linear_to_ulaw(x));
            let a = alaw_to_linear(linear_to_alaw(x));
            assert!(u >= prev_u, "μ-law not monotonic at {x}");
            assert!(a >= prev_a, "A-law not monotonic at {x}");
            prev_u = u;
            prev_a = a;
        }
    }

    #[test]
    fn transcoding_goes_through_the_linear_value() {
        for code in 0..=255u8 {
            assert_eq!(ulaw_to_alaw(code), linear_to_alaw(ulaw_to_linear(code)));
            assert_eq!(alaw_to_ulaw(code), linear_to_ulaw(alaw_to_linear(code)));
        }
        // A-law ±8 is below μ-law's first step boundary, μ-law full scale clips A-law's top step.
        assert_eq!(alaw_to_ulaw(0xD5), 0xFE);
        assert_eq!(ulaw_to_alaw(0x80), 0xAA);
    }

    #[test]
    fn frame_conversions_round_trip_and_reject_length_mismatch() {
        let pcm = [0i16, 8, -8, 1000, -1000, 32124, -32124];
        let mut ulaw = [0u8; 7];
        encode_ulaw(&pcm, &mut ulaw).unwrap();
        let mut back = [0i16; 7];
        decode_ulaw(&ulaw, &mut back).unwrap();
        assert_eq!(back[0], 0);
        assert_eq!(back[5], 32124);
        let mut alaw = [0u8; 7];
        encode_alaw(&pcm, &mut alaw).unwrap();
        decode_alaw(&alaw, &mut back).unwrap();
        assert_eq!(back[1], 8);
        assert_eq!(back[2], -8);
        let mut trans = [0u8; 7];
        transcode_ulaw_to_alaw(&ulaw, &mut trans).unwrap();
        transcode_alaw_to_ulaw(&alaw, &mut trans).unwrap();
        assert_eq!(
            encode_ulaw(&pcm, &mut [0u8; 3]),
            Err(G711Error::LengthMismatch {
                input: 7,
                output: 3
            })
        );
    }

    proptest! {
        #[test]
        fn ulaw_round_trip_error_is_within_half_a_step(x in any::<i16>()) {
            let code = linear_to_ulaw(x);
            let err = (i32::from(x) - i32::from(ulaw_to_linear(code))).abs();
            let chord = i32::from(((!code) >> 4) & 7);
            // Half a step of the chord (8 << e in 16-bit units), plus clipping above 32635.
            let clipped = (i32::from(x).abs() - ULAW_CLIP).max(0);
            prop_assert!(err <= (4 << chord) + clipped, "x={} err={}", x, err);
        }

        #[test]
        fn alaw_round_trip_error_is_within_half_a_step(x in any::<i16>()) {
            let code = linear_to_alaw(x);
            let err = (i32::from(x) - i32::from(alaw_to_linear(code))).abs();
            let segment = i32::from(((code ^ 0x55) >> 4) & 7);
            prop_assert!(err <= (4 << segment).max(8), "x={} err={}", x, err);
        }
    }
}
