//! Durable data through sqlx: call detail records in SQLite (the embedded default) or
//! PostgreSQL (a cluster).
//!
//! Call actors put each finished call's [`CallRecord`] into the bounded channel of a
//! [`RecordWriter`]; the writer inserts records in order through a [`CallRecordStore`], keeps
//! them in memory and retries while the store fails, spools what is left to a file at
//! shutdown and replays that file at the next start. Inserts are idempotent on `call_id`, so
//! a retry or a replay never writes a call twice.
//!
//! Backends are chosen in `app.rs` ([`SqlStore::connect`] with the configured URL).

mod error;
pub mod notifications;
mod outbox;
#[cfg(test)]
mod outbox_tests;
mod query;
mod rows;
mod spool;
mod sql;
#[cfg(test)]
mod test_postgres;
#[cfg(test)]
mod test_records;
mod writer;
#[cfg(test)]
mod writer_tests;

pub use error::StoreError;
pub use outbox::{
    Delivery, DeliveryFilter, DeliveryState, FailedAttempt, NewDelivery, Outbox, RetryOutcome,
};
pub use query::{RecordKey, RecordQuery};
pub use sql::SqlStore;
pub use writer::{RecordWriter, WriterReport};

use crate::call::CallRecord;
use crate::cluster::BoxFuture;

/// Where call detail records are kept.
pub trait CallRecordStore: Send + Sync + 'static {
    /// Inserts the record and its legs atomically; inserting a `call_id` already present
    /// succeeds without a duplicate (idempotent: retries after an ambiguous failure never
    /// double-write).
    fn insert_call<'a>(&'a self, record: &'a CallRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Inserts several records, each as [`CallRecordStore::insert_call`] would. On an error
    /// some of them may be stored already; inserting them again is harmless (idempotent).
    /// Backends override it to write a batch in one transaction.
    fn insert_calls<'a>(
        &'a self,
        records: &'a [CallRecord],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            for record in records {
                self.insert_call(record).await?;
            }
            Ok(())
        })
    }
}
