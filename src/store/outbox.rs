//! The webhook outbox in SQL: one row per (event, target) to deliver, kept until it is
//! delivered or dead-lettered, so events survive a restart and a receiver outage.
//!
//! Rows of one target and one ordering key go out in id order: a row is due only when no
//! earlier row of its key is still pending. [`Outbox::claim_due`] leases the due rows (moves
//! their next attempt past the lease) so a second switch on the same PostgreSQL database
//! does not send them at the same time; a lease that lapses (a crash mid-delivery) makes the
//! row due again.

use sqlx::QueryBuilder;

use super::StoreError;
use super::sql::{Pool, SqlStore, on_pool};
use crate::cluster::UnixMillis;

/// Columns of `webhook_outbox` read into a [`DeliveryRow`].
const COLUMNS: &str = "id, target, event_seq, event_type, ordering_key, payload, state, \
     attempts, next_attempt_at_ms, last_status, last_error, created_at_ms, delivered_at_ms";

/// Most rows in one multi-row insert: at 9 bind parameters a row, far below both backends'
/// limits on bind parameters.
const ROWS_PER_STATEMENT: usize = 64;

/// Longest `last_error` stored, in bytes.
const MAX_ERROR_LEN: usize = 500;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its (next) attempt.
    Pending,
    /// The target answered 2xx.
    Delivered,
    /// Every attempt failed: dead-lettered until an operator retries it.
    Dead,
}

impl DeliveryState {
    /// The stored and wire name (`pending`, `delivered`, `dead`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// An event to deliver to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The target's configured name.
    pub target: String,
    /// The event's sequence number on the bus (restarts from 1 with the process).
    pub event_seq: u64,
    /// The event's wire type (`call.hungup`, …).
    pub event_type: String,
    /// Rows of one key go out in order: the call id, `registration:<aor>` or the trunk.
    pub ordering_key: String,
    /// The JSON body to POST.
    pub payload: String,
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Row id: unique for good, sent as the idempotency key.
    pub id: i64,
    /// The target's configured name.
    pub target: String,
    /// The event's sequence number on the bus.
    pub event_seq: u64,
    /// The event's wire type.
    pub event_type: String,
    /// Its ordering key.
    pub ordering_key: String,
    /// The JSON body.
    pub payload: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending rows).
    pub next_attempt_at: UnixMillis,
    /// HTTP status of the last attempt, when the target answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the row was written.
    pub created_at: UnixMillis,
    /// When the target accepted it.
    pub delivered_at: Option<UnixMillis>,
}

/// What a listing selects: newest first, ids below `before`, up to `limit` rows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryFilter {
    /// Only rows in this state.
    pub state: Option<DeliveryState>,
    /// Only rows of this target.
    pub target: Option<String>,
    /// Only rows with a smaller id (paging).
    pub before: Option<i64>,
    /// Most rows returned.
    pub limit: u32,
}

/// How a failed attempt leaves the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// Attempts made, this one included.
    pub attempts: u32,
    /// The target's HTTP status, when it answered.
    pub status: Option<u16>,
    /// What went wrong.
    pub error: String,
    /// When to try again; None: dead-lettered.
    pub retry_at: Option<UnixMillis>,
}

/// What asking to retry a delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// The dead row is pending again, its attempts reset.
    Requeued(Delivery),
    /// The row is not dead (it is in this state).
    NotDead(DeliveryState),
    /// No row has this id.
    Unknown,
}

/// The outbox operations on a [`SqlStore`].
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'a> {
    pool: &'a Pool,
}

impl SqlStore {
    /// The webhook outbox of this database.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox { pool: &self.pool }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    target: String,
    event_seq: i64,
    event_type: String,
    ordering_key: String,
    payload: String,
    state: String,
    attempts: i32,
    next_attempt_at_ms: i64,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at_ms: i64,
    delivered_at_ms: Option<i64>,
}

impl DeliveryRow {
    fn into_delivery(self) -> Result<Delivery, StoreError> {
        let state = DeliveryState::parse(&self.state).ok_or_else(|| StoreError::CorruptRow {
            call_id: format!("webhook delivery {}", self.id),
            problem: "unknown delivery state",
        })?;
        Ok(Delivery {
            id: self.id,
            target: self.target,
            event_seq: u64::try_from(self.event_seq).unwrap_or(0),
            event_type: self.event_type,
            ordering_key: self.ordering_key,
            payload: self.payload,
            state,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: millis(self.next_attempt_at_ms),
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            created_at: millis(self.created_at_ms),
            delivered_at: self.delivered_at_ms.map(millis),
        })
    }
}

fn millis(ms: i64) -> UnixMillis {
    UnixMillis(u64::try_from(ms).unwrap_or(0))
}

fn column(time: UnixMillis) -> i64 {
    i64::try_from(time.0).unwrap_or(i64::MAX)
}

fn into_deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, StoreError> {
    rows.into_iter().map(DeliveryRow::into_delivery).collect()
}

/// `error` cut to [`MAX_ERROR_LEN`] bytes at a character boundary.
fn bounded(error: &str) -> &str {
    if error.len() <= MAX_ERROR_LEN {
        return error;
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

/// The head of each key of target `$1`: its earliest pending row. Read from the partial
/// index of pending rows, so its cost grows with the pending rows, not the delivered ones.
const HEADS: &str = "SELECT MIN(id) AS id FROM webhook_outbox \
     WHERE target = $1 AND state = 'pending' GROUP BY ordering_key";

impl Outbox<'_> {
    /// Writes `rows` in one transaction, pending and due at `now`, in order (ids ascend in
    /// the order given).
    pub async fn insert(&self, rows: &[NewDelivery], now: UnixMillis) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = column(now);
        on_pool!(self.pool, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                let mut query = QueryBuilder::new(
                    "INSERT INTO webhook_outbox (target, event_seq, event_type, ordering_key, \
                     payload, state, attempts, next_attempt_at_ms, created_at_ms) ",
                );
                query.push_values(chunk, |mut values, row| {
                    values
                        .push_bind(row.target.as_str())
                        .push_bind(i64::try_from(row.event_seq).unwrap_or(i64::MAX))
                        .push_bind(row.event_type.as_str())
                        .push_bind(row.ordering_key.as_str())
                        .push_bind(row.payload.as_str())
                        .push_bind(DeliveryState::Pending.as_str())
                        .push_bind(0i32)
                        .push_bind(now)
                        .push_bind(now);
                });
                query.build().execute(&mut *tx).await.map_err(StoreError::query)?;
            }
            tx.commit().await.map_err(StoreError::query)
        })
    }

    /// Takes up to `limit` due rows of `target` (pending, the head of their key, next
    /// attempt at or before `now`), oldest first, and leases them until `lease_until`.
    pub async fn claim_due(
        &self,
        target: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        // The outer `next_attempt_at_ms <= $2` is checked again on the row PostgreSQL locks,
        // so two switches updating at once cannot both lease the same row.
        let sql = format!(
            "UPDATE webhook_outbox SET next_attempt_at_ms = $3 \
             WHERE state = 'pending' AND next_attempt_at_ms <= $2 AND id IN (\
             SELECT o.id FROM webhook_outbox o JOIN ({HEADS}) h ON o.id = h.id \
             WHERE o.next_attempt_at_ms <= $2 ORDER BY o.id LIMIT $4) \
             RETURNING {COLUMNS}"
        );
        let rows: Vec<DeliveryRow> = on_pool!(self.pool, pool => {
            sqlx::query_as(&sql)
                .bind(target)
                .bind(column(now))
                .bind(column(lease_until))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query)?;
        let mut due = into_deliveries(rows)?;
        due.sort_by_key(|d| d.id);
        Ok(due)
    }

    /// When the earliest pending row of `target` that heads its key is due; None when
    /// `target` has nothing pending.
    pub async fn next_due(&self, target: &str) -> Result<Option<UnixMillis>, StoreError> {
        let sql = format!(
            "SELECT MIN(o.next_attempt_at_ms) FROM webhook_outbox o JOIN ({HEADS}) h ON o.id = h.id"
        );
        let due: Option<i64> = on_pool!(self.pool, pool => {
            sqlx::query_scalar(&sql).bind(target).fetch_one(pool).await
        })
        .map_err(StoreError::query)?;
        Ok(due.map(millis))
    }

    /// The target accepted row `id` with `status` at `now`.
    pub async fn mark_delivered(
        &self,
        id: i64,
        status: u16,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        on_pool!(self.pool, pool => {
            sqlx::query(
                "UPDATE webhook_outbox SET state = 'delivered', attempts = attempts + 1, \
                 last_status = $2, last_error = NULL, delivered_at_ms = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(i32::from(status))
            .bind(column(now))
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query)?;
        Ok(())
    }

    /// An attempt at row `id` failed: records it, and either schedules the next attempt or
    /// dead-letters the row.
    pub async fn mark_failed(&self, id: i64, failed: &FailedAttempt) -> Result<(), StoreError> {
        // A dead row's next attempt is never read (a retry sets it).
        let (state, next) = match failed.retry_at {
            Some(at) => (DeliveryState::Pending, column(at)),
            None => (DeliveryState::Dead, 0),
        };
        on_pool!(self.pool, pool => {
            sqlx::query(
                "UPDATE webhook_outbox SET state = $2, attempts = $3, last_status = $4, \
                 last_error = $5, next_attempt_at_ms = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(i32::try_from(failed.attempts).unwrap_or(i32::MAX))
            .bind(failed.status.map(i32::from))
            .bind(bounded(&failed.error))
            .bind(next)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query)?;
        Ok(())
    }

    /// Ends the lease of rows `ids` that are still pending: they are due at `now` again (a
    /// delivery cut short by shutdown).
    pub async fn release(&self, ids: &[i64], now: UnixMillis) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        on_pool!(self.pool, pool => {
            let mut query = QueryBuilder::new("UPDATE webhook_outbox SET next_attempt_at_ms = ");
            query.push_bind(column(now));
            query.push(" WHERE state = 'pending' AND id IN (");
            let mut list = query.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            query.push(")");
            query.build().execute(pool).await.map(|_| ())
        })
        .map_err(StoreError::query)?;
        Ok(())
    }

    /// Rows matching `filter`, newest first.
    pub async fn list(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let rows: Vec<DeliveryRow> = on_pool!(self.pool, pool => {
            let mut query = QueryBuilder::new(format!("SELECT {COLUMNS} FROM webhook_outbox WHERE 1 = 1"));
            if let Some(state) = filter.state {
                query.push(" AND state = ").push_bind(state.as_str());
            }
            if let Some(target) = &filter.target {
                query.push(" AND target = ").push_bind(target.as_str());
            }
            if let Some(before) = filter.before {
                query.push(" AND id < ").push_bind(before);
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit));
            query.build_query_as().fetch_all(pool).await
        })
        .map_err(StoreError::query)?;
        into_deliveries(rows)
    }

    /// Row `id`, if there is one.
    pub async fn get(&self, id: i64) -> Result<Option<Delivery>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_outbox WHERE id = $1");
        let row: Option<DeliveryRow> = on_pool!(self.pool, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await
        })
        .map_err(StoreError::query)?;
        row.map(DeliveryRow::into_delivery).transpose()
    }

    /// Puts dead row `id` back to pending, due at `now`, its attempts reset.
    pub async fn retry(&self, id: i64, now: UnixMillis) -> Result<RetryOutcome, StoreError> {
        let sql = format!(
            "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_attempt_at_ms = $2 \
             WHERE id = $1 AND state = 'dead' RETURNING {COLUMNS}"
        );
        let row: Option<DeliveryRow> = on_pool!(self.pool, pool => {
            sqlx::query_as(&sql).bind(id).bind(column(now)).fetch_optional(pool).await
        })
        .map_err(StoreError::query)?;
        if let Some(row) = row {
            return Ok(RetryOutcome::Requeued(row.into_delivery()?));
        }
        Ok(match self.get(id).await? {
            Some(row) => RetryOutcome::NotDead(row.state),
            None => RetryOutcome::Unknown,
        })
    }

    /// Deletes up to `limit` delivered rows delivered before `before`, oldest first; returns
    /// how many. Pending and dead rows are kept.
    pub async fn purge_delivered(&self, before: UnixMillis, limit: u32) -> Result<u64, StoreError> {
        on_pool!(self.pool, pool => {
            sqlx::query(
                "DELETE FROM webhook_outbox WHERE id IN (SELECT id FROM webhook_outbox \
                 WHERE state = 'delivered' AND delivered_at_ms < $1 ORDER BY id LIMIT $2)",
            )
            .bind(column(before))
            .bind(i64::from(limit))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query)
    }

    /// Targets with pending rows, each with how many (for the startup log).
    pub async fn pending_by_target(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = on_pool!(self.pool, pool => {
            sqlx::query_as(
                "SELECT target, COUNT(*) FROM webhook_outbox WHERE state = 'pending' \
                 GROUP BY target ORDER BY target",
            )
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query)?;
        Ok(rows
            .into_iter()
            .map(|(target, n)| (target, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}
