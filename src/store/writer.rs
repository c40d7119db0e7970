//! [`RecordWriter`]: the task between call actors and the store. Writes records in the order
//! they arrive, keeps them in memory and retries while the store fails, spools what is left
//! at shutdown and replays the spool at the next start.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use super::{CallRecordStore, StoreError, spool};
use crate::call::CallRecord;

/// Most records held in memory. Beyond it the writer stops taking from the channel, so call
/// actors wait in `send` (their calls have ended; signalling and media are not affected).
const MAX_BUFFERED: usize = 100_000;

/// Most records written in one store call (one transaction): the records that queued while
/// the previous write was in flight go together.
const MAX_BATCH: usize = 64;

/// How long the writer waits for more records to join a batch: a transaction (and its sync
/// to disk) per record would cost more CPU than the calls themselves under load. Records are
/// written at most this much later.
const LINGER: Duration = Duration::from_millis(10);

/// Retry delays while the store fails: doubling from the first to the cap.
#[derive(Debug, Clone, Copy)]
pub(super) struct Backoff {
    first: Duration,
    max: Duration,
}

impl Backoff {
    /// 100 ms doubling to 5 s.
    pub(super) const DEFAULT: Backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(5),
    };

    #[cfg(test)]
    pub(super) fn constant(delay: Duration) -> Self {
        Backoff {
            first: delay,
            max: delay,
        }
    }
}

/// What the writer did over its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriterReport {
    /// Records inserted into the store (replayed spool records included).
    pub written: u64,
    /// Records appended to the spool file at shutdown, to be replayed at the next start.
    pub spooled: u64,
    /// Records the store refused for good (a non-retryable error), saved to
    /// `<spool>.rejected` instead of blocking the records behind them.
    pub rejected: u64,
    /// Records that could not be stored, spooled or saved anywhere (each logged with its
    /// call id at error level).
    pub lost: u64,
}

/// Counters the writer task updates and the handle reads.
#[derive(Debug, Default)]
struct Gauges {
    buffered: AtomicU64,
    written: AtomicU64,
}

/// Handle of the call record writer task (see the module doc). Call [`RecordWriter::finish`]
/// at shutdown: dropping the handle leaves the task running until every sender is gone and
/// every record is written.
#[derive(Debug)]
pub struct RecordWriter {
    gauges: Arc<Gauges>,
    sender: mpsc::WeakSender<CallRecord>,
    finish: oneshot::Sender<Instant>,
    task: JoinHandle<WriterReport>,
}

impl RecordWriter {
    /// Starts the writer task: returns the bounded sender calls put their records into, and
    /// the writer handle. Records left in the spool file at `spool_path` by an earlier run are
    /// written first. Must be called within a tokio runtime.
    pub fn start(
        store: Arc<dyn CallRecordStore>,
        spool_path: PathBuf,
        queue: usize,
    ) -> (mpsc::Sender<CallRecord>, RecordWriter) {
        Self::start_with(store, spool_path, queue, Backoff::DEFAULT, LINGER)
    }

    pub(super) fn start_with(
        store: Arc<dyn CallRecordStore>,
        spool_path: PathBuf,
        queue: usize,
        backoff: Backoff,
        linger: Duration,
    ) -> (mpsc::Sender<CallRecord>, RecordWriter) {
        let (sender, receiver) = mpsc::channel(queue.max(1));
        let (finish, finish_rx) = oneshot::channel();
        let gauges = Arc::new(Gauges::default());
        let task = Task {
            store,
            receiver,
            closed: false,
            fifo: VecDeque::new(),
            spool_path,
            from_spool: 0,
            spool_complete: true,
            gauges: Arc::clone(&gauges),
            grace: Grace::Waiting(finish_rx),
            backoff,
            delay: backoff.first,
            failing: false,
            single: 0,
            linger,
            report: WriterReport::default(),
        };
        let writer = RecordWriter {
            gauges,
            sender: sender.downgrade(),
            finish,
            task: tokio::spawn(task.run()),
        };
        (sender, writer)
    }

    /// Records received but not yet in the store: queued in the channel or held by the
    /// writer (a gauge: it grows while the store is down).
    pub fn pending(&self) -> u64 {
        let queued = self.sender.upgrade().map_or(0, |sender| {
            sender.max_capacity().saturating_sub(sender.capacity())
        });
        self.gauges.buffered.load(Ordering::Relaxed) + queued as u64
    }

    /// Records written to the store so far.
    pub fn written(&self) -> u64 {
        self.gauges.written.load(Ordering::Relaxed)
    }

    /// Shutdown: after every sender is dropped (or now), keeps writing for at most `grace`,
    /// then appends what is left to the spool file (fsync) so nothing is lost. Records sent
    /// after the grace are refused (`send` fails and hands the record back).
    pub async fn finish(self, grace: Duration) -> WriterReport {
        // An error means the task already ended: every sender was dropped and all was written.
        let _ = self.finish.send(Instant::now() + grace);
        match self.task.await {
            Ok(report) => report,
            Err(error) => {
                tracing::error!(%error, "call record writer task failed");
                WriterReport {
                    written: self.gauges.written.load(Ordering::Relaxed),
                    lost: self.gauges.buffered.load(Ordering::Relaxed),
                    ..WriterReport::default()
                }
            }
        }
    }
}

/// When the shutdown grace ends.
enum Grace {
    /// `finish` not called yet.
    Waiting(oneshot::Receiver<Instant>),
    /// `finish` called: write until then.
    Until(Instant),
    /// The handle was dropped without `finish`: write until every sender is gone.
    Never,
}

impl Grace {
    /// Resolves when the grace has run out; never before `finish` is called.
    async fn over(&mut self) {
        loop {
            match self {
                Grace::Waiting(finish) => {
                    *self = match finish.await {
                        Ok(deadline) => Grace::Until(deadline),
                        Err(_) => Grace::Never,
                    };
                }
                Grace::Until(deadline) => return sleep_until(*deadline).await,
                Grace::Never => return std::future::pending().await,
            }
        }
    }
}

struct Task {
    store: Arc<dyn CallRecordStore>,
    receiver: mpsc::Receiver<CallRecord>,
    /// Every sender is gone (or the grace is over and the channel closed).
    closed: bool,
    /// Records not yet stored, oldest first; the head is the one being written.
    fifo: VecDeque<CallRecord>,
    spool_path: PathBuf,
    /// How many records at the head of `fifo` came from the spool file: when they are all
    /// stored, the file is removed.
    from_spool: usize,
    /// Whether the spool file's whole content is in `fifo` or in `.bad` (see
    /// [`spool::Loaded::complete`]): only then may it be removed or replaced.
    spool_complete: bool,
    gauges: Arc<Gauges>,
    grace: Grace,
    backoff: Backoff,
    delay: Duration,
    /// The store is failing: warned once, an info follows on recovery.
    failing: bool,
    /// Records at the head to write one at a time: a batch was refused for good, and the
    /// record that caused it must be found and set aside alone.
    single: usize,
    /// See [`LINGER`].
    linger: Duration,
    report: WriterReport,
}

impl Task {
    async fn run(mut self) -> WriterReport {
        self.replay_spool().await;
        loop {
            self.take_queued();
            if self.fifo.is_empty() {
                if self.closed {
                    return self.report;
                }
                let received = tokio::select! {
                    biased;
                    () = self.grace.over() => break,
                    received = self.receiver.recv() => received,
                };
                self.receive(received);
                continue;
            }
            let gather = self.single == 0 && !self.failing && !self.linger.is_zero();
            if gather && !self.gather().await {
                break;
            }
            let batch = if self.single > 0 {
                1
            } else {
                self.fifo.len().min(MAX_BATCH)
            };
            let head = &self.fifo.make_contiguous()[..batch];
            let result = tokio::select! {
                biased;
                () = self.grace.over() => break,
                result = self.store.insert_calls(head) => result,
            };
            match result {
                Ok(()) => {
                    for _ in 0..batch {
                        self.stored().await;
                    }
                }
                Err(error) if error.is_retryable() => {
                    self.store_failed(&error);
                    if !self.back_off().await {
                        break;
                    }
                }
                // Which record of the batch was refused is not known: one at a time.
                Err(_) if batch > 1 => self.single = batch,
                Err(error) => {
                    if !self.reject_head(&error).await {
                        self.store_failed(&error);
                        if !self.back_off().await {
                            break;
                        }
                    }
                }
            }
        }
        self.spool_rest().await;
        self.report
    }

    async fn replay_spool(&mut self) {
        let path = self.spool_path.clone();
        let loaded = match tokio::task::spawn_blocking(move || spool::load(&path)).await {
            Ok(loaded) => loaded,
            Err(error) => {
                tracing::error!(%error, "reading the call record spool failed");
                spool::Loaded::default()
            }
        };
        self.spool_complete = loaded.complete;
        self.from_spool = loaded.records.len();
        if self.from_spool > 0 || loaded.bad_lines > 0 {
            tracing::info!(
                spool = %self.spool_path.display(),
                records = self.from_spool,
                corrupt = loaded.bad_lines,
                "replaying spooled call records"
            );
        }
        self.fifo.extend(loaded.records);
        self.update_buffered();
        if self.from_spool == 0 {
            self.spool_replayed().await;
        }
    }

    /// Waits up to the linger for records to join the ones queued, so they go in one
    /// transaction. False when the shutdown grace ran out.
    async fn gather(&mut self) -> bool {
        let until = Instant::now() + self.linger;
        while !self.closed && self.fifo.len() < MAX_BATCH {
            let received = tokio::select! {
                biased;
                () = self.grace.over() => return false,
                () = sleep_until(until) => return true,
                received = self.receiver.recv() => received,
            };
            self.receive(received);
        }
        true
    }

    /// Moves what waits in the channel into the FIFO (up to [`MAX_BUFFERED`]).
    fn take_queued(&mut self) {
        while !self.closed && self.fifo.len() < MAX_BUFFERED {
            match self.receiver.try_recv() {
                Ok(record) => self.fifo.push_back(record),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.closed = true,
            }
        }
        self.update_buffered();
    }

    fn receive(&mut self, received: Option<CallRecord>) {
        match received {
            Some(record) => self.fifo.push_back(record),
            None => self.closed = true,
        }
        self.update_buffered();
    }

    fn update_buffered(&self) {
        self.gauges
            .buffered
            .store(self.fifo.len() as u64, Ordering::Relaxed);
    }

    /// The head was stored.
    async fn stored(&mut self) {
        self.fifo.pop_front();
        self.update_buffered();
        self.report.written += 1;
        self.gauges.written.fetch_add(1, Ordering::Relaxed);
        self.delay = self.backoff.first;
        if self.failing {
            self.failing = false;
            tracing::info!(
                waiting = self.fifo.len(),
                "call record store recovered; writing the records kept meanwhile"
            );
        }
        self.head_done().await;
    }

    /// The head left the FIFO (stored or set aside): once the spool's records are all gone,
    /// the spool file is no longer needed.
    async fn head_done(&mut self) {
        self.single = self.single.saturating_sub(1);
        if self.from_spool > 0 {
            self.from_spool -= 1;
            if self.from_spool == 0 {
                self.spool_replayed().await;
            }
        }
    }

    /// Removes the spool once its records are stored. Awaited, so that a spool written at
    /// shutdown is never removed by a late removal. Best effort: a spool left behind is
    /// replayed again, and inserts are idempotent.
    async fn spool_replayed(&mut self) {
        if !self.spool_complete {
            return;
        }
        let path = self.spool_path.clone();
        let removed = tokio::task::spawn_blocking(move || spool::remove(&path)).await;
        if let Ok(Err(error)) = removed {
            tracing::warn!(spool = %self.spool_path.display(), %error, "cannot remove the call record spool");
        }
    }

    fn store_failed(&mut self, error: &StoreError) {
        if self.failing {
            tracing::debug!(%error, waiting = self.fifo.len(), "call record store still failing");
        } else {
            self.failing = true;
            tracing::warn!(
                %error,
                waiting = self.fifo.len(),
                "call record store failing; keeping records in memory and retrying"
            );
        }
    }

    /// Waits before the next attempt, taking records from the channel meanwhile. False when
    /// the shutdown grace ran out.
    async fn back_off(&mut self) -> bool {
        let retry_at = Instant::now() + self.delay;
        self.delay = (self.delay * 2).min(self.backoff.max);
        loop {
            let take = !self.closed && self.fifo.len() < MAX_BUFFERED;
            let received = tokio::select! {
                biased;
                () = self.grace.over() => return false,
                () = sleep_until(retry_at) => return true,
                received = self.receiver.recv(), if take => received,
            };
            self.receive(received);
        }
    }

    /// The store refused the head for good: saves it to `<spool>.rejected` so the records
    /// behind it go on. False if it could not be saved (the head stays).
    async fn reject_head(&mut self, error: &StoreError) -> bool {
        let Some(head) = self.fifo.front().cloned() else {
            return true;
        };
        let path = spool::beside(&self.spool_path, ".rejected");
        let call_id = head.call_id;
        let target = path.clone();
        let saved = tokio::task::spawn_blocking(move || spool::append(&target, &[head])).await;
        match saved {
            Ok(Ok(())) => {
                tracing::error!(%call_id, %error, file = %path.display(), "call record refused by the store; saved beside the spool");
                self.fifo.pop_front();
                self.update_buffered();
                self.report.rejected += 1;
                self.head_done().await;
                true
            }
            Ok(Err(io_error)) => {
                tracing::error!(%call_id, %error, %io_error, file = %path.display(), "call record refused by the store and cannot be saved; keeping it");
                false
            }
            Err(join_error) => {
                tracing::error!(%call_id, %error, %join_error, "call record refused by the store and cannot be saved; keeping it");
                false
            }
        }
    }

    /// The grace is over: refuses further records, then writes everything left to the spool.
    async fn spool_rest(&mut self) {
        self.receiver.close();
        while let Ok(record) = self.receiver.try_recv() {
            self.fifo.push_back(record);
        }
        self.update_buffered();
        if self.fifo.is_empty() {
            return;
        }
        let records: Vec<CallRecord> = self.fifo.drain(..).collect();
        let count = records.len() as u64;
        let path = self.spool_path.clone();
        // The spool's own records are in `records` when it was read completely, so it is
        // replaced; otherwise its unread content stays and the rest is appended after it.
        let replace = self.spool_complete;
        let result = tokio::task::spawn_blocking(move || {
            let written = if replace {
                spool::replace(&path, &records)
            } else {
                spool::append(&path, &records)
            };
            written.map_err(|error| (error, records))
        })
        .await;
        match result {
            Ok(Ok(())) => {
                self.report.spooled += count;
                tracing::info!(records = count, spool = %self.spool_path.display(), "call records spooled for the next start");
            }
            Ok(Err((error, records))) => {
                for record in &records {
                    tracing::error!(call_id = %record.call_id, "call record lost: cannot write the spool");
                }
                tracing::error!(%error, spool = %self.spool_path.display(), records = count, "cannot write the call record spool");
                self.report.lost += count;
            }
            Err(error) => {
                tracing::error!(%error, records = count, "writing the call record spool failed");
                self.report.lost += count;
            }
        }
        self.update_buffered();
    }
}
