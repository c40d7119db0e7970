//! The wire parser: start line, header section (folding, compact names) and body framing by
//! Content-Length over one datagram or one framed stream message.
//!
//! Zero-copy: header values and the body are `Bytes` slices of the input; only folded values
//! are copied. Typed headers are parsed later, on access.

use bytes::Bytes;

use super::error::{ParseError, ParseErrorKind};
use super::header_name::HeaderName;
use super::headers::{HeaderValue, Headers};
use super::method::Method;
use super::request::Request;
use super::response::Response;
use super::sip_message::Message;
use super::status::StatusCode;
use super::syntax::{find_byte, is_ws, trim_ws_bytes};
use super::typed_headers::parse_content_length;
use super::uri::{AbsoluteUri, Uri};

/// A Request-Line that failed, with what could be read of it for the partial request.
struct BadRequestLine {
    kind: ParseErrorKind,
    method: Method,
    uri: Uri,
}

enum StartLine {
    Request(Result<(Method, Uri), Box<BadRequestLine>>),
    Response(Result<(StatusCode, Bytes), ParseErrorKind>),
}

/// Parses one message from a datagram (or a stream message cut by `StreamFramer`).
pub(crate) fn parse_message(buf: Bytes) -> Result<Message, ParseError> {
    // RFC 3261 §7.5: CRLFs before the start line should be ignored.
    let mut pos = 0;
    while pos < buf.len() && (buf[pos] == b'\r' || buf[pos] == b'\n') {
        pos += 1;
    }
    if pos == buf.len() {
        return Err(ParseError::new(ParseErrorKind::Empty));
    }
    let (line_end, next) =
        line_bounds(&buf, pos).ok_or(ParseError::new(ParseErrorKind::InvalidStartLine))?;
    let start = parse_start_line(&buf, pos, line_end);
    let section = parse_headers(&buf, next);
    let headers = section.headers;
    let (Some(body_start), None) = (section.body_start, section.error.clone()) else {
        // The first error wins: the start line's, else the header section's.
        let section_error = section.error.unwrap_or(ParseErrorKind::InvalidHeaderLine);
        return Err(match start {
            StartLine::Response(Err(kind)) => ParseError::new(kind),
            StartLine::Response(Ok(_)) => ParseError::new(section_error),
            StartLine::Request(Ok((method, uri))) => ParseError::with_request(
                section_error,
                Request::from_parts(method, uri, headers, Bytes::new()),
            ),
            StartLine::Request(Err(bad)) => {
                let BadRequestLine { kind, method, uri } = *bad;
                ParseError::with_request(
                    kind,
                    Request::from_parts(method, uri, headers, Bytes::new()),
                )
            }
        });
    };
    let body = frame_body(&buf, &headers, body_start);
    match start {
        StartLine::Response(Ok((status, reason))) => match body {
            Ok(body) => Ok(Message::Response(Response::from_parts(
                status, reason, headers, body,
            ))),
            Err(kind) => Err(ParseError::new(kind)),
        },
        StartLine::Response(Err(kind)) => Err(ParseError::new(kind)),
        StartLine::Request(Ok((method, uri))) => match body {
            Ok(body) => Ok(Message::Request(Request::from_parts(
                method, uri, headers, body,
            ))),
            Err(kind) => Err(ParseError::with_request(
                kind,
                Request::from_parts(method, uri, headers, Bytes::new()),
            )),
        },
        StartLine::Request(Err(bad)) => {
            let BadRequestLine { kind, method, uri } = *bad;
            Err(ParseError::with_request(
                kind,
                Request::from_parts(method, uri, headers, Bytes::new()),
            ))
        }
    }
}

/// Returns (end of line content excluding CR, index after LF) for the line starting at `pos`.
fn line_bounds(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let lf = find_byte(&buf[pos..], b'\n')? + pos;
    let end = if lf > pos && buf[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    Some((end, lf + 1))
}

fn is_sip_version(v: &[u8]) -> bool {
    v.eq_ignore_ascii_case(b"SIP/2.0")
}

/// `SIP/` 1*DIGIT "." 1*DIGIT (RFC 3261 §7.1), any version.
fn looks_like_version(v: &[u8]) -> bool {
    let Some(rest) = v.get(4..) else { return false };
    if !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return false;
    }
    let mut parts = rest.split(|&b| b == b'.');
    let ok =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

fn parse_start_line(buf: &Bytes, start: usize, end: usize) -> StartLine {
    let line = &buf[start..end];
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        return StartLine::Response(parse_status_line(buf, start, end));
    }
    StartLine::Request(parse_request_line(line))
}

/// RFC 3261 §7.2 `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF`.
fn parse_status_line(
    buf: &Bytes,
    start: usize,
    end: usize,
) -> Result<(StatusCode, Bytes), ParseErrorKind> {
    let line = &buf[start..end];
    let sp = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ParseErrorKind::InvalidStartLine)?;
    let version = &line[..sp];
    if !is_sip_version(version) {
        return Err(if looks_like_version(version) {
            ParseErrorKind::UnsupportedVersion
        } else {
            ParseErrorKind::InvalidStartLine
        });
    }
    let rest = &line[sp + 1..];
    let code_end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let code = &rest[..code_end];
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseErrorKind::InvalidStatusCode);
    }
    let n = code
        .iter()
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    let status = StatusCode::from_u16(n).ok_or(ParseErrorKind::InvalidStatusCode)?;
    let reason_start = start + sp + 1 + (code_end + 1).min(rest.len());
    let reason = buf.slice(reason_start..end);
    if std::str::from_utf8(&reason).is_err() || reason.contains(&b'\r') {
        return Err(ParseErrorKind::InvalidReasonPhrase);
    }
    Ok((status, reason))
}

fn placeholder_uri(raw: &[u8]) -> Uri {
    Uri::Absolute(AbsoluteUri::placeholder(&String::from_utf8_lossy(raw)))
}

/// RFC 3261 §7.1 `Request-Line = Method SP Request-URI SP SIP-Version CRLF`. Exactly one SP
/// between elements: extra or trailing SP is rejected (RFC 4475 §3.1.2.9, §3.1.2.10).
fn parse_request_line(line: &[u8]) -> Result<(Method, Uri), Box<BadRequestLine>> {
    let mut parts = line.split(|&b| b == b' ');
    let method_raw = parts.next().unwrap_or_default();
    let uri_raw = parts.next().unwrap_or_default();
    let version = parts.next();
    let extra = parts.next();
    let method = Method::standard(method_raw)
        .or_else(|| std::str::from_utf8(method_raw).ok().and_then(Method::parse));
    let uri = std::str::from_utf8(uri_raw).ok().and_then(Uri::parse);
    let lossy_method = || {
        method
            .clone()
            .unwrap_or_else(|| Method::Extension(String::from_utf8_lossy(method_raw).into_owned()))
    };
    let fail = |kind| {
        let u = uri.clone().unwrap_or_else(|| placeholder_uri(uri_raw));
        Err(Box::new(BadRequestLine {
            kind,
            method: lossy_method(),
            uri: u,
        }))
    };
    let Some(version) = version else {
        return fail(ParseErrorKind::InvalidStartLine);
    };
    if extra.is_some() || method_raw.is_empty() || uri_raw.is_empty() {
        // A third element that is not the version means LWS inside the Request-URI
        // (RFC 4475 §3.1.2.8); otherwise the line has extra or trailing SP (§3.1.2.9/10).
        let lws_in_uri = !uri_raw.is_empty() && !looks_like_version(version);
        return fail(if lws_in_uri {
            ParseErrorKind::InvalidRequestUri
        } else {
            ParseErrorKind::InvalidStartLine
        });
    }
    if !is_sip_version(version) {
        return fail(if looks_like_version(version) {
            ParseErrorKind::UnsupportedVersion
        } else {
            ParseErrorKind::InvalidStartLine
        });
    }
    let Some(method) = method else {
        return fail(ParseErrorKind::InvalidMethod);
    };
    match uri {
        Some(uri) => Ok((method, uri)),
        None => Err(Box::new(BadRequestLine {
            kind: ParseErrorKind::InvalidRequestUri,
            method,
            uri: placeholder_uri(uri_raw),
        })),
    }
}

/// The header section as far as it could be read.
struct HeaderSection {
    headers: Headers,
    /// Index of the first body octet; `None` when no empty line ends the section.
    body_start: Option<usize>,
    /// The first malformed line, if any (such lines are skipped).
    error: Option<ParseErrorKind>,
}

/// Splits the header section starting at `pos`. RFC 3261 §7.3.1: a line starting with SP/HT
/// continues the previous one. Malformed lines are skipped and the first one is reported, so
/// a request can still be answered with 400 from the headers that were readable.
fn parse_headers(buf: &Bytes, mut pos: usize) -> HeaderSection {
    let mut headers = Headers::with_capacity(16);
    let mut error = None;
    loop {
        let Some((end, next)) = line_bounds(buf, pos) else {
            return HeaderSection {
                headers,
                body_start: None,
                error: Some(ParseErrorKind::InvalidHeaderLine),
            };
        };
        if end == pos {
            return HeaderSection {
                headers,
                body_start: Some(next),
                error,
            };
        }
        // Collect continuation lines.
        let mut segments_end = end;
        let mut after = next;
        let mut folded = false;
        while after < buf.len() && is_ws(buf[after]) {
            let Some((e, n)) = line_bounds(buf, after) else {
                break;
            };
            folded = true;
            segments_end = e;
            after = n;
        }
        match header_line(buf, pos, end, segments_end, folded) {
            Some((name, value)) => headers.push(name, value),
            None => {
                error.get_or_insert(ParseErrorKind::InvalidHeaderLine);
            }
        }
        pos = after;
    }
}

/// One `name: value` line (with its continuation lines up to `segments_end`).
fn header_line(
    buf: &Bytes,
    pos: usize,
    end: usize,
    segments_end: usize,
    folded: bool,
) -> Option<(HeaderName, HeaderValue)> {
    if is_ws(buf[pos]) {
        return None;
    }
    let colon = find_byte(&buf[pos..end], b':')? + pos;
    let (ns, ne) = trim_range(buf, pos, colon);
    let name = HeaderName::from_wire(buf, ns..ne)?;
    let value = if folded {
        HeaderValue::from_wire(unfold(&buf[colon + 1..segments_end]))
    } else {
        let (vs, ve) = trim_range(buf, colon + 1, end);
        HeaderValue::from_wire(buf.slice(vs..ve))
    };
    Some((name, value))
}

/// The bounds of `buf[start..end]` without surrounding SP/HT.
fn trim_range(buf: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_ws(buf[start]) {
        start += 1;
    }
    while end > start && is_ws(buf[end - 1]) {
        end -= 1;
    }
    (start, end)
}

/// Joins folded lines: each CRLF (or LF) with the whitespace around it becomes one SP.
fn unfold(raw: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(raw.len());
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let t = trim_ws_bytes(line);
        if t.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(t);
    }
    Bytes::from(out)
}

/// RFC 3261 §18.3: the body is exactly Content-Length octets; extra datagram octets are
/// ignored; fewer is an error. Without Content-Length (datagram only) the body runs to the end.
fn frame_body(buf: &Bytes, headers: &Headers, body_start: usize) -> Result<Bytes, ParseErrorKind> {
    let available = buf.len() - body_start;
    let mut lengths = headers.get_all(HeaderName::ContentLength);
    let Some(first) = lengths.next() else {
        return Ok(buf.slice(body_start..));
    };
    if lengths.next().is_some() {
        // RFC 4475 §3.3.9: several Content-Length values make framing impossible.
        return Err(ParseErrorKind::InvalidContentLength);
    }
    let declared =
        parse_content_length(first.as_bytes()).ok_or(ParseErrorKind::InvalidContentLength)?;
    if declared > available {
        return Err(ParseErrorKind::BodyTruncated {
            declared,
            available,
        });
    }
    Ok(buf.slice(body_start..body_start + declared))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::message::{ParseReaction, StatusCode};

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

    fn parse(b: &'static [u8]) -> Result<Message, ParseError> {
        Message::parse(Bytes::from_static(b))
    }

    #[test]
    fn typical_invite_parses_with_zero_copy_values() {
        let buf = Bytes::from_static(INVITE);
        let m = Message::parse(buf.clone()).unwrap();
        let r = m.as_request().unwrap();
        assert_eq!(r.method(), &Method::Invite);
        assert_eq!(r.headers().len(), 9);
        assert_eq!(r.body().as_ref(), b"v=0\n");
        let call_id = r.headers().get(HeaderName::CallId).unwrap().as_shared();
        let inside = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
        assert!(inside.contains(&(call_id.as_ptr() as usize)));
        r.validate().unwrap();
    }

    #[test]
    fn leading_crlfs_before_the_start_line_are_ignored() {
        let m = parse(b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n").unwrap();
        assert!(m.is_request());
    }

    #[test]
    fn empty_input_is_an_empty_message_error() {
        assert_eq!(parse(b"\r\n").unwrap_err().kind(), &ParseErrorKind::Empty);
        assert_eq!(parse(b"").unwrap_err().reaction(), ParseReaction::Drop);
    }

    #[test]
    fn folded_values_are_joined_with_one_space() {
        let m =
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n  two\r\n\tthree\r\n\r\n").unwrap();
        assert_eq!(
            m.headers().get(HeaderName::Subject).unwrap().as_bytes(),
            b"one two three"
        );
    }

    #[test]
    fn missing_content_length_on_a_datagram_takes_the_rest() {
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\nabc").unwrap();
        assert_eq!(m.body().as_ref(), b"abc");
    }

    #[test]
    fn bare_lf_line_endings_are_tolerated() {
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nl: 1\n\nxyz").unwrap();
        assert_eq!(m.body().as_ref(), b"x");
    }

    #[test]
    fn response_with_other_version_is_dropped() {
        let e = parse(b"SIP/3.0 200 OK\r\nl: 0\r\n\r\n").unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::UnsupportedVersion);
        assert_eq!(e.reaction(), ParseReaction::Drop);
    }

    #[test]
    fn request_with_bad_uri_keeps_a_partial_request_to_answer() {
        let e = parse(
            b"INVITE sip:a@b c SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n",
        )
        .unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::InvalidRequestUri);
        assert_eq!(
            e.reaction(),
            ParseReaction::Respond(StatusCode::BAD_REQUEST)
        );
        assert_eq!(e.partial_request().unwrap().method(), &Method::Invite);
        let resp = e.error_response().unwrap();
        assert_eq!(resp.headers().top_via().unwrap().branch(), Some("z9hG4bK1"));
    }

    #[test]
    fn request_without_via_cannot_be_answered() {
        let e = parse(b"INVITE sip:a@b SIP/9.0\r\nCSeq: 1 INVITE\r\n\r\n").unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::UnsupportedVersion);
        assert_eq!(e.reaction(), ParseReaction::Drop);
    }

    #[test]
    fn oversized_request_gets_413_when_readable() {
        let wire = Bytes::from_static(
            b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 MESSAGE\r\nl: 10\r\n\r\n0123456789",
        );
        let e = Message::parse_with_limit(wire.clone(), 40).unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::TooLarge { limit: 40 });
        assert_eq!(
            e.reaction(),
            ParseReaction::Respond(StatusCode::REQUEST_ENTITY_TOO_LARGE)
        );
        assert!(Message::parse_with_limit(wire, 1000).is_ok());
    }

    #[test]
    fn header_line_without_colon_is_rejected() {
        let e = parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n").unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::InvalidHeaderLine);
    }

    #[test]
    fn broken_header_line_still_leaves_an_answerable_request() {
        let e = parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFoobar roobar\r\nCSeq: 1 OPTIONS\r\n\r\n",
        )
        .unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::InvalidHeaderLine);
        assert_eq!(
            e.reaction(),
            ParseReaction::Respond(StatusCode::BAD_REQUEST)
        );
        assert_eq!(e.partial_request().unwrap().headers().len(), 2);
    }

    #[test]
    fn unterminated_header_section_is_rejected() {
        let e = parse(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n").unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::InvalidHeaderLine);
    }

    #[test]
    fn status_codes_outside_the_range_are_rejected() {
        for line in [
            &b"SIP/2.0 099 x\r\n\r\n"[..],
            b"SIP/2.0 700 x\r\n\r\n",
            b"SIP/2.0 20 x\r\n\r\n",
        ] {
            let e = Message::parse(Bytes::copy_from_slice(line)).unwrap_err();
            assert_eq!(e.kind(), &ParseErrorKind::InvalidStatusCode);
        }
    }

    #[test]
    fn encode_writes_full_names_and_recomputes_content_length() {
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nl: 9\r\ni: x\r\n\r\nab")
            .unwrap_err();
        assert!(matches!(
            m.kind(),
            ParseErrorKind::BodyTruncated {
                declared: 9,
                available: 2
            }
        ));
        let m = parse(b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nl: 2\r\ni: x\r\n\r\nab")
            .unwrap();
        let mut r = m.as_request().unwrap().clone();
        r.set_body(Bytes::from_static(b"hello"));
        assert_eq!(
            r.encode().as_ref(),
            &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nContent-Length: 5\r\nCall-ID: x\r\n\r\nhello"[..]
        );
    }
}
