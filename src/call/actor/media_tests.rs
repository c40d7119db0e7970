//! Music on hold and recording commands through a call actor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use super::test_rig::*;
use crate::call::HangupCause;
use crate::cluster::BoxFuture;
use crate::media::Audio;
use crate::sip::call_table::{CallMessage, RecordingCommand, RecordingReply};
use crate::transport::{Peer, Transport};

#[tokio::test]
async fn recording_commands_follow_the_call_and_the_last_recording_reaches_the_record() {
    let (decide, decision) = oneshot::channel::<RouteDecision>();
    let route: BoxFuture<'static, RouteDecision> = Box::pin(async move {
        decision
            .await
            .unwrap_or(RouteDecision::Reject(HangupCause::TemporaryFailure))
    });
    let mut rig = Rig::start(route, true).await;
    assert_eq!(
        rig.recording(RecordingCommand::Start).await,
        RecordingReply::NotAnswered
    );
    decide
        .send(RouteDecision::App(Box::new(Waits)))
        .map_err(|_| ())
        .unwrap();
    rig.answered().await;
    assert_eq!(
        rig.recording(RecordingCommand::Pause).await,
        RecordingReply::Conflict("not recording")
    );
    let RecordingReply::Done { active: true, path } = rig.recording(RecordingCommand::Start).await
    else {
        panic!("not started");
    };
    assert!(path.ends_with(".wav"), "{path}");
    assert_eq!(
        rig.recording(RecordingCommand::Start).await,
        RecordingReply::Conflict("already recording")
    );
    assert_eq!(
        rig.recording(RecordingCommand::Pause).await,
        RecordingReply::Done {
            active: false,
            path: path.clone()
        }
    );
    assert_eq!(
        rig.recording(RecordingCommand::Resume).await,
        RecordingReply::Done {
            active: true,
            path: path.clone()
        }
    );
    assert_eq!(
        rig.recording(RecordingCommand::Stop).await,
        RecordingReply::Done {
            active: false,
            path: path.clone()
        }
    );
    rig.mailbox
        .send(Box::new(CallMessage::HangUp))
        .await
        .unwrap();
    let bye = rig.request().await;
    assert_eq!(bye.method().as_str(), "BYE");
    let record = rig.record().await;
    assert_eq!(record.hangup.cause, "manager_request");
    let recording = record.recording.unwrap();
    assert_eq!(recording.path, path);
    assert_eq!(recording.status, "complete");
    rig.close().await;
}

#[tokio::test]
async fn without_a_recordings_directory_recording_is_disabled() {
    let rig = Rig::start(Box::pin(std::future::pending()), false).await;
    assert_eq!(
        rig.recording(RecordingCommand::Start).await,
        RecordingReply::Disabled
    );
    rig.close().await;
}

#[tokio::test]
async fn music_plays_to_the_other_side_while_one_side_holds_and_stops_on_resume() {
    let b_phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b_phone.local_addr().unwrap();
    let (decide, decision) = oneshot::channel::<RouteDecision>();
    let route: BoxFuture<'static, RouteDecision> = Box::pin(async move {
        decision
            .await
            .unwrap_or(RouteDecision::Reject(HangupCause::TemporaryFailure))
    });
    let music = Audio::from_samples(vec![3000; 800]);
    let rig = Rig::start_with(route, false, Some(music)).await;
    let flow = Peer {
        transport: Transport::Udp,
        remote: b_addr,
        local: rig.switch,
    };
    let uri = sip_core::message::Uri::parse(&format!("sip:b@{b_addr}")).unwrap();
    let stage = crate::call::machine::Stage {
        targets: vec![crate::call::machine::Target::new(uri, flow)],
        ring_timeout: None,
        provisional_timeout: None,
        failover_on: Vec::new(),
    };
    let stages = FixedStages(std::collections::VecDeque::from([stage]));
    decide
        .send(RouteDecision::Dial(Box::new(stages)))
        .map_err(|_| ())
        .unwrap();
    let invite = next_request(&b_phone, "INVITE").await;
    let b_port = b_rtp.local_addr().unwrap().port();
    let answer = b_ok(&invite, &phone_sdp(b_port, 1, "sendrecv"));
    b_phone.send_to(&answer.encode(), rig.switch).await.unwrap();
    let ok = rig.answered().await;
    let tag = ok.headers().to().unwrap().tag().unwrap().to_owned();
    let a_port = rig.phone_rtp.local_addr().unwrap().port();
    let hold = phone_sdp(a_port, 2, "sendonly");
    rig.send(in_dialog(
        "INVITE",
        2,
        &rig.call_id,
        &tag,
        "Contact: <sip:1000@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\n",
        &hold,
    ))
    .await;
    let reinvite = next_request(&b_phone, "INVITE").await;
    let held = b_ok(&reinvite, &phone_sdp(b_port, 2, "recvonly"));
    b_phone.send_to(&held.encode(), rig.switch).await.unwrap();
    // B hears the music: PCMU from the relay while A sends nothing.
    let mut packet = vec![0; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), b_rtp.recv_from(&mut packet))
        .await
        .expect("no music on hold")
        .unwrap();
    assert!(n > 12);
    assert_eq!(packet[1] & 0x7f, 0);
    // A resumes: the music stops.
    rig.ack_reinvite(2, &tag).await;
    rig.send(in_dialog(
        "INVITE",
        3,
        &rig.call_id,
        &tag,
        "Contact: <sip:1000@127.0.0.1:5999>\r\nContent-Type: application/sdp\r\n",
        &phone_sdp(a_port, 3, "sendrecv"),
    ))
    .await;
    let reinvite = next_request(&b_phone, "INVITE").await;
    let resumed = b_ok(&reinvite, &phone_sdp(b_port, 3, "sendrecv"));
    b_phone
        .send_to(&resumed.encode(), rig.switch)
        .await
        .unwrap();
    rig.ack_reinvite(3, &tag).await;
    // Packets already under way drain; then nothing comes (A sends no audio).
    let quiet = async {
        loop {
            let received =
                tokio::time::timeout(Duration::from_millis(300), b_rtp.recv_from(&mut packet))
                    .await;
            if received.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), quiet)
        .await
        .expect("the music went on after resume");
    rig.close().await;
}
