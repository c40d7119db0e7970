//! JSON in and out: the [`ApiJson`] body extractor and the [`ApiQuery`] query-string
//! extractor (each rejection an [`ApiError`] naming the bad field or parameter), the JSON
//! answers of unknown paths and methods, and the opaque paging cursor of list answers.
//!
//! Request types refuse unknown fields (`#[serde(deny_unknown_fields)]`), so a misspelt field
//! is an error that names it instead of a setting silently ignored. A handler whose role check
//! must come before the body is read takes `Result<ApiJson<T>, ApiError>` and applies `?` after
//! [`super::auth::Caller::require`] (the API answers 401, then 403, then 400).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Most items one list answer holds (`limit` above it is refused).
pub const MAX_LIMIT: u32 = 1000;

/// Items in one list answer when the request names no `limit`.
pub const DEFAULT_LIMIT: u32 = 100;

/// A JSON request body deserialized into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    "the request body is larger than the API accepts (api.max_body_bytes)",
                )
            } else {
                ApiError::invalid_body(format!(
                    "the request body could not be read: {}",
                    rejection.body_text()
                ))
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid_body(
                "the request body is empty; expected a JSON object",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::invalid_body(format!(
                "invalid JSON body: {}",
                detail(&rejection.body_text())
            ))),
        }
    }
}

/// The query string deserialized into `T` (a struct of optional parameters that refuses
/// unknown ones).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        query_of(&parts.uri).map(ApiQuery)
    }
}

/// The query string of `uri` as `T`; 400 `invalid_query` naming the parameter otherwise.
pub fn query_of<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    match Query::<T>::try_from_uri(uri) {
        Ok(Query(value)) => Ok(value),
        Err(rejection) => Err(ApiError::invalid_query(format!(
            "invalid query string: {}",
            detail(&rejection.body_text())
        ))),
    }
}

/// The serde part of an axum rejection text (`"<what failed>: <path>: <serde message>"`).
fn detail(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, rest)| rest)
}

/// Whether the body is declared as JSON: `application/json` or `application/<x>+json`,
/// parameters (`; charset=utf-8`) aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

/// `limit` of a list request: [`DEFAULT_LIMIT`] when absent, 1..=[`MAX_LIMIT`] otherwise.
pub fn page_limit(limit: Option<u32>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT as usize),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n as usize),
        Some(n) => Err(ApiError::invalid_query(format!(
            "limit {n} is out of range: 1 to {MAX_LIMIT}"
        ))),
    }
}

/// Encodes the position after the last item of a page as an opaque cursor: the parts joined
/// by newlines, hex-encoded (safe in a query string without escaping).
pub fn encode_cursor(parts: &[&str]) -> String {
    parts
        .join("\n")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parts of a cursor made by [`encode_cursor`] with `count` parts; 400 `invalid_query`
/// for anything else.
pub fn decode_cursor(cursor: &str, count: usize) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::invalid_query("cursor is not a cursor this API gave out");
    if !cursor.len().is_multiple_of(2) || !cursor.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&cursor[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if parts.len() == count {
        Ok(parts)
    } else {
        Err(bad())
    }
}

/// A keyset cursor of a list ordered by a time in milliseconds and an id: `(millis, id)`.
pub fn decode_time_cursor(cursor: &str) -> Result<(u64, String), ApiError> {
    let mut parts = decode_cursor(cursor, 2)?;
    let millis = parts[0]
        .parse()
        .map_err(|_| ApiError::invalid_query("cursor is not a cursor this API gave out"))?;
    Ok((millis, parts.swap_remove(1)))
}

/// Answer of a path no route serves: 404 `not_found`.
pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

/// Answer of a method a route does not serve: 405 `method_not_allowed`.
pub async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} does not answer {method}", uri.path()),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use axum::body::Body;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body2 {
        from: String,
        #[serde(default)]
        timeout_secs: Option<u32>,
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<Body2, ApiError> {
        let mut request = Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            request = request.header(CONTENT_TYPE, ct);
        }
        let request = request.body(Body::from(body.to_owned())).unwrap();
        ApiJson::<Body2>::from_request(request, &())
            .await
            .map(|ApiJson(b)| b)
    }

    #[tokio::test]
    async fn an_unknown_field_is_refused_with_its_name() {
        let error = extract(Some("application/json"), r#"{"from":"1000","frm":"x"}"#)
            .await
            .unwrap_err();
        assert_eq!((error.status.as_u16(), error.code), (400, "invalid_body"));
        assert!(error.message.contains("`frm`"), "{}", error.message);
    }

    #[tokio::test]
    async fn a_field_of_the_wrong_type_is_named() {
        let error = extract(
            Some("application/json; charset=utf-8"),
            r#"{"from":"1000","timeout_secs":"soon"}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code, "invalid_body");
        assert!(error.message.contains("timeout_secs"), "{}", error.message);
    }

    #[tokio::test]
    async fn malformed_or_empty_json_is_an_invalid_body() {
        for body in ["{\"from\":", "", "not json"] {
            let error = extract(Some("application/json"), body).await.unwrap_err();
            assert_eq!(error.code, "invalid_body", "{body:?}: {}", error.message);
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_declared_json_is_refused_with_415() {
        for ct in [None, Some("text/plain"), Some("application/xml")] {
            let error = extract(ct, r#"{"from":"1"}"#).await.unwrap_err();
            assert_eq!(error.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let ok = extract(Some("application/merge-patch+json"), r#"{"from":"1"}"#).await;
        assert_eq!(ok.unwrap().from, "1");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Params {
        limit: Option<u32>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let bad: Result<Params, _> = query_of(&"/x?limit=ten".parse().unwrap());
        let error = bad.unwrap_err();
        assert_eq!(error.code, "invalid_query");
        assert!(error.message.contains("limit"), "{}", error.message);
        let unknown: Result<Params, _> = query_of(&"/x?limt=1".parse().unwrap());
        assert!(unknown.unwrap_err().message.contains("`limt`"));
    }

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let cursor = encode_cursor(&["1700000000000", "abc"]);
        assert_eq!(decode_cursor(&cursor, 2).unwrap(), ["1700000000000", "abc"]);
        for bad in ["zz", "abc", "", &encode_cursor(&["one"])] {
            assert_eq!(decode_cursor(bad, 2).unwrap_err().code, "invalid_query");
        }
    }

    #[test]
    fn limits_default_to_100_and_stay_within_1_to_1000() {
        assert_eq!(page_limit(None).unwrap(), 100);
        assert_eq!(page_limit(Some(1000)).unwrap(), 1000);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(1001)).is_err());
    }
}
