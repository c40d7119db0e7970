//! The HTTP side of `ctl`: builds request URLs under the API base, sends the bearer token,
//! and turns answers into JSON or a [`CtlError`].

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::error::{CtlError, with_causes};

/// How long connecting to the API may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take (a reload reads and validates the config directory).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a file download may take (an hour's recording is about 115 MB).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// A client of one switch's control API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl ApiClient {
    /// A client for the API at `base` (`http://host:port`, optionally with a path prefix),
    /// sending `token` as `Authorization: Bearer` when given.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, CtlError> {
        let base = parse_base(base)?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("switchyard-ctl/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CtlError::Runtime(std::io::Error::other(with_causes(&e))))?;
        Ok(Self { http, base, token })
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// The bearer token, when one was given.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The URL of `segments` (each percent-encoded as one path segment) under the base, with
    /// `query` pairs whose value is present.
    pub fn url(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let present: Vec<(&str, &str)> = query
            .iter()
            .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
            .collect();
        if !present.is_empty() {
            url.query_pairs_mut().extend_pairs(present);
        }
        url
    }

    /// `GET` `url`: its JSON answer, or the API's error.
    pub async fn get(&self, url: Url) -> Result<Value, CtlError> {
        self.send(Method::GET, url, None).await
    }

    /// `POST` `url` with an optional JSON body: the JSON answer (`null` when empty), or the
    /// API's error.
    pub async fn post(&self, url: Url, body: Option<&Value>) -> Result<Value, CtlError> {
        self.send(Method::POST, url, body).await
    }

    /// `DELETE` `url`: the JSON answer (`null` when empty), or the API's error.
    pub async fn delete(&self, url: Url) -> Result<Value, CtlError> {
        self.send(Method::DELETE, url, None).await
    }

    /// `GET` `url` for a file: the response once its status says success (its body still to
    /// be read), or the API's error.
    pub async fn get_file(&self, url: Url) -> Result<reqwest::Response, CtlError> {
        let mut request = self.http.get(url.clone()).timeout(DOWNLOAD_TIMEOUT);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        Err(failure(&url, status, &bytes))
    }

    /// The error of a request that got no (complete) answer.
    pub(crate) fn unreachable(&self, error: &reqwest::Error) -> CtlError {
        CtlError::Unreachable {
            url: self.base.to_string(),
            reason: with_causes(error),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Value, CtlError> {
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.unreachable(&e))?;
        answer(&url, status, &bytes)
    }
}

/// Parses `--api`: an absolute `http`/`https` URL.
fn parse_base(text: &str) -> Result<Url, CtlError> {
    let bad = |reason: &str| CtlError::BadUrl {
        url: text.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("expected an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a base URL takes no query or fragment"));
    }
    Ok(url)
}

/// The JSON of a success answer, or the error an error answer carries.
pub(crate) fn answer(url: &Url, status: StatusCode, body: &[u8]) -> Result<Value, CtlError> {
    if !status.is_success() {
        return Err(failure(url, status, body));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| CtlError::BadAnswer {
        url: url.to_string(),
        status: status.as_u16(),
        reason: format!("not JSON: {e}"),
    })
}

/// The error an error answer carries: the API's refusal, or what came instead of one.
fn failure(url: &Url, status: StatusCode, body: &[u8]) -> CtlError {
    refusal(status.as_u16(), body).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        CtlError::BadAnswer {
            url: url.to_string(),
            status: status.as_u16(),
            reason: if text.is_empty() {
                format!("{status} without an error body")
            } else {
                format!("{status}: {}", text.chars().take(200).collect::<String>())
            },
        }
    })
}

/// The [`CtlError::Refused`] an API error body `{code, message, errors?}` describes.
pub(crate) fn refusal(status: u16, body: &[u8]) -> Option<CtlError> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let code = json.get("code")?.as_str()?.to_owned();
    let message = json
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let errors = json
        .get("errors")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|item| match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(CtlError::Refused {
        status,
        code,
        message,
        errors,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_under_the_base_with_each_segment_encoded() {
        let client = ApiClient::new("http://127.0.0.1:8080", None).unwrap();
        let url = client.url(
            &["api", "v1", "calls", "a/b c", "hangup"],
            &[("user", Some("10 00".into())), ("profile", None)],
        );
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/api/v1/calls/a%2Fb%20c/hangup?user=10+00"
        );
        let prefixed = ApiClient::new("https://pbx.example/switch/", None).unwrap();
        assert_eq!(
            prefixed.url(&["api", "v1", "health"], &[]).as_str(),
            "https://pbx.example/switch/api/v1/health"
        );
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted_as_the_base() {
        for bad in ["127.0.0.1:8080", "ftp://x", "http://", "http://h/?q=1", ""] {
            let error = ApiClient::new(bad, None).unwrap_err();
            assert!(matches!(error, CtlError::BadUrl { .. }), "{bad}: {error}");
        }
    }

    #[test]
    fn an_error_body_becomes_a_refusal_with_its_items() {
        let url = Url::parse("http://h/api/v1/config/reload").unwrap();
        let body = br#"{"code":"invalid_config","message":"refused","errors":["x: bad"]}"#;
        match answer(&url, StatusCode::UNPROCESSABLE_ENTITY, body) {
            Err(CtlError::Refused {
                status,
                code,
                errors,
                ..
            }) => {
                assert_eq!(status, 422);
                assert_eq!(code, "invalid_config");
                assert_eq!(errors, ["x: bad"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_answer_that_is_not_the_documented_json_is_reported_as_such() {
        let url = Url::parse("http://h/x").unwrap();
        let error = answer(&url, StatusCode::NOT_FOUND, b"").unwrap_err();
        assert!(matches!(error, CtlError::BadAnswer { status: 404, .. }));
        let error = answer(&url, StatusCode::OK, b"<html>").unwrap_err();
        assert!(error.to_string().contains("not JSON"));
        assert_eq!(
            answer(&url, StatusCode::ACCEPTED, b"").unwrap(),
            Value::Null
        );
    }
}
