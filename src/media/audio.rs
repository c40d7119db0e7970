//! Audio the player plays: prompts and music on hold decoded once into 8 kHz linear samples
//! (shared, cheap to clone), and the tones of media-core.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why an audio file cannot be played.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a WAV file the switch plays.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: media_core::wav::WavError,
    },
}

/// Decoded audio: 8 kHz mono linear samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    samples: Arc<[i16]>,
}

impl Audio {
    /// Audio from 8 kHz samples.
    pub fn from_samples(samples: Vec<i16>) -> Self {
        Self {
            samples: samples.into(),
        }
    }

    /// Reads and decodes a WAV file (PCM 8/16 kHz mono, G.711 WAV).
    pub fn load(path: &Path) -> Result<Self, AudioError> {
        let bytes = std::fs::read(path).map_err(|source| AudioError::Read {
            path: path.to_owned(),
            source,
        })?;
        let samples =
            media_core::wav::decode_mono_8k(&bytes).map_err(|source| AudioError::Format {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self::from_samples(samples))
    }

    /// `duration` of a tone (cadence from its start), e.g. a beep before recording.
    pub fn tone(tone: media_core::tone::Tone, duration: std::time::Duration) -> Self {
        let ms = u32::try_from(duration.as_millis()).unwrap_or(u32::MAX);
        Self::from_samples(media_core::tone::tone_samples(tone, ms))
    }

    /// The samples at 8 kHz.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// How long it plays.
    pub fn duration(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.samples.len() as u64 * 125)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use media_core::tone::Tone;
    use std::time::Duration;

    #[test]
    fn a_tone_lasts_as_long_as_asked_and_is_not_silent() {
        let beep = Audio::tone(Tone::Beep, Duration::from_millis(200));
        assert_eq!(beep.duration(), Duration::from_millis(200));
        assert!(beep.samples().iter().any(|&s| s.unsigned_abs() > 1000));
    }

    #[test]
    fn a_missing_file_says_which() {
        let error = Audio::load(Path::new("/nonexistent/prompt.wav")).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/prompt.wav"));
    }
}
