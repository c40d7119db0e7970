//! The notification service: accepts requests (validated, stored, `notification.created`),
//! and a scheduler task that starts due attempts: inside the calling window (outside it the
//! notification is moved to the window's next opening), at most `max_concurrent` at a time,
//! and at most `per_caller_id_per_minute` per caller ID (a limited attempt waits). Each
//! attempt is dialled through the [`Dialer`] the switchboard provides; its end and what
//! follows (retry or final outcome) is written before `notification.attempt` and
//! `notification.completed` are published.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::app::{Confirmation, NotificationApp};
use super::limiter::CallerRate;
use super::retry::{AttemptResult, NextStep};
use super::spec::{Invalid, NotificationSpec, Plan};
use super::window::CallingWindow;
use crate::call::app::CallApp;
use crate::call::{CallId, HangupCause};
use crate::cluster::{BoxFuture, UnixMillis};
use crate::media::Audio;
use crate::store::notifications::{
    AfterAttempt, AttemptEnd, CancelOutcome, NewNotification, NotificationRow, NotificationStatus,
};
use crate::store::{SqlStore, StoreError};
use crate::telemetry::events::{EventBus, EventType};

/// How often the scheduler looks at the store when nothing woke it.
const POLL: Duration = Duration::from_secs(5);

/// Due notifications read per scheduling round.
const SCAN: u32 = 256;

/// Longest an answered notification call is waited for beyond its ring timeout: a call
/// whose result never comes back (it cannot, short of a fault) ends the attempt as failed.
const CALL_CAP: Duration = Duration::from_secs(15 * 60);

/// Tries at writing an attempt's end while the store fails.
const WRITE_TRIES: u32 = 5;

/// One attempt to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRequest {
    /// The notification.
    pub notification_id: String,
    /// The number to call.
    pub number: String,
    /// The caller number shown.
    pub caller_id: String,
    /// The caller name shown.
    pub caller_id_name: Option<String>,
    /// The dialplan context; None: the dialer's default.
    pub context: Option<String>,
    /// How long it may ring.
    pub ring_timeout: Duration,
}

/// Why an attempt could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct DialRefusal {
    /// The cause the attempt ends with (decides no answer, busy or failed).
    pub cause: HangupCause,
    /// What went wrong, for people.
    pub reason: String,
}

/// Starts a notification's calls: the switchboard routes the number and originates a call
/// that runs `app` once answered.
pub trait Dialer: Send + Sync + 'static {
    /// Starts one attempt; returns the call's id once it is ringing out.
    fn dial(
        &self,
        attempt: AttemptRequest,
        app: Box<dyn CallApp>,
    ) -> BoxFuture<'_, Result<CallId, DialRefusal>>;

    /// Whether dialplan context `context` exists (requests naming another are refused).
    fn has_context(&self, context: &str) -> bool;
}

/// What the service is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// Attempts per minute per caller ID.
    pub per_caller_id_per_minute: u32,
    /// Attempts under way at once.
    pub max_concurrent: usize,
    /// Ring timeout of requests that name none.
    pub default_ring_timeout: Duration,
    /// Where prompt files are (`<config-dir>/sounds`).
    pub sounds_dir: PathBuf,
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A field is not acceptable.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The store failed.
    #[error("notification store: {0}")]
    Store(#[from] StoreError),
    /// The switch is shutting down.
    #[error("the switch is shutting down")]
    ShuttingDown,
}

struct Shared {
    store: SqlStore,
    events: EventBus,
    dialer: Arc<dyn Dialer>,
    settings: NotifySettings,
    wake: Notify,
    shutdown: CancellationToken,
}

/// The running service; [`NotifyService::handle`] is what the API side uses.
pub struct NotifyService {
    shared: Arc<Shared>,
    scheduler: tokio::task::JoinHandle<()>,
    attempts: TaskTracker,
}

impl std::fmt::Debug for NotifyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyService").finish_non_exhaustive()
    }
}

/// Accepts and cancels notifications; cheap to clone.
#[derive(Clone)]
pub struct NotifyHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for NotifyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyHandle").finish_non_exhaustive()
    }
}

fn now_ms() -> UnixMillis {
    UnixMillis::now()
}

fn to_utc(time: UnixMillis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(time.0).unwrap_or(i64::MAX))
        .unwrap_or_else(Utc::now)
}

fn from_utc(time: DateTime<Utc>) -> UnixMillis {
    UnixMillis(u64::try_from(time.timestamp_millis()).unwrap_or(0))
}

/// When `window` lets an attempt due at `due` start: `due`, or the window's next opening.
fn first_chance(window: Option<&CallingWindow>, due: UnixMillis) -> UnixMillis {
    match window {
        Some(window) => from_utc(window.next_opening(to_utc(due))).max(due),
        None => due,
    }
}

impl NotifyService {
    /// Resumes what a previous run left (attempts cut by a crash are due again) and starts
    /// the scheduler; it stops taking new attempts when `shutdown` is cancelled.
    pub async fn start(
        store: SqlStore,
        events: EventBus,
        dialer: Arc<dyn Dialer>,
        settings: NotifySettings,
        shutdown: CancellationToken,
    ) -> NotifyService {
        match store.notifications().recover(now_ms()).await {
            Ok(0) => {}
            Ok(resumed) => {
                tracing::warn!(resumed, "notifications cut short by a stop are due again")
            }
            Err(error) => tracing::error!(%error, "resuming notifications failed"),
        }
        let shared = Arc::new(Shared {
            store,
            events,
            dialer,
            settings,
            wake: Notify::new(),
            shutdown,
        });
        let attempts = TaskTracker::new();
        let scheduler = tokio::spawn(schedule(Arc::clone(&shared), attempts.clone()));
        NotifyService {
            shared,
            scheduler,
            attempts,
        }
    }

    /// What the API side uses.
    pub fn handle(&self) -> NotifyHandle {
        NotifyHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// After shutdown was cancelled and the calls hung up: waits (at most `grace`) for the
    /// attempts under way to write their ends. Those not written by then stay `calling` and
    /// are due again at the next start.
    pub async fn finish(self, grace: Duration) {
        self.shared.shutdown.cancel();
        let _ = self.scheduler.await;
        self.attempts.close();
        if tokio::time::timeout(grace, self.attempts.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                attempts = self.attempts.len(),
                "notification attempts still open at shutdown; due again at the next start"
            );
        }
    }
}

impl NotifyHandle {
    /// Validates and stores a request; returns it as stored (`pending`, or `scheduled` for
    /// the window's next opening).
    pub async fn create(&self, spec: NotificationSpec) -> Result<NotificationRow, NotifyError> {
        let shared = &self.shared;
        if shared.shutdown.is_cancelled() {
            return Err(NotifyError::ShuttingDown);
        }
        let plan = spec.validate(&shared.settings.sounds_dir)?;
        if let Some(context) = &spec.context
            && !shared.dialer.has_context(context)
        {
            return Err(Invalid {
                field: "context".into(),
                reason: format!("no dialplan context {context:?}"),
            }
            .into());
        }
        let now = now_ms();
        let due = first_chance(plan.window.as_ref(), now);
        let json = serde_json::to_string(&spec).map_err(|error| Invalid {
            field: "body".into(),
            reason: error.to_string(),
        })?;
        let new = NewNotification {
            id: uuid::Uuid::new_v4().to_string(),
            number: spec.number.clone(),
            caller_id: spec.caller_id.clone(),
            spec: json,
            status: if due > now {
                NotificationStatus::Scheduled
            } else {
                NotificationStatus::Pending
            },
            next_attempt_at: due,
            created_at: now,
        };
        shared.store.notifications().insert(&new).await?;
        let row =
            shared
                .store
                .notifications()
                .get(&new.id)
                .await?
                .ok_or(StoreError::CorruptRow {
                    call_id: format!("notification {}", new.id),
                    problem: "not found right after it was written",
                })?;
        tracing::info!(notification = %row.id, status = row.status.as_str(), "notification accepted");
        shared.events.publish(
            EventType::NotificationCreated,
            None,
            serde_json::json!({
                "id": row.id,
                "number": row.number,
                "caller_id": row.caller_id,
                "status": row.status.as_str(),
                "next_attempt_at": row.next_attempt_at.map(|t| to_utc(t).to_rfc3339()),
            }),
        );
        shared.wake.notify_one();
        Ok(row)
    }

    /// Cancels a waiting notification.
    pub async fn cancel(&self, id: &str) -> Result<CancelOutcome, NotifyError> {
        let outcome = self
            .shared
            .store
            .notifications()
            .cancel(id, now_ms())
            .await?;
        if let CancelOutcome::Cancelled(row) = &outcome {
            completed(&self.shared, row, "cancelled");
        }
        Ok(outcome)
    }
}

/// Publishes `notification.completed` and counts the outcome.
fn completed(shared: &Shared, row: &NotificationRow, outcome: &str) {
    tracing::info!(notification = %row.id, outcome, "notification completed");
    crate::telemetry::metrics::metrics().notification_completed(outcome);
    shared.events.publish(
        EventType::NotificationCompleted,
        None,
        serde_json::json!({
            "id": row.id,
            "number": row.number,
            "caller_id": row.caller_id,
            "outcome": outcome,
            "attempts": row.attempts.len(),
        }),
    );
}

/// The scheduler: see the module doc.
async fn schedule(shared: Arc<Shared>, attempts: TaskTracker) {
    let slots = Arc::new(Semaphore::new(shared.settings.max_concurrent.max(1)));
    let mut rate = CallerRate::new(shared.settings.per_caller_id_per_minute);
    loop {
        let mut wait = POLL;
        if slots.available_permits() > 0 {
            match round(&shared, &slots, &mut rate, &attempts).await {
                Ok(Some(next)) => wait = wait.min(next),
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "reading due notifications failed"),
            }
        }
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = shared.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One scheduling round: starts what is due and allowed; returns how soon to look again.
async fn round(
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    rate: &mut CallerRate,
    attempts: &TaskTracker,
) -> Result<Option<Duration>, StoreError> {
    let store = shared.store.notifications();
    let now = now_ms();
    let mut soonest: Option<Duration> = None;
    for row in store.due(now, SCAN).await? {
        if shared.shutdown.is_cancelled() {
            break;
        }
        let spec: NotificationSpec = match serde_json::from_str(&row.spec) {
            Ok(spec) => spec,
            Err(error) => {
                tracing::error!(notification = %row.id, %error, "stored notification unreadable");
                give_up(shared, &row, &format!("stored request unreadable: {error}")).await;
                continue;
            }
        };
        let window = match spec.calling_window() {
            Ok(window) => window,
            Err(invalid) => {
                give_up(shared, &row, &invalid.to_string()).await;
                continue;
            }
        };
        let opening = first_chance(window.as_ref(), now);
        if opening > now {
            store.reschedule(&row.id, opening).await?;
            tracing::debug!(notification = %row.id, "outside its calling window: rescheduled");
            continue;
        }
        if let Err(wait) = rate.try_take(&row.caller_id, Instant::now()) {
            soonest = Some(soonest.map_or(wait, |s| s.min(wait)));
            continue;
        }
        let Ok(permit) = Arc::clone(slots).try_acquire_owned() else {
            break;
        };
        // Prompt files are checked again: one may have been removed since the request.
        let plan = match spec.validate(&shared.settings.sounds_dir) {
            Ok(plan) => plan,
            Err(invalid) => {
                give_up(shared, &row, &invalid.to_string()).await;
                continue;
            }
        };
        let Some(n) = store.claim(&row.id, now).await? else {
            continue;
        };
        attempts.spawn(attempt(Arc::clone(shared), row, spec, plan, n, permit));
    }
    // Only a later time: what is due now and did not start waits for a rate token (above)
    // or a free slot (an attempt's end wakes the scheduler).
    if let Some(next) = store.next_due().await?
        && next > now
    {
        let until = Duration::from_millis(next.0.saturating_sub(now_ms().0));
        soonest = Some(soonest.map_or(until, |s| s.min(until)));
    }
    Ok(soonest.map(|s| s.max(Duration::from_millis(20))))
}

/// A notification whose stored request can no longer be carried out (a prompt removed):
/// one failed attempt, final.
async fn give_up(shared: &Shared, row: &NotificationRow, reason: &str) {
    let store = shared.store.notifications();
    let now = now_ms();
    match store.claim(&row.id, now).await {
        Ok(Some(n)) => {
            let result = AttemptResult::Failed {
                reason: reason.to_owned(),
            };
            conclude(
                shared,
                row,
                n,
                None,
                &result,
                NextStep::Done("failed"),
                None,
            )
            .await;
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(notification = %row.id, %error, "store failed"),
    }
}

/// Loads the prompts of `plan`.
fn load_audio(plan: &Plan) -> Result<(Vec<Audio>, Option<Confirmation>), String> {
    let load = |path: &std::path::Path| Audio::load(path).map_err(|e| e.to_string());
    let prompts = plan
        .prompts
        .iter()
        .map(|p| load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let confirm = match &plan.confirm {
        None => None,
        Some(c) => Some(Confirmation {
            prompt: load(&c.prompt)?,
            digit: c.digit,
            timeout: c.timeout,
            retries: c.retries,
            thanks: c.thanks.as_deref().map(load).transpose()?,
        }),
    };
    Ok((prompts, confirm))
}

/// One attempt: dial, wait for the app's report, write the end and what follows.
async fn attempt(
    shared: Arc<Shared>,
    row: NotificationRow,
    spec: NotificationSpec,
    plan: Plan,
    n: u32,
    permit: OwnedSemaphorePermit,
) {
    let mut call_id = None;
    let result = match load_audio(&plan) {
        Err(reason) => AttemptResult::Failed { reason },
        Ok((prompts, confirm)) => {
            let (app, report) = NotificationApp::new(prompts, confirm);
            let cap = plan
                .ring_timeout
                .unwrap_or(shared.settings.default_ring_timeout)
                + CALL_CAP;
            let request = AttemptRequest {
                notification_id: row.id.clone(),
                number: spec.number.clone(),
                caller_id: spec.caller_id.clone(),
                caller_id_name: spec.caller_id_name.clone(),
                context: spec.context.clone(),
                ring_timeout: plan
                    .ring_timeout
                    .unwrap_or(shared.settings.default_ring_timeout),
            };
            match shared.dialer.dial(request, Box::new(app)).await {
                Ok(id) => {
                    tracing::info!(notification = %row.id, attempt = n, call_id = %id, "notification calling");
                    call_id = Some(id.to_string());
                    if let Err(error) = shared
                        .store
                        .notifications()
                        .attempt_call(&row.id, n, &id.to_string())
                        .await
                    {
                        tracing::warn!(notification = %row.id, %error, "attempt's call id not written");
                    }
                    match tokio::time::timeout(cap, report).await {
                        Ok(Ok(result)) => result,
                        Ok(Err(_)) => AttemptResult::Failed {
                            reason: "the call ended without a result".into(),
                        },
                        Err(_) => AttemptResult::Failed {
                            reason: "no result from the call in time".into(),
                        },
                    }
                }
                Err(refusal) => match AttemptResult::from_cause(refusal.cause) {
                    AttemptResult::Failed { .. } => AttemptResult::Failed {
                        reason: refusal.reason,
                    },
                    other => other,
                },
            }
        }
    };
    let counted = row.counted_attempts + u32::from(result != AttemptResult::Interrupted);
    let next = plan.retry.next(counted, &result);
    conclude(&shared, &row, n, call_id, &result, next, Some(&plan)).await;
    drop(permit);
    shared.wake.notify_one();
}

/// Writes attempt `n`'s end and what follows (retrying while the store fails), then
/// publishes `notification.attempt` and, when final, `notification.completed`.
async fn conclude(
    shared: &Shared,
    row: &NotificationRow,
    n: u32,
    call_id: Option<String>,
    result: &AttemptResult,
    next: NextStep,
    plan: Option<&Plan>,
) {
    let now = now_ms();
    let end = AttemptEnd {
        id: row.id.clone(),
        n,
        result: result.as_str().to_owned(),
        digit: result.digit().map(String::from),
        reason: result.reason().map(str::to_owned),
        ended_at: now,
        counts: *result != AttemptResult::Interrupted,
    };
    let after = match next {
        NextStep::Done(outcome) => AfterAttempt::Complete(outcome.to_owned()),
        NextStep::RetryAfter(interval) => {
            let due = UnixMillis(
                now.0
                    .saturating_add(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX)),
            );
            let due = plan.map_or(due, |plan| first_chance(plan.window.as_ref(), due));
            AfterAttempt::Retry(due)
        }
    };
    let store = shared.store.notifications();
    let mut tries = 0;
    loop {
        tries += 1;
        match store.finish(&end, &after).await {
            Ok(()) => break,
            Err(error) if error.is_retryable() && tries < WRITE_TRIES => {
                tracing::warn!(notification = %row.id, %error, "writing an attempt failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(tries))).await;
            }
            Err(error) => {
                tracing::error!(
                    notification = %row.id,
                    %error,
                    "attempt end not written; the notification is due again at the next start"
                );
                return;
            }
        }
    }
    tracing::info!(
        notification = %row.id,
        attempt = n,
        result = result.as_str(),
        "notification attempt ended"
    );
    shared.events.publish(
        EventType::NotificationAttempt,
        None,
        serde_json::json!({
            "id": row.id,
            "number": row.number,
            "attempt": n,
            "call_id": call_id,
            "result": result.as_str(),
            "digit": result.digit().map(String::from),
            "reason": result.reason(),
            "next_attempt_at": match &after {
                AfterAttempt::Retry(at) => Some(to_utc(*at).to_rfc3339()),
                AfterAttempt::Complete(_) => None,
            },
        }),
    );
    if let AfterAttempt::Complete(outcome) = &after {
        match store.get(&row.id).await {
            Ok(Some(stored)) => completed(shared, &stored, outcome),
            _ => completed(shared, row, outcome),
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;
