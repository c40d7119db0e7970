//! The IVR webhook step: POST the call's state as JSON, get `{"actions": [...]}` back in the
//! menu action grammar. Every failure is an [`IvrWebhookError`]; the session then goes to the
//! step's fallback menu.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::config::ivr::{IvrAction, IvrMenus, MAX_WEBHOOK_TIMEOUT_MS, Variables};

/// Largest answer body read; a longer one is refused.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a webhook step gave no actions.
#[derive(Debug, thiserror::Error)]
pub enum IvrWebhookError {
    /// No answer within the step's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request failed (connection refused, reset, bad URL).
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    /// The service answered with a non-2xx status.
    #[error("answered HTTP {0}")]
    Status(u16),
    /// The answer is larger than [`MAX_ANSWER_BYTES`].
    #[error("answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// The answer is not JSON.
    #[error("answer is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The answer is JSON but not valid actions (unknown keys or menus, bad prompts).
    #[error("invalid answer: {0}")]
    Invalid(String),
}

/// The JSON body POSTed to the service.
#[derive(Debug, Serialize)]
pub(super) struct Question<'a> {
    pub(super) call_id: String,
    pub(super) caller: &'a str,
    pub(super) dialled: &'a str,
    pub(super) menu: Option<&'a str>,
    pub(super) digits: &'a str,
    pub(super) variables: &'a Variables,
}

/// Asks `url` and validates the answer against `menus`.
pub(super) async fn ask(
    http: &reqwest::Client,
    url: &str,
    timeout: Duration,
    question: &Question<'_>,
    menus: &Arc<IvrMenus>,
) -> Result<Vec<IvrAction>, IvrWebhookError> {
    let timeout = timeout.min(Duration::from_millis(u64::from(MAX_WEBHOOK_TIMEOUT_MS)));
    let exchange = async {
        let mut response = http
            .post(url)
            .json(question)
            .send()
            .await
            .map_err(IvrWebhookError::Request)?;
        if !response.status().is_success() {
            return Err(IvrWebhookError::Status(response.status().as_u16()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(IvrWebhookError::Request)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(IvrWebhookError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice::<serde_json::Value>(&body).map_err(IvrWebhookError::NotJson)
    };
    let answer = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| IvrWebhookError::Timeout(timeout))??;
    // Prompts not loaded with the menus are read from sounds/ now: off the runtime.
    let menus = Arc::clone(menus);
    tokio::task::spawn_blocking(move || menus.actions_from_json(&answer))
        .await
        .map_err(|e| IvrWebhookError::Invalid(e.to_string()))?
        .map_err(IvrWebhookError::Invalid)
}
