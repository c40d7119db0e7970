//! The webhook outbox operations, each on a fresh SQLite file, and all of them again on
//! PostgreSQL (a throwaway cluster, or `SWITCHYARD_TEST_POSTGRES_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::outbox::{DeliveryFilter, DeliveryState, FailedAttempt, NewDelivery, RetryOutcome};
use super::test_postgres::TestPostgres;
use super::{SqlStore, StoreError};
use crate::cluster::UnixMillis;

const T0: UnixMillis = UnixMillis(1_700_000_000_000);
const LEASE: u64 = 10_000;

fn at(ms: u64) -> UnixMillis {
    UnixMillis(T0.0 + ms)
}

fn row(target: &str, seq: u64, key: &str) -> NewDelivery {
    NewDelivery {
        target: target.to_owned(),
        event_seq: seq,
        event_type: "call.created".to_owned(),
        ordering_key: key.to_owned(),
        payload: format!("{{\"seq\":{seq}}}"),
    }
}

async fn sqlite() -> (tempfile::TempDir, SqlStore) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("var/outbox.db").display());
    let store = SqlStore::connect(&url).await.unwrap();
    (dir, store)
}

async fn claim(store: &SqlStore, target: &str, now: UnixMillis) -> Vec<u64> {
    store
        .outbox()
        .claim_due(target, now, UnixMillis(now.0 + LEASE), 100)
        .await
        .unwrap()
        .iter()
        .map(|d| d.event_seq)
        .collect()
}

fn failed(attempts: u32, retry_at: Option<UnixMillis>) -> FailedAttempt {
    FailedAttempt {
        attempts,
        status: Some(500),
        error: "HTTP 500".to_owned(),
        retry_at,
    }
}

async fn inserted_rows_read_back_pending_in_order(store: &SqlStore) -> Result<(), StoreError> {
    let outbox = store.outbox();
    outbox
        .insert(&[row("crm", 1, "c1"), row("crm", 2, "c2")], T0)
        .await?;

    let rows = outbox
        .list(&DeliveryFilter {
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await?;

    let seqs: Vec<u64> = rows.iter().map(|d| d.event_seq).collect();
    assert_eq!(seqs, [2, 1], "newest first");
    let first = &rows[1];
    assert_eq!(first.state, DeliveryState::Pending);
    assert_eq!(first.attempts, 0);
    assert_eq!(first.next_attempt_at, T0);
    assert_eq!(first.created_at, T0);
    assert_eq!(first.payload, "{\"seq\":1}");
    assert!(rows[0].id > rows[1].id);
    Ok(())
}

async fn only_the_head_of_each_key_is_claimed(store: &SqlStore) {
    let outbox = store.outbox();
    outbox
        .insert(
            &[
                row("crm", 1, "c1"),
                row("crm", 2, "c2"),
                row("crm", 3, "c1"),
                row("other", 4, "c1"),
            ],
            T0,
        )
        .await
        .unwrap();

    assert_eq!(claim(store, "crm", T0).await, [1, 2]);
    // Leased: not claimed again while the deliveries are in flight.
    assert_eq!(claim(store, "crm", T0).await, Vec::<u64>::new());
    assert_eq!(claim(store, "other", T0).await, [4]);
}

async fn a_failed_head_holds_back_its_key_only(store: &SqlStore) {
    let outbox = store.outbox();
    outbox
        .insert(
            &[
                row("crm", 1, "c1"),
                row("crm", 2, "c1"),
                row("crm", 3, "c2"),
            ],
            T0,
        )
        .await
        .unwrap();
    let due = outbox.claim_due("crm", T0, at(LEASE), 100).await.unwrap();
    let (c1, c2) = (due[0].id, due[1].id);
    outbox
        .mark_failed(c1, &failed(1, Some(at(1000))))
        .await
        .unwrap();
    outbox.mark_delivered(c2, 204, at(10)).await.unwrap();

    assert_eq!(claim(store, "crm", at(500)).await, Vec::<u64>::new());
    assert_eq!(outbox.next_due("crm").await.unwrap(), Some(at(1000)));
    assert_eq!(claim(store, "crm", at(1000)).await, [1]);
    outbox.mark_delivered(c1, 200, at(1001)).await.unwrap();
    assert_eq!(claim(store, "crm", at(1001)).await, [2]);

    let delivered = outbox.get(c2).await.unwrap().unwrap();
    assert_eq!(delivered.state, DeliveryState::Delivered);
    assert_eq!(delivered.attempts, 1);
    assert_eq!(delivered.last_status, Some(204));
    assert_eq!(delivered.delivered_at, Some(at(10)));
    let retried = outbox.get(c1).await.unwrap().unwrap();
    assert_eq!((retried.attempts, retried.last_status), (2, Some(200)));
    assert_eq!(retried.last_error, None);
}

async fn a_dead_row_frees_its_key_and_can_be_retried(store: &SqlStore) {
    let outbox = store.outbox();
    outbox
        .insert(&[row("crm", 1, "c1"), row("crm", 2, "c1")], T0)
        .await
        .unwrap();
    let head = outbox.claim_due("crm", T0, at(LEASE), 100).await.unwrap()[0].id;
    outbox.mark_failed(head, &failed(2, None)).await.unwrap();

    assert_eq!(claim(store, "crm", T0).await, [2]);
    let dead = outbox
        .list(&DeliveryFilter {
            state: Some(DeliveryState::Dead),
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, head);
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 500"));

    let RetryOutcome::Requeued(requeued) = outbox.retry(head, at(5)).await.unwrap() else {
        panic!("a dead row is requeued");
    };
    assert_eq!(requeued.state, DeliveryState::Pending);
    assert_eq!((requeued.attempts, requeued.next_attempt_at), (0, at(5)));
    assert_eq!(
        outbox.retry(head, at(6)).await.unwrap(),
        RetryOutcome::NotDead(DeliveryState::Pending)
    );
    assert_eq!(
        outbox.retry(head + 1000, at(6)).await.unwrap(),
        RetryOutcome::Unknown
    );
}

async fn listing_pages_and_filters(store: &SqlStore) {
    let outbox = store.outbox();
    let rows: Vec<NewDelivery> = (1..=5)
        .map(|seq| row(if seq % 2 == 0 { "a" } else { "b" }, seq, "k"))
        .collect();
    outbox.insert(&rows, T0).await.unwrap();
    let page = |before, target: Option<&str>| DeliveryFilter {
        state: Some(DeliveryState::Pending),
        target: target.map(str::to_owned),
        before,
        limit: 2,
    };

    let first = outbox.list(&page(None, None)).await.unwrap();
    let second = outbox.list(&page(Some(first[1].id), None)).await.unwrap();
    let of_b = outbox.list(&page(None, Some("b"))).await.unwrap();

    let seqs = |rows: &[super::Delivery]| rows.iter().map(|d| d.event_seq).collect::<Vec<_>>();
    assert_eq!(seqs(&first), [5, 4]);
    assert_eq!(seqs(&second), [3, 2]);
    assert_eq!(seqs(&of_b), [5, 3]);
    assert_eq!(
        outbox.pending_by_target().await.unwrap(),
        [("a".to_owned(), 2), ("b".to_owned(), 3)]
    );
}

async fn a_released_lease_is_due_again(store: &SqlStore) {
    let outbox = store.outbox();
    outbox.insert(&[row("crm", 1, "c1")], T0).await.unwrap();
    let id = outbox.claim_due("crm", T0, at(LEASE), 10).await.unwrap()[0].id;

    outbox.release(&[id], at(1)).await.unwrap();

    assert_eq!(claim(store, "crm", at(1)).await, [1]);
}

async fn old_delivered_rows_are_purged(store: &SqlStore) {
    let outbox = store.outbox();
    let rows: Vec<NewDelivery> = (1..=4)
        .map(|seq| row("crm", seq, &format!("c{seq}")))
        .collect();
    outbox.insert(&rows, T0).await.unwrap();
    let due = outbox.claim_due("crm", T0, at(LEASE), 10).await.unwrap();
    outbox.mark_delivered(due[0].id, 200, at(1)).await.unwrap();
    outbox.mark_delivered(due[1].id, 200, at(1)).await.unwrap();
    outbox.mark_delivered(due[2].id, 200, at(5)).await.unwrap();
    outbox
        .mark_failed(due[3].id, &failed(1, None))
        .await
        .unwrap();

    assert_eq!(outbox.purge_delivered(at(5), 1).await.unwrap(), 1);
    assert_eq!(outbox.purge_delivered(at(5), 100).await.unwrap(), 1);
    assert_eq!(outbox.purge_delivered(at(5), 100).await.unwrap(), 0);

    let left = outbox
        .list(&DeliveryFilter {
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let states: Vec<DeliveryState> = left.iter().map(|d| d.state).collect();
    assert_eq!(states, [DeliveryState::Dead, DeliveryState::Delivered]);
}

#[tokio::test]
async fn delivered_rows_older_than_the_cutoff_are_purged_and_the_rest_kept() {
    let (_dir, store) = sqlite().await;
    old_delivered_rows_are_purged(&store).await;
}

#[tokio::test]
async fn inserted_deliveries_read_back_pending_newest_first() {
    let (_dir, store) = sqlite().await;
    inserted_rows_read_back_pending_in_order(&store)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_claim_takes_only_the_earliest_pending_row_of_each_key() {
    let (_dir, store) = sqlite().await;
    only_the_head_of_each_key_is_claimed(&store).await;
}

#[tokio::test]
async fn a_failed_row_holds_back_the_later_rows_of_its_key_and_no_other() {
    let (_dir, store) = sqlite().await;
    a_failed_head_holds_back_its_key_only(&store).await;
}

#[tokio::test]
async fn a_dead_row_no_longer_holds_back_its_key_and_a_retry_makes_it_pending() {
    let (_dir, store) = sqlite().await;
    a_dead_row_frees_its_key_and_can_be_retried(&store).await;
}

#[tokio::test]
async fn listings_filter_by_state_and_target_and_page_by_id() {
    let (_dir, store) = sqlite().await;
    listing_pages_and_filters(&store).await;
}

#[tokio::test]
async fn a_released_lease_makes_the_row_due_again() {
    let (_dir, store) = sqlite().await;
    a_released_lease_is_due_again(&store).await;
}

#[tokio::test]
async fn rows_survive_reconnecting_to_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("outbox.db").display());
    let first = SqlStore::connect(&url).await.unwrap();
    first
        .outbox()
        .insert(&[row("crm", 7, "c1")], T0)
        .await
        .unwrap();
    first.close().await;

    let second = SqlStore::connect(&url).await.unwrap();

    assert_eq!(claim(&second, "crm", T0).await, [7]);
}

#[tokio::test]
async fn postgres_backend_passes_the_same_outbox_checks() {
    let server = TestPostgres::start();
    let fresh = || async {
        SqlStore::connect(&server.fresh_database().await)
            .await
            .unwrap()
    };
    inserted_rows_read_back_pending_in_order(&fresh().await)
        .await
        .unwrap();
    only_the_head_of_each_key_is_claimed(&fresh().await).await;
    a_failed_head_holds_back_its_key_only(&fresh().await).await;
    a_dead_row_frees_its_key_and_can_be_retried(&fresh().await).await;
    listing_pages_and_filters(&fresh().await).await;
    a_released_lease_is_due_again(&fresh().await).await;
    old_delivered_rows_are_purged(&fresh().await).await;
}
