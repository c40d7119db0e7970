//! The A leg answered by the switch itself for a media application (`app` phase): the 2xx
//! with the switch's own SDP answer naming the relay, the G.711 format the app speaks, the
//! requests A sends while only the switch is on the line (INFO DTMF, re-INVITE, UPDATE,
//! OPTIONS, BYE), and the app phase of an originated call once A answered.
//!
//! A later `dial` is a transfer: B is offered the switch's answer (the way an originated
//! call offers B A's answer), and A, answered already, hears nothing more of B's setup.
//!
//! Pure: no I/O, no clock.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use sip_core::message::{HeaderName, Method, Request, StatusCode};
use sip_core::sdp::{Direction, SessionDescription};

use super::ack::AfterAck;
use super::api::{CallEvent, MediaPlan};
use super::sdp_rewrite::{Sdp, phone_media, read_sdp};
use super::transactions::Role;
use super::{CallMachine, Phase};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};
use crate::media::{G711Law, MediaFormat};
use crate::sip::response_route::ResponseRoute;

/// The body types of INFO the switch reads DTMF from (not standardised, universally sent).
const DTMF_TYPES: &str = "application/dtmf-relay, application/dtmf";

/// The A leg the switch answered (or, in an originated call, the app started on).
#[derive(Debug)]
pub(super) struct AppLeg {
    /// The audio format spoken with A.
    pub(super) format: MediaFormat,
    /// The switch's answer to the caller's offer; None in an originated call (A answered the
    /// switch's offer).
    answer: Option<Sdp>,
}

/// The first PCMU or PCMA of the first audio stream of `sdp` (static payload type or rtpmap),
/// preferring `prefer` when it is offered too, plus telephone-event (RFC 4733) when offered.
pub(super) fn g711_format(
    sdp: &SessionDescription,
    prefer: Option<G711Law>,
) -> Option<MediaFormat> {
    let media = sdp
        .media
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio") && !m.is_rejected())?;
    let mut codecs = Vec::new();
    let mut telephone_event = None;
    for format in &media.formats {
        let Ok(payload_type) = format.parse::<u8>() else {
            continue;
        };
        let Some(map) = media.rtpmap(payload_type) else {
            continue;
        };
        if map.clock_rate != 8000 {
            continue;
        }
        if map.encoding.eq_ignore_ascii_case("PCMU") {
            codecs.push((payload_type, G711Law::Ulaw));
        } else if map.encoding.eq_ignore_ascii_case("PCMA") {
            codecs.push((payload_type, G711Law::Alaw));
        } else if map.encoding.eq_ignore_ascii_case("telephone-event") && telephone_event.is_none()
        {
            telephone_event = Some(payload_type);
        }
    }
    let (payload_type, law) = prefer
        .and_then(|law| codecs.iter().find(|(_, l)| *l == law).copied())
        .or_else(|| codecs.first().copied())?;
    Some(MediaFormat {
        payload_type,
        law,
        telephone_event,
    })
}

/// The switch's answer before its `o=` line is written: `format` on the relay address,
/// 20 ms packets, in `direction`.
fn answer_template(relay: SocketAddr, format: MediaFormat, direction: Direction) -> Option<Sdp> {
    let (family, ip) = match relay.ip() {
        IpAddr::V4(ip) => ("IP4", ip.to_string()),
        IpAddr::V6(ip) => ("IP6", ip.to_string()),
    };
    let port = relay.port();
    let pt = format.payload_type;
    let name = match format.law {
        G711Law::Ulaw => "PCMU",
        G711Law::Alaw => "PCMA",
    };
    let mut formats = pt.to_string();
    let mut events = String::new();
    if let Some(te) = format.telephone_event {
        formats.push_str(&format!(" {te}"));
        events = format!("a=rtpmap:{te} telephone-event/8000\r\na=fmtp:{te} 0-16\r\n");
    }
    let text = format!(
        "v=0\r\no=switchyard 0 0 IN {family} {ip}\r\ns=switchyard\r\nc=IN {family} {ip}\r\n\
         t=0 0\r\nm=audio {port} RTP/AVP {formats}\r\na=rtpmap:{pt} {name}/8000\r\n{events}\
         a=ptime:20\r\na={}\r\n",
        direction.as_str()
    );
    let parsed = SessionDescription::parse(&text).ok()?;
    Some(Sdp {
        parsed,
        body: Bytes::from(text),
    })
}

/// RFC 3264 §6.1: the switch answers a sendonly offer recvonly, an inactive one inactive.
fn answer_direction(offer: &SessionDescription) -> Direction {
    let offered = offer
        .media
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio") && !m.is_rejected())
        .map_or(Direction::SendRecv, |m| m.direction(offer));
    sip_core::sdp::answer_direction(offered, Direction::SendRecv)
}

/// A digit from an INFO body: `application/dtmf-relay` (`Signal=5`, 10 and 11 for `*` and
/// `#`) or `application/dtmf` (the digit alone).
fn info_digit(content_type: &str, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let value = if content_type.eq_ignore_ascii_case("application/dtmf-relay") {
        text.lines().find_map(|line| {
            let (name, value) = line.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| value.trim())
        })?
    } else {
        text.trim()
    };
    match value {
        "10" => Some('*'),
        "11" => Some('#'),
        _ => {
            let mut chars = value.chars();
            let digit = chars.next()?.to_ascii_uppercase();
            let valid = digit.is_ascii_digit() || matches!(digit, '*' | '#' | 'A'..='D');
            (chars.next().is_none() && valid).then_some(digit)
        }
    }
}

impl CallMachine {
    /// True when A's leg is not answered by B's answer: the switch dialled A itself
    /// (originated call) or answered it (media application). B's provisional responses, 2xx
    /// and failure are then not relayed to A's INVITE; B's failure is a BYE to A.
    pub(super) fn a_answered_by_switch(&self) -> bool {
        self.originated.is_some() || self.app.is_some()
    }

    /// `CallMachine::answer_locally`.
    pub(super) fn answer_caller_locally(
        &mut self,
        now: Instant,
    ) -> Result<MediaFormat, HangupCause> {
        if self.phase != Phase::Routing || self.a_answered_by_switch() {
            return Err(HangupCause::TemporaryFailure);
        }
        let relay = match self.media {
            MediaPlan::Anchored { a, .. } => a,
            MediaPlan::Direct => {
                self.refuse_local(now, HangupCause::IncompatibleDestination);
                return Err(HangupCause::IncompatibleDestination);
            }
        };
        let Some(offer) = self.caller.offer.clone() else {
            // A late offer would need the switch's offer in the 2xx; not supported.
            self.refuse_local(now, HangupCause::IncompatibleDestination);
            return Err(HangupCause::IncompatibleDestination);
        };
        let Some(format) = g711_format(&offer.parsed, None) else {
            self.refuse_local(now, HangupCause::IncompatibleDestination);
            return Err(HangupCause::IncompatibleDestination);
        };
        let Some(answer) = self.render_local_answer(relay, format, answer_direction(&offer.parsed))
        else {
            self.refuse_local(now, HangupCause::TemporaryFailure);
            return Err(HangupCause::TemporaryFailure);
        };
        self.send_caller_2xx(
            now,
            StatusCode::OK,
            Some(answer.body.clone()),
            AfterAck::Nothing,
        );
        self.app = Some(Box::new(AppLeg {
            format,
            answer: Some(answer),
        }));
        self.enter_app(now);
        self.pump(now);
        Ok(format)
    }

    /// `CallMachine::start_app`.
    pub(super) fn start_origin_app(&mut self, now: Instant) -> Result<MediaFormat, HangupCause> {
        let answered = self.phase == Phase::Routing && self.a_leg.is_some() && self.app.is_none();
        if self.originated.is_none() || !answered {
            return Err(HangupCause::TemporaryFailure);
        }
        let Some(format) = self
            .caller
            .offer
            .as_ref()
            .and_then(|sdp| g711_format(&sdp.parsed, None))
        else {
            self.hangup(now, HangupCause::IncompatibleDestination);
            return Err(HangupCause::IncompatibleDestination);
        };
        self.app = Some(Box::new(AppLeg {
            format,
            answer: None,
        }));
        self.enter_app(now);
        self.pump(now);
        Ok(format)
    }

    /// A is answered and only the switch is on the line.
    fn enter_app(&mut self, now: Instant) {
        self.phase = Phase::App;
        self.ring_deadline = None;
        self.answered_at.get_or_insert(now);
        if self.max_duration_deadline.is_none() {
            self.max_duration_deadline = self.settings.max_duration.map(|d| now + d);
        }
        self.events.push_back(CallEvent::Answered);
    }

    /// The caller cannot be answered by the switch: the call is refused with `cause`.
    fn refuse_local(&mut self, now: Instant, cause: HangupCause) {
        self.fail_unanswered(now, cause.sip_status(), None, cause, HangupSide::Switch);
        self.pump(now);
    }

    /// The switch's answer in `format` and `direction`, with A's `o=` line.
    fn render_local_answer(
        &mut self,
        relay: SocketAddr,
        format: MediaFormat,
        direction: Direction,
    ) -> Option<Sdp> {
        let template = answer_template(relay, format, direction)?;
        let body = self.sdp_a.render(Some(relay), &template);
        let parsed = SessionDescription::parse_bytes(&body).ok()?;
        Some(Sdp { parsed, body })
    }

    /// `dial` from the app phase: a transfer. B's branches are offered the switch's answer to
    /// the caller (an originated call's A answer stays the offer).
    pub(super) fn leave_app_for_transfer(&mut self) {
        if self.phase != Phase::App {
            return;
        }
        if let Some(answer) = self.app.as_ref().and_then(|app| app.answer.clone()) {
            self.caller.offer = Some(answer);
        }
        self.phase = Phase::Routing;
    }

    /// The format spoken with the app's leg.
    pub(super) fn app_format(&self) -> Option<MediaFormat> {
        self.app.as_ref().map(|app| app.format)
    }

    /// The G.711 format of `side`'s phone, from its SDP (preferring the law the other side's
    /// phone sent first, which is what the two negotiated through the relay).
    pub(super) fn side_format(&self, side: LegSide) -> Option<MediaFormat> {
        if side == LegSide::A
            && let Some(format) = self.app_format()
        {
            return Some(format);
        }
        let (own, other) = match side {
            LegSide::A => (&self.sdp_a, &self.sdp_b),
            LegSide::B => (&self.sdp_b, &self.sdp_a),
        };
        let prefer = other
            .received()
            .and_then(|sdp| g711_format(sdp, None))
            .map(|f| f.law);
        own.received().and_then(|sdp| g711_format(sdp, prefer))
    }

    /// A request from A in the app phase (its dialog checked).
    pub(super) fn on_app_request(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        match request.method() {
            Method::Bye => self.on_bye(now, side, request, route),
            Method::Invite => self.on_app_offer(now, side, request, route),
            Method::Update => self.on_app_offer(now, side, request, route),
            Method::Info => self.on_app_info(now, side, request, route),
            Method::Options => self.reply(now, request, route, side, StatusCode::OK),
            Method::Prack => self.reply(
                now,
                request,
                route,
                side,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            ),
            _ => self.not_implemented(now, side, request, route),
        }
    }

    /// INFO from A: a DTMF digit (reported as `CallEvent::Dtmf`) gets 200; a body of another
    /// type 415 with Accept (RFC 3261 §21.4.13); no body 200.
    fn on_app_info(&mut self, now: Instant, side: LegSide, request: Request, route: ResponseRoute) {
        if request.body().is_empty() {
            self.reply(now, request, route, side, StatusCode::OK);
            return;
        }
        let content_type = request
            .headers()
            .get(HeaderName::ContentType)
            .map(|v| v.to_string_lossy())
            .unwrap_or_default();
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        let known = DTMF_TYPES
            .split(", ")
            .any(|t| t.eq_ignore_ascii_case(&media_type));
        if !known {
            let mut response =
                self.response_for(&request, side, StatusCode::UNSUPPORTED_MEDIA_TYPE);
            response.headers_mut().push(HeaderName::Accept, DTMF_TYPES);
            self.serve(now, request, route, Role::Answered(side), Some(response));
            return;
        }
        let digit = info_digit(&media_type, request.body());
        let status = if digit.is_some() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        self.reply(now, request, route, side, status);
        if let Some(digit) = digit {
            self.events.push_back(CallEvent::Dtmf(digit));
        }
    }

    /// A re-INVITE or UPDATE from A in the app phase: its offer is answered by the switch in
    /// the app's format (a hold gets recvonly, RFC 3264 §8.4); without an offer, the switch's
    /// last SDP (re-INVITE) or none (UPDATE); it refreshes A's session (RFC 4028 §9).
    fn on_app_offer(
        &mut self,
        now: Instant,
        side: LegSide,
        request: Request,
        route: ResponseRoute,
    ) {
        let is_invite = *request.method() == Method::Invite;
        let sdp = match read_sdp(request.headers(), request.body()) {
            Ok(sdp) => sdp,
            Err(problem) => {
                self.reply(now, request, route, side, problem.status());
                return;
            }
        };
        if (is_invite || sdp.is_some()) && self.awaiting_ack() {
            self.reply(now, request, route, side, StatusCode::REQUEST_PENDING);
            return;
        }
        let relay = self.media.relay_for(LegSide::A);
        let (body, heard) = match (&sdp, relay) {
            (Some(offer), Some(relay)) => {
                let prefer = self.app_format().map(|f| f.law);
                let Some(format) = g711_format(&offer.parsed, prefer) else {
                    self.reply(now, request, route, side, StatusCode::NOT_ACCEPTABLE_HERE);
                    return;
                };
                let direction = answer_direction(&offer.parsed);
                match self.render_local_answer(relay, format, direction) {
                    Some(answer) => (Some(answer.body), Some(offer.parsed.clone())),
                    None => {
                        self.reply(now, request, route, side, StatusCode::SERVER_INTERNAL_ERROR);
                        return;
                    }
                }
            }
            (Some(_), None) => {
                self.reply(now, request, route, side, StatusCode::NOT_ACCEPTABLE_HERE);
                return;
            }
            (None, _) if is_invite => (self.sdp_a.last_sent().cloned(), None),
            (None, _) => (None, None),
        };
        if let Err(min) = self.refreshed_by(now, side, &request) {
            self.interval_too_small(now, side, request, route, min);
            return;
        }
        if let Some(offer) = heard {
            self.sdp_a.heard(&offer);
            self.remote_media(LegSide::A, phone_media(&offer));
        }
        self.answer_ok(now, side, request, route, body.as_ref());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn info_bodies_of_both_kinds_give_their_digit() {
        let relay = "Signal=5\r\nDuration=160\r\n";
        assert_eq!(
            info_digit("application/dtmf-relay", relay.as_bytes()),
            Some('5')
        );
        assert_eq!(
            info_digit("application/dtmf-relay", b"Signal= 11\r\n"),
            Some('#')
        );
        assert_eq!(info_digit("application/dtmf", b"*\r\n"), Some('*'));
        assert_eq!(info_digit("application/dtmf", b"12"), None);
        assert_eq!(info_digit("application/dtmf-relay", b"Duration=100"), None);
    }

    #[test]
    fn the_law_the_other_side_speaks_is_preferred_when_offered() {
        let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                    m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";
        let sdp = SessionDescription::parse(text).unwrap();
        assert_eq!(g711_format(&sdp, None).unwrap().law, G711Law::Ulaw);
        let alaw = g711_format(&sdp, Some(G711Law::Alaw)).unwrap();
        assert_eq!((alaw.payload_type, alaw.telephone_event), (8, Some(101)));
    }
}
