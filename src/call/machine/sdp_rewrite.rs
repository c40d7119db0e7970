//! SDP as the B2BUA relays it: what each leg is told (the switch's own `o=` line per leg and,
//! with anchored media, the relay's address instead of the other phone's), and where a
//! phone's own media goes according to its SDP.
//!
//! Pure: no I/O, no clock.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use sip_core::message::{HeaderName, Headers, StatusCode};
use sip_core::sdp::{Direction, Rtcp, SessionDescription};

/// The `o=` user name of every SDP the switch writes.
const ORIGIN_USER: &str = "switchyard";

/// Why a body could not be taken as a session description; each says the status to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum SdpProblem {
    /// The body is not `application/sdp` (RFC 3261 §21.4.13: 415).
    #[error("body is not application/sdp")]
    NotSdp,
    /// The SDP does not parse (400).
    #[error("SDP does not parse")]
    Malformed,
    /// The SDP has no audio stream the relay could carry (RFC 3261 §21.4.26: 488).
    #[error("SDP has no usable audio stream")]
    NoAudio,
}

impl SdpProblem {
    /// The status that answers a request with this body.
    pub(super) fn status(self) -> StatusCode {
        match self {
            SdpProblem::NotSdp => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            SdpProblem::Malformed => StatusCode::BAD_REQUEST,
            SdpProblem::NoAudio => StatusCode::NOT_ACCEPTABLE_HERE,
        }
    }
}

/// A session description as received, with the bytes it came in.
#[derive(Debug, Clone)]
pub(super) struct Sdp {
    /// The parsed description.
    pub(super) parsed: SessionDescription,
    /// The body as received.
    pub(super) body: Bytes,
}

/// The SDP in a message body: `Ok(None)` for no body, an error for a body the switch cannot
/// relay.
pub(super) fn read_sdp(headers: &Headers, body: &Bytes) -> Result<Option<Sdp>, SdpProblem> {
    if body.is_empty() {
        return Ok(None);
    }
    if let Some(content_type) = headers.get(HeaderName::ContentType) {
        let text = content_type.to_string_lossy();
        let media_type = text.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case("application/sdp") {
            return Err(SdpProblem::NotSdp);
        }
    }
    let parsed = SessionDescription::parse_bytes(body).map_err(|_| SdpProblem::Malformed)?;
    if audio_index(&parsed).is_none() {
        return Err(SdpProblem::NoAudio);
    }
    Ok(Some(Sdp {
        parsed,
        body: body.clone(),
    }))
}

/// Index of the first audio stream that is not disabled.
fn audio_index(sdp: &SessionDescription) -> Option<usize> {
    sdp.media
        .iter()
        .position(|m| m.media.eq_ignore_ascii_case("audio") && !m.is_rejected())
}

/// Where a phone's media goes, from its own SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PhoneMedia {
    /// RTP address of the first audio stream.
    pub(super) rtp: SocketAddr,
    /// RTCP address: RFC 3605 a=rtcp, RTP port + 1, or the RTP address with rtcp-mux
    /// (RFC 5761).
    pub(super) rtcp: SocketAddr,
    /// Sendonly or inactive (RFC 3264 §8.4), or the RFC 2543 `c=0.0.0.0`.
    pub(super) on_hold: bool,
}

/// The phone's media addresses in `sdp` (None without an audio stream).
pub(super) fn phone_media(sdp: &SessionDescription) -> Option<PhoneMedia> {
    let media = &sdp.media[audio_index(sdp)?];
    let ip = media
        .effective_connection(sdp)
        .and_then(|c| c.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let rtp = SocketAddr::new(ip, media.port);
    let rtcp = if media.rtcp_mux() {
        rtp
    } else if let Some(Rtcp { port, connection }) = media.rtcp() {
        let rtcp_ip = connection.and_then(|c| c.ip()).unwrap_or(ip);
        SocketAddr::new(rtcp_ip, port)
    } else {
        SocketAddr::new(ip, media.port.saturating_add(1))
    };
    Some(PhoneMedia {
        rtp,
        rtcp,
        on_hold: media.is_on_hold(sdp),
    })
}

/// What the switch has told one leg's phone and heard from it.
#[derive(Debug)]
pub(super) struct SdpLeg {
    session_id: u64,
    version: u64,
    /// The last body sent to this leg's phone.
    last_sent: Option<Bytes>,
    /// The last description sent, with the origin left out, to see whether content changed.
    last_content: Option<SessionDescription>,
    /// The last description the leg's phone sent.
    received: Option<SessionDescription>,
}

impl SdpLeg {
    /// A leg with a random session id (RFC 8866 §5.2) and nothing exchanged yet.
    pub(super) fn new() -> Self {
        SdpLeg {
            session_id: u64::from(rand::random::<u32>()) + 1,
            version: 0,
            last_sent: None,
            last_content: None,
            received: None,
        }
    }

    /// The last body the switch sent to this leg.
    pub(super) fn last_sent(&self) -> Option<&Bytes> {
        self.last_sent.as_ref()
    }

    /// True when `sdp` from this leg's phone differs from what it sent last (a new `o=`
    /// version or other content, RFC 3264 §8).
    pub(super) fn is_new_from_phone(&self, sdp: &SessionDescription) -> bool {
        self.received.as_ref() != Some(sdp)
    }

    /// The last description this leg's phone sent.
    pub(super) fn received(&self) -> Option<&SessionDescription> {
        self.received.as_ref()
    }

    /// Goes back to `previous` after an offer from this leg's phone failed.
    pub(super) fn restore(&mut self, previous: Option<SessionDescription>) {
        self.received = previous;
    }

    /// Remembers what this leg's phone sent.
    pub(super) fn heard(&mut self, sdp: &SessionDescription) {
        self.received = Some(sdp.clone());
    }

    /// The body to send to this leg (`side` under `plan`) for `sdp` from the other leg's
    /// phone. Direct media passes the body through untouched; anchored media points every
    /// connection at the relay, the first audio stream at the relay port, disables other
    /// streams, and writes the switch's `o=` line, its version bumped when the content
    /// changed (RFC 3264 §8).
    pub(super) fn render(&mut self, relay: Option<SocketAddr>, sdp: &Sdp) -> Bytes {
        let Some(relay) = relay else {
            self.last_sent = Some(sdp.body.clone());
            return sdp.body.clone();
        };
        let mut out = sdp.parsed.clone();
        anchor(&mut out, relay);
        out.origin.username = ORIGIN_USER.to_owned();
        out.origin.session_id = self.session_id.to_string();
        out.origin.session_version = 0;
        out.set_origin_address(relay.ip());
        if self.last_content.as_ref() != Some(&out) {
            self.version += 1;
            self.last_content = Some(out.clone());
        }
        out.origin.session_version = self.version;
        let body = Bytes::from(out.serialize());
        self.last_sent = Some(body.clone());
        body
    }
}

/// Rewrites `sdp` so that its media goes to `relay`.
fn anchor(sdp: &mut SessionDescription, relay: SocketAddr) {
    let audio = audio_index(sdp);
    // RFC 3264 §8.4: an RFC 2543 hold (c=0.0.0.0) is carried on as sendonly once the address
    // is rewritten.
    let legacy_hold = audio.is_some_and(|i| {
        let m = &sdp.media[i];
        m.direction_attribute().is_none()
            && sdp.direction_attribute().is_none()
            && m.effective_connection(sdp)
                .is_some_and(|c| c.is_unspecified())
    });
    sdp.set_connection_address(relay.ip());
    for (index, media) in sdp.media.iter_mut().enumerate() {
        if Some(index) != audio {
            media.port = 0;
            continue;
        }
        media.port = relay.port();
        if legacy_hold {
            media.set_direction(Direction::SendOnly);
        }
    }
    if let Some(index) = audio
        && sdp.media[index].has_attribute("rtcp")
    {
        let rtcp = Rtcp {
            port: relay.port().saturating_add(1),
            connection: None,
        };
        // The index is the audio stream found above, so the edit cannot fail.
        let _ = sdp.set_rtcp(index, Some(rtcp));
    }
}

/// Names of the RTP/AVP static payload types a carrier's codec list may name (RFC 3551 §6).
fn static_encoding(payload_type: &str) -> Option<&'static str> {
    Some(match payload_type {
        "0" => "PCMU",
        "3" => "GSM",
        "4" => "G723",
        "8" => "PCMA",
        "9" => "G722",
        "18" => "G729",
        _ => return None,
    })
}

/// The offer `body` with only the codecs in `allowed` (encoding names, any case) left on its
/// first audio stream; `telephone-event` (RFC 4733) is kept with them. None when no allowed
/// codec is left, or `body` is not SDP the switch can read: the branch cannot be offered.
pub(super) fn keep_codecs(body: &Bytes, allowed: &[String]) -> Option<Bytes> {
    let mut sdp = SessionDescription::parse_bytes(body).ok()?;
    let index = audio_index(&sdp)?;
    let media = sdp.media.get_mut(index)?;
    let maps = media.rtpmaps();
    let name_of = |format: &str| -> Option<String> {
        let pt: u8 = format.parse().ok()?;
        maps.iter()
            .find(|m| m.payload_type == pt)
            .map(|m| m.encoding.clone())
            .or_else(|| static_encoding(format).map(str::to_owned))
    };
    let is_event = |name: &str| name.eq_ignore_ascii_case("telephone-event");
    let mut kept_codec = false;
    let mut dropped: Vec<String> = Vec::new();
    media.formats.retain(|format| {
        let name = name_of(format);
        let keep = match name.as_deref() {
            Some(name) if is_event(name) => true,
            Some(name) => {
                let allowed = allowed.iter().any(|a| a.eq_ignore_ascii_case(name));
                kept_codec |= allowed;
                allowed
            }
            None => false,
        };
        if !keep {
            dropped.push(format.clone());
        }
        keep
    });
    if !kept_codec {
        return None;
    }
    // The attributes of dropped payload types go with them (RFC 8866 §6.6, §6.15).
    media.attributes.retain(|attribute| {
        let per_format = matches!(attribute.name.as_str(), "rtpmap" | "fmtp");
        let format = attribute
            .value
            .as_deref()
            .and_then(|v| v.split_whitespace().next());
        !(per_format && format.is_some_and(|f| dropped.iter().any(|d| d == f)))
    });
    Some(Bytes::from(sdp.serialize()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod codec_tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
        m=audio 4000 RTP/AVP 9 0 8 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

    fn formats(body: &Bytes) -> Vec<String> {
        let sdp = SessionDescription::parse_bytes(body).unwrap();
        sdp.media[0].formats.clone()
    }

    #[test]
    fn only_allowed_codecs_and_telephone_events_are_offered() {
        let body = Bytes::from(OFFER);
        let kept = keep_codecs(&body, &["pcma".to_owned(), "PCMU".to_owned()]).unwrap();
        assert_eq!(formats(&kept), ["0", "8", "101"]);
        let text = String::from_utf8(kept.to_vec()).unwrap();
        assert!(!text.contains("G722"), "{text}");
        assert!(text.contains("a=fmtp:101 0-16"), "{text}");
    }

    #[test]
    fn an_offer_without_an_allowed_codec_cannot_be_sent() {
        let body = Bytes::from(OFFER);
        assert!(keep_codecs(&body, &["G729".to_owned()]).is_none());
        assert!(keep_codecs(&Bytes::from_static(b"not sdp"), &["PCMU".to_owned()]).is_none());
    }
}
