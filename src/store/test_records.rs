//! Call records for the store's tests.

#![allow(clippy::unwrap_used)]

use crate::call::{CallId, CallRecord, Hangup, HangupSide, LegRecord, LegSide, MediaCounters};
use crate::cluster::UnixMillis;

/// An answered call started at `started_ms`, with an A leg carrying media counters and two
/// B branches (one answered with media, one cancelled without), each on its trunk and stage.
pub(super) fn answered_call(started_ms: u64) -> CallRecord {
    let media = MediaCounters {
        packets_in: 1_500,
        bytes_in: 258_000,
        packets_out: 1_498,
        bytes_out: 257_656,
        packets_lost: -2,
        jitter_ms: 3.25,
        rtcp_in: 6,
        rejected: 1,
    };
    CallRecord {
        call_id: CallId::new_random(),
        profile: "default".into(),
        from_uri: "sip:1000@example.com".into(),
        caller: Some("1000".into()),
        to_uri: "sip:1001@example.com".into(),
        started_at: UnixMillis(started_ms),
        answered_at: Some(UnixMillis(started_ms + 2_000)),
        ended_at: UnixMillis(started_ms + 32_500),
        hangup: Hangup {
            cause: "normal_clearing".into(),
            sip_status: 200,
            q850: 16,
            side: HangupSide::Caller,
        },
        legs: vec![
            LegRecord {
                side: LegSide::A,
                sip_call_id: "a84b4c76e66710@pc33.example.com".into(),
                local_tag: "sw-a1".into(),
                remote_tag: Some("1928301774".into()),
                target: "sip:1001@example.com".into(),
                signalling_addr: Some("192.0.2.10:5060".parse().unwrap()),
                started_at: UnixMillis(started_ms),
                answered_at: Some(UnixMillis(started_ms + 2_000)),
                ended_at: UnixMillis(started_ms + 32_500),
                final_status: Some(200),
                media: Some(media),
                trunk: None,
                stage: 0,
            },
            LegRecord {
                side: LegSide::B,
                sip_call_id: "sw-b1@switch".into(),
                local_tag: "sw-b1".into(),
                remote_tag: Some("as7d6".into()),
                target: "sip:1001@[2001:db8::5]:5062;transport=tcp".into(),
                signalling_addr: Some("[2001:db8::5]:5062".parse().unwrap()),
                started_at: UnixMillis(started_ms + 10),
                answered_at: Some(UnixMillis(started_ms + 1_990)),
                ended_at: UnixMillis(started_ms + 32_500),
                final_status: Some(200),
                media: Some(MediaCounters {
                    packets_lost: 0,
                    jitter_ms: 0.5,
                    ..media
                }),
                trunk: Some("carrier-b".into()),
                stage: 2,
            },
            LegRecord {
                side: LegSide::B,
                sip_call_id: "sw-b2@switch".into(),
                local_tag: "sw-b2".into(),
                remote_tag: None,
                target: "sip:1001@192.0.2.20:5060".into(),
                signalling_addr: None,
                started_at: UnixMillis(started_ms + 10),
                answered_at: None,
                ended_at: UnixMillis(started_ms + 1_990),
                final_status: Some(487),
                media: None,
                trunk: Some("carrier-a".into()),
                stage: 1,
            },
        ],
        recording: None,
    }
}

/// A call rejected before any leg was dialled.
pub(super) fn rejected_call(started_ms: u64) -> CallRecord {
    CallRecord {
        call_id: CallId::new_random(),
        profile: "default".into(),
        from_uri: "sip:1000@example.com".into(),
        caller: None,
        to_uri: "sip:9999@example.com".into(),
        started_at: UnixMillis(started_ms),
        answered_at: None,
        ended_at: UnixMillis(started_ms + 5),
        hangup: Hangup {
            cause: "unallocated_number".into(),
            sip_status: 404,
            q850: 1,
            side: HangupSide::Switch,
        },
        legs: Vec::new(),
        recording: None,
    }
}
