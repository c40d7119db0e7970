//! Voice notifications in SQL: each request with its validated spec (JSON), where it stands,
//! and one row per call attempt, so a restart resumes what was waiting and nothing is lost.
//!
//! A notification is `pending` (due) or `scheduled` (waiting for its time) until the
//! scheduler claims it ([`Notifications::claim`] moves it to `calling` and opens an attempt
//! row in one transaction, only from a waiting state, so a cancel and a claim never both
//! win); the attempt's end is written together with what follows ([`Notifications::finish`]:
//! waiting again, or `completed` with its outcome). This module stores; the rules (window,
//! retry policy) are `notify`'s.

use super::StoreError;
use super::sql::{Pool, SqlStore, on_pool};
use crate::cluster::UnixMillis;

/// Columns of `notifications` read into a [`NotificationRow`].
const COLUMNS: &str = "id, number, caller_id, spec, status, outcome, attempts, \
     next_attempt_at_ms, created_at_ms, completed_at_ms";

/// Columns of `notification_attempts` read into an [`AttemptRow`].
const ATTEMPT_COLUMNS: &str =
    "notification_id, n, call_id, started_at_ms, ended_at_ms, result, digit, reason";

/// Longest attempt `reason` stored, in bytes.
const MAX_REASON_LEN: usize = 300;

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationStatus {
    /// Due: waits for a free call slot (or its caller ID's rate limit).
    Pending,
    /// Waits for a later time: the calling window's opening or the retry interval.
    Scheduled,
    /// An attempt's call is under way.
    Calling,
    /// Done; its outcome is final.
    Completed,
    /// Cancelled through the API before it completed.
    Cancelled,
}

impl NotificationStatus {
    /// Every status.
    pub const ALL: [NotificationStatus; 5] = [
        NotificationStatus::Pending,
        NotificationStatus::Scheduled,
        NotificationStatus::Calling,
        NotificationStatus::Completed,
        NotificationStatus::Cancelled,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationStatus::Pending => "pending",
            NotificationStatus::Scheduled => "scheduled",
            NotificationStatus::Calling => "calling",
            NotificationStatus::Completed => "completed",
            NotificationStatus::Cancelled => "cancelled",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<NotificationStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Pending or scheduled: no attempt under way, not final.
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            NotificationStatus::Pending | NotificationStatus::Scheduled
        )
    }
}

/// A new notification, as accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// Its id (a UUID).
    pub id: String,
    /// The number called.
    pub number: String,
    /// The caller ID shown.
    pub caller_id: String,
    /// The validated request as JSON.
    pub spec: String,
    /// Pending (due at `next_attempt_at`, now) or scheduled (later).
    pub status: NotificationStatus,
    /// When the first attempt is due.
    pub next_attempt_at: UnixMillis,
    /// When it was accepted.
    pub created_at: UnixMillis,
}

/// One call attempt of a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// 1, 2, … in order.
    pub n: u32,
    /// The attempt's call (None when the call could not be started).
    pub call_id: Option<String>,
    /// When it started.
    pub started_at: UnixMillis,
    /// When it ended (None while under way).
    pub ended_at: Option<UnixMillis>,
    /// How it ended (`confirmed`, `answered`, `no_answer`, `busy`, `failed`, `interrupted`);
    /// None while under way.
    pub result: Option<String>,
    /// The digit pressed at the confirmation step, if any.
    pub digit: Option<String>,
    /// Why it failed (a refusal or a hangup cause), for people.
    pub reason: Option<String>,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    /// Its id.
    pub id: String,
    /// The number called.
    pub number: String,
    /// The caller ID shown.
    pub caller_id: String,
    /// The validated request as JSON.
    pub spec: String,
    /// Where it stands.
    pub status: NotificationStatus,
    /// The final outcome once completed or cancelled.
    pub outcome: Option<String>,
    /// Attempts that count against the retry policy.
    pub counted_attempts: u32,
    /// When the next attempt is due (waiting notifications).
    pub next_attempt_at: Option<UnixMillis>,
    /// When it was accepted.
    pub created_at: UnixMillis,
    /// When it completed or was cancelled.
    pub completed_at: Option<UnixMillis>,
    /// Its attempts, in order (empty where a query says it does not load them).
    pub attempts: Vec<AttemptRow>,
}

/// The end of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    /// The notification.
    pub id: String,
    /// The attempt's number.
    pub n: u32,
    /// How it ended.
    pub result: String,
    /// The digit pressed, if any.
    pub digit: Option<String>,
    /// Why it failed, if it did.
    pub reason: Option<String>,
    /// When it ended.
    pub ended_at: UnixMillis,
    /// Whether it counts against the retry policy.
    pub counts: bool,
}

/// What follows an attempt's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Waiting again, due at this time (pending when that is the end time, else scheduled).
    Retry(UnixMillis),
    /// Done with this outcome.
    Complete(String),
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was waiting and is cancelled now.
    Cancelled(NotificationRow),
    /// It cannot be cancelled in this state (calling, completed, cancelled).
    NotWaiting(NotificationStatus),
    /// No notification has this id.
    Unknown,
}

/// A page boundary of the newest-first listing: rows strictly older than this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationKey {
    /// Creation time of the last row of the previous page.
    pub created_at: UnixMillis,
    /// Its id.
    pub id: String,
}

/// The notification operations on a [`SqlStore`].
#[derive(Debug, Clone, Copy)]
pub struct Notifications<'a> {
    pool: &'a Pool,
}

impl SqlStore {
    /// The voice notifications of this database.
    pub fn notifications(&self) -> Notifications<'_> {
        Notifications { pool: &self.pool }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: String,
    number: String,
    caller_id: String,
    spec: String,
    status: String,
    outcome: Option<String>,
    attempts: i32,
    next_attempt_at_ms: Option<i64>,
    created_at_ms: i64,
    completed_at_ms: Option<i64>,
}

impl Row {
    fn into_row(self) -> Result<NotificationRow, StoreError> {
        let status =
            NotificationStatus::parse(&self.status).ok_or_else(|| StoreError::CorruptRow {
                call_id: format!("notification {}", self.id),
                problem: "unknown notification status",
            })?;
        Ok(NotificationRow {
            id: self.id,
            number: self.number,
            caller_id: self.caller_id,
            spec: self.spec,
            status,
            outcome: self.outcome,
            counted_attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: self.next_attempt_at_ms.map(millis),
            created_at: millis(self.created_at_ms),
            completed_at: self.completed_at_ms.map(millis),
            attempts: Vec::new(),
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Attempt {
    notification_id: String,
    n: i32,
    call_id: Option<String>,
    started_at_ms: i64,
    ended_at_ms: Option<i64>,
    result: Option<String>,
    digit: Option<String>,
    reason: Option<String>,
}

impl Attempt {
    fn into_row(self) -> AttemptRow {
        AttemptRow {
            n: u32::try_from(self.n).unwrap_or(0),
            call_id: self.call_id,
            started_at: millis(self.started_at_ms),
            ended_at: self.ended_at_ms.map(millis),
            result: self.result,
            digit: self.digit,
            reason: self.reason,
        }
    }
}

fn millis(ms: i64) -> UnixMillis {
    UnixMillis(u64::try_from(ms).unwrap_or(0))
}

fn column(time: UnixMillis) -> i64 {
    i64::try_from(time.0).unwrap_or(i64::MAX)
}

/// `text` cut to [`MAX_REASON_LEN`] bytes at a character boundary.
fn bounded(text: &str) -> &str {
    if text.len() <= MAX_REASON_LEN {
        return text;
    }
    let mut end = MAX_REASON_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn into_rows(rows: Vec<Row>) -> Result<Vec<NotificationRow>, StoreError> {
    rows.into_iter().map(Row::into_row).collect()
}

impl Notifications<'_> {
    /// Writes a new notification.
    pub async fn insert(&self, new: &NewNotification) -> Result<(), StoreError> {
        on_pool!(self.pool, pool => {
            sqlx::query(
                "INSERT INTO notifications (id, number, caller_id, spec, status, attempts, \
                 next_attempt_at_ms, created_at_ms) VALUES ($1, $2, $3, $4, $5, 0, $6, $7)",
            )
            .bind(new.id.as_str())
            .bind(new.number.as_str())
            .bind(new.caller_id.as_str())
            .bind(new.spec.as_str())
            .bind(new.status.as_str())
            .bind(column(new.next_attempt_at))
            .bind(column(new.created_at))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query)
    }

    /// Notification `id` with its attempts.
    pub async fn get(&self, id: &str) -> Result<Option<NotificationRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE id = $1");
        let row: Option<Row> = on_pool!(self.pool, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .map_err(StoreError::query)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut rows = vec![row.into_row()?];
        self.load_attempts(&mut rows).await?;
        Ok(rows.pop())
    }

    /// Up to `limit` notifications older than `after` (all when None), newest first, with
    /// their attempts.
    pub async fn list(
        &self,
        after: Option<&NotificationKey>,
        limit: u32,
    ) -> Result<Vec<NotificationRow>, StoreError> {
        let rows: Vec<Row> = match after {
            Some(key) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM notifications WHERE created_at_ms < $1 \
                     OR (created_at_ms = $1 AND id < $2) \
                     ORDER BY created_at_ms DESC, id DESC LIMIT $3"
                );
                on_pool!(self.pool, pool => {
                    sqlx::query_as(&sql)
                        .bind(column(key.created_at))
                        .bind(key.id.as_str())
                        .bind(i64::from(limit))
                        .fetch_all(pool)
                        .await
                })
            }
            None => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM notifications \
                     ORDER BY created_at_ms DESC, id DESC LIMIT $1"
                );
                on_pool!(self.pool, pool => {
                    sqlx::query_as(&sql).bind(i64::from(limit)).fetch_all(pool).await
                })
            }
        }
        .map_err(StoreError::query)?;
        let mut rows = into_rows(rows)?;
        self.load_attempts(&mut rows).await?;
        Ok(rows)
    }

    /// Up to `limit` waiting notifications due at `now`, earliest first (attempts not
    /// loaded).
    pub async fn due(
        &self,
        now: UnixMillis,
        limit: u32,
    ) -> Result<Vec<NotificationRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE status IN ('pending', 'scheduled') \
             AND next_attempt_at_ms <= $1 ORDER BY next_attempt_at_ms, id LIMIT $2"
        );
        let rows: Vec<Row> = on_pool!(self.pool, pool => {
            sqlx::query_as(&sql).bind(column(now)).bind(i64::from(limit)).fetch_all(pool).await
        })
        .map_err(StoreError::query)?;
        into_rows(rows)
    }

    /// When the earliest waiting notification is due; None when none waits.
    pub async fn next_due(&self) -> Result<Option<UnixMillis>, StoreError> {
        let due: Option<i64> = on_pool!(self.pool, pool => {
            sqlx::query_scalar(
                "SELECT MIN(next_attempt_at_ms) FROM notifications \
                 WHERE status IN ('pending', 'scheduled')",
            )
            .fetch_one(pool)
            .await
        })
        .map_err(StoreError::query)?;
        Ok(due.map(millis))
    }

    /// Moves waiting notification `id` to `at` (scheduled): outside its calling window.
    pub async fn reschedule(&self, id: &str, at: UnixMillis) -> Result<(), StoreError> {
        on_pool!(self.pool, pool => {
            sqlx::query(
                "UPDATE notifications SET status = 'scheduled', next_attempt_at_ms = $2 \
                 WHERE id = $1 AND status IN ('pending', 'scheduled')",
            )
            .bind(id)
            .bind(column(at))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query)
    }

    /// Claims waiting notification `id` for an attempt starting at `now`: `calling`, with a
    /// new attempt row. Returns the attempt's number, or None when it is no longer waiting
    /// (cancelled meanwhile).
    pub async fn claim(&self, id: &str, now: UnixMillis) -> Result<Option<u32>, StoreError> {
        on_pool!(self.pool, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            let claimed = sqlx::query(
                "UPDATE notifications SET status = 'calling', next_attempt_at_ms = NULL \
                 WHERE id = $1 AND status IN ('pending', 'scheduled')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query)?
            .rows_affected();
            if claimed != 1 {
                return Ok(None);
            }
            let last: Option<i32> = sqlx::query_scalar(
                "SELECT MAX(n) FROM notification_attempts WHERE notification_id = $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::query)?;
            let n = last.unwrap_or(0).saturating_add(1);
            sqlx::query(
                "INSERT INTO notification_attempts (notification_id, n, started_at_ms) \
                 VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(n)
            .bind(column(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query)?;
            tx.commit().await.map_err(StoreError::query)?;
            Ok(Some(u32::try_from(n).unwrap_or(0)))
        })
    }

    /// Notes the call of attempt `n` of `id`.
    pub async fn attempt_call(&self, id: &str, n: u32, call_id: &str) -> Result<(), StoreError> {
        on_pool!(self.pool, pool => {
            sqlx::query(
                "UPDATE notification_attempts SET call_id = $3 \
                 WHERE notification_id = $1 AND n = $2",
            )
            .bind(id)
            .bind(i32::try_from(n).unwrap_or(i32::MAX))
            .bind(call_id)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query)
    }

    /// Writes an attempt's end and what follows, in one transaction.
    pub async fn finish(&self, end: &AttemptEnd, next: &AfterAttempt) -> Result<(), StoreError> {
        let n = i32::try_from(end.n).unwrap_or(i32::MAX);
        let counted = i32::from(end.counts);
        let ended = column(end.ended_at);
        on_pool!(self.pool, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            sqlx::query(
                "UPDATE notification_attempts SET ended_at_ms = $3, result = $4, digit = $5, \
                 reason = $6 WHERE notification_id = $1 AND n = $2",
            )
            .bind(end.id.as_str())
            .bind(n)
            .bind(ended)
            .bind(end.result.as_str())
            .bind(end.digit.as_deref())
            .bind(end.reason.as_deref().map(bounded))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query)?;
            match next {
                AfterAttempt::Retry(at) => {
                    let status = if *at <= end.ended_at {
                        NotificationStatus::Pending
                    } else {
                        NotificationStatus::Scheduled
                    };
                    sqlx::query(
                        "UPDATE notifications SET status = $2, attempts = attempts + $3, \
                         next_attempt_at_ms = $4 WHERE id = $1",
                    )
                    .bind(end.id.as_str())
                    .bind(status.as_str())
                    .bind(counted)
                    .bind(column(*at))
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                }
                AfterAttempt::Complete(outcome) => {
                    sqlx::query(
                        "UPDATE notifications SET status = 'completed', outcome = $2, \
                         attempts = attempts + $3, next_attempt_at_ms = NULL, \
                         completed_at_ms = $4 WHERE id = $1",
                    )
                    .bind(end.id.as_str())
                    .bind(outcome.as_str())
                    .bind(counted)
                    .bind(ended)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query)?;
                }
            }
            tx.commit().await.map_err(StoreError::query)
        })
    }

    /// Cancels notification `id` at `now` when it is waiting.
    pub async fn cancel(&self, id: &str, now: UnixMillis) -> Result<CancelOutcome, StoreError> {
        let done = on_pool!(self.pool, pool => {
            sqlx::query(
                "UPDATE notifications SET status = 'cancelled', outcome = 'cancelled', \
                 next_attempt_at_ms = NULL, completed_at_ms = $2 \
                 WHERE id = $1 AND status IN ('pending', 'scheduled')",
            )
            .bind(id)
            .bind(column(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query)?;
        Ok(match self.get(id).await? {
            Some(row) if done == 1 => CancelOutcome::Cancelled(row),
            Some(row) => CancelOutcome::NotWaiting(row.status),
            None => CancelOutcome::Unknown,
        })
    }

    /// After a crash: every notification left `calling` is due again at `now`, its open
    /// attempt ended as `interrupted` (not counted). Returns how many.
    pub async fn recover(&self, now: UnixMillis) -> Result<u64, StoreError> {
        on_pool!(self.pool, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            sqlx::query(
                "UPDATE notification_attempts SET result = 'interrupted', ended_at_ms = $1, \
                 reason = 'the switch stopped during the attempt' WHERE result IS NULL \
                 AND notification_id IN (SELECT id FROM notifications WHERE status = 'calling')",
            )
            .bind(column(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query)?;
            let resumed = sqlx::query(
                "UPDATE notifications SET status = 'pending', next_attempt_at_ms = $1 \
                 WHERE status = 'calling'",
            )
            .bind(column(now))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query)?
            .rows_affected();
            tx.commit().await.map_err(StoreError::query)?;
            Ok(resumed)
        })
    }

    /// Fills in the attempts of `rows`.
    async fn load_attempts(&self, rows: &mut [NotificationRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let attempts: Vec<Attempt> = on_pool!(self.pool, pool => {
            let mut query = sqlx::QueryBuilder::new(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM notification_attempts WHERE notification_id IN ("
            ));
            let mut list = query.separated(", ");
            for row in rows.iter() {
                list.push_bind(row.id.as_str());
            }
            query.push(") ORDER BY notification_id, n");
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(StoreError::query)?;
        for attempt in attempts {
            if let Some(row) = rows.iter_mut().find(|r| r.id == attempt.notification_id) {
                row.attempts.push(attempt.into_row());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
