//! Reads the call records a test switch wrote: the SQLite file `<config dir>/var/switchyard.db`
//! (the default `--database-url`), tables `calls` and `call_legs`, waiting (bounded) for the
//! records of calls that just ended, since the switch writes them asynchronously.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

/// One row of `calls`, the columns the tests check.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CallRow {
    /// Our id of the call.
    pub call_id: String,
    /// The caller's From URI.
    pub from_uri: String,
    /// The authenticated caller.
    pub caller: Option<String>,
    /// The dialled Request-URI.
    pub to_uri: String,
    /// When the call was answered, if it was.
    pub answered_at_ms: Option<i64>,
    /// Billable seconds.
    pub billable_secs: i64,
    /// Stable cause code (`normal_clearing`, `user_busy`, ...).
    pub hangup_cause: String,
    /// The SIP status that ended the call.
    pub sip_status: i64,
    /// Q.850 cause value.
    pub q850: i64,
    /// `caller`, `callee` or `switch`.
    pub hangup_side: String,
}

/// One row of `call_legs`, the columns the tests check.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LegRow {
    /// The call the leg belongs to.
    pub call_id: String,
    /// `a` or `b`.
    pub side: String,
    /// SIP Call-ID of the leg's dialog.
    pub sip_call_id: String,
    /// Final status of the leg's INVITE.
    pub final_status: Option<i64>,
    /// RTP packets received from the leg's phone (NULL with direct media).
    pub packets_in: Option<i64>,
    /// RTP packets sent to the leg's phone.
    pub packets_out: Option<i64>,
    /// Packets refused by the RTP bleed guard.
    pub rejected: Option<i64>,
}

/// The records in a switch's database.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Every row of `calls`.
    pub calls: Vec<CallRow>,
    /// Every row of `call_legs`.
    pub legs: Vec<LegRow>,
}

impl Records {
    /// The legs of `call`, A first.
    pub fn legs_of(&self, call: &CallRow) -> Vec<&LegRow> {
        let mut legs: Vec<&LegRow> = self
            .legs
            .iter()
            .filter(|l| l.call_id == call.call_id)
            .collect();
        legs.sort_by(|a, b| a.side.cmp(&b.side));
        legs
    }

    /// The A leg of `call`.
    pub fn a_leg(&self, call: &CallRow) -> &LegRow {
        self.legs_of(call)
            .into_iter()
            .find(|l| l.side == "a")
            .unwrap_or_else(|| panic!("call {} has no A leg: {:#?}", call.call_id, self.legs))
    }

    /// The B legs of `call`.
    pub fn b_legs(&self, call: &CallRow) -> Vec<&LegRow> {
        self.legs_of(call)
            .into_iter()
            .filter(|l| l.side == "b")
            .collect()
    }
}

/// The database file of the switch whose config directory is `config_dir`.
pub fn database_file(config_dir: &Path) -> std::path::PathBuf {
    config_dir.join("var").join("switchyard.db")
}

/// Reads every record now; `None` while the database or its tables do not exist yet.
pub fn read(db: &Path) -> Option<Records> {
    if !db.exists() {
        return None;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let options = SqliteConnectOptions::new().filename(db).read_only(true);
        let pool: SqlitePool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .ok()?;
        let calls = sqlx::query_as::<_, CallRow>(
            "SELECT call_id, from_uri, caller, to_uri, answered_at_ms, billable_secs, \
             hangup_cause, sip_status, q850, hangup_side FROM calls ORDER BY started_at_ms",
        )
        .fetch_all(&pool)
        .await
        .ok()?;
        let legs = sqlx::query_as::<_, LegRow>(
            "SELECT call_id, side, sip_call_id, final_status, packets_in, packets_out, \
             rejected FROM call_legs ORDER BY call_id, leg_index",
        )
        .fetch_all(&pool)
        .await
        .ok()?;
        pool.close().await;
        Some(Records { calls, legs })
    })
}

/// Waits up to `within` until at least `count` calls are recorded, then returns the records
/// (panicking with what is there when they do not come).
pub fn wait_for(db: &Path, count: usize, within: Duration) -> Records {
    let deadline = Instant::now() + within;
    loop {
        let records = read(db);
        if let Some(records) = &records
            && records.calls.len() >= count
        {
            // Settle: a record being written has its legs in the same transaction, but a few
            // more calls may still be on their way; give them one more look.
            std::thread::sleep(Duration::from_millis(300));
            return read(db).unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} call records in {} within {within:?}, found: {records:#?}",
            db.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
