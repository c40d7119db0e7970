//! The notification operations, each on a fresh SQLite file, and all of them again on
//! PostgreSQL (a throwaway cluster, or `SWITCHYARD_TEST_POSTGRES_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::store::test_postgres::TestPostgres;

const T0: UnixMillis = UnixMillis(1_700_000_000_000);

fn at(ms: u64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn new(
    id: &str,
    status: NotificationStatus,
    due: UnixMillis,
    created: UnixMillis,
) -> NewNotification {
    NewNotification {
        id: id.to_owned(),
        number: "15551234567".to_owned(),
        caller_id: "15550001111".to_owned(),
        spec: "{}".to_owned(),
        status,
        next_attempt_at: due,
        created_at: created,
    }
}

fn end(id: &str, n: u32, result: &str, counts: bool, ended: UnixMillis) -> AttemptEnd {
    AttemptEnd {
        id: id.to_owned(),
        n,
        result: result.to_owned(),
        digit: None,
        reason: None,
        ended_at: ended,
        counts,
    }
}

async fn sqlite() -> (tempfile::TempDir, SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("var/notify.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    (dir, store)
}

async fn due_ids(store: &SqlStore, now: UnixMillis) -> Vec<String> {
    store
        .notifications()
        .due(now, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn only_due_waiting_notifications_are_picked_earliest_first(store: &SqlStore) {
    let book = store.notifications();
    book.insert(&new("late", NotificationStatus::Scheduled, at(5000), T0))
        .await
        .unwrap();
    book.insert(&new("now", NotificationStatus::Pending, at(0), T0))
        .await
        .unwrap();
    book.insert(&new("soon", NotificationStatus::Scheduled, at(1000), T0))
        .await
        .unwrap();
    assert_eq!(due_ids(store, at(0)).await, ["now"]);
    assert_eq!(due_ids(store, at(1000)).await, ["now", "soon"]);
    assert_eq!(book.next_due().await.unwrap(), Some(at(0)));
    book.reschedule("now", at(9000)).await.unwrap();
    assert_eq!(due_ids(store, at(5000)).await, ["soon", "late"]);
    let row = book.get("now").await.unwrap().unwrap();
    assert_eq!(row.status, NotificationStatus::Scheduled);
    assert_eq!(row.next_attempt_at, Some(at(9000)));
}

async fn a_claimed_attempt_and_its_end_are_written_together(store: &SqlStore) {
    let book = store.notifications();
    book.insert(&new("n1", NotificationStatus::Pending, T0, T0))
        .await
        .unwrap();
    assert_eq!(book.claim("n1", at(10)).await.unwrap(), Some(1));
    // Claimed: no longer due, no second claim.
    assert!(due_ids(store, at(10)).await.is_empty());
    assert_eq!(book.claim("n1", at(11)).await.unwrap(), None);
    book.attempt_call("n1", 1, "call-1").await.unwrap();
    book.finish(
        &end("n1", 1, "busy", true, at(20)),
        &AfterAttempt::Retry(at(60_020)),
    )
    .await
    .unwrap();
    let row = book.get("n1").await.unwrap().unwrap();
    assert_eq!(row.status, NotificationStatus::Scheduled);
    assert_eq!(row.counted_attempts, 1);
    assert_eq!(row.next_attempt_at, Some(at(60_020)));
    assert_eq!(row.attempts.len(), 1);
    assert_eq!(row.attempts[0].call_id.as_deref(), Some("call-1"));
    assert_eq!(row.attempts[0].result.as_deref(), Some("busy"));

    assert_eq!(book.claim("n1", at(60_020)).await.unwrap(), Some(2));
    let mut confirmed = end("n1", 2, "confirmed", true, at(70_000));
    confirmed.digit = Some("1".into());
    book.finish(&confirmed, &AfterAttempt::Complete("confirmed".into()))
        .await
        .unwrap();
    let row = book.get("n1").await.unwrap().unwrap();
    assert_eq!(row.status, NotificationStatus::Completed);
    assert_eq!(row.outcome.as_deref(), Some("confirmed"));
    assert_eq!(row.counted_attempts, 2);
    assert_eq!(row.completed_at, Some(at(70_000)));
    assert_eq!(row.next_attempt_at, None);
    let digits: Vec<Option<&str>> = row.attempts.iter().map(|a| a.digit.as_deref()).collect();
    assert_eq!(digits, [None, Some("1")]);
}

async fn only_waiting_notifications_can_be_cancelled(store: &SqlStore) {
    let book = store.notifications();
    book.insert(&new("w", NotificationStatus::Scheduled, at(1000), T0))
        .await
        .unwrap();
    book.insert(&new("c", NotificationStatus::Pending, T0, T0))
        .await
        .unwrap();
    book.claim("c", T0).await.unwrap();
    match book.cancel("w", at(5)).await.unwrap() {
        CancelOutcome::Cancelled(row) => {
            assert_eq!(row.status, NotificationStatus::Cancelled);
            assert_eq!(row.outcome.as_deref(), Some("cancelled"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        book.cancel("w", at(6)).await.unwrap(),
        CancelOutcome::NotWaiting(NotificationStatus::Cancelled)
    );
    assert_eq!(
        book.cancel("c", at(6)).await.unwrap(),
        CancelOutcome::NotWaiting(NotificationStatus::Calling)
    );
    assert_eq!(
        book.cancel("nope", at(6)).await.unwrap(),
        CancelOutcome::Unknown
    );
    // A cancelled notification is never claimed.
    assert_eq!(book.claim("w", at(2000)).await.unwrap(), None);
}

async fn an_attempt_cut_by_a_crash_is_interrupted_and_due_again(store: &SqlStore) {
    let book = store.notifications();
    book.insert(&new("x", NotificationStatus::Pending, T0, T0))
        .await
        .unwrap();
    book.claim("x", T0).await.unwrap();
    assert_eq!(book.recover(at(500)).await.unwrap(), 1);
    let row = book.get("x").await.unwrap().unwrap();
    assert_eq!(row.status, NotificationStatus::Pending);
    assert_eq!(row.counted_attempts, 0);
    assert_eq!(row.attempts[0].result.as_deref(), Some("interrupted"));
    assert_eq!(due_ids(store, at(500)).await, ["x"]);
    assert_eq!(book.claim("x", at(500)).await.unwrap(), Some(2));
}

async fn listing_pages_newest_first(store: &SqlStore) {
    let book = store.notifications();
    for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
        book.insert(&new(id, NotificationStatus::Pending, T0, at(i as u64)))
            .await
            .unwrap();
    }
    let first: Vec<String> = book
        .list(None, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(first, ["d", "c", "b"]);
    let key = NotificationKey {
        created_at: at(1),
        id: "b".into(),
    };
    let rest: Vec<String> = book
        .list(Some(&key), 3)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(rest, ["a"]);
}

#[tokio::test]
async fn due_notifications_are_the_waiting_ones_whose_time_has_come() {
    let (_dir, store) = sqlite().await;
    only_due_waiting_notifications_are_picked_earliest_first(&store).await;
}

#[tokio::test]
async fn an_attempt_is_claimed_once_and_its_end_decides_what_follows() {
    let (_dir, store) = sqlite().await;
    a_claimed_attempt_and_its_end_are_written_together(&store).await;
}

#[tokio::test]
async fn a_cancel_takes_only_pending_or_scheduled_notifications() {
    let (_dir, store) = sqlite().await;
    only_waiting_notifications_can_be_cancelled(&store).await;
}

#[tokio::test]
async fn after_a_crash_an_open_attempt_is_interrupted_and_the_notification_due_again() {
    let (_dir, store) = sqlite().await;
    an_attempt_cut_by_a_crash_is_interrupted_and_due_again(&store).await;
}

#[tokio::test]
async fn notifications_list_newest_first_in_pages() {
    let (_dir, store) = sqlite().await;
    listing_pages_newest_first(&store).await;
}

#[tokio::test]
async fn notifications_survive_reconnecting_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("notify.db").display());
    let first = SqlStore::connect(&url).await.unwrap();
    first
        .notifications()
        .insert(&new("kept", NotificationStatus::Pending, T0, T0))
        .await
        .unwrap();
    first.close().await;
    let second = SqlStore::connect(&url).await.unwrap();
    assert_eq!(due_ids(&second, T0).await, ["kept"]);
}

#[tokio::test]
async fn postgres_backend_passes_the_same_notification_checks() {
    let server = TestPostgres::start();
    let fresh = || async {
        SqlStore::connect(&server.fresh_database().await)
            .await
            .unwrap()
    };
    only_due_waiting_notifications_are_picked_earliest_first(&fresh().await).await;
    a_claimed_attempt_and_its_end_are_written_together(&fresh().await).await;
    only_waiting_notifications_can_be_cancelled(&fresh().await).await;
    an_attempt_cut_by_a_crash_is_interrupted_and_due_again(&fresh().await).await;
    listing_pages_newest_first(&fresh().await).await;
}
