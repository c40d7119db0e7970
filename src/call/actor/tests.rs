//! The call record's media counters, as the actor fills them in.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::call::record::{Hangup, HangupSide, LegRecord};
use crate::cluster::UnixMillis;
use crate::media::{MediaRelay, RelayConfig, SessionOptions};

fn leg(side: LegSide, answered: bool) -> LegRecord {
    LegRecord {
        side,
        sip_call_id: "c".into(),
        local_tag: "l".into(),
        remote_tag: None,
        target: "sip:1001@127.0.0.1".into(),
        signalling_addr: None,
        started_at: UnixMillis(1),
        answered_at: answered.then_some(UnixMillis(2)),
        ended_at: UnixMillis(3),
        final_status: None,
        media: None,
        trunk: None,
        stage: u32::from(side == LegSide::B),
    }
}

#[tokio::test]
async fn the_a_leg_and_the_answered_b_leg_get_the_relay_counters_and_other_branches_none() {
    let relay = MediaRelay::new(RelayConfig {
        address: "127.0.0.1".parse().unwrap(),
        port_min: 47000,
        port_max: 47999,
    })
    .unwrap();
    let session = relay.allocate(SessionOptions::default()).unwrap();
    let mut record = CallRecord {
        call_id: crate::call::CallId::new_random(),
        profile: "t".into(),
        from_uri: "sip:1000@127.0.0.1".into(),
        caller: None,
        to_uri: "sip:1001@127.0.0.1".into(),
        started_at: UnixMillis(1),
        answered_at: Some(UnixMillis(2)),
        ended_at: UnixMillis(3),
        hangup: Hangup {
            cause: "normal_clearing".into(),
            sip_status: 200,
            q850: 16,
            side: HangupSide::Caller,
        },
        legs: vec![
            leg(LegSide::A, true),
            leg(LegSide::B, false),
            leg(LegSide::B, true),
        ],
        recording: None,
    };
    fill_media(&mut record, &session);
    let media: Vec<_> = record.legs.iter().map(|l| l.media).collect();
    assert_eq!(
        media,
        [
            Some(MediaCounters::default()),
            None,
            Some(MediaCounters::default())
        ]
    );
}

#[test]
fn relay_counters_carry_over_field_by_field() {
    let stats = LegStats {
        packets_in: 1,
        bytes_in: 2,
        packets_out: 3,
        bytes_out: 4,
        packets_lost: -5,
        jitter_ms: 6.5,
        rtcp_in: 7,
        rejected: 8,
    };
    let expected = MediaCounters {
        packets_in: 1,
        bytes_in: 2,
        packets_out: 3,
        bytes_out: 4,
        packets_lost: -5,
        jitter_ms: 6.5,
        rtcp_in: 7,
        rejected: 8,
    };
    assert_eq!(counters(stats), expected);
}
