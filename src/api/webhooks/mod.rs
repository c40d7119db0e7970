//! Webhooks: every event a target wants goes into a durable outbox in the store (one row per
//! event and target), and a worker per target POSTs the rows, signed, retrying with
//! exponential backoff until the target answers 2xx or the attempts run out (dead letter).
//! Delivery is at least once, in order per ordering key (one call's events one after the
//! other), and survives a restart: the rows wait in the database. The API lists the outbox
//! and puts dead rows back.
//!
//! [`WebhookService::start`] runs the feed (bus -> outbox) and the workers;
//! [`WebhookService::finish`] at shutdown writes the events still queued, after the calls
//! have hung up and before the store closes.

mod backoff;
mod deliver;
mod deliveries;
mod outbox_feed;
mod sign;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::deliver::{Context, Worker};
use self::outbox_feed::{Feed, FeedTarget, Grace};
use super::ApiState;
use crate::cluster::UnixMillis;
use crate::config::api::WebhooksConfig;
use crate::store::SqlStore;
use crate::telemetry::events::EventBus;

pub use self::backoff::{Backoff, NextAttempt};
pub use self::deliver::{
    DeliveryError, HEADER_DELIVERY, HEADER_EVENT, HEADER_SIGNATURE, HEADER_TIMESTAMP, IDLE_POLL,
};
pub use self::deliveries::{DeliveryItem, DeliveryList, DeliveryParams, DeliveryStateName};
pub use self::outbox_feed::FeedReport;
pub use self::sign::signature;

/// Events the bus holds for the feed while the database is slow; beyond it events are
/// dropped (each logged at error level, counted by `EventBus::sink_dropped`).
pub const SINK_CAPACITY: usize = 65_536;

/// Delivered rows stay in the outbox (listed by the API) this long, then are deleted.
/// Pending and dead rows are kept until they are delivered.
pub const DELIVERED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often delivered rows past their retention are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Most rows deleted in one statement.
const PURGE_BATCH: u32 = 10_000;

/// Why webhook delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The HTTP client could not be built (TLS roots).
    #[error("webhook HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The running feed and workers.
#[derive(Debug)]
pub struct WebhookService {
    finish: oneshot::Sender<Instant>,
    feed: JoinHandle<FeedReport>,
    stop: CancellationToken,
    /// The workers and the purge of old delivered rows.
    tasks: Vec<JoinHandle<()>>,
}

impl WebhookService {
    /// Starts delivering `events` to the configured targets through the outbox in `store`;
    /// None when no target is configured (no events are taken then). Rows left pending by an
    /// earlier run are delivered too. Must be called within a tokio runtime, before the
    /// events to deliver are published.
    pub fn start(
        config: &WebhooksConfig,
        events: &EventBus,
        store: &SqlStore,
    ) -> Result<Option<WebhookService>, WebhookError> {
        if config.targets.is_empty() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // A redirect is an answer other than 2xx: the event is not followed elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(WebhookError::Client)?;
        let backoff = Backoff {
            initial: config.initial_backoff,
            max: config.max_backoff,
            max_attempts: config.max_attempts,
        };
        let stop = CancellationToken::new();
        let mut targets = Vec::with_capacity(config.targets.len());
        let mut tasks = Vec::with_capacity(config.targets.len() + 1);
        for target in &config.targets {
            let wake = Arc::new(Notify::new());
            targets.push(FeedTarget {
                target: target.clone(),
                wake: Arc::clone(&wake),
            });
            let worker = Worker {
                context: Arc::new(Context {
                    store: store.clone(),
                    http: http.clone(),
                    target: target.clone(),
                    backoff,
                    timeout: config.timeout,
                }),
                wake,
                stop: stop.clone(),
            };
            tasks.push(tokio::spawn(worker.run()));
        }
        let names: Vec<String> = config.targets.iter().map(|t| t.name.clone()).collect();
        tokio::spawn(log_pending(store.clone(), names));
        tasks.push(tokio::spawn(purge_delivered(store.clone(), stop.clone())));
        let (finish, finish_rx) = oneshot::channel();
        let feed = Feed {
            store: store.clone(),
            targets,
            sink: events.sink(SINK_CAPACITY),
            grace: Grace::new(finish_rx),
        };
        tracing::info!(targets = config.targets.len(), "webhook delivery started");
        Ok(Some(WebhookService {
            finish,
            feed: tokio::spawn(feed.run()),
            stop,
            tasks,
        }))
    }

    /// Shutdown: writes the events still queued into the outbox (for at most `grace`), then
    /// stops the workers (deliveries in flight get a moment, then are cut short and tried
    /// again at the next start). Call it after the calls have hung up, before the store
    /// closes.
    pub async fn finish(self, grace: Duration) -> FeedReport {
        let _ = self.finish.send(Instant::now() + grace);
        let report = match self.feed.await {
            Ok(report) => report,
            Err(error) => {
                tracing::error!(%error, "webhook outbox feed task failed");
                FeedReport::default()
            }
        };
        self.stop.cancel();
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "webhook delivery task failed");
            }
        }
        tracing::info!(
            written = report.written,
            lost = report.lost,
            "webhook outbox flushed"
        );
        report
    }
}

/// Logs the rows an earlier run left pending, per target; warns about targets no longer
/// configured (their rows wait until the target is configured again).
async fn log_pending(store: SqlStore, configured: Vec<String>) {
    match store.outbox().pending_by_target().await {
        Ok(pending) => {
            for (target, rows) in pending {
                if configured.contains(&target) {
                    tracing::info!(target, rows, "webhook deliveries pending from before");
                } else {
                    tracing::warn!(
                        target,
                        rows,
                        "webhook deliveries pending for a target no longer configured"
                    );
                }
            }
        }
        Err(error) => tracing::warn!(%error, "cannot read the webhook outbox"),
    }
}

/// Deletes delivered rows older than [`DELIVERED_RETENTION`], every [`PURGE_EVERY`] (the
/// first time at start) until `stop`.
async fn purge_delivered(store: SqlStore, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(PURGE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let now = UnixMillis::now();
        let retention = u64::try_from(DELIVERED_RETENTION.as_millis()).unwrap_or(u64::MAX);
        let before = UnixMillis(now.0.saturating_sub(retention));
        loop {
            match store.outbox().purge_delivered(before, PURGE_BATCH).await {
                Ok(deleted) => {
                    if deleted > 0 {
                        tracing::debug!(deleted, "old delivered webhook rows deleted");
                    }
                    if deleted < u64::from(PURGE_BATCH) || stop.is_cancelled() {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot delete old delivered webhook rows");
                    break;
                }
            }
        }
    }
}

/// This module's routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::retry))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::api::WebhookTarget;
    use crate::store::DeliveryFilter;
    use crate::telemetry::events::EventType;

    fn config(targets: Vec<WebhookTarget>) -> WebhooksConfig {
        WebhooksConfig {
            targets,
            ..WebhooksConfig::default()
        }
    }

    fn target(name: &str, events: &[&str]) -> WebhookTarget {
        WebhookTarget {
            name: name.to_owned(),
            // Nothing listens on the discard port: every attempt is refused.
            url: "http://127.0.0.1:9/hook".to_owned(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            secret: "0123456789abcdef".to_owned(),
        }
    }

    #[tokio::test]
    async fn every_event_published_before_shutdown_is_in_the_outbox_when_finish_returns() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("outbox.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        let bus = EventBus::default();
        let targets = vec![target("all", &[]), target("hangups", &["call.hungup"])];
        let service = WebhookService::start(&config(targets), &bus, &store)
            .unwrap()
            .unwrap();
        for n in 0..300 {
            let kind = if n % 3 == 0 {
                EventType::CallHungup
            } else {
                EventType::CallCreated
            };
            bus.publish(kind, Some(format!("call-{n}")), json!({}));
        }

        let report = service.finish(Duration::from_secs(10)).await;

        assert_eq!(
            report,
            FeedReport {
                written: 400,
                lost: 0
            }
        );
        let rows = store
            .outbox()
            .list(&DeliveryFilter {
                limit: 1000,
                ..DeliveryFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 400);
        assert_eq!(rows.iter().filter(|r| r.target == "hangups").count(), 100);
        assert_eq!(bus.sink_dropped(), 0);
    }

    #[tokio::test]
    async fn without_targets_no_delivery_service_starts() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("outbox.db").display());
        let store = SqlStore::connect(&url).await.unwrap();
        let bus = EventBus::default();

        let service = WebhookService::start(&config(Vec::new()), &bus, &store).unwrap();

        assert!(service.is_none());
    }
}
