//! The call detail record a finished call hands to the durable store: the call, its legs,
//! how it ended and what media flowed. Plain data: produced by the call machine (the actor adds
//! the relay's media counters), written by `store`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::cluster::UnixMillis;

/// Our identifier of a call (never the SIP Call-ID of a leg: see [`LegRecord::sip_call_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(value_type = String, format = Uuid)]
pub struct CallId(pub uuid::Uuid);

impl CallId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Which side of the B2BUA a leg is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegSide {
    /// The caller's leg (the INVITE the switch received).
    A,
    /// A leg the switch dialled (one per forked branch).
    B,
}

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HangupSide {
    /// The caller (BYE or CANCEL from the A leg).
    Caller,
    /// The callee (BYE, or a final failure response from the B side).
    Callee,
    /// The switch (timeouts, errors, shutdown, rejection before dialling).
    Switch,
}

/// How a call ended: the stable cause code, the SIP status and Q.850 cause that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hangup {
    /// Stable cause code from the one cause table (`call::cause`), e.g. `normal_clearing`,
    /// `user_busy`, `no_answer`, `media_timeout`.
    pub cause: String,
    /// The SIP status the caller got or that ended the call (200 for a normal hang-up after
    /// answer; the final status for an unanswered call).
    pub sip_status: u16,
    /// The ITU-T Q.850 cause value.
    pub q850: u16,
    /// Who ended it.
    pub side: HangupSide,
}

/// A call's recording as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RecordingInfo {
    /// The file as the switch wrote it: the profile's recordings directory joined with
    /// `YYYY/MM/DD/<call id>.wav` (UTC date of the call's start).
    pub path: String,
    /// Audio length in milliseconds.
    pub duration_ms: u64,
    /// SHA-256 of the finished file (hex); absent when the recording failed.
    pub sha256: Option<String>,
    /// `complete` or `failed`.
    pub status: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Media counters of one leg, as the relay saw them (absent with direct media).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaCounters {
    /// RTP packets received from this leg's phone.
    pub packets_in: u64,
    /// RTP payload-and-header bytes received from this leg's phone.
    pub bytes_in: u64,
    /// RTP packets sent to this leg's phone.
    pub packets_out: u64,
    /// RTP bytes sent to this leg's phone.
    pub bytes_out: u64,
    /// Packets lost on the way from this leg's phone (RFC 3550 A.3 cumulative loss).
    pub packets_lost: i64,
    /// Interarrival jitter of this leg's stream in milliseconds (RFC 3550 A.8).
    pub jitter_ms: f64,
    /// RTCP packets relayed from this leg.
    pub rtcp_in: u64,
    /// Packets dropped because they came from an address that was not this leg's (RTP bleed
    /// guard) or arrived before the leg's address was known.
    pub rejected: u64,
}

/// One leg of a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LegRecord {
    /// A or B.
    pub side: LegSide,
    /// SIP Call-ID of the leg's dialog.
    pub sip_call_id: String,
    /// The switch's tag on this leg.
    pub local_tag: String,
    /// The phone's tag (absent for a B branch that never answered with a tag).
    pub remote_tag: Option<String>,
    /// The URI the leg was addressed to: the Request-URI of the INVITE (received for A,
    /// sent for B).
    pub target: String,
    /// Where the leg's signalling came from or went to.
    #[schema(value_type = Option<String>)]
    pub signalling_addr: Option<SocketAddr>,
    /// When the leg started (INVITE received or sent).
    #[schema(value_type = u64)]
    pub started_at: UnixMillis,
    /// When the leg answered (2xx), if it did.
    #[schema(value_type = Option<u64>)]
    pub answered_at: Option<UnixMillis>,
    /// When the leg ended.
    #[schema(value_type = u64)]
    pub ended_at: UnixMillis,
    /// The final status of the leg's initial INVITE (sent for A, received for B).
    pub final_status: Option<u16>,
    /// Relay counters (None with direct media or when the leg carried none).
    pub media: Option<MediaCounters>,
    /// The carrier trunk a B leg went out on (None for the A leg and for phones).
    #[serde(default)]
    pub trunk: Option<String>,
    /// Which dialling stage a B leg belongs to, from 1 in the order tried (0 for the A leg):
    /// with the leg's final status it names each attempt of a failover.
    #[serde(default)]
    pub stage: u32,
}

/// One record per call, written exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallRecord {
    /// Our id of the call.
    pub call_id: CallId,
    /// The profile the call came in on.
    pub profile: String,
    /// The caller's From URI (without tag).
    pub from_uri: String,
    /// The authenticated caller (digest user name), when there is one.
    pub caller: Option<String>,
    /// The Request-URI the caller dialled.
    pub to_uri: String,
    /// When the INVITE arrived.
    #[schema(value_type = u64)]
    pub started_at: UnixMillis,
    /// When the call was answered (the 2xx sent to the caller).
    #[schema(value_type = Option<u64>)]
    pub answered_at: Option<UnixMillis>,
    /// When the call ended.
    #[schema(value_type = u64)]
    pub ended_at: UnixMillis,
    /// How it ended.
    pub hangup: Hangup,
    /// The legs: A first, then each B branch in the order dialled.
    pub legs: Vec<LegRecord>,
    /// The call's recording, when it was recorded (policy, dialplan rule or API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingInfo>,
}

impl CallRecord {
    /// Whole seconds from start to end, rounded up.
    pub fn duration_secs(&self) -> u64 {
        self.ended_at
            .0
            .saturating_sub(self.started_at.0)
            .div_ceil(1000)
    }

    /// Billable seconds: from answer to end, rounded up to the next whole second (how
    /// carriers bill); 0 for an unanswered call.
    pub fn billable_secs(&self) -> u64 {
        self.answered_at
            .map_or(0, |at| self.ended_at.0.saturating_sub(at.0).div_ceil(1000))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn record(started: u64, answered: Option<u64>, ended: u64) -> CallRecord {
        CallRecord {
            call_id: CallId::new_random(),
            profile: "default".into(),
            from_uri: "sip:1000@127.0.0.1".into(),
            caller: Some("1000".into()),
            to_uri: "sip:1001@127.0.0.1".into(),
            started_at: UnixMillis(started),
            answered_at: answered.map(UnixMillis),
            ended_at: UnixMillis(ended),
            hangup: Hangup {
                cause: "normal_clearing".into(),
                sip_status: 200,
                q850: 16,
                side: HangupSide::Caller,
            },
            legs: Vec::new(),
            recording: None,
        }
    }

    #[test]
    fn a_leg_written_before_trunks_and_stages_existed_still_reads() {
        let old = r#"{"side":"b","sip_call_id":"c","local_tag":"l","remote_tag":null,
            "target":"sip:1001@192.0.2.20","signalling_addr":null,"started_at":1,
            "answered_at":null,"ended_at":2,"final_status":486,"media":null}"#;
        let leg: LegRecord = serde_json::from_str(old).unwrap();
        assert_eq!(leg.trunk, None);
        assert_eq!(leg.stage, 0);
        assert_eq!(leg.final_status, Some(486));
    }

    #[test]
    fn billable_seconds_round_up_from_answer() {
        let r = record(1_000, Some(3_000), 10_001);
        assert_eq!(r.billable_secs(), 8);
        assert_eq!(r.duration_secs(), 10);
    }

    #[test]
    fn unanswered_call_bills_nothing() {
        assert_eq!(record(1_000, None, 9_000).billable_secs(), 0);
    }
}
