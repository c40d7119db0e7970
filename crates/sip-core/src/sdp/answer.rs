//! RFC 3264 offer/answer: build an answer for an offer from the codecs we support.
//!
//! Pure: no I/O.

use thiserror::Error;

use super::model::{
    Attribute, Connection, Direction, MediaDescription, Origin, RtpMap, SessionDescription, Timing,
};

/// A codec we can handle, matched by encoding name (case-insensitive) and clock rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Encoding name, e.g. `PCMU`.
    pub encoding: String,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Channels; `None` means one.
    pub channels: Option<u32>,
}

impl Codec {
    /// A mono codec.
    pub fn new(encoding: &str, clock_rate: u32) -> Self {
        Codec {
            encoding: encoding.to_owned(),
            clock_rate,
            channels: None,
        }
    }

    fn matches(&self, map: &RtpMap) -> bool {
        self.encoding.eq_ignore_ascii_case(&map.encoding)
            && self.clock_rate == map.clock_rate
            && self.channels.unwrap_or(1) == map.channels.unwrap_or(1)
    }
}

/// Whose preference order the answer's codec list follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecOrder {
    /// The offerer's order (RFC 3264 §6.1 recommends honouring it).
    Offerer,
    /// Our `codecs` order.
    Ours,
}

/// What the answerer supports and where it receives media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerOptions {
    /// Our `o=` line (version already chosen by the caller).
    pub origin: Origin,
    /// Our session-level `c=`.
    pub connection: Connection,
    /// Receive port for each m-line index; an index without a port is rejected.
    pub ports: Vec<u16>,
    /// Media type we accept (`audio`); other m-lines are rejected.
    pub media: String,
    /// Supported codecs.
    pub codecs: Vec<Codec>,
    /// Codec order in the answer.
    pub order: CodecOrder,
    /// Keep RFC 4733 `telephone-event` at a clock rate of a chosen codec.
    pub telephone_event: bool,
    /// Answer `a=rtcp-mux` when offered (RFC 5761 §5.1.1).
    pub rtcp_mux: bool,
    /// The direction we want; combined with the offer's per RFC 3264 §6.1.
    pub direction: Direction,
}

/// Why no answer could be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AnswerError {
    /// No offered stream has a codec in common with us: the UAS answers 488 (RFC 3261 §13.3.1.4).
    #[error("no common codec with the offer")]
    NoCommonCodec,
}

const TELEPHONE_EVENT: &str = "telephone-event";

/// RFC 3264 §6.1: the answer direction. We send only if the offerer receives and we want to
/// send; we receive only if the offerer sends and we want to receive.
pub fn answer_direction(offered: Direction, ours: Direction) -> Direction {
    Direction::from_flags(
        offered.receives() && ours.sends(),
        offered.sends() && ours.receives(),
    )
}

/// Builds the answer to `offer`: same number of m-lines in the same order (RFC 3264 §6),
/// unsupported streams rejected with port 0.
pub fn build_answer(
    offer: &SessionDescription,
    options: &AnswerOptions,
) -> Result<SessionDescription, AnswerError> {
    let media: Vec<MediaDescription> = offer
        .media
        .iter()
        .enumerate()
        .map(|(index, offered)| answer_media(offer, offered, options.ports.get(index), options))
        .collect();
    if media.iter().all(MediaDescription::is_rejected) {
        return Err(AnswerError::NoCommonCodec);
    }
    Ok(SessionDescription {
        origin: options.origin.clone(),
        session_name: "-".to_owned(),
        info: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: Some(options.connection.clone()),
        bandwidths: Vec::new(),
        // RFC 3264 §6: the t= line of the answer matches the offer's.
        timings: offer
            .timings
            .iter()
            .map(|t| Timing {
                start: t.start,
                stop: t.stop,
                repeats: Vec::new(),
            })
            .collect(),
        zone: None,
        key: None,
        attributes: Vec::new(),
        media,
    })
}

fn rejected(offered: &MediaDescription) -> MediaDescription {
    // RFC 3264 §6: a rejected stream keeps its m-line with port 0 and at least one format.
    MediaDescription {
        media: offered.media.clone(),
        port: 0,
        port_count: None,
        proto: offered.proto.clone(),
        formats: offered.formats.iter().take(1).cloned().collect(),
        info: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}

fn answer_media(
    offer: &SessionDescription,
    offered: &MediaDescription,
    port: Option<&u16>,
    options: &AnswerOptions,
) -> MediaDescription {
    let Some(&port) = port else {
        return rejected(offered);
    };
    if offered.is_rejected() || offered.media != options.media || !offered.proto.starts_with("RTP/")
    {
        return rejected(offered);
    }
    let maps: Vec<RtpMap> = offered
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| offered.rtpmap(pt))
        .collect();

    let is_event = |m: &RtpMap| m.encoding.eq_ignore_ascii_case(TELEPHONE_EVENT);
    let audio: Vec<&RtpMap> = maps.iter().filter(|m| !is_event(m)).collect();
    let mut chosen: Vec<&RtpMap> = match options.order {
        CodecOrder::Offerer => audio
            .iter()
            .copied()
            .filter(|m| options.codecs.iter().any(|c| c.matches(m)))
            .collect(),
        CodecOrder::Ours => options
            .codecs
            .iter()
            .filter_map(|c| audio.iter().copied().find(|m| c.matches(m)))
            .collect(),
    };
    if chosen.is_empty() {
        return rejected(offered);
    }
    if options.telephone_event {
        // RFC 4733 §7.1.1: the event clock rate must match the audio codec's.
        let events: Vec<&RtpMap> = maps
            .iter()
            .filter(|m| is_event(m))
            .filter(|m| chosen.iter().any(|c| c.clock_rate == m.clock_rate))
            .collect();
        chosen.extend(events);
    }
    let mut seen = Vec::new();
    chosen.retain(|m| {
        let fresh = !seen.contains(&m.payload_type);
        seen.push(m.payload_type);
        fresh
    });

    let mut attributes = Vec::new();
    if let Some(mid) = offered.mid() {
        attributes.push(Attribute::value("mid", mid));
    }
    for map in &chosen {
        attributes.push(Attribute::value("rtpmap", map.to_string()));
        if let Some(params) = offered.fmtp(map.payload_type) {
            attributes.push(Attribute::value(
                "fmtp",
                format!("{} {params}", map.payload_type),
            ));
        }
    }
    if let Some(ptime) = offered.ptime() {
        attributes.push(Attribute::value("ptime", ptime.to_string()));
    }
    if options.rtcp_mux && offered.rtcp_mux() {
        attributes.push(Attribute::property("rtcp-mux"));
    }
    let direction = answer_direction(offered.direction(offer), options.direction);
    attributes.push(Attribute::property(direction.as_str()));

    MediaDescription {
        media: offered.media.clone(),
        port,
        port_count: None,
        proto: offered.proto.clone(),
        formats: chosen.iter().map(|m| m.payload_type.to_string()).collect(),
        info: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes,
    }
}
