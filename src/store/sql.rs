//! [`SqlStore`]: call records in SQLite or PostgreSQL through sqlx, one code path for both.
//!
//! One store holds a pool of either backend; each statement is written once with `$N`
//! placeholders (both backends accept them) and runs against whichever pool is there, except
//! the multi-row inserts of call records, which use `?` on SQLite (see [`Placeholders`]). The
//! schema comes from the embedded migrations of that backend (`migrations/sqlite`,
//! `migrations/postgres`), applied at connect.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::Row as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::rows::{CALL_COLUMNS, CallRow, LEG_COLUMNS, LegRow};
use super::{CallRecordStore, StoreError};
use crate::call::CallRecord;
use crate::cluster::BoxFuture;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a SQLite statement waits for another connection's write lock before failing
/// with SQLITE_BUSY (which the record writer then retries).
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite serialises writers; a few connections let reads run beside the writer (WAL).
const SQLITE_MAX_CONNECTIONS: u32 = 4;

const POSTGRES_MAX_CONNECTIONS: u32 = 8;

/// How long taking a connection from the pool may wait before the operation fails (and the
/// record writer retries).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most call ids in one `IN (...)` list when reading legs: far below both backends' limit on
/// bind parameters.
const LEGS_CHUNK: usize = 500;

/// Most rows in one multi-row insert: at 22 bind parameters a row (legs), far below both
/// backends' limits (SQLite 32766, PostgreSQL 65535).
const ROWS_PER_STATEMENT: usize = 64;

static SELECT_CALLS: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CALL_COLUMNS} FROM calls ORDER BY started_at_ms DESC, call_id DESC LIMIT $1")
});

static SELECT_LEGS: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {LEG_COLUMNS} FROM call_legs WHERE call_id IN ("));

/// The connection pool of the configured backend.
#[derive(Debug, Clone)]
pub(super) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool, whichever backend it is: the body is
/// written once and type-checked for each backend.
macro_rules! on_pool {
    ($pool:expr, $name:ident => $body:expr) => {
        match $pool {
            Pool::Sqlite($name) => $body,
            Pool::Postgres($name) => $body,
        }
    };
}
pub(super) use on_pool;

/// Call records in SQL: a SQLite file (the embedded default) or PostgreSQL (a cluster).
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) pool: Pool,
}

impl SqlStore {
    /// Opens the database named by `url` and brings its schema up to date.
    ///
    /// `sqlite://path/to/file.db` creates the parent directories and the file when missing and
    /// uses WAL with a busy timeout; `postgres://…` (or `postgresql://…`) connects to a
    /// server. Either way the backend's embedded migrations run before this returns.
    pub async fn connect(url: &str) -> Result<SqlStore, StoreError> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        let pool = match scheme {
            "sqlite" => Pool::Sqlite(connect_sqlite(url).await?),
            "postgres" | "postgresql" => Pool::Postgres(connect_postgres(url).await?),
            other => {
                return Err(StoreError::UnsupportedUrl {
                    scheme: other.to_owned(),
                });
            }
        };
        let migrated = match &pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        migrated.map_err(|source| StoreError::Migrate { source })?;
        Ok(SqlStore { pool })
    }

    /// How many calls are stored.
    pub async fn call_count(&self) -> Result<u64, StoreError> {
        let count: i64 = on_pool!(&self.pool, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM calls").fetch_one(pool).await
        })
        .map_err(StoreError::query)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The `limit` most recent calls (by start time), newest first, each with its legs.
    pub async fn calls(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let calls: Vec<CallRow> = on_pool!(&self.pool, pool => {
            sqlx::query_as(&SELECT_CALLS).bind(i64::from(limit)).fetch_all(pool).await
        })
        .map_err(StoreError::query)?;
        self.with_legs(calls).await
    }

    /// The records of `calls`, in their order, each with its legs.
    pub(super) async fn with_legs(
        &self,
        calls: Vec<CallRow>,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let ids: Vec<&str> = calls.iter().map(CallRow::call_id).collect();
        let mut legs: HashMap<String, Vec<LegRow>> = HashMap::new();
        // A call's row and its legs commit in one transaction and never change afterwards,
        // so reading the legs by id in separate statements sees all of them.
        for chunk in ids.chunks(LEGS_CHUNK) {
            let rows: Vec<LegRow> = on_pool!(&self.pool, pool => {
                let mut query = sqlx::QueryBuilder::new(SELECT_LEGS.as_str());
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                query.push(") ORDER BY call_id, leg_index");
                query.build_query_as().fetch_all(pool).await
            })
            .map_err(StoreError::query)?;
            for row in rows {
                legs.entry(row.call_id.clone()).or_default().push(row);
            }
        }
        calls
            .into_iter()
            .map(|call| {
                let call_legs = legs.remove(call.call_id()).unwrap_or_default();
                call.into_record(call_legs)
            })
            .collect()
    }

    /// Closes the pool: waits for statements in flight, then closes every connection (for
    /// SQLite this checkpoints the WAL into the database file).
    pub async fn close(&self) {
        on_pool!(&self.pool, pool => pool.close().await);
    }

    /// Inserts `records` in one transaction, several rows per statement: a statement per row
    /// would cost a round trip to the database each. Legs go in only for the calls that were
    /// new (the others are stored already, legs included: same transaction).
    async fn insert(&self, records: &[CallRecord]) -> Result<(), StoreError> {
        let mut calls = Vec::with_capacity(records.len());
        let mut legs = Vec::with_capacity(records.len());
        for record in records {
            calls.push(CallRow::from_record(record)?);
            legs.push(LegRow::from_record(record)?);
        }
        let ids: Vec<String> = calls.iter().map(|c| c.call_id().to_owned()).collect();
        let placeholders = match self.pool {
            Pool::Sqlite(_) => Placeholders::Anonymous,
            Pool::Postgres(_) => Placeholders::Numbered,
        };
        on_pool!(&self.pool, pool => {
            let mut tx = pool.begin().await.map_err(StoreError::query)?;
            let mut inserted = HashSet::new();
            let mut calls = calls;
            while let Some(rows) = next_chunk(&mut calls) {
                let sql = multi_row_insert(
                    "calls",
                    CALL_COLUMNS,
                    rows.len(),
                    placeholders,
                    " ON CONFLICT (call_id) DO NOTHING RETURNING call_id",
                );
                let mut query = sqlx::query(&sql);
                for call in rows {
                    query = call.bind(query);
                }
                for row in query.fetch_all(&mut *tx).await.map_err(StoreError::query)? {
                    inserted.insert(row.try_get::<String, _>(0).map_err(StoreError::query)?);
                }
            }
            // The first record with a new call id brings its legs (a record twice in one
            // batch is stored once).
            let mut new_legs: Vec<LegRow> = ids
                .iter()
                .zip(legs)
                .filter(|(id, _)| inserted.remove(id.as_str()))
                .flat_map(|(_, legs)| legs)
                .collect();
            while let Some(rows) = next_chunk(&mut new_legs) {
                let sql = multi_row_insert("call_legs", LEG_COLUMNS, rows.len(), placeholders, "");
                let mut query = sqlx::query(&sql);
                for leg in rows {
                    query = leg.bind(query);
                }
                query.execute(&mut *tx).await.map_err(StoreError::query)?;
            }
            tx.commit().await.map_err(StoreError::query)
        })
    }
}

/// How bind parameters are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `?`: SQLite looks `$N` names up one by one (quadratic in a multi-row statement).
    Anonymous,
    /// `$N`: what PostgreSQL understands.
    Numbered,
}

/// The next rows to write in one statement, taken from the front of `rows`: as many as
/// possible up to [`ROWS_PER_STATEMENT`], in a power-of-two count so that few distinct
/// statements are prepared and cached.
fn next_chunk<T>(rows: &mut Vec<T>) -> Option<Vec<T>> {
    let most = rows.len().min(ROWS_PER_STATEMENT);
    if most == 0 {
        return None;
    }
    let fit = 1 << most.ilog2();
    Some(rows.drain(..fit).collect())
}

/// `INSERT INTO table (columns) VALUES (...), ...` for `rows` rows, then `tail`; numbered
/// placeholders count on from row to row.
fn multi_row_insert(
    table: &str,
    columns: &str,
    rows: usize,
    placeholders: Placeholders,
    tail: &str,
) -> String {
    let width = columns.split(',').count();
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            match placeholders {
                Placeholders::Anonymous => sql.push('?'),
                Placeholders::Numbered => {
                    let _ = write!(sql, "${}", row * width + column + 1);
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

impl CallRecordStore for SqlStore {
    fn insert_call<'a>(&'a self, record: &'a CallRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.insert(std::slice::from_ref(record)))
    }

    fn insert_calls<'a>(
        &'a self,
        records: &'a [CallRecord],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.insert(records))
    }
}

async fn connect_sqlite(url: &str) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|source| StoreError::Connect { source })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    create_parent_dir(options.get_filename())?;
    SqlitePoolOptions::new()
        .max_connections(SQLITE_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| StoreError::Connect { source })
}

async fn connect_postgres(url: &str) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .map_err(|source| StoreError::Connect { source })
}

fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    //! Each check runs on a fresh SQLite file; `postgres_backend_passes_the_same_checks`
    //! runs them all on PostgreSQL: a throwaway cluster the test starts itself, or the server
    //! named by `SWITCHYARD_TEST_POSTGRES_URL` (one the test may create databases on).

    use super::*;
    use crate::store::test_postgres::TestPostgres;
    use crate::store::test_records::{answered_call, rejected_call};

    /// A database URL for a fresh, empty database; the directory holds SQLite files.
    struct Fresh {
        dir: tempfile::TempDir,
        postgres: Option<TestPostgres>,
    }

    impl Fresh {
        fn sqlite() -> Self {
            Fresh {
                dir: tempfile::tempdir().unwrap(),
                postgres: None,
            }
        }

        async fn url(&self) -> String {
            match &self.postgres {
                None => format!(
                    "sqlite://{}",
                    self.dir.path().join("var/calls.db").display()
                ),
                Some(server) => server.fresh_database().await,
            }
        }
    }

    async fn stored_call_reads_back_equal(fresh: &Fresh) {
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let record = answered_call(1_700_000_000_000);

        store.insert_call(&record).await.unwrap();

        assert_eq!(store.calls(10).await.unwrap(), vec![record]);
    }

    async fn same_call_twice_is_stored_once(fresh: &Fresh) {
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let record = answered_call(1_700_000_000_000);

        store.insert_call(&record).await.unwrap();
        store.insert_call(&record).await.unwrap();

        assert_eq!(store.call_count().await.unwrap(), 1);
        assert_eq!(store.calls(10).await.unwrap()[0].legs.len(), 3);
    }

    async fn newest_come_first_up_to_the_limit(fresh: &Fresh) {
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let old = answered_call(1_000_000);
        let rejected = rejected_call(2_000_000);
        let new = answered_call(3_000_000);
        for record in [&new, &old, &rejected] {
            store.insert_call(record).await.unwrap();
        }

        assert_eq!(store.calls(2).await.unwrap(), vec![new, rejected]);
        assert_eq!(store.call_count().await.unwrap(), 3);
    }

    async fn reconnecting_keeps_the_calls(fresh: &Fresh) {
        let url = fresh.url().await;
        let record = answered_call(1_700_000_000_000);
        let first = SqlStore::connect(&url).await.unwrap();
        first.insert_call(&record).await.unwrap();
        first.close().await;

        // The migrations already applied are recognised, not run again.
        let second = SqlStore::connect(&url).await.unwrap();

        assert_eq!(second.calls(10).await.unwrap(), vec![record]);
    }

    async fn out_of_range_counter_is_refused_for_good(fresh: &Fresh) {
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let mut record = answered_call(1_700_000_000_000);
        if let Some(media) = record.legs[0].media.as_mut() {
            media.bytes_in = u64::MAX;
        }

        let error = store.insert_call(&record).await.unwrap_err();

        assert!(matches!(error, StoreError::OutOfRange { .. }));
        assert!(!error.is_retryable());
        assert_eq!(store.call_count().await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_stored_call_reads_back_equal_with_legs_and_media_counters() {
        let fresh = Fresh::sqlite();
        stored_call_reads_back_equal(&fresh).await;

        assert!(fresh.dir.path().join("var/calls.db").is_file());
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let Pool::Sqlite(pool) = &store.pool else {
            panic!("a sqlite:// URL opens SQLite");
        };
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn inserting_the_same_call_twice_stores_it_once() {
        same_call_twice_is_stored_once(&Fresh::sqlite()).await;
    }

    #[test]
    fn a_multi_row_insert_numbers_the_placeholders_on_from_row_to_row() {
        assert_eq!(
            multi_row_insert("t", "a, b", 2, Placeholders::Numbered, " RETURNING a"),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) RETURNING a"
        );
        assert_eq!(
            multi_row_insert("t", "a, b", 2, Placeholders::Anonymous, ""),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn rows_go_in_power_of_two_chunks_in_order() {
        let mut rows: Vec<u32> = (0..100).collect();
        let mut sizes = Vec::new();
        let mut seen = Vec::new();
        while let Some(chunk) = next_chunk(&mut rows) {
            sizes.push(chunk.len());
            seen.extend(chunk);
        }
        assert_eq!(sizes, [64, 32, 4]);
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_batch_with_the_same_call_twice_stores_it_once() {
        let fresh = Fresh::sqlite();
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let record = answered_call(1_700_000_000_000);

        store
            .insert_calls(&[record.clone(), record.clone()])
            .await
            .unwrap();

        assert_eq!(store.calls(10).await.unwrap(), vec![record]);
    }

    #[tokio::test]
    async fn a_batch_stores_each_call_once_beside_one_already_stored() {
        let fresh = Fresh::sqlite();
        let store = SqlStore::connect(&fresh.url().await).await.unwrap();
        let first = answered_call(1_700_000_000_000);
        store.insert_call(&first).await.unwrap();
        let batch = [
            answered_call(1_700_000_001_000),
            first,
            answered_call(1_700_000_002_000),
        ];

        store.insert_calls(&batch).await.unwrap();

        assert_eq!(store.call_count().await.unwrap(), 3);
        assert!(
            store
                .calls(10)
                .await
                .unwrap()
                .iter()
                .all(|c| c.legs.len() == 3)
        );
    }

    #[tokio::test]
    async fn calls_come_newest_first_up_to_the_limit() {
        newest_come_first_up_to_the_limit(&Fresh::sqlite()).await;
    }

    #[tokio::test]
    async fn reconnecting_to_an_existing_database_keeps_its_calls() {
        reconnecting_keeps_the_calls(&Fresh::sqlite()).await;
    }

    #[tokio::test]
    async fn a_counter_beyond_the_column_range_is_refused_for_good() {
        out_of_range_counter_is_refused_for_good(&Fresh::sqlite()).await;
    }

    #[tokio::test]
    async fn legs_stored_before_trunks_and_stages_read_back_without_trunk_at_stage_0() {
        let fresh = Fresh::sqlite();
        let url = fresh.url().await;
        // The database as migration 0001 alone left it, with one call and its A leg.
        let first_only = fresh.dir.path().join("migrations-0001");
        std::fs::create_dir_all(&first_only).unwrap();
        std::fs::copy(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/migrations/sqlite/0001_calls.sql"
            ),
            first_only.join("0001_calls.sql"),
        )
        .unwrap();
        let pool = connect_sqlite(&url).await.unwrap();
        Migrator::new(first_only.as_path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        let call_id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO calls (call_id, profile, from_uri, to_uri, started_at_ms, \
             ended_at_ms, duration_secs, billable_secs, hangup_cause, sip_status, q850, \
             hangup_side) VALUES (?, 'default', 'sip:a@x', 'sip:b@x', 1000, 2000, 1, 0, \
             'user_busy', 486, 17, 'callee')",
        )
        .bind(&call_id)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO call_legs (call_id, leg_index, side, sip_call_id, local_tag, target, \
             started_at_ms, ended_at_ms, final_status) VALUES (?, 0, 'b', 'c', 't', 'sip:b@x', \
             1000, 2000, 486)",
        )
        .bind(&call_id)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let store = SqlStore::connect(&url).await.unwrap();

        let calls = store.calls(10).await.unwrap();
        let leg = &calls[0].legs[0];
        assert_eq!((leg.trunk.as_deref(), leg.stage), (None, 0));
        assert_eq!(leg.final_status, Some(486));
    }

    #[tokio::test]
    async fn postgres_backend_passes_the_same_checks() {
        let fresh = Fresh {
            dir: tempfile::tempdir().unwrap(),
            postgres: Some(TestPostgres::start()),
        };
        stored_call_reads_back_equal(&fresh).await;
        same_call_twice_is_stored_once(&fresh).await;
        newest_come_first_up_to_the_limit(&fresh).await;
        reconnecting_keeps_the_calls(&fresh).await;
        out_of_range_counter_is_refused_for_good(&fresh).await;
    }

    #[tokio::test]
    async fn an_unknown_url_scheme_is_refused_without_echoing_the_url() {
        let error = SqlStore::connect("mysql://user:secret@db/calls")
            .await
            .unwrap_err();

        assert!(matches!(&error, StoreError::UnsupportedUrl { scheme } if scheme == "mysql"));
        assert!(!error.to_string().contains("secret"));
        assert!(!error.is_retryable());
    }
}
