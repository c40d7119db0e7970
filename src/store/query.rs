//! Reading call records back for the control API: filtered by start time, number and hangup
//! cause, newest first, paged by keyset on `(started_at_ms, call_id)` so a page never skips or
//! repeats a call while new ones are written. Every value is a bind parameter, never text
//! spliced into the SQL, and one statement serves SQLite and PostgreSQL.

use sqlx::QueryBuilder;

use super::StoreError;
use super::rows::{CALL_COLUMNS, CallRow};
use super::sql::{Pool, SqlStore, on_pool};
use crate::call::CallRecord;

/// Where a page of records ends: the last record's start time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    /// `started_at` of the last record, Unix milliseconds.
    pub started_at_ms: i64,
    /// `call_id` of the last record.
    pub call_id: String,
}

/// Which records [`SqlStore::query_calls`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordQuery {
    /// Only calls that started at or after this time (Unix milliseconds).
    pub from_ms: Option<i64>,
    /// Only calls that started before this time (Unix milliseconds).
    pub to_ms: Option<i64>,
    /// Only calls where this is the authenticated caller, or the user part of the From or To
    /// URI (`sip:N@…`, `sips:N@…`, `tel:N`), compared exactly.
    pub number: Option<String>,
    /// Only calls with this hangup cause code.
    pub cause: Option<String>,
    /// Only calls that were recorded (their record carries a recording, complete or failed).
    pub recorded: bool,
    /// Only calls after this key in newest-first order (the previous page's last record).
    pub after: Option<RecordKey>,
    /// At most this many records.
    pub limit: u32,
}

impl SqlStore {
    /// The records `query` selects, newest first (by start time, then call id descending),
    /// each with its legs.
    pub async fn query_calls(&self, query: &RecordQuery) -> Result<Vec<CallRecord>, StoreError> {
        let calls: Vec<CallRow> = on_pool!(&self.pool, pool => {
            let mut sql = QueryBuilder::new(format!("SELECT {CALL_COLUMNS} FROM calls WHERE 1 = 1"));
            push_filters(&mut sql, query);
            sql.push(" ORDER BY started_at_ms DESC, call_id DESC LIMIT ");
            sql.push_bind(i64::from(query.limit));
            sql.build_query_as().fetch_all(pool).await
        })
        .map_err(StoreError::query)?;
        self.with_legs(calls).await
    }

    /// The record of the call `call_id` (our id, as text), with its legs; None when no such
    /// call is stored.
    pub async fn call_record(&self, call_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let calls: Vec<CallRow> = on_pool!(&self.pool, pool => {
            let mut sql = QueryBuilder::new(format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_id = "));
            sql.push_bind(call_id);
            sql.build_query_as().fetch_all(pool).await
        })
        .map_err(StoreError::query)?;
        Ok(self.with_legs(calls).await?.into_iter().next())
    }

    /// Runs a trivial statement: `Ok` when the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let one: i32 = on_pool!(&self.pool, pool => {
            sqlx::query_scalar("SELECT 1").fetch_one(pool).await
        })
        .map_err(StoreError::query)?;
        debug_assert_eq!(one, 1);
        Ok(())
    }
}

/// Appends `AND …` conditions for the filters and the keyset position of `query`.
fn push_filters<'a, DB>(sql: &mut QueryBuilder<'a, DB>, query: &'a RecordQuery)
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i32: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if let Some(from) = query.from_ms {
        sql.push(" AND started_at_ms >= ").push_bind(from);
    }
    if let Some(to) = query.to_ms {
        sql.push(" AND started_at_ms < ").push_bind(to);
    }
    if let Some(cause) = &query.cause {
        sql.push(" AND hangup_cause = ").push_bind(cause.as_str());
    }
    if query.recorded {
        sql.push(" AND recording_path IS NOT NULL");
    }
    if let Some(number) = &query.number {
        sql.push(" AND (caller = ").push_bind(number.as_str());
        for column in ["from_uri", "to_uri"] {
            sql.push(format!(" OR {column} = "))
                .push_bind(format!("tel:{number}"));
            // The user part is everything before `@` (RFC 3261 §19.1.1); a tel URI's number
            // ends at its first parameter (RFC 3966 §3).
            for prefix in [
                format!("sip:{number}@"),
                format!("sips:{number}@"),
                format!("tel:{number};"),
            ] {
                let len = i32::try_from(prefix.len()).unwrap_or(i32::MAX);
                sql.push(format!(" OR substr({column}, 1, "))
                    .push_bind(len)
                    .push(") = ")
                    .push_bind(prefix);
            }
        }
        sql.push(")");
    }
    if let Some(after) = &query.after {
        sql.push(" AND (started_at_ms < ")
            .push_bind(after.started_at_ms)
            .push(" OR (started_at_ms = ")
            .push_bind(after.started_at_ms)
            .push(" AND call_id < ")
            .push_bind(after.call_id.as_str())
            .push("))");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    //! Each check runs on a fresh SQLite file; `postgres_runs_the_same_queries` runs them on
    //! PostgreSQL too.

    use super::*;
    use crate::call::{CallId, RecordingInfo};
    use crate::store::CallRecordStore as _;
    use crate::store::test_postgres::TestPostgres;
    use crate::store::test_records::answered_call;

    fn call(started: u64, from: &str, to: &str, cause: &str) -> CallRecord {
        let mut record = answered_call(started);
        record.call_id = CallId::new_random();
        record.from_uri = format!("sip:{from}@switchyard.test");
        record.caller = Some(from.to_owned());
        record.to_uri = to.to_owned();
        record.hangup.cause = cause.to_owned();
        record
    }

    fn ids(records: &[CallRecord]) -> Vec<CallId> {
        records.iter().map(|r| r.call_id).collect()
    }

    async fn filters_and_pages(store: &SqlStore) {
        let a = call(1_000, "1000", "sip:1001@switchyard.test", "normal_clearing");
        let b = call(
            2_000,
            "1002",
            "sip:+15551234@carrier.example;user=phone",
            "user_busy",
        );
        let c = call(
            3_000,
            "1000",
            "tel:+15551234;phone-context=x",
            "normal_clearing",
        );
        let d = call(3_000, "1003", "sip:10010@switchyard.test", "no_answer");
        for record in [&a, &b, &c, &d] {
            store.insert_call(record).await.unwrap();
        }
        let all = RecordQuery {
            limit: 10,
            ..RecordQuery::default()
        };
        let newest_first = store.query_calls(&all).await.unwrap();
        let (first_of_3000, second_of_3000) = if c.call_id.to_string() > d.call_id.to_string() {
            (c.call_id, d.call_id)
        } else {
            (d.call_id, c.call_id)
        };
        assert_eq!(
            ids(&newest_first),
            [first_of_3000, second_of_3000, b.call_id, a.call_id]
        );
        assert_eq!(
            newest_first[0].legs.len(),
            3,
            "records come with their legs"
        );

        let number = |n: &str| RecordQuery {
            number: Some(n.into()),
            ..all.clone()
        };
        assert_eq!(
            ids(&store.query_calls(&number("1001")).await.unwrap()),
            [a.call_id],
            "exact user part: 1001 is not 10010"
        );
        assert_eq!(
            ids(&store.query_calls(&number("+15551234")).await.unwrap()),
            [c.call_id, b.call_id]
        );
        assert_eq!(
            ids(&store.query_calls(&number("1000")).await.unwrap()),
            [c.call_id, a.call_id]
        );
        assert!(store.query_calls(&number("%")).await.unwrap().is_empty());

        let range = RecordQuery {
            from_ms: Some(2_000),
            to_ms: Some(3_000),
            ..all.clone()
        };
        assert_eq!(ids(&store.query_calls(&range).await.unwrap()), [b.call_id]);
        let busy = RecordQuery {
            cause: Some("user_busy".into()),
            ..all.clone()
        };
        assert_eq!(ids(&store.query_calls(&busy).await.unwrap()), [b.call_id]);

        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .query_calls(&RecordQuery {
                    limit: 1,
                    after: after.clone(),
                    ..RecordQuery::default()
                })
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some(RecordKey {
                started_at_ms: last.started_at.0 as i64,
                call_id: last.call_id.to_string(),
            });
            paged.extend(ids(&page));
        }
        assert_eq!(
            paged,
            ids(&newest_first),
            "pages of one cover every call once"
        );
        store.ping().await.unwrap();
    }

    async fn recordings_round_trip(store: &SqlStore) {
        let plain = call(1_000, "1000", "sip:1001@switchyard.test", "normal_clearing");
        let mut complete = call(2_000, "1000", "sip:1001@switchyard.test", "normal_clearing");
        complete.recording = Some(RecordingInfo {
            path: "/var/rec/2026/11/23/x.wav".into(),
            duration_ms: 12_340,
            sha256: Some("ab".repeat(32)),
            status: "complete".into(),
            error: None,
        });
        let mut failed = call(3_000, "1000", "sip:1001@switchyard.test", "normal_clearing");
        failed.recording = Some(RecordingInfo {
            path: "/var/rec/2026/11/23/y.wav".into(),
            duration_ms: 0,
            sha256: None,
            status: "failed".into(),
            error: Some("permission denied".into()),
        });
        for record in [&plain, &complete, &failed] {
            store.insert_call(record).await.unwrap();
        }
        let recorded = RecordQuery {
            recorded: true,
            limit: 10,
            ..RecordQuery::default()
        };
        let found = store.query_calls(&recorded).await.unwrap();
        assert_eq!(ids(&found), [failed.call_id, complete.call_id]);
        assert_eq!(found[0].recording, failed.recording);
        assert_eq!(found[1].recording, complete.recording);

        let one = store
            .call_record(&complete.call_id.to_string())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one, complete, "the whole record, recording and legs");
        let none = store.call_record(&plain.call_id.to_string()).await.unwrap();
        assert_eq!(none.unwrap().recording, None);
        assert!(
            store
                .call_record(&CallId::new_random().to_string())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn recordings_are_stored_with_their_records_and_listed_on_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("calls.db").display());
        recordings_round_trip(&SqlStore::connect(&url).await.unwrap()).await;
    }

    #[tokio::test]
    async fn postgres_stores_recordings_the_same_way() {
        let server = TestPostgres::start();
        let store = SqlStore::connect(&server.fresh_database().await)
            .await
            .unwrap();
        recordings_round_trip(&store).await;
    }

    #[tokio::test]
    async fn records_are_filtered_by_time_number_and_cause_and_paged_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("calls.db").display());
        filters_and_pages(&SqlStore::connect(&url).await.unwrap()).await;
    }

    #[tokio::test]
    async fn postgres_runs_the_same_queries() {
        let server = TestPostgres::start();
        let store = SqlStore::connect(&server.fresh_database().await)
            .await
            .unwrap();
        filters_and_pages(&store).await;
    }
}
