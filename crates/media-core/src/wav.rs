//! WAV (RIFF) files: reading prompts (PCM 16-bit mono at 8 or 16 kHz, G.711 u-law/A-law at
//! 8 kHz) into 8 kHz linear samples, and the header of the two-channel 16-bit recordings the
//! switch writes incrementally (RIFF and data sizes patched when the file is closed).
//!
//! Pure: no I/O; callers hand in and take out bytes.

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

/// Reads the header of a WAV file (any supported encoding and channel count).
pub fn parse(bytes: &[u8]) -> Result<WavInfo, WavError> {
    let _ = bytes;
    Err(WavError::Malformed("not implemented yet"))
}

/// Decodes a mono WAV file to 8 kHz linear samples: PCM 16-bit at 8 kHz as is, at 16 kHz
/// through [`crate::resample::downsample_16k_to_8k`], G.711 at 8 kHz expanded.
pub fn decode_mono_8k(bytes: &[u8]) -> Result<Vec<i16>, WavError> {
    let _ = bytes;
    Err(WavError::Malformed("not implemented yet"))
}

/// Length of the header [`stereo_header`] writes.
pub const STEREO_HEADER_LEN: usize = 44;

/// The 44-byte header of a two-channel 16-bit PCM file at `sample_rate` holding `data_len`
/// bytes of interleaved samples (left = channel 0). Written with `data_len` 0 when a
/// recording starts and again with the real size when it is closed; a reader of a file cut
/// off by a crash can take the data to the end of the file.
pub fn stereo_header(sample_rate: u32, data_len: u32) -> [u8; STEREO_HEADER_LEN] {
    let _ = (sample_rate, data_len);
    [0; STEREO_HEADER_LEN]
}
