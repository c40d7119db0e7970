//! The webhook router: a context with `webhook` asks an HTTP service for the route first.
//!
//! The request is POSTed as JSON (the [`RouteRequest`] fields plus `time`, RFC 3339 UTC); a
//! 2xx answer whose body is a valid [`Route`] is the decision. Anything else (timeout,
//! connection failure, other status, bad or invalid JSON, a body over 64 KiB) is logged and
//! the static engine decides from the webhook's fallback context, or the call gets 500 when
//! there is none. The timeout bounds the whole exchange, body included.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::dialplan::{DialplanConfig, Webhook};

use super::decide::{decide, decide_in};
use super::route::{Route, RouteError, RouteRequest};

/// Largest webhook answer read.
const MAX_BODY: usize = 64 * 1024;

/// Routes calls with the static engine, asking a context's webhook first where it has one.
#[derive(Debug, Clone)]
pub struct Router {
    http: reqwest::Client,
}

/// The JSON body POSTed to a webhook.
#[derive(Serialize)]
struct Question<'a> {
    #[serde(flatten)]
    request: &'a RouteRequest,
    time: String,
}

impl Router {
    /// A router that sends webhook requests with `http`.
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Decides the route of `request` at `now`: through the webhook of `request.context` when
    /// it has one, else (and on webhook failure, from its fallback context) with [`decide`].
    pub async fn route(
        &self,
        dialplan: &DialplanConfig,
        request: &RouteRequest,
        now: DateTime<Utc>,
    ) -> Route {
        let Some(webhook) = dialplan.context(&request.context).and_then(|c| c.webhook()) else {
            return decide(dialplan, request, now);
        };
        match self.ask(webhook, request, now).await {
            Ok(route) => route,
            Err(error) => {
                tracing::warn!(
                    context = %request.context,
                    url = webhook.url(),
                    fallback = webhook.fallback().unwrap_or(""),
                    %error,
                    "webhook router failed; deciding from the fallback context"
                );
                match webhook.fallback() {
                    Some(fallback) => decide_in(dialplan, fallback, request, now),
                    None => Route::hangup(500, Some("router unavailable")),
                }
            }
        }
    }

    async fn ask(
        &self,
        webhook: &Webhook,
        request: &RouteRequest,
        now: DateTime<Utc>,
    ) -> Result<Route, WebhookError> {
        let question = Question {
            request,
            time: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        let exchange = async {
            let mut response = self
                .http
                .post(webhook.url())
                .json(&question)
                .timeout(webhook.timeout())
                .send()
                .await
                .map_err(WebhookError::from_http)?;
            let status = response.status();
            if !status.is_success() {
                return Err(WebhookError::Status(status.as_u16()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(WebhookError::from_http)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(WebhookError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            let route: Route = serde_json::from_slice(&body).map_err(WebhookError::Json)?;
            route.validate()?;
            Ok(route)
        };
        tokio::time::timeout(webhook.timeout(), exchange)
            .await
            .map_err(|_| WebhookError::Timeout)?
    }
}

/// Why a webhook gave no usable route.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No complete answer within the webhook's timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// Connecting, sending or reading failed.
    #[error("HTTP exchange failed: {0}")]
    Http(#[source] reqwest::Error),
    /// The service answered with a status other than 2xx.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The answer body exceeds 64 KiB.
    #[error("answer larger than 64 KiB")]
    TooLarge,
    /// The answer is not a route in JSON.
    #[error("answer is not a route: {0}")]
    Json(#[source] serde_json::Error),
    /// The route is well-formed JSON but unusable.
    #[error("unusable route: {0}")]
    Invalid(#[from] RouteError),
}

impl WebhookError {
    fn from_http(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Self::Timeout
        } else {
            Self::Http(e)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;

    use super::super::route::{CallerChange, RingStep};
    use super::super::tests::{at, call, plan};
    use super::*;

    /// A server on 127.0.0.1 for one request: sends `response` (raw HTTP) or, when `None`,
    /// never answers. Hands back the request body it read.
    async fn server(response: Option<String>) -> (String, oneshot::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/route", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let body = read_request(&mut socket).await;
            let _ = tx.send(body);
            match response {
                Some(r) => {
                    socket.write_all(r.as_bytes()).await.unwrap();
                    let _ = socket.shutdown().await;
                }
                // Hold the connection until the client gives up and closes it.
                None => while socket.read(&mut [0; 64]).await.is_ok_and(|n| n > 0) {},
            }
        });
        (url, rx)
    }

    async fn read_request(socket: &mut TcpStream) -> String {
        let mut data = Vec::new();
        let mut buf = [0; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "client closed before sending a request");
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return String::from_utf8(data[end + 4..end + 4 + length].to_vec()).unwrap();
                }
            }
        }
    }

    fn http(status: &str, body: &str) -> Option<String> {
        Some(format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    fn webhook_plan(url: &str, timeout_ms: u32, fallback: Option<&str>) -> DialplanConfig {
        let fallback = fallback.map_or(String::new(), |f| format!(", fallback = \"{f}\""));
        plan(&format!(
            "[[context]]\nname = \"c\"\nwebhook = {{ url = \"{url}\", timeout_ms = {timeout_ms}{fallback} }}\n\
             [[context]]\nname = \"static\"\n[[context.rule]]\nring = [\"fallback\"]\n"
        ))
    }

    fn router() -> Router {
        Router::new(reqwest::Client::builder().no_proxy().build().unwrap())
    }

    fn fallback_route() -> Route {
        Route::Ring {
            steps: vec![RingStep {
                extensions: vec!["fallback".into()],
                timeout_secs: None,
            }],
            caller: CallerChange::default(),
            record: false,
        }
    }

    async fn route_with(response: Option<String>, timeout_ms: u32) -> Route {
        let (url, _body) = server(response).await;
        let plan = webhook_plan(&url, timeout_ms, Some("static"));
        router()
            .route(&plan, &call("1001"), at("2026-06-03T12:00:00Z"))
            .await
    }

    #[tokio::test]
    async fn the_webhooks_route_is_the_answer_and_it_receives_the_request_and_time() {
        let answer = r#"{"action":"route_group","group":"pstn","number":"+12125551234"}"#;
        let (url, body) = server(http("200 OK", answer)).await;
        let plan = webhook_plan(&url, 2000, Some("static"));
        let mut request = call("1001");
        request.headers = vec![("x-campaign".into(), "vip".into())];
        let route = router()
            .route(&plan, &request, at("2026-06-03T12:00:00Z"))
            .await;
        assert_eq!(
            route,
            Route::RouteGroup {
                group: "pstn".into(),
                number: "+12125551234".into(),
                caller: CallerChange::default(),
                allow_trunk_origin: false,
                record: false,
            }
        );
        let sent: serde_json::Value = serde_json::from_str(&body.await.unwrap()).unwrap();
        assert_eq!(
            sent,
            serde_json::json!({
                "context": "c",
                "destination": "1001",
                "caller": "1000",
                "caller_name": "Desk 1000",
                "headers": [["x-campaign", "vip"]],
                "from_trunk": null,
                "profile": "default",
                "time": "2026-06-03T12:00:00.000Z",
            })
        );
    }

    #[tokio::test]
    async fn a_webhook_that_does_not_answer_in_time_falls_back() {
        assert_eq!(route_with(None, 200).await, fallback_route());
    }

    #[tokio::test]
    async fn a_webhook_error_status_falls_back() {
        let busy = r#"{"action":"hangup","status":486}"#;
        assert_eq!(
            route_with(http("500 Internal Server Error", busy), 2000).await,
            fallback_route()
        );
    }

    #[tokio::test]
    async fn a_webhook_answer_that_is_not_a_valid_route_falls_back() {
        for body in [
            "not json",
            r#"{"action":"goto","context":"x"}"#,
            r#"{"action":"hangup","status":200}"#,
            r#"{"action":"ring","steps":[]}"#,
        ] {
            assert_eq!(
                route_with(http("200 OK", body), 2000).await,
                fallback_route(),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn an_unreachable_webhook_falls_back_and_without_fallback_the_call_gets_500() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/route", listener.local_addr().unwrap());
        drop(listener);
        let now = at("2026-06-03T12:00:00Z");
        let with_fallback = webhook_plan(&url, 2000, Some("static"));
        assert_eq!(
            router().route(&with_fallback, &call("1"), now).await,
            fallback_route()
        );
        let without = webhook_plan(&url, 2000, None);
        assert_eq!(
            router().route(&without, &call("1"), now).await,
            Route::hangup(500, Some("router unavailable"))
        );
    }

    #[tokio::test]
    async fn a_context_without_webhook_is_decided_statically() {
        let plan = webhook_plan("http://127.0.0.1:9/", 10, None);
        let mut request = call("1");
        request.context = "static".into();
        assert_eq!(
            router()
                .route(&plan, &request, at("2026-06-03T12:00:00Z"))
                .await,
            fallback_route()
        );
    }
}
