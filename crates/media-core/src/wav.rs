//! WAV (RIFF) files: reading prompts (PCM 16-bit mono at 8 or 16 kHz, G.711 u-law/A-law at
//! 8 kHz) into 8 kHz linear samples, and the header of the two-channel 16-bit recordings the
//! switch writes incrementally (RIFF and data sizes patched when the file is closed).
//!
//! Pure: no I/O; callers hand in and take out bytes.

use crate::g711;
use crate::resample::downsample_16k_to_8k;

/// Why a WAV file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WavError {
    /// Not a RIFF/WAVE file, or a chunk runs past the end of the file.
    #[error("not a WAV file: {0}")]
    Malformed(&'static str),
    /// A format the switch does not play (anything but the list in the module doc).
    #[error("unsupported WAV format: {0}")]
    Unsupported(String),
}

/// Sample encoding of a WAV file the switch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    /// Linear PCM, 16-bit little-endian (format tag 1).
    Pcm16,
    /// G.711 u-law (format tag 7).
    Ulaw,
    /// G.711 A-law (format tag 6).
    Alaw,
}

/// The `fmt ` chunk of a WAV file, and where its `data` chunk lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    /// Sample encoding.
    pub encoding: WavEncoding,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Channels (interleaved).
    pub channels: u16,
    /// Byte offset of the first sample.
    pub data_offset: usize,
    /// Bytes of sample data.
    pub data_len: usize,
}

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_ALAW: u16 = 6;
const FORMAT_ULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// The tail shared by the KSDATAFORMAT_SUBTYPE GUIDs of the basic format tags: the subformat
/// of a WAVE_FORMAT_EXTENSIBLE file is the format tag followed by these 14 bytes.
const SUBFORMAT_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// What the `fmt ` chunk says, before it is checked against what the switch reads.
struct Format {
    tag: u16,
    channels: u16,
    sample_rate: u32,
    bits: u16,
}

fn parse_fmt(body: &[u8]) -> Result<Format, WavError> {
    let short = WavError::Malformed("fmt chunk shorter than 16 bytes");
    let tag = u16_at(body, 0).ok_or(short.clone())?;
    let channels = u16_at(body, 2).ok_or(short.clone())?;
    let sample_rate = u32_at(body, 4).ok_or(short.clone())?;
    let bits = u16_at(body, 14).ok_or(short)?;
    let tag = if tag == FORMAT_EXTENSIBLE {
        // WAVE_FORMAT_EXTENSIBLE: cbSize, valid bits, channel mask, then the subformat GUID.
        let guid = body.get(24..40).ok_or(WavError::Malformed(
            "extensible fmt chunk shorter than 40 bytes",
        ))?;
        if guid[2..] != SUBFORMAT_GUID_TAIL {
            return Err(WavError::Unsupported(
                "extensible format with a non-standard subformat".to_owned(),
            ));
        }
        u16::from_le_bytes([guid[0], guid[1]])
    } else {
        tag
    };
    Ok(Format {
        tag,
        channels,
        sample_rate,
        bits,
    })
}

fn encoding_of(format: &Format) -> Result<WavEncoding, WavError> {
    match (format.tag, format.bits) {
        (FORMAT_PCM, 16) => Ok(WavEncoding::Pcm16),
        (FORMAT_PCM, bits) => Err(WavError::Unsupported(format!(
            "{bits}-bit PCM (16-bit only)"
        ))),
        (FORMAT_ULAW, 8) => Ok(WavEncoding::Ulaw),
        (FORMAT_ALAW, 8) => Ok(WavEncoding::Alaw),
        (FORMAT_ULAW | FORMAT_ALAW, bits) => Err(WavError::Unsupported(format!(
            "{bits}-bit G.711 (8-bit only)"
        ))),
        (FORMAT_FLOAT, bits) => Err(WavError::Unsupported(format!("{bits}-bit float"))),
        (tag, _) => Err(WavError::Unsupported(format!("format tag {tag:#06x}"))),
    }
}

/// Reads the header of a WAV file (any supported encoding and channel count).
pub fn parse(bytes: &[u8]) -> Result<WavInfo, WavError> {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return Err(WavError::Malformed("no RIFF/WAVE header"));
    }
    // The RIFF size is not trusted: a recording cut off by a crash still says 0 there.
    let mut format = None;
    let mut data = None;
    let mut at = 12usize;
    while let (Some(id), Some(size)) = (bytes.get(at..at + 4), u32_at(bytes, at + 4)) {
        let body_start = at + 8;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let body_end = body_start.saturating_add(size);
        match id {
            b"fmt " => {
                let body = bytes.get(body_start..body_end).ok_or(WavError::Malformed(
                    "fmt chunk runs past the end of the file",
                ))?;
                format = Some(parse_fmt(body)?);
            }
            b"data" => {
                // A data chunk longer than the file is a recording cut off: take what is there.
                let len = size.min(bytes.len() - body_start);
                data = Some((body_start, len));
            }
            _ => {}
        }
        if body_end >= bytes.len() {
            break;
        }
        // Chunks are padded to an even length (RIFF).
        at = body_end + (size & 1);
    }
    let format = format.ok_or(WavError::Malformed("no fmt chunk"))?;
    let (data_offset, data_len) = data.ok_or(WavError::Malformed("no data chunk"))?;
    if format.channels == 0 {
        return Err(WavError::Malformed("zero channels"));
    }
    if format.sample_rate == 0 {
        return Err(WavError::Malformed("zero sample rate"));
    }
    Ok(WavInfo {
        encoding: encoding_of(&format)?,
        sample_rate: format.sample_rate,
        channels: format.channels,
        data_offset,
        data_len,
    })
}

/// Decodes a mono WAV file to 8 kHz linear samples: PCM 16-bit at 8 kHz as is, at 16 kHz
/// through [`crate::resample::downsample_16k_to_8k`], G.711 at 8 kHz expanded.
pub fn decode_mono_8k(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    let info = parse(bytes)?;
    match info.channels {
        1 => {}
        2 => return Err(WavError::Unsupported("stereo (mono only)".to_owned())),
        n => return Err(WavError::Unsupported(format!("{n} channels (mono only)"))),
    }
    let data = bytes
        .get(info.data_offset..info.data_offset + info.data_len)
        .ok_or(WavError::Malformed(
            "data chunk runs past the end of the file",
        ))?;
    let rate = info.sample_rate;
    match (info.encoding, rate) {
        (WavEncoding::Pcm16, 8000 | 16000) => {
            let samples: Vec<i16> = data
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            Ok(if rate == 16000 {
                downsample_16k_to_8k(&samples)
            } else {
                samples
            })
        }
        (WavEncoding::Pcm16, _) => Err(WavError::Unsupported(format!(
            "{rate} Hz PCM (8000 or 16000 Hz only)"
        ))),
        (WavEncoding::Ulaw | WavEncoding::Alaw, 8000) => Ok(data
            .iter()
            .map(|&c| match info.encoding {
                WavEncoding::Alaw => g711::alaw_to_linear(c),
                _ => g711::ulaw_to_linear(c),
            })
            .collect()),
        (_, _) => Err(WavError::Unsupported(format!(
            "{rate} Hz G.711 (8000 Hz only)"
        ))),
    }
}

/// Length of the header [`stereo_header`] writes.
pub const STEREO_HEADER_LEN: usize = 44;

/// The 44-byte header of a two-channel 16-bit PCM file at `sample_rate` holding `data_len`
/// bytes of interleaved samples (left = channel 0). Written with `data_len` 0 when a
/// recording starts and again with the real size when it is closed; a reader of a file cut
/// off by a crash can take the data to the end of the file.
pub fn stereo_header(sample_rate: u32, data_len: u32) -> [u8; STEREO_HEADER_LEN] {
    const CHANNELS: u16 = 2;
    const BITS: u16 = 16;
    let block_align = CHANNELS * BITS / 8;
    let byte_rate = sample_rate.saturating_mul(u32::from(block_align));
    let riff_len = data_len.saturating_add(STEREO_HEADER_LEN as u32 - 8);
    let mut h = [0u8; STEREO_HEADER_LEN];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&riff_len.to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&CHANNELS.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&BITS.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut c = id.to_vec();
        c.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        c.extend_from_slice(body);
        if body.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut b = Vec::new();
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&channels.to_le_bytes());
        b.extend_from_slice(&rate.to_le_bytes());
        b.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        b.extend_from_slice(&align.to_le_bytes());
        b.extend_from_slice(&bits.to_le_bytes());
        b
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut f = b"RIFF".to_vec();
        f.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_le_bytes());
        f.extend_from_slice(b"WAVE");
        f.extend_from_slice(&body);
        f
    }

    fn pcm_bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn reads_pcm16_mono_8k_samples_as_they_are() {
        let samples = [0i16, 1000, -1000, i16::MAX, i16::MIN];
        let f = riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
            chunk(b"data", &pcm_bytes(&samples)),
        ]);
        assert_eq!(decode_mono_8k(&f).unwrap(), samples);
    }

    #[test]
    fn chunks_in_any_order_with_odd_padding_and_list_are_read() {
        let samples = [5i16, -5, 7];
        let f = riff(&[
            chunk(b"LIST", b"INFOabc"),
            chunk(b"data", &pcm_bytes(&samples)),
            chunk(b"junk", &[1, 2, 3]),
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
        ]);
        let info = parse(&f).unwrap();
        assert_eq!(info.data_offset, 12 + 16 + 8);
        assert_eq!(info.data_len, 6);
        assert_eq!(decode_mono_8k(&f).unwrap(), samples);
    }

    #[test]
    fn extensible_format_with_pcm_subformat_is_accepted() {
        let mut body = fmt_body(FORMAT_EXTENSIBLE, 1, 8000, 16);
        body.extend_from_slice(&22u16.to_le_bytes());
        body.extend_from_slice(&16u16.to_le_bytes());
        body.extend_from_slice(&4u32.to_le_bytes());
        body.extend_from_slice(&FORMAT_PCM.to_le_bytes());
        body.extend_from_slice(&SUBFORMAT_GUID_TAIL);
        let f = riff(&[chunk(b"fmt ", &body), chunk(b"data", &pcm_bytes(&[42]))]);
        assert_eq!(parse(&f).unwrap().encoding, WavEncoding::Pcm16);
        assert_eq!(decode_mono_8k(&f).unwrap(), [42]);
    }

    #[test]
    fn g711_files_are_expanded_with_the_g711_tables() {
        let codes = [0x00u8, 0x7F, 0x80, 0xFF, 0x55];
        let u = riff(&[
            chunk(b"fmt ", &fmt_body(7, 1, 8000, 8)),
            chunk(b"data", &codes),
        ]);
        let a = riff(&[
            chunk(b"fmt ", &fmt_body(6, 1, 8000, 8)),
            chunk(b"data", &codes),
        ]);
        let expect_u: Vec<i16> = codes.iter().map(|&c| g711::ulaw_to_linear(c)).collect();
        let expect_a: Vec<i16> = codes.iter().map(|&c| g711::alaw_to_linear(c)).collect();
        assert_eq!(decode_mono_8k(&u).unwrap(), expect_u);
        assert_eq!(decode_mono_8k(&a).unwrap(), expect_a);
    }

    #[test]
    fn pcm16_at_16k_is_halved_in_length() {
        let samples = vec![100i16; 320];
        let f = riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 16000, 16)),
            chunk(b"data", &pcm_bytes(&samples)),
        ]);
        assert_eq!(decode_mono_8k(&f).unwrap().len(), 160);
    }

    #[test]
    fn unsupported_formats_say_what_is_wrong() {
        let cases = [
            (fmt_body(1, 2, 8000, 16), "stereo"),
            (fmt_body(1, 1, 44100, 16), "44100 Hz"),
            (fmt_body(1, 1, 8000, 8), "8-bit PCM"),
            (fmt_body(7, 1, 16000, 8), "16000 Hz"),
            (fmt_body(3, 1, 8000, 32), "float"),
            (fmt_body(0x55, 1, 8000, 0), "0x0055"),
        ];
        for (fmt, text) in cases {
            let f = riff(&[chunk(b"fmt ", &fmt), chunk(b"data", &[0; 8])]);
            match decode_mono_8k(&f) {
                Err(WavError::Unsupported(msg)) => assert!(msg.contains(text), "{msg}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn truncated_and_foreign_files_are_malformed() {
        let good = riff(&[
            chunk(b"fmt ", &fmt_body(1, 1, 8000, 16)),
            chunk(b"data", &[0; 4]),
        ]);
        for cut in [0, 4, 11, 12, 20, 35] {
            assert!(
                matches!(parse(&good[..cut]), Err(WavError::Malformed(_))),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            parse(b"OggS\0\0\0\0WAVE"),
            Err(WavError::Malformed(_))
        ));
        let no_data = riff(&[chunk(b"fmt ", &fmt_body(1, 1, 8000, 16))]);
        assert_eq!(parse(&no_data), Err(WavError::Malformed("no data chunk")));
        let short_fmt = riff(&[chunk(b"fmt ", &[1, 0, 1, 0]), chunk(b"data", &[0; 4])]);
        assert!(matches!(parse(&short_fmt), Err(WavError::Malformed(_))));
    }

    #[test]
    fn data_chunk_longer_than_the_file_is_read_to_the_end() {
        let mut f = stereo_header(8000, 0).to_vec();
        f[4..8].copy_from_slice(&0u32.to_le_bytes());
        f[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        f.extend_from_slice(&[1, 0, 2, 0, 3, 0, 4, 0, 5]);
        let info = parse(&f).unwrap();
        assert_eq!(info.data_offset, STEREO_HEADER_LEN);
        assert_eq!(info.data_len, 9);
    }

    #[test]
    fn stereo_header_is_the_canonical_44_byte_pcm_header() {
        let h = stereo_header(8000, 3200);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(u32_at(&h, 4), Some(3236));
        assert_eq!(&h[8..16], b"WAVEfmt ");
        assert_eq!(u32_at(&h, 16), Some(16));
        assert_eq!(u16_at(&h, 20), Some(1));
        assert_eq!(u16_at(&h, 22), Some(2));
        assert_eq!(u32_at(&h, 28), Some(32_000));
        assert_eq!(u16_at(&h, 32), Some(4));
        assert_eq!(u16_at(&h, 34), Some(16));
        assert_eq!(&h[36..40], b"data");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = parse(&bytes);
            let _ = decode_mono_8k(&bytes);
        }

        #[test]
        fn arbitrary_bytes_after_a_wave_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut f = b"RIFF\0\0\0\0WAVE".to_vec();
            f.extend_from_slice(&tail);
            let _ = decode_mono_8k(&f);
        }

        #[test]
        fn stereo_header_parses_back(rate in 1u32..200_000, frames in 0u32..64) {
            let data_len = frames * 4;
            let mut f = stereo_header(rate, data_len).to_vec();
            f.resize(STEREO_HEADER_LEN + data_len as usize, 0);
            let info = parse(&f).unwrap();
            prop_assert_eq!(info, WavInfo {
                encoding: WavEncoding::Pcm16,
                sample_rate: rate,
                channels: 2,
                data_offset: STEREO_HEADER_LEN,
                data_len: data_len as usize,
            });
        }
    }
}
