//! The switch as a media endpoint on one side of a relay session (IVR, voice notifications,
//! music on hold): while a [`MediaPort`] is attached, that side's RTP goes to the port instead
//! of the other side, and the port's [`Player`] sends RTP to that side's phone from the side's
//! own socket. Dropping the port detaches it and relaying resumes.
//!
//! - `Player` (`player`): plays audio, tones and silence in the side's codec, one 20 ms packet
//!   per tick on absolute deadlines (no drift), one SSRC, sequence numbers and timestamps
//!   continuous across prompts (the timestamp follows the clock across pauses), marker bit on
//!   the first packet after a pause.
//! - `Digits`: DTMF from the side: RFC 4733 events and/or in-band tones (as `DtmfDetection`
//!   says), plus digits the call actor feeds in from SIP INFO ([`Digits::sender`]).
//!
//! The detectors run inside the session's relay task ([`Endpoint`], created when the relay
//! sees the attachment), so a port costs no task of its own and plain relaying pays nothing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use media_core::dtmf_detect::DtmfDetector;
use media_core::g711;
use media_core::rtp::RtpPacket;
use media_core::telephone_event::{DtmfDigit, DtmfReceiver};
use tokio::sync::mpsc;

use super::Side;
use super::player::Player;
use super::session::Shared;
use crate::telemetry::metrics::metrics;

/// G.711 law of a leg's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711Law {
    /// PCMU (static payload type 0).
    Ulaw,
    /// PCMA (static payload type 8).
    Alaw,
}

impl G711Law {
    /// The law of a static payload type (RFC 3551 §6: 0 PCMU, 8 PCMA).
    pub fn from_static_payload_type(payload_type: u8) -> Option<Self> {
        match payload_type {
            0 => Some(G711Law::Ulaw),
            8 => Some(G711Law::Alaw),
            _ => None,
        }
    }

    /// Encodes `samples` into `out` (one code per sample, up to the shorter of the two).
    pub fn encode(self, samples: &[i16], out: &mut [u8]) {
        let encode = match self {
            G711Law::Ulaw => g711::linear_to_ulaw,
            G711Law::Alaw => g711::linear_to_alaw,
        };
        for (code, &sample) in out.iter_mut().zip(samples) {
            *code = encode(sample);
        }
    }

    /// Decodes `codes` into `out` (one sample per code, up to the shorter of the two).
    pub fn decode(self, codes: &[u8], out: &mut [i16]) {
        let decode = match self {
            G711Law::Ulaw => g711::ulaw_to_linear,
            G711Law::Alaw => g711::alaw_to_linear,
        };
        for (sample, &code) in out.iter_mut().zip(codes) {
            *sample = decode(code);
        }
    }
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

impl MediaPort {
    /// A port attached to no session: its player paces and counts packets but sends nothing,
    /// its digits come only through [`Digits::sender`]. For applications run without media
    /// (tests, dry runs).
    pub fn detached(format: MediaFormat) -> Self {
        let (sender, receiver) = mpsc::channel(DIGIT_QUEUE);
        Self {
            player: Player::new(format, None),
            digits: Digits {
                receiver,
                sender,
                guard: None,
            },
        }
    }

    /// Attaches a port to `side` of the session that `shared` belongs to.
    pub(super) fn attach(
        shared: &Arc<Shared>,
        side: Side,
        format: MediaFormat,
        detection: DtmfDetection,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(DIGIT_QUEUE);
        let attachment = Arc::new(Attachment {
            id: shared.next_attachment_id(),
            format,
            detection,
            digits: sender.clone(),
            digits_dropped: AtomicU64::new(0),
        });
        shared.endpoints[side as usize].store(Some(Arc::clone(&attachment)));
        shared.media_changed.store(true, Ordering::Release);
        let guard = Arc::new(AttachGuard {
            shared: Arc::clone(shared),
            side,
            attachment,
        });
        Self {
            player: Player::new(format, Some(Arc::clone(&guard))),
            digits: Digits {
                receiver,
                sender,
                guard: Some(guard),
            },
        }
    }
}

/// DTMF digits from the port's side, in the order they were pressed.
#[derive(Debug)]
pub struct Digits {
    receiver: mpsc::Receiver<char>,
    sender: mpsc::Sender<char>,
    // Keeps the port attached while the digits are in use.
    guard: Option<Arc<AttachGuard>>,
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

    /// Digits detected in the side's RTP that were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.guard.as_ref().map_or(0, |guard| {
            guard.attachment.digits_dropped.load(Ordering::Relaxed)
        })
    }
}

/// What the port and the relay task share about one attachment.
#[derive(Debug)]
pub(super) struct Attachment {
    // Tells a re-attachment from the one the relay task already runs detectors for.
    pub id: u64,
    pub format: MediaFormat,
    detection: DtmfDetection,
    digits: mpsc::Sender<char>,
    digits_dropped: AtomicU64,
}

/// Detaches the port when its player and digits are both gone.
#[derive(Debug)]
pub(super) struct AttachGuard {
    pub shared: Arc<Shared>,
    pub side: Side,
    pub attachment: Arc<Attachment>,
}

impl AttachGuard {
    /// Where the player sends: the side's latched RTP source, else its SDP address.
    pub fn destination(&self) -> Option<SocketAddr> {
        if let Some(latched) = self.shared.latched[self.side as usize].load().as_deref() {
            return Some(*latched);
        }
        self.shared.remotes[self.side as usize]
            .load()
            .as_deref()
            .map(|remote| remote.rtp)
    }
}

impl Drop for AttachGuard {
    fn drop(&mut self) {
        let id = self.attachment.id;
        // A later attach on the same side replaced this one: leave it in place.
        self.shared.endpoints[self.side as usize].rcu(|current| match current {
            Some(current) if current.id == id => None,
            other => other.clone(),
        });
        self.shared.media_changed.store(true, Ordering::Release);
    }
}

/// The relay task's state for an attached side: the DTMF detectors.
#[derive(Debug)]
pub(super) struct Endpoint {
    attachment: Arc<Attachment>,
    rfc4733: Option<DtmfReceiver>,
    inband: Option<DtmfDetector>,
}

// Samples decoded per detector call; a 20 ms G.711 frame.
const DECODE_CHUNK: usize = 160;

impl Endpoint {
    pub fn new(attachment: Arc<Attachment>) -> Self {
        let detection = attachment.detection;
        let rfc4733 = (detection.rfc4733 && attachment.format.telephone_event.is_some())
            .then(DtmfReceiver::new);
        Self {
            rfc4733,
            inband: detection.inband.then(DtmfDetector::new),
            attachment,
        }
    }

    pub fn id(&self) -> u64 {
        self.attachment.id
    }

    /// An RTP packet accepted from the side's phone.
    pub fn receive(&mut self, data: &[u8]) {
        let Ok(packet) = RtpPacket::parse(data) else {
            return;
        };
        let format = self.attachment.format;
        let payload_type = packet.payload_type();
        if Some(payload_type) == format.telephone_event {
            if let Some(receiver) = &mut self.rfc4733
                && let Some(digit) = receiver.receive(packet.timestamp(), packet.payload())
            {
                deliver(&self.attachment, digit, "rfc4733");
            }
        } else if payload_type == format.payload_type
            && let Some(detector) = &mut self.inband
        {
            let mut samples = [0i16; DECODE_CHUNK];
            for codes in packet.payload().chunks(DECODE_CHUNK) {
                let samples = &mut samples[..codes.len()];
                format.law.decode(codes, samples);
                for digit in detector.process(samples) {
                    deliver(&self.attachment, digit, "inband");
                }
            }
        }
    }
}

fn deliver(attachment: &Attachment, digit: DtmfDigit, mode: &str) {
    metrics().dtmf_digit(mode);
    if attachment.digits.try_send(digit.as_char()).is_err() {
        attachment.digits_dropped.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(digit = %digit, "DTMF digit dropped: digit queue full");
    }
}
