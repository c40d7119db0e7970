//! `ctl events`: follows `GET /api/v1/events` (WebSocket) and prints each event as one line
//! on stdout (stream notices such as `stream.gap` go to stderr; with `--json` every frame goes
//! to stdout as it came) until Ctrl-C or until the switch closes the stream. Blocking I/O on
//! the calling thread: one connection, nothing else to do meanwhile. Pongs to the switch's
//! pings (its flow control) are sent by tungstenite on the next read.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::HandshakeError;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

use super::client::{ApiClient, refusal};
use super::error::{CtlError, with_causes};
use super::render;

/// The `ws://` (or `wss://`) URL of the event stream with its filters.
pub fn events_url(client: &ApiClient, types: &[String], since: Option<u64>) -> Url {
    let types = (!types.is_empty()).then(|| types.join(","));
    let mut url = client.url(
        &["api", "v1", "events"],
        &[("types", types), ("since", since.map(|s| s.to_string()))],
    );
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    // Both schemes are "special" with a host, so the change cannot fail.
    let _ = url.set_scheme(scheme);
    url
}

/// Streams events to `out` until the switch closes the stream or the connection drops.
pub fn follow(
    client: &ApiClient,
    types: &[String],
    since: Option<u64>,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), CtlError> {
    let url = events_url(client, types, since);
    let mut socket = connect(client, &url)?;
    eprintln!("following events from {url} (Ctrl-C to stop)");
    loop {
        let message = match socket.read() {
            Ok(message) => message,
            Err(tungstenite::Error::ConnectionClosed) => return Ok(()),
            Err(e) => {
                return Err(CtlError::StreamEnded {
                    url: url.to_string(),
                    reason: with_causes(&e),
                });
            }
        };
        match message {
            Message::Text(text) => {
                let line = match serde_json::from_str::<Value>(text.as_str()) {
                    Ok(value) if !json && render::is_stream_notice(&value) => {
                        eprintln!("{}", render::stream_notice(&value));
                        continue;
                    }
                    Ok(value) if !json => render::event(&value),
                    _ => text.as_str().to_owned(),
                };
                writeln!(out, "{line}")?;
                out.flush()?;
            }
            Message::Close(frame) => return closed(&url, frame.as_ref()),
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// A normal close ends the command quietly; any other close code is reported with its
/// reason (a subscriber that fell too far behind is cut off this way).
fn closed(url: &Url, frame: Option<&CloseFrame>) -> Result<(), CtlError> {
    match frame {
        None => Ok(()),
        Some(frame) if frame.code == CloseCode::Normal || frame.code == CloseCode::Away => Ok(()),
        Some(frame) => Err(CtlError::StreamEnded {
            url: url.to_string(),
            reason: format!(
                "closed by the switch ({}): {}",
                u16::from(frame.code),
                frame.reason.as_str()
            ),
        }),
    }
}

/// How long connecting to the API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the TCP connection to the API's host, trying each of its addresses.
fn open(client: &ApiClient, url: &Url) -> Result<TcpStream, CtlError> {
    let unreachable = |reason: String| CtlError::Unreachable {
        url: client.base().to_string(),
        reason,
    };
    let addrs = url
        .socket_addrs(|| Some(80))
        .map_err(|e| unreachable(e.to_string()))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(unreachable(last.map_or_else(
        || "the host name has no address".to_owned(),
        |e| e.to_string(),
    )))
}

fn connect(client: &ApiClient, url: &Url) -> Result<WebSocket<TcpStream>, CtlError> {
    let bad_url = |reason: String| CtlError::BadUrl {
        url: client.base().to_string(),
        reason,
    };
    if url.scheme() != "ws" {
        return Err(bad_url(
            "ctl events speaks plain ws:// (an http:// API URL) only".to_owned(),
        ));
    }
    let stream = open(client, url)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| bad_url(with_causes(&e)))?;
    if let Some(token) = client.token() {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| bad_url("the token is not a valid header value".to_owned()))?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let failure = match tungstenite::client(request, stream) {
        Ok((socket, _)) => return Ok(socket),
        Err(HandshakeError::Failure(e)) => e,
        // A blocking stream never interrupts a handshake.
        Err(HandshakeError::Interrupted(_)) => tungstenite::Error::ConnectionClosed,
    };
    Err(match failure {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            refusal(status, body).unwrap_or_else(|| CtlError::BadAnswer {
                url: url.to_string(),
                status,
                reason: "the WebSocket upgrade was refused without an error body".to_owned(),
            })
        }
        e @ (tungstenite::Error::Io(_) | tungstenite::Error::ConnectionClosed) => {
            CtlError::Unreachable {
                url: client.base().to_string(),
                reason: with_causes(&e),
            }
        }
        e => CtlError::BadAnswer {
            url: url.to_string(),
            status: 0,
            reason: with_causes(&e),
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_url_carries_the_filters_on_the_websocket_scheme() {
        let client = ApiClient::new("http://127.0.0.1:8080", None).unwrap();
        let url = events_url(
            &client,
            &["call.created".to_owned(), "call.hungup".to_owned()],
            Some(42),
        );
        assert_eq!(
            url.as_str(),
            "ws://127.0.0.1:8080/api/v1/events?types=call.created%2Ccall.hungup&since=42"
        );
        let secure = ApiClient::new("https://pbx.example", None).unwrap();
        assert_eq!(
            events_url(&secure, &[], None).as_str(),
            "wss://pbx.example/api/v1/events"
        );
    }

    #[test]
    fn only_an_abnormal_close_is_an_error() {
        let url = Url::parse("ws://h/api/v1/events").unwrap();
        assert!(closed(&url, None).is_ok());
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        assert!(closed(&url, Some(&normal)).is_ok());
        let cut = CloseFrame {
            code: CloseCode::Policy,
            reason: "subscriber too slow".into(),
        };
        let error = closed(&url, Some(&cut)).unwrap_err();
        assert!(error.to_string().contains("subscriber too slow"), "{error}");
    }
}
