//! Call records in PostgreSQL: the real switch started with `--database-url postgres://…`
//! against a throwaway cluster the test starts itself (see `src/store/test_postgres.rs`, or
//! the server named by `SWITCHYARD_TEST_POSTGRES_URL`), one call through it, and its record
//! read back from the `calls` and `call_legs` tables.

#[path = "../../src/store/test_postgres.rs"]
mod test_postgres;

use std::time::{Duration, Instant};

use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::call_peers::{CALLEE, call_profile, caller, registered_callee};
use crate::harness::Switch;
use crate::rtp_peer::RtpPeer;
use test_postgres::TestPostgres;

/// How long the switch may take to write the record of a call that just ended.
const RECORDS_WITHIN: Duration = Duration::from_secs(20);

/// The columns of `calls` this test checks.
#[derive(Debug, sqlx::FromRow)]
struct CallRow {
    call_id: String,
    caller: Option<String>,
    answered_at_ms: Option<i64>,
    hangup_cause: String,
    sip_status: i32,
    q850: i32,
    hangup_side: String,
}

/// The columns of `call_legs` this test checks.
#[derive(Debug, sqlx::FromRow)]
struct LegRow {
    side: String,
    sip_call_id: String,
    final_status: Option<i32>,
}

#[test]
fn a_call_through_a_switch_on_postgres_is_recorded_there() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let server = TestPostgres::start();
    let url = runtime.block_on(server.fresh_database());
    let switch = Switch::start_with_args(&call_profile(), &["--database-url", &url]);

    let media = RtpPeer::listen();
    let callee = registered_callee(&switch, "call_uas", &media);
    let uac = caller("call_uac", switch.addr(), &CALLEE.to_string())
        .with_audio(50)
        .pause(Duration::from_millis(1500))
        .run();
    let uas = callee.wait();
    media.finish();
    uac.assert_success("call (caller)");
    uas.assert_success("call (callee)");

    let (calls, legs) = runtime.block_on(async {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .expect("connect to the switch's database");
        let calls = wait_for_calls(&pool, 1).await;
        let legs: Vec<LegRow> = sqlx::query_as(
            "SELECT side, sip_call_id, final_status FROM call_legs ORDER BY leg_index",
        )
        .fetch_all(&pool)
        .await
        .expect("read call_legs");
        pool.close().await;
        (calls, legs)
    });

    assert_eq!(calls.len(), 1, "one call, one record: {calls:#?}");
    let call = &calls[0];
    assert_eq!(
        (
            call.hangup_cause.as_str(),
            call.sip_status,
            call.q850,
            call.hangup_side.as_str()
        ),
        ("normal_clearing", 200, 16, "caller"),
        "{call:#?}"
    );
    assert_eq!(call.caller.as_deref(), Some("1000"), "{call:#?}");
    assert!(call.answered_at_ms.is_some(), "{call:#?}");
    assert!(!call.call_id.is_empty());
    let sides: Vec<&str> = legs.iter().map(|leg| leg.side.as_str()).collect();
    assert_eq!(sides, ["a", "b"], "{legs:#?}");
    assert_eq!(
        Some(&legs[0].sip_call_id),
        uac.call_ids.first(),
        "the A leg is SIPp's call: {legs:#?}"
    );
    assert_eq!(legs[1].final_status, Some(200), "{legs:#?}");
}

/// Waits (bounded) until `calls` holds at least `count` rows and returns them all.
async fn wait_for_calls(pool: &PgPool, count: usize) -> Vec<CallRow> {
    let deadline = Instant::now() + RECORDS_WITHIN;
    loop {
        let calls: Vec<CallRow> = sqlx::query_as(
            "SELECT call_id, caller, answered_at_ms, hangup_cause, sip_status, q850, \
             hangup_side FROM calls ORDER BY started_at_ms",
        )
        .fetch_all(pool)
        .await
        .expect("read calls");
        if calls.len() >= count {
            return calls;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} call records in PostgreSQL within {RECORDS_WITHIN:?}, found \
             {calls:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
