//! The pieces of every message the switch builds for either leg: its own tags, branches,
//! Via and Contact, responses, CANCEL and bodies. Nothing here copies a header from one leg
//! into a message for the other.

use bytes::Bytes;
use sip_core::message::{
    HeaderName, Headers, Method, NameAddr, Request, Response, StatusCode, Uri,
};

use crate::transport::Peer;

/// Methods the switch handles inside a call (RFC 3261 §20.5).
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, UPDATE, INFO, OPTIONS, MESSAGE";

/// Option tags the switch supports in calls (RFC 3261 §20.37): RFC 4028 session timers.
pub(super) const SUPPORTED: &str = "timer";

/// The SDP media type (RFC 3264 bodies).
pub(super) const APPLICATION_SDP: &str = "application/sdp";

pub(super) use crate::sip::client::{new_tag, via};

/// The switch's Contact URI on `flow`.
pub(super) fn contact_uri(flow: &Peer) -> Uri {
    crate::sip::client::local_uri(flow, Some("switchyard"))
}

/// The switch's Contact header value on `flow`.
pub(super) fn contact(flow: &Peer) -> String {
    NameAddr::new(contact_uri(flow)).to_string()
}

/// A response to `request` (RFC 3261 §8.2.6): Via, From, To, Call-ID and CSeq of the
/// request, our To tag when given and the To has none, and the Server header.
pub(super) fn response(
    request: &Request,
    status: StatusCode,
    to_tag: Option<&str>,
    server: &str,
) -> Response {
    let mut response = Response::for_request(request, status);
    if let Some(tag) = to_tag
        && status != StatusCode::TRYING
    {
        response.set_to_tag(tag);
    }
    response.headers_mut().push(HeaderName::Server, server);
    response
}

/// Sets a body and its Content-Type (an empty body removes both).
pub(super) fn put_body(headers: &mut Headers, content_type: Option<&str>, body: &Bytes) {
    headers.remove(HeaderName::ContentType);
    if !body.is_empty()
        && let Some(content_type) = content_type
    {
        headers.push(HeaderName::ContentType, content_type);
    }
}

/// The response with `body` as SDP.
pub(super) fn with_sdp(mut response: Response, body: Option<&Bytes>) -> Response {
    if let Some(body) = body {
        put_body(response.headers_mut(), Some(APPLICATION_SDP), body);
        response.set_body(body.clone());
    }
    response
}

/// The request with `body` as SDP.
pub(super) fn request_with_sdp(mut request: Request, body: Option<&Bytes>) -> Request {
    if let Some(body) = body {
        put_body(request.headers_mut(), Some(APPLICATION_SDP), body);
        request.set_body(body.clone());
    }
    request
}

/// The CANCEL for an INVITE the switch sent (RFC 3261 §9.1): same Request-URI, Call-ID,
/// From, To, Route and CSeq number, the INVITE's top Via only, method CANCEL.
pub(super) fn cancel_for(invite: &Request) -> Request {
    let mut cancel = Request::new(Method::Cancel, invite.uri().clone());
    let source = invite.headers();
    let seq = source.cseq().map(|c| c.seq).unwrap_or(1);
    let headers = cancel.headers_mut();
    if let Ok(via) = source.top_via() {
        headers.push(HeaderName::Via, via.to_string());
    }
    for name in [HeaderName::MaxForwards, HeaderName::Route] {
        for value in source.get_all(&name) {
            headers.push(name.clone(), value.clone());
        }
    }
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        if let Some(value) = source.get(&name) {
            headers.push(name, value.clone());
        }
    }
    headers.push(HeaderName::CSeq, format!("{seq} CANCEL"));
    cancel
}

/// True when the message lists `UPDATE` in Allow (RFC 3311 §5.1).
pub(super) fn allows_update(headers: &Headers) -> bool {
    headers
        .allow()
        .map(|methods| methods.contains(&Method::Update))
        .unwrap_or(false)
}

/// True when the message supports or requires RFC 4028 session timers.
pub(super) fn supports_timer(headers: &Headers) -> bool {
    let has = |tags: Vec<&str>| tags.iter().any(|t| t.eq_ignore_ascii_case("timer"));
    headers.supported().map(has).unwrap_or(false) || headers.require().map(has).unwrap_or(false)
}

/// Option tags of Require the switch does not support (RFC 3261 §8.2.2.3).
pub(super) fn unsupported_required(headers: &Headers) -> Vec<String> {
    headers
        .require()
        .unwrap_or_default()
        .into_iter()
        .filter(|tag| !tag.eq_ignore_ascii_case(SUPPORTED))
        .map(str::to_owned)
        .collect()
}
