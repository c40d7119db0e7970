//! Tests of the record writer: ordering, retries, the pending gauge, spooling and replay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::test_records::{answered_call, rejected_call};
use super::writer::Backoff;
use super::{CallRecordStore, RecordWriter, SqlStore, StoreError, WriterReport};
use crate::call::{CallId, CallRecord};
use crate::cluster::BoxFuture;

/// A store that fails while `down` (or for its first `fail_first` attempts), and keeps what
/// it stores in insertion order, once per call id.
#[derive(Default)]
struct FakeStore {
    down: AtomicBool,
    fail_first: AtomicUsize,
    refuse: Mutex<Option<CallId>>,
    attempts: AtomicUsize,
    stored: Mutex<Vec<CallRecord>>,
    inserts: Mutex<HashMap<CallId, usize>>,
    /// Sizes of the batches the writer handed over.
    batches: Mutex<Vec<usize>>,
}

impl FakeStore {
    fn down() -> Arc<Self> {
        let store = Self::default();
        store.down.store(true, Ordering::SeqCst);
        Arc::new(store)
    }

    fn stored_ids(&self) -> Vec<CallId> {
        self.stored
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.call_id)
            .collect()
    }
}

fn outage() -> StoreError {
    StoreError::Query {
        source: sqlx::Error::PoolTimedOut,
    }
}

impl CallRecordStore for FakeStore {
    fn insert_call<'a>(&'a self, record: &'a CallRecord) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.attempts.fetch_add(1, Ordering::SeqCst);
            let failing_first = self
                .fail_first
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failing_first || self.down.load(Ordering::SeqCst) {
                return Err(outage());
            }
            if *self.refuse.lock().unwrap() == Some(record.call_id) {
                return Err(StoreError::OutOfRange { field: "bytes_in" });
            }
            let mut inserts = self.inserts.lock().unwrap();
            let count = inserts.entry(record.call_id).or_default();
            *count += 1;
            if *count == 1 {
                self.stored.lock().unwrap().push(record.clone());
            }
            Ok(())
        })
    }

    fn insert_calls<'a>(
        &'a self,
        records: &'a [CallRecord],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.batches.lock().unwrap().push(records.len());
            for record in records {
                self.insert_call(record).await?;
            }
            Ok(())
        })
    }
}

/// Waits (yielding to the writer) until `done` holds; fails the test after many rounds.
async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..20_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("condition never became true");
}

fn start(
    store: Arc<dyn CallRecordStore>,
    spool: &Path,
) -> (tokio::sync::mpsc::Sender<CallRecord>, RecordWriter) {
    RecordWriter::start_with(
        store,
        spool.to_path_buf(),
        8,
        Backoff::constant(Duration::from_millis(1)),
        Duration::ZERO,
    )
}

fn calls(n: u64) -> Vec<CallRecord> {
    (0..n).map(|i| answered_call(1_000_000 + i)).collect()
}

fn ids(records: &[CallRecord]) -> Vec<CallId> {
    records.iter().map(|r| r.call_id).collect()
}

fn spool_lines(path: &Path) -> Vec<CallRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn records_arriving_within_the_linger_are_written_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FakeStore::default());
    let (sender, writer) = RecordWriter::start_with(
        store.clone(),
        dir.path().join("cdr.spool"),
        8,
        Backoff::constant(Duration::from_millis(1)),
        Duration::from_millis(10),
    );
    let records = calls(3);
    for record in &records {
        sender.send(record.clone()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert_eq!(writer.written(), 3);
    assert_eq!(*store.batches.lock().unwrap(), vec![3]);
    assert_eq!(store.stored_ids(), ids(&records));
    drop(sender);
    writer.finish(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn records_wait_while_the_store_fails_then_are_written_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = FakeStore::down();
    let (sender, writer) = start(store.clone(), &dir.path().join("cdr.spool"));
    let records = calls(5);
    for record in &records {
        sender.send(record.clone()).await.unwrap();
    }

    until(|| store.attempts.load(Ordering::SeqCst) >= 3).await;
    assert_eq!(writer.pending(), 5);
    assert_eq!(writer.written(), 0);

    store.down.store(false, Ordering::SeqCst);
    until(|| writer.written() == 5).await;

    assert_eq!(writer.pending(), 0);
    assert_eq!(store.stored_ids(), ids(&records));
    assert!(store.inserts.lock().unwrap().values().all(|&n| n == 1));
    drop(sender);
    let report = writer.finish(Duration::from_secs(5)).await;
    assert_eq!(
        report,
        WriterReport {
            written: 5,
            ..WriterReport::default()
        }
    );
    assert!(!dir.path().join("cdr.spool").exists());
}

#[tokio::test]
async fn a_record_failing_a_few_times_keeps_its_place_in_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FakeStore::default());
    store.fail_first.store(4, Ordering::SeqCst);
    let (sender, writer) = start(store.clone(), &dir.path().join("cdr.spool"));
    let records = calls(3);
    for record in &records {
        sender.send(record.clone()).await.unwrap();
    }
    drop(sender);

    let report = writer.finish(Duration::from_secs(30)).await;

    assert_eq!(report.written, 3);
    assert_eq!(store.stored_ids(), ids(&records));
    assert_eq!(store.attempts.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn finish_spools_what_a_dead_store_never_took_and_the_next_writer_replays_it() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool/cdr.jsonl");
    let dead = FakeStore::down();
    let (sender, writer) = start(dead.clone(), &spool);
    let records = calls(4);
    for record in &records {
        sender.send(record.clone()).await.unwrap();
    }
    drop(sender);

    let report = writer.finish(Duration::from_millis(20)).await;

    assert_eq!(report.spooled, 4);
    assert_eq!(report.written, 0);
    assert_eq!(ids(&spool_lines(&spool)), ids(&records));

    let sql = Arc::new(
        SqlStore::connect(&format!(
            "sqlite://{}",
            dir.path().join("calls.db").display()
        ))
        .await
        .unwrap(),
    );
    let (sender, writer) = start(sql.clone(), &spool);
    let later = rejected_call(9_000_000);
    sender.send(later.clone()).await.unwrap();
    drop(sender);
    let report = writer.finish(Duration::from_secs(30)).await;

    assert_eq!(report.written, 5);
    assert_eq!(report.spooled, 0);
    assert!(!spool.exists());
    let mut stored = sql.calls(10).await.unwrap();
    stored.reverse();
    let mut expected = records;
    expected.push(later);
    assert_eq!(stored, expected);
}

#[tokio::test]
async fn a_replayed_spool_that_is_not_yet_written_is_spooled_again_with_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("cdr.spool");
    let old = calls(2);
    std::fs::write(
        &spool,
        old.iter()
            .map(|r| serde_json::to_string(r).unwrap() + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let (sender, writer) = start(FakeStore::down(), &spool);
    let new = rejected_call(5_000_000);
    sender.send(new.clone()).await.unwrap();

    let report = writer.finish(Duration::from_millis(20)).await;

    assert_eq!(report.spooled, 3);
    assert_eq!(
        ids(&spool_lines(&spool)),
        vec![old[0].call_id, old[1].call_id, new.call_id]
    );
    assert!(sender.send(rejected_call(6_000_000)).await.is_err());
}

#[tokio::test]
async fn a_corrupt_spool_line_moves_to_the_bad_file_and_the_rest_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("cdr.spool");
    let good = calls(2);
    let text = format!(
        "{}\n{{\"call_id\": truncated\n{}\n",
        serde_json::to_string(&good[0]).unwrap(),
        serde_json::to_string(&good[1]).unwrap()
    );
    std::fs::write(&spool, text).unwrap();
    let store = Arc::new(FakeStore::default());

    let (sender, writer) = start(store.clone(), &spool);
    drop(sender);
    let report = writer.finish(Duration::from_secs(30)).await;

    assert_eq!(report.written, 2);
    assert_eq!(store.stored_ids(), ids(&good));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("cdr.spool.bad")).unwrap(),
        "{\"call_id\": truncated\n"
    );
    assert!(!spool.exists());
}

#[tokio::test]
async fn a_record_the_store_refuses_for_good_is_set_aside_and_the_rest_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("cdr.spool");
    let store = Arc::new(FakeStore::default());
    let records = calls(3);
    *store.refuse.lock().unwrap() = Some(records[1].call_id);
    let (sender, writer) = start(store.clone(), &spool);
    for record in &records {
        sender.send(record.clone()).await.unwrap();
    }
    drop(sender);

    let report = writer.finish(Duration::from_secs(30)).await;

    assert_eq!((report.written, report.rejected), (2, 1));
    assert_eq!(
        store.stored_ids(),
        vec![records[0].call_id, records[2].call_id]
    );
    let rejected = spool_lines(&dir.path().join("cdr.spool.rejected"));
    assert_eq!(rejected, vec![records[1].clone()]);
}

#[tokio::test]
async fn finish_returns_at_once_when_all_is_written_and_the_senders_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FakeStore::default());
    let (sender, writer) = start(store.clone(), &dir.path().join("cdr.spool"));
    sender.send(rejected_call(1)).await.unwrap();
    drop(sender);

    // A grace far longer than any test run: finishing must not wait for it.
    let report = writer.finish(Duration::from_secs(3_600)).await;

    assert_eq!(report.written, 1);
}
