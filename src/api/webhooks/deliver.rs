//! The delivery worker of one target: claims the target's due outbox rows (the head of each
//! ordering key, so one call's events go out one after the other), POSTs them signed, and
//! records each outcome: 2xx delivered; anything else retried with backoff, then
//! dead-lettered. Rows of different keys go out side by side, up to [`BATCH`] in flight.
//!
//! The worker wakes when the feed wrote rows for the target, when the earliest retry is due,
//! and at least every [`IDLE_POLL`] (rows an operator retried through the API, or that
//! another switch on the same database left behind).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use super::backoff::{Backoff, NextAttempt};
use super::sign::signature;
use crate::cluster::UnixMillis;
use crate::config::api::WebhookTarget;
use crate::store::{Delivery, FailedAttempt, SqlStore};
use crate::telemetry::metrics::metrics;

/// Most deliveries in flight at once per target.
const BATCH: u32 = 32;

/// Longest sleep without looking at the outbox.
pub const IDLE_POLL: Duration = Duration::from_secs(1);

/// Wait before asking a failing database again.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// A claimed row stays leased this long beyond the POST's timeout: long enough to record the
/// outcome, short enough that a crash mid-delivery delays the row only a little.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// How long deliveries in flight may finish once the worker is told to stop.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Event type header.
pub const HEADER_EVENT: &str = "X-Switchyard-Event";
/// Row id header: the idempotency key (the same for every attempt at one row).
pub const HEADER_DELIVERY: &str = "X-Switchyard-Delivery";
/// Unix seconds at which the attempt was signed.
pub const HEADER_TIMESTAMP: &str = "X-Switchyard-Timestamp";
/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const HEADER_SIGNATURE: &str = "X-Switchyard-Signature";

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The target answered with a status other than 2xx.
    #[error("HTTP {0}")]
    Status(u16),
    /// No answer within the configured timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// Connecting or sending failed (refused, reset, DNS, TLS).
    #[error("{0}")]
    Http(String),
}

impl DeliveryError {
    fn from_http(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            return DeliveryError::Timeout;
        }
        // The chain of causes says what happened ("connection refused"); the URL is left
        // out (it may carry credentials).
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        DeliveryError::Http(text)
    }

    fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Status(status) => Some(*status),
            DeliveryError::Timeout | DeliveryError::Http(_) => None,
        }
    }
}

/// What a worker needs, shared by its deliveries in flight.
#[derive(Debug)]
pub(super) struct Context {
    pub(super) store: SqlStore,
    pub(super) http: reqwest::Client,
    pub(super) target: WebhookTarget,
    pub(super) backoff: Backoff,
    pub(super) timeout: Duration,
}

/// One target's worker.
pub(super) struct Worker {
    pub(super) context: Arc<Context>,
    pub(super) wake: Arc<Notify>,
    pub(super) stop: CancellationToken,
}

impl Worker {
    /// Delivers until `stop` is cancelled. Claims due rows whenever fewer than [`BATCH`] are
    /// in flight, so the next event of a call goes out as soon as the one before it is done.
    pub(super) async fn run(self) {
        let target = self.context.target.name.as_str();
        let outbox = self.context.store.outbox();
        let mut flying: JoinSet<i64> = JoinSet::new();
        let mut open: HashSet<i64> = HashSet::new();
        let mut failing = false;
        while !self.stop.is_cancelled() {
            let room = BATCH.saturating_sub(u32::try_from(flying.len()).unwrap_or(BATCH));
            let mut wait = IDLE_POLL;
            if room > 0 {
                let now = UnixMillis::now();
                let lease = later(now, self.context.timeout + LEASE_MARGIN);
                match outbox.claim_due(target, now, lease, room).await {
                    Ok(rows) => {
                        if failing {
                            failing = false;
                            tracing::info!(target, "webhook outbox readable again");
                        }
                        let claimed = rows.len();
                        for row in rows {
                            open.insert(row.id);
                            flying.spawn(deliver(Arc::clone(&self.context), row));
                        }
                        if claimed < room as usize
                            && let Ok(Some(due)) = outbox.next_due(target).await
                        {
                            wait = Duration::from_millis(due.0.saturating_sub(now.0));
                        }
                    }
                    Err(error) => {
                        if !failing {
                            failing = true;
                            tracing::warn!(target, %error, "cannot read the webhook outbox; retrying");
                        }
                        wait = STORE_RETRY;
                    }
                }
            }
            tokio::select! {
                () = self.stop.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait.min(IDLE_POLL)) => {}
                Some(joined) = flying.join_next(), if !flying.is_empty() => {
                    self.joined(joined, &mut open);
                }
            }
        }
        // Deliveries in flight get a moment to finish; the rest are cut short and due again.
        let until = tokio::time::Instant::now() + STOP_GRACE;
        while !flying.is_empty() {
            match tokio::time::timeout_at(until, flying.join_next()).await {
                Ok(Some(joined)) => self.joined(joined, &mut open),
                Ok(None) | Err(_) => break,
            }
        }
        flying.abort_all();
        let ids: Vec<i64> = open.into_iter().collect();
        if let Err(error) = outbox.release(&ids, UnixMillis::now()).await {
            tracing::warn!(target, %error, rows = ids.len(), "cannot release webhook deliveries cut short; they are retried when their lease ends");
        }
    }

    /// A delivery task ended.
    fn joined(&self, joined: Result<i64, JoinError>, open: &mut HashSet<i64>) {
        match joined {
            Ok(id) => {
                open.remove(&id);
            }
            // Its row stays leased and is tried again when the lease ends.
            Err(error) => {
                tracing::error!(target = self.context.target.name, %error, "webhook delivery task failed");
            }
        }
    }
}

fn later(now: UnixMillis, after: Duration) -> UnixMillis {
    UnixMillis(
        now.0
            .saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
    )
}

/// Makes one attempt at `row` and records its outcome; returns the row's id.
async fn deliver(context: Arc<Context>, row: Delivery) -> i64 {
    let target = context.target.name.as_str();
    let attempts = row.attempts.saturating_add(1);
    let result = post(&context, &row).await;
    let now = UnixMillis::now();
    let outbox = context.store.outbox();
    let recorded = match result {
        Ok(status) => {
            metrics().webhook_delivery(target, "delivered");
            tracing::debug!(
                target,
                delivery = row.id,
                event = row.event_type,
                attempts,
                "webhook delivered"
            );
            outbox.mark_delivered(row.id, status, now).await
        }
        Err(error) => {
            let next = context
                .backoff
                .after_failure(attempts, rand::random::<f64>());
            let retry_at = match next {
                NextAttempt::After(wait) => {
                    metrics().webhook_delivery(target, "failed");
                    tracing::info!(target, delivery = row.id, event = row.event_type, attempts, %error, retry_in_ms = wait.as_millis() as u64, "webhook delivery failed; will retry");
                    Some(later(now, wait))
                }
                NextAttempt::DeadLetter => {
                    metrics().webhook_delivery(target, "dead_lettered");
                    tracing::error!(target, delivery = row.id, event = row.event_type, attempts, %error, "webhook delivery dead-lettered after its last attempt");
                    None
                }
            };
            let failed = FailedAttempt {
                attempts,
                status: error.status(),
                error: error.to_string(),
                retry_at,
            };
            outbox.mark_failed(row.id, &failed).await
        }
    };
    if let Err(error) = recorded {
        tracing::warn!(target, delivery = row.id, %error, "cannot record the webhook delivery outcome; the row is tried again when its lease ends");
    }
    row.id
}

/// POSTs `row` to the target, signed; the status when it is 2xx.
async fn post(context: &Context, row: &Delivery) -> Result<u16, DeliveryError> {
    let timestamp = UnixMillis::now().as_secs();
    let signed = signature(
        context.target.secret.as_bytes(),
        timestamp,
        row.payload.as_bytes(),
    );
    let exchange = context
        .http
        .post(&context.target.url)
        .header(CONTENT_TYPE, "application/json")
        .header(HEADER_EVENT, &row.event_type)
        .header(HEADER_DELIVERY, row.id.to_string())
        .header(HEADER_TIMESTAMP, timestamp.to_string())
        .header(HEADER_SIGNATURE, signed)
        .body(row.payload.clone())
        .send();
    let response = match tokio::time::timeout(context.timeout, exchange).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Err(DeliveryError::from_http(error)),
        Err(_) => return Err(DeliveryError::Timeout),
    };
    let status = response.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}
