//! The scheduler with a scripted dialer on a real SQLite store: retries per policy, the final
//! outcome written before `notification.completed`, refusals, the concurrency limit and the
//! per-caller-ID rate (a limited notification waits, it is not dropped).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use super::*;
use crate::notify::spec::{RetrySpec, WindowSpec};
use crate::telemetry::events::BusSettings;

/// What the scripted dialer does with each attempt, in order.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// The call ends before answer with this cause.
    EndsWith(HangupCause),
    /// The dial is refused with this cause.
    Refused(HangupCause),
    /// The call rings until the test releases it.
    Hold,
}

#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<Script>>,
    held: Mutex<Vec<Box<dyn CallApp>>>,
    dialled: Mutex<Vec<AttemptRequest>>,
}

impl Scripted {
    fn new(script: &[Script]) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.iter().copied().collect()),
            ..Self::default()
        })
    }

    fn held(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    fn release_all(&self, cause: HangupCause) {
        let held: Vec<_> = self.held.lock().unwrap().drain(..).collect();
        for app in held {
            app.not_run(cause);
        }
    }

    fn dialled(&self) -> usize {
        self.dialled.lock().unwrap().len()
    }
}

struct Shared2(Arc<Scripted>);

impl Dialer for Shared2 {
    fn dial(
        &self,
        attempt: AttemptRequest,
        app: Box<dyn CallApp>,
    ) -> BoxFuture<'_, Result<CallId, DialRefusal>> {
        let scripted = Arc::clone(&self.0);
        Box::pin(async move {
            scripted.dialled.lock().unwrap().push(attempt);
            let step = scripted
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Script::EndsWith(HangupCause::NoAnswer));
            match step {
                Script::EndsWith(cause) => {
                    app.not_run(cause);
                    Ok(CallId::new_random())
                }
                Script::Refused(cause) => Err(DialRefusal {
                    cause,
                    reason: "scripted refusal".into(),
                }),
                Script::Hold => {
                    scripted.held.lock().unwrap().push(app);
                    Ok(CallId::new_random())
                }
            }
        })
    }

    fn has_context(&self, context: &str) -> bool {
        context == "default"
    }
}

fn sounds() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds")
}

fn spec(caller_id: &str, retry: Option<RetrySpec>) -> NotificationSpec {
    NotificationSpec {
        number: "15551234567".into(),
        caller_id: caller_id.into(),
        caller_id_name: None,
        prompts: vec!["notify/reminder.wav".into()],
        confirm: None,
        retry,
        window: None,
        context: None,
        ring_timeout_secs: None,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: SqlStore,
    events: EventBus,
    service: NotifyService,
    shutdown: CancellationToken,
}

async fn start(dialer: Arc<Scripted>, per_minute: u32, max_concurrent: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("n.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    let events = EventBus::new(BusSettings {
        replay: 1000,
        subscriber_buffer: 1000,
    });
    let shutdown = CancellationToken::new();
    let service = NotifyService::start(
        store.clone(),
        events.clone(),
        Arc::new(Shared2(dialer)),
        NotifySettings {
            per_caller_id_per_minute: per_minute,
            max_concurrent,
            default_ring_timeout: Duration::from_secs(30),
            sounds_dir: sounds(),
        },
        shutdown.clone(),
    )
    .await;
    Fixture {
        _dir: dir,
        store,
        events,
        service,
        shutdown,
    }
}

async fn wait_until<F: Fn(&NotificationRow) -> bool>(
    store: &SqlStore,
    id: &str,
    done: F,
) -> NotificationRow {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let row = store.notifications().get(id).await.unwrap().unwrap();
        if done(&row) {
            return row;
        }
        assert!(Instant::now() < deadline, "not reached in time: {row:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for<F: Fn() -> bool>(what: &str, done: F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not reached in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_busy_number_is_retried_and_completes_busy_with_its_events() {
    let dialer = Scripted::new(&[
        Script::EndsWith(HangupCause::UserBusy),
        Script::EndsWith(HangupCause::SipFailure(486)),
    ]);
    let fixture = start(Arc::clone(&dialer), 30, 5).await;
    let events = fixture.events.subscribe(Some(0));
    let retry = RetrySpec {
        max_attempts: 2,
        interval_secs: 1,
        on: vec!["busy".into()],
    };
    let created = fixture
        .service
        .handle()
        .create(spec("100", Some(retry)))
        .await
        .unwrap();
    assert_eq!(created.status, NotificationStatus::Pending);
    let row = wait_until(&fixture.store, &created.id, |r| {
        r.status == NotificationStatus::Completed
    })
    .await;
    assert_eq!(row.outcome.as_deref(), Some("busy"));
    assert_eq!(row.counted_attempts, 2);
    let results: Vec<_> = row.attempts.iter().map(|a| a.result.clone()).collect();
    assert_eq!(results, [Some("busy".into()), Some("busy".into())]);
    // The second attempt waited for the interval.
    let gap = row.attempts[1].started_at.0 - row.attempts[0].ended_at.unwrap().0;
    assert!(gap >= 900, "{gap} ms between attempts");

    let mut kinds = Vec::new();
    let mut live = events.live;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !kinds.contains(&EventType::NotificationCompleted) {
        assert!(Instant::now() < deadline, "{kinds:?}");
        if let Ok(Ok(event)) = tokio::time::timeout(Duration::from_millis(100), live.recv()).await {
            kinds.push(event.kind);
        }
    }
    let mut all: Vec<EventType> = events.backlog.iter().map(|e| e.kind).collect();
    all.extend(kinds);
    assert_eq!(
        all,
        [
            EventType::NotificationCreated,
            EventType::NotificationAttempt,
            EventType::NotificationAttempt,
            EventType::NotificationCompleted,
        ]
    );
}

#[tokio::test]
async fn a_refused_dial_is_a_failed_attempt_with_its_reason() {
    let dialer = Scripted::new(&[Script::Refused(HangupCause::TemporaryFailure)]);
    let fixture = start(dialer, 30, 5).await;
    let created = fixture
        .service
        .handle()
        .create(spec("100", None))
        .await
        .unwrap();
    let row = wait_until(&fixture.store, &created.id, |r| {
        r.status == NotificationStatus::Completed
    })
    .await;
    assert_eq!(row.outcome.as_deref(), Some("failed"));
    assert_eq!(row.attempts[0].reason.as_deref(), Some("scripted refusal"));
    assert_eq!(row.attempts[0].call_id, None);
}

#[tokio::test]
async fn no_more_calls_than_max_concurrent_are_under_way() {
    let dialer = Scripted::new(&[Script::Hold; 5]);
    let fixture = start(Arc::clone(&dialer), 1000, 2).await;
    let handle = fixture.service.handle();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(handle.create(spec("100", None)).await.unwrap().id);
    }
    wait_for("two calls held", || dialer.held() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(dialer.dialled(), 2, "only two dialled while both are up");
    dialer.release_all(HangupCause::NoAnswer);
    wait_for("the next two held", || dialer.held() == 2).await;
    dialer.release_all(HangupCause::NoAnswer);
    wait_for("the last held", || dialer.held() == 1).await;
    dialer.release_all(HangupCause::NoAnswer);
    for id in &ids {
        let row = wait_until(&fixture.store, id, |r| {
            r.status == NotificationStatus::Completed
        })
        .await;
        assert_eq!(row.outcome.as_deref(), Some("no_answer"));
    }
}

#[tokio::test]
async fn a_caller_id_over_its_rate_waits_while_other_caller_ids_go_ahead() {
    let dialer = Scripted::new(&[]);
    let fixture = start(Arc::clone(&dialer), 1, 10).await;
    let handle = fixture.service.handle();
    let same = [
        handle.create(spec("100", None)).await.unwrap().id,
        handle.create(spec("100", None)).await.unwrap().id,
    ];
    let other = handle.create(spec("200", None)).await.unwrap().id;
    wait_until(&fixture.store, &other, |r| {
        r.status == NotificationStatus::Completed
    })
    .await;
    wait_for("two dialled", || dialer.dialled() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut statuses = Vec::new();
    for id in &same {
        let row = fixture
            .store
            .notifications()
            .get(id)
            .await
            .unwrap()
            .unwrap();
        statuses.push(row.status);
    }
    statuses.sort_by_key(|s| s.as_str());
    // One of caller ID 100's took its token; the other waits, still pending, not dropped.
    assert_eq!(
        statuses,
        [NotificationStatus::Completed, NotificationStatus::Pending]
    );
    assert_eq!(dialer.dialled(), 2);
}

#[tokio::test]
async fn a_request_naming_an_unknown_context_is_refused() {
    let fixture = start(Scripted::new(&[]), 30, 5).await;
    let mut request = spec("100", None);
    request.context = Some("elsewhere".into());
    match fixture.service.handle().create(request).await {
        Err(NotifyError::Invalid(invalid)) => assert_eq!(invalid.field, "context"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_notification_outside_its_window_waits_for_the_opening() {
    let dialer = Scripted::new(&[]);
    let fixture = start(Arc::clone(&dialer), 30, 5).await;
    let now = Utc::now();
    let mut request = spec("100", None);
    request.window = Some(WindowSpec {
        start: (now + chrono::Duration::hours(2))
            .format("%H:%M")
            .to_string(),
        end: (now + chrono::Duration::hours(3))
            .format("%H:%M")
            .to_string(),
        timezone: "UTC".into(),
        days: Vec::new(),
    });
    let created = fixture.service.handle().create(request).await.unwrap();
    assert_eq!(created.status, NotificationStatus::Scheduled);
    let due = created.next_attempt_at.unwrap();
    let ahead = due.0 - UnixMillis::now().0;
    assert!(ahead > 3_600_000 && ahead <= 7_200_000, "{ahead} ms ahead");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(dialer.dialled(), 0);
}

#[tokio::test]
async fn a_shutdown_cut_attempt_stays_due_for_the_next_start() {
    let dialer = Scripted::new(&[Script::Hold]);
    let fixture = start(Arc::clone(&dialer), 30, 5).await;
    let id = fixture
        .service
        .handle()
        .create(spec("100", None))
        .await
        .unwrap()
        .id;
    wait_for("the call held", || dialer.held() == 1).await;
    fixture.shutdown.cancel();
    dialer.release_all(HangupCause::SystemShutdown);
    let row = wait_until(&fixture.store, &id, |r| {
        r.status == NotificationStatus::Pending
    })
    .await;
    assert_eq!(row.counted_attempts, 0);
    assert_eq!(row.attempts[0].result.as_deref(), Some("interrupted"));
    fixture.service.finish(Duration::from_secs(1)).await;
}
