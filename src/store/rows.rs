//! The `calls` and `call_legs` rows: backend-neutral column values, conversion from and to
//! [`CallRecord`], and binding them to a statement of either backend.

use std::net::SocketAddr;

use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use super::StoreError;
use crate::call::{
    CallId, CallRecord, Hangup, HangupSide, LegRecord, LegSide, MediaCounters, RecordingInfo,
};
use crate::cluster::UnixMillis;

/// Columns of `calls`, in the order [`CallRow::bind`] binds them.
pub(super) const CALL_COLUMNS: &str = "call_id, profile, from_uri, caller, to_uri, \
     started_at_ms, answered_at_ms, ended_at_ms, duration_secs, billable_secs, \
     hangup_cause, sip_status, q850, hangup_side, recording_path, recording_duration_ms, \
     recording_sha256, recording_status, recording_error";

/// Columns of `call_legs`, in the order [`LegRow::bind`] binds them.
pub(super) const LEG_COLUMNS: &str = "call_id, leg_index, side, sip_call_id, local_tag, \
     remote_tag, target, signalling_addr, started_at_ms, answered_at_ms, ended_at_ms, \
     final_status, packets_in, bytes_in, packets_out, bytes_out, packets_lost, jitter_ms, \
     rtcp_in, rejected, trunk, stage";

/// One row of `calls`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(super) struct CallRow {
    call_id: String,
    profile: String,
    from_uri: String,
    caller: Option<String>,
    to_uri: String,
    started_at_ms: i64,
    answered_at_ms: Option<i64>,
    ended_at_ms: i64,
    duration_secs: i64,
    billable_secs: i64,
    hangup_cause: String,
    sip_status: i32,
    q850: i32,
    hangup_side: String,
    recording_path: Option<String>,
    recording_duration_ms: Option<i64>,
    recording_sha256: Option<String>,
    recording_status: Option<String>,
    recording_error: Option<String>,
}

/// One row of `call_legs`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(super) struct LegRow {
    pub(super) call_id: String,
    leg_index: i32,
    side: String,
    sip_call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    target: String,
    signalling_addr: Option<String>,
    started_at_ms: i64,
    answered_at_ms: Option<i64>,
    ended_at_ms: i64,
    final_status: Option<i32>,
    packets_in: Option<i64>,
    bytes_in: Option<i64>,
    packets_out: Option<i64>,
    bytes_out: Option<i64>,
    packets_lost: Option<i64>,
    jitter_ms: Option<f64>,
    rtcp_in: Option<i64>,
    rejected: Option<i64>,
    trunk: Option<String>,
    stage: i32,
}

/// The statement type both backends' `sqlx::query` produce.
type Statement<'q, DB> = Query<'q, DB, <DB as Database>::Arguments<'q>>;

impl CallRow {
    /// The `call_id` column.
    pub(super) fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The `calls` row of `record`.
    pub(super) fn from_record(record: &CallRecord) -> Result<Self, StoreError> {
        let recording = record.recording.as_ref();
        Ok(CallRow {
            call_id: record.call_id.to_string(),
            profile: record.profile.clone(),
            from_uri: record.from_uri.clone(),
            caller: record.caller.clone(),
            to_uri: record.to_uri.clone(),
            started_at_ms: to_column(record.started_at.0, "started_at")?,
            answered_at_ms: record
                .answered_at
                .map(|at| to_column(at.0, "answered_at"))
                .transpose()?,
            ended_at_ms: to_column(record.ended_at.0, "ended_at")?,
            duration_secs: to_column(record.duration_secs(), "duration_secs")?,
            billable_secs: to_column(record.billable_secs(), "billable_secs")?,
            hangup_cause: record.hangup.cause.clone(),
            sip_status: i32::from(record.hangup.sip_status),
            q850: i32::from(record.hangup.q850),
            hangup_side: hangup_side_name(record.hangup.side).to_owned(),
            recording_path: recording.map(|r| r.path.clone()),
            recording_duration_ms: recording
                .map(|r| to_column(r.duration_ms, "recording.duration_ms"))
                .transpose()?,
            recording_sha256: recording.and_then(|r| r.sha256.clone()),
            recording_status: recording.map(|r| r.status.clone()),
            recording_error: recording.and_then(|r| r.error.clone()),
        })
    }

    /// Binds the values in [`CALL_COLUMNS`] order.
    pub(super) fn bind<'q, DB>(self, query: Statement<'q, DB>) -> Statement<'q, DB>
    where
        DB: Database,
        String: Encode<'q, DB> + Type<DB>,
        i64: Encode<'q, DB> + Type<DB>,
        i32: Encode<'q, DB> + Type<DB>,
        Option<String>: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
    {
        query
            .bind(self.call_id)
            .bind(self.profile)
            .bind(self.from_uri)
            .bind(self.caller)
            .bind(self.to_uri)
            .bind(self.started_at_ms)
            .bind(self.answered_at_ms)
            .bind(self.ended_at_ms)
            .bind(self.duration_secs)
            .bind(self.billable_secs)
            .bind(self.hangup_cause)
            .bind(self.sip_status)
            .bind(self.q850)
            .bind(self.hangup_side)
            .bind(self.recording_path)
            .bind(self.recording_duration_ms)
            .bind(self.recording_sha256)
            .bind(self.recording_status)
            .bind(self.recording_error)
    }

    /// The record this row and its legs (in `leg_index` order) describe.
    pub(super) fn into_record(self, legs: Vec<LegRow>) -> Result<CallRecord, StoreError> {
        let corrupt = |problem| StoreError::CorruptRow {
            call_id: self.call_id.clone(),
            problem,
        };
        let call_id = uuid::Uuid::parse_str(&self.call_id)
            .map(CallId)
            .map_err(|_| corrupt("call_id is not a UUID"))?;
        let side = match self.hangup_side.as_str() {
            "caller" => HangupSide::Caller,
            "callee" => HangupSide::Callee,
            "switch" => HangupSide::Switch,
            _ => return Err(corrupt("unknown hangup_side")),
        };
        let legs = legs
            .into_iter()
            .map(LegRow::into_record)
            .collect::<Result<Vec<_>, _>>()?;
        let recording = match (self.recording_path, self.recording_status) {
            (None, None) => None,
            (Some(path), Some(status)) => Some(RecordingInfo {
                path,
                duration_ms: self
                    .recording_duration_ms
                    .map(|ms| u64::try_from(ms).map_err(|_| corrupt("bad recording_duration_ms")))
                    .transpose()?
                    .unwrap_or(0),
                sha256: self.recording_sha256,
                status,
                error: self.recording_error,
            }),
            _ => return Err(corrupt("recording_path and recording_status partly NULL")),
        };
        Ok(CallRecord {
            call_id,
            profile: self.profile,
            from_uri: self.from_uri,
            caller: self.caller,
            to_uri: self.to_uri,
            started_at: millis(self.started_at_ms).ok_or_else(|| corrupt("bad started_at_ms"))?,
            answered_at: self
                .answered_at_ms
                .map(|ms| millis(ms).ok_or_else(|| corrupt("bad answered_at_ms")))
                .transpose()?,
            ended_at: millis(self.ended_at_ms).ok_or_else(|| corrupt("bad ended_at_ms"))?,
            hangup: Hangup {
                cause: self.hangup_cause,
                sip_status: u16::try_from(self.sip_status)
                    .map_err(|_| corrupt("bad sip_status"))?,
                q850: u16::try_from(self.q850).map_err(|_| corrupt("bad q850"))?,
                side,
            },
            legs,
            recording,
        })
    }
}

impl LegRow {
    /// The `call_legs` rows of `record`, in leg order.
    pub(super) fn from_record(record: &CallRecord) -> Result<Vec<Self>, StoreError> {
        let call_id = record.call_id.to_string();
        record
            .legs
            .iter()
            .enumerate()
            .map(|(index, leg)| Self::from_leg(&call_id, index, leg))
            .collect()
    }

    fn from_leg(call_id: &str, index: usize, leg: &LegRecord) -> Result<Self, StoreError> {
        let media = leg.media.map(MediaColumns::from_counters).transpose()?;
        Ok(LegRow {
            call_id: call_id.to_owned(),
            leg_index: i32::try_from(index)
                .map_err(|_| StoreError::OutOfRange { field: "legs" })?,
            side: match leg.side {
                LegSide::A => "a",
                LegSide::B => "b",
            }
            .to_owned(),
            sip_call_id: leg.sip_call_id.clone(),
            local_tag: leg.local_tag.clone(),
            remote_tag: leg.remote_tag.clone(),
            target: leg.target.clone(),
            signalling_addr: leg.signalling_addr.map(|addr| addr.to_string()),
            started_at_ms: to_column(leg.started_at.0, "leg.started_at")?,
            answered_at_ms: leg
                .answered_at
                .map(|at| to_column(at.0, "leg.answered_at"))
                .transpose()?,
            ended_at_ms: to_column(leg.ended_at.0, "leg.ended_at")?,
            final_status: leg.final_status.map(i32::from),
            packets_in: media.map(|m| m.packets_in),
            bytes_in: media.map(|m| m.bytes_in),
            packets_out: media.map(|m| m.packets_out),
            bytes_out: media.map(|m| m.bytes_out),
            packets_lost: media.map(|m| m.packets_lost),
            jitter_ms: media.map(|m| m.jitter_ms),
            rtcp_in: media.map(|m| m.rtcp_in),
            rejected: media.map(|m| m.rejected),
            trunk: leg.trunk.clone(),
            stage: i32::try_from(leg.stage)
                .map_err(|_| StoreError::OutOfRange { field: "leg.stage" })?,
        })
    }

    /// Binds the values in [`LEG_COLUMNS`] order.
    pub(super) fn bind<'q, DB>(self, query: Statement<'q, DB>) -> Statement<'q, DB>
    where
        DB: Database,
        String: Encode<'q, DB> + Type<DB>,
        i64: Encode<'q, DB> + Type<DB>,
        i32: Encode<'q, DB> + Type<DB>,
        Option<String>: Encode<'q, DB> + Type<DB>,
        Option<i64>: Encode<'q, DB> + Type<DB>,
        Option<i32>: Encode<'q, DB> + Type<DB>,
        Option<f64>: Encode<'q, DB> + Type<DB>,
    {
        query
            .bind(self.call_id)
            .bind(self.leg_index)
            .bind(self.side)
            .bind(self.sip_call_id)
            .bind(self.local_tag)
            .bind(self.remote_tag)
            .bind(self.target)
            .bind(self.signalling_addr)
            .bind(self.started_at_ms)
            .bind(self.answered_at_ms)
            .bind(self.ended_at_ms)
            .bind(self.final_status)
            .bind(self.packets_in)
            .bind(self.bytes_in)
            .bind(self.packets_out)
            .bind(self.bytes_out)
            .bind(self.packets_lost)
            .bind(self.jitter_ms)
            .bind(self.rtcp_in)
            .bind(self.rejected)
            .bind(self.trunk)
            .bind(self.stage)
    }

    fn into_record(self) -> Result<LegRecord, StoreError> {
        let corrupt = |problem| StoreError::CorruptRow {
            call_id: self.call_id.clone(),
            problem,
        };
        let side = match self.side.as_str() {
            "a" => LegSide::A,
            "b" => LegSide::B,
            _ => return Err(corrupt("unknown leg side")),
        };
        let signalling_addr = self
            .signalling_addr
            .as_deref()
            .map(|addr| {
                addr.parse::<SocketAddr>()
                    .map_err(|_| corrupt("bad signalling_addr"))
            })
            .transpose()?;
        let media = match (
            self.packets_in,
            self.bytes_in,
            self.packets_out,
            self.bytes_out,
            self.packets_lost,
            self.jitter_ms,
            self.rtcp_in,
            self.rejected,
        ) {
            (None, None, None, None, None, None, None, None) => None,
            (
                Some(packets_in),
                Some(bytes_in),
                Some(packets_out),
                Some(bytes_out),
                Some(packets_lost),
                Some(jitter_ms),
                Some(rtcp_in),
                Some(rejected),
            ) => {
                let count = |v: i64| u64::try_from(v).map_err(|_| corrupt("negative counter"));
                Some(MediaCounters {
                    packets_in: count(packets_in)?,
                    bytes_in: count(bytes_in)?,
                    packets_out: count(packets_out)?,
                    bytes_out: count(bytes_out)?,
                    packets_lost,
                    jitter_ms,
                    rtcp_in: count(rtcp_in)?,
                    rejected: count(rejected)?,
                })
            }
            _ => return Err(corrupt("media counters partly NULL")),
        };
        Ok(LegRecord {
            side,
            sip_call_id: self.sip_call_id,
            local_tag: self.local_tag,
            remote_tag: self.remote_tag,
            target: self.target,
            signalling_addr,
            started_at: millis(self.started_at_ms).ok_or_else(|| corrupt("bad started_at_ms"))?,
            answered_at: self
                .answered_at_ms
                .map(|ms| millis(ms).ok_or_else(|| corrupt("bad answered_at_ms")))
                .transpose()?,
            ended_at: millis(self.ended_at_ms).ok_or_else(|| corrupt("bad ended_at_ms"))?,
            final_status: self
                .final_status
                .map(|s| u16::try_from(s).map_err(|_| corrupt("bad final_status")))
                .transpose()?,
            media,
            trunk: self.trunk,
            stage: u32::try_from(self.stage).map_err(|_| corrupt("negative stage"))?,
        })
    }
}

/// [`MediaCounters`] as column values.
#[derive(Clone, Copy)]
struct MediaColumns {
    packets_in: i64,
    bytes_in: i64,
    packets_out: i64,
    bytes_out: i64,
    packets_lost: i64,
    jitter_ms: f64,
    rtcp_in: i64,
    rejected: i64,
}

impl MediaColumns {
    fn from_counters(m: MediaCounters) -> Result<Self, StoreError> {
        Ok(MediaColumns {
            packets_in: to_column(m.packets_in, "media.packets_in")?,
            bytes_in: to_column(m.bytes_in, "media.bytes_in")?,
            packets_out: to_column(m.packets_out, "media.packets_out")?,
            bytes_out: to_column(m.bytes_out, "media.bytes_out")?,
            packets_lost: m.packets_lost,
            jitter_ms: m.jitter_ms,
            rtcp_in: to_column(m.rtcp_in, "media.rtcp_in")?,
            rejected: to_column(m.rejected, "media.rejected")?,
        })
    }
}

/// SQL integers are signed 64-bit in both backends.
fn to_column(value: u64, field: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange { field })
}

fn millis(value: i64) -> Option<UnixMillis> {
    u64::try_from(value).ok().map(UnixMillis)
}

fn hangup_side_name(side: HangupSide) -> &'static str {
    match side {
        HangupSide::Caller => "caller",
        HangupSide::Callee => "callee",
        HangupSide::Switch => "switch",
    }
}
