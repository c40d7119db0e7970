//! Random sequences of inputs from both phones and the actor at random instants. Whatever
//! happens: the caller's INVITE gets at most one final status, Answered and Ended come at
//! most once, nothing comes after Finished, and after a hangup plus 64*T1 of timers the call
//! has ended exactly once and the machine has finished.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::*;
use crate::call::HangupCause;
use sip_core::message::Uri;

const CAUSES: [HangupCause; 4] = [
    HangupCause::MediaTimeout,
    HangupCause::SystemShutdown,
    HangupCause::UnallocatedNumber,
    HangupCause::UserNotRegistered,
];

/// The simulated phones and what they have seen.
struct World {
    call: Call,
    rng: StdRng,
    seed: u64,
    now: u64,
    late_offer: bool,
    /// The switch's tag towards the caller, once seen.
    a_tag: Option<String>,
    /// The switch's From tag and Call-ID towards the callee, once dialled.
    b_dialog: Option<(String, String)>,
    a_seq: u32,
    b_seq: u32,
    branches: u32,
    /// Requests the switch sent (ACK excepted) that a phone may answer, again and again.
    outstanding: Vec<Sent>,
    /// 2xx responses to INVITEs the switch sent: (to the caller, CSeq number).
    to_ack: Vec<(bool, u32)>,
    /// The caller's last re-INVITE: (CSeq, branch), for its CANCEL.
    a_reinvite: Option<(u32, String)>,
    /// Requests the phones sent: (from the caller, text), for retransmissions.
    sent_by_phones: Vec<(bool, String)>,
    finals_to_invite: BTreeSet<u16>,
    /// Every request the switch sent, as text.
    requests_seen: BTreeSet<String>,
    answered: usize,
    ended: usize,
    finished: usize,
}

impl World {
    fn new(seed: u64) -> World {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut s = settings();
        s.session_expires = [None, Some(90), Some(1800)]
            .choose(&mut rng)
            .copied()
            .flatten()
            .map(Duration::from_secs);
        s.max_duration = rng.gen_bool(0.3).then(|| Duration::from_secs(600));
        let late_offer = rng.gen_bool(0.3);
        let body = sdp("192.0.2.10", 4000, 1, "");
        let extra = if rng.gen_bool(0.3) {
            "Session-Expires: 120;refresher=uac\n"
        } else {
            ""
        };
        let invite = invite_text(extra, (!late_offer).then_some(body.as_str()));
        let media = if rng.gen_bool(0.5) {
            anchored()
        } else {
            MediaPlan::Direct
        };
        let call = Call::with(&invite, s, media);
        let mut world = World {
            call,
            rng,
            seed,
            now: 0,
            late_offer,
            a_tag: None,
            b_dialog: None,
            a_seq: 10,
            b_seq: 0,
            branches: 0,
            outstanding: Vec::new(),
            to_ack: Vec::new(),
            a_reinvite: None,
            sent_by_phones: vec![(true, invite)],
            finals_to_invite: BTreeSet::new(),
            requests_seen: BTreeSet::new(),
            answered: 0,
            ended: 0,
            finished: 0,
        };
        if world.rng.gen_bool(0.9) {
            let phones = if world.rng.gen_bool(0.5) {
                vec![PHONE_B1]
            } else {
                vec![PHONE_B1, PHONE_B2]
            };
            world.dial(&phones);
        }
        world.observe();
        world
    }

    /// Checks and files everything the machine sent and reported since the last input.
    fn observe(&mut self) {
        let seed = self.seed;
        let sent = self.call.take();
        let events = self.call.take_events();
        if self.finished > 0 {
            assert!(
                sent.is_empty(),
                "seed {seed}: sent after Finished: {sent:?}"
            );
            assert!(events.is_empty(), "seed {seed}: events after Finished");
        }
        for s in sent {
            let text = s.text();
            let foreign: &[&str] = if s.to_a() {
                &["btag", "z9hG4bKb-", "PhoneB"]
            } else {
                &["atag", "a-call@", "z9hG4bKa-", "PhoneA"]
            };
            for word in foreign {
                assert!(!text.contains(word), "seed {seed}: {word} crossed:\n{text}");
            }
            if s.message.as_request().is_some() {
                // After the end only BYE, CANCEL, ACK and retransmissions go out.
                let known = self.requests_seen.contains(&text);
                assert!(
                    self.ended == 0
                        || known
                        || ["BYE", "CANCEL", "ACK"].iter().any(|m| s.is_request(m)),
                    "seed {seed}: a new request after the end:\n{text}"
                );
                self.requests_seen.insert(text);
            }
            if let Some(status) = s.status() {
                let cseq = s.message.headers().cseq().unwrap();
                let is_invite = cseq.method.as_str() == "INVITE";
                if s.to_a() && is_invite && cseq.seq == 10 {
                    if status >= 200 {
                        self.finals_to_invite.insert(status);
                    }
                    if let Some(tag) = s.to_tag() {
                        self.a_tag = Some(tag);
                    }
                }
                if is_invite && (200..300).contains(&status) {
                    self.to_ack.push((s.to_a(), cseq.seq));
                }
            } else if s.is_request("INVITE") && !s.to_a() && self.b_dialog.is_none() {
                self.b_dialog = Some((s.tag_in_from().unwrap(), s.call_id()));
            }
            if s.message.as_request().is_some() && !s.is_request("ACK") {
                self.outstanding.push(s);
            }
        }
        assert!(
            self.finals_to_invite.len() <= 1,
            "seed {seed}: the caller got {:?}",
            self.finals_to_invite
        );
        for event in events {
            match event {
                CallEvent::Answered => {
                    assert_eq!(self.ended, 0, "seed {seed}: Answered after Ended");
                    self.answered += 1;
                }
                CallEvent::Ended(_) => self.ended += 1,
                CallEvent::Finished => {
                    assert_eq!(self.ended, 1, "seed {seed}: Finished before Ended");
                    self.finished += 1;
                }
                CallEvent::RemoteMedia { .. } | CallEvent::Ringing | CallEvent::Dtmf(_) => {}
                // Only an empty stage; `dial` answered it as the actor does.
                CallEvent::StageFailed(_) => {}
                CallEvent::OriginAnswered => {
                    panic!("seed {seed}: a call from a caller was originated")
                }
            }
        }
        assert!(self.answered <= 1, "seed {seed}: Answered twice");
        assert!(self.ended <= 1, "seed {seed}: Ended twice");
        assert!(self.finished <= 1, "seed {seed}: Finished twice");
        if self.finished > 0 {
            assert_eq!(self.call.m.poll_timeout(), None, "seed {seed}");
        }
    }

    fn branch(&mut self, side: char) -> String {
        self.branches += 1;
        format!("z9hG4bK{side}-rand{}", self.branches)
    }

    fn offer(&mut self, ip: &str, port: u16) -> String {
        let direction = ["", "sendonly", "inactive"].choose(&mut self.rng).unwrap();
        let version = self.rng.gen_range(1..5);
        sdp(ip, port, version, direction)
    }

    fn step(&mut self) {
        let now = self.now;
        // Weighted so that most calls get answered and live a while before they end.
        match self.rng.gen_range(0..100) {
            0..=2 => {
                let phones = [vec![PHONE_B1], vec![PHONE_B1, PHONE_B2], vec![]]
                    .choose(&mut self.rng)
                    .unwrap()
                    .clone();
                self.dial(&phones);
            }
            3 => {
                let cause = *CAUSES.choose(&mut self.rng).unwrap();
                if self.rng.gen_bool(0.5) {
                    self.call.m.reject(self.call.at(now), cause);
                    self.call.collect(now);
                } else {
                    self.call.hangup(now, cause);
                }
            }
            4..=41 => self.phone_answers(),
            42..=61 => self.caller_sends(),
            62..=76 => self.callee_sends(),
            77..=80 => {
                if let Some((from_a, text)) = self.sent_by_phones.choose(&mut self.rng).cloned() {
                    self.deliver(from_a, &text);
                }
            }
            _ => {
                let ms = *[
                    10, 100, 500, 1_000, 2_000, 5_000, 10_000, 33_000, 65_000, 200_000,
                ]
                .choose(&mut self.rng)
                .unwrap();
                self.now += ms;
                self.call.run_until(self.now);
            }
        }
        self.observe();
    }

    fn dial(&mut self, phones: &[&str]) {
        let targets = phones
            .iter()
            .map(|phone| {
                let mut flow = peer(phone);
                if self.rng.gen_bool(0.3) {
                    flow.transport = Transport::Tcp;
                }
                Target::new(Uri::parse(&format!("sip:1001@{phone}")).unwrap(), flow)
            })
            .collect();
        self.call.m.dial(self.call.at(self.now), one_stage(targets));
        self.call.collect(self.now);
        let failed = self
            .call
            .events
            .iter()
            .any(|e| matches!(e, CallEvent::StageFailed(_)));
        if failed {
            self.call.m.no_more_stages(self.call.at(self.now));
            self.call.collect(self.now);
        }
    }

    fn deliver(&mut self, from_a: bool, text: &str) {
        let now = self.now;
        if from_a {
            self.call.a_sends(now, text);
        } else {
            self.call.b_sends(now, PHONE_B1, text);
        }
    }

    /// A phone answers one of the switch's requests (perhaps once more).
    fn phone_answers(&mut self) {
        let Some(request) = self.outstanding.choose(&mut self.rng).cloned() else {
            return;
        };
        let (tag, contact, ip) = if request.to_a() {
            ("atag", "1000@192.0.2.10:5060", "192.0.2.10")
        } else if request.to_phone(PHONE_B1) {
            ("btag1", "b1@192.0.2.20:5060", "192.0.2.20")
        } else {
            ("btag2", "b2@192.0.2.30:5062", "192.0.2.30")
        };
        let is_invite = request.is_request("INVITE");
        let status = if is_invite {
            *[
                100, 180, 183, 200, 200, 200, 200, 200, 200, 302, 408, 486, 487, 491, 500, 603,
            ]
            .choose(&mut self.rng)
            .unwrap()
        } else {
            *[200, 200, 200, 408, 481, 500]
                .choose(&mut self.rng)
                .unwrap()
        };
        let body = (is_invite && matches!(status, 183 | 200) && self.rng.gen_bool(0.8))
            .then(|| self.offer(ip, 5000));
        let response = reply(request.request(), status, tag, contact, body.as_deref());
        self.call.respond(self.now, response);
        if status >= 200 && self.rng.gen_bool(0.7) {
            self.outstanding
                .retain(|s| s.message.encode() != request.message.encode());
        }
    }

    fn caller_sends(&mut self) {
        let tag = self.a_tag.clone().unwrap_or_else(|| "unknown".into());
        let text = match self.rng.gen_range(0..24) {
            0 => invite_text("", None)
                .replacen("INVITE sip:", "CANCEL sip:", 1)
                .replace("10 INVITE", "10 CANCEL"),
            1 => {
                self.a_seq += 1;
                let branch = self.branch('a');
                a_request("BYE", self.a_seq, &tag, &branch, "", None)
            }
            2..=9 => {
                let oks: Vec<u32> = self.to_ack.iter().filter(|o| o.0).map(|o| o.1).collect();
                let seq = oks.choose(&mut self.rng).copied().unwrap_or(10);
                let body = (seq == 10 && self.late_offer).then(|| sdp("192.0.2.10", 4000, 1, ""));
                // The INVITE's own branch: the ACK for a failure (RFC 3261 §17.1.1.3).
                let branch = if self.rng.gen_bool(0.3) {
                    "z9hG4bKa1".to_owned()
                } else {
                    self.branch('a')
                };
                a_request("ACK", seq, &tag, &branch, "", body.as_deref())
            }
            10..=14 => {
                self.a_seq += 1;
                let branch = self.branch('a');
                self.a_reinvite = Some((self.a_seq, branch.clone()));
                let body = self
                    .rng
                    .gen_bool(0.8)
                    .then(|| self.offer("192.0.2.10", 4000));
                a_request("INVITE", self.a_seq, &tag, &branch, "", body.as_deref())
            }
            15..=16 => match self.a_reinvite.clone() {
                Some((seq, branch)) => a_request("CANCEL", seq, &tag, &branch, "", None),
                None => return,
            },
            17..=20 => {
                self.a_seq += 1;
                let branch = self.branch('a');
                let body = self
                    .rng
                    .gen_bool(0.5)
                    .then(|| self.offer("192.0.2.10", 4000));
                a_request("UPDATE", self.a_seq, &tag, &branch, "", body.as_deref())
            }
            _ => {
                self.a_seq += 1;
                let branch = self.branch('a');
                a_request("INFO", self.a_seq, &tag, &branch, "", None)
            }
        };
        self.sent_by_phones.push((true, text.clone()));
        self.deliver(true, &text);
    }

    fn callee_sends(&mut self) {
        let Some((b_tag, call_id)) = self.b_dialog.clone() else {
            return;
        };
        let branch = self.branch('b');
        let text = match self.rng.gen_range(0..12) {
            0 => {
                self.b_seq += 1;
                b_request("BYE", self.b_seq, &b_tag, &call_id, &branch, "", None)
            }
            1..=4 => {
                self.b_seq += 1;
                let body = self.offer("192.0.2.20", 5000);
                let seq = self.b_seq;
                b_request("INVITE", seq, &b_tag, &call_id, &branch, "", Some(&body))
            }
            5..=7 => {
                let oks: Vec<u32> = self.to_ack.iter().filter(|o| !o.0).map(|o| o.1).collect();
                let Some(seq) = oks.choose(&mut self.rng).copied() else {
                    return;
                };
                b_request("ACK", seq, &b_tag, &call_id, &branch, "", None)
            }
            8..=9 => {
                self.b_seq += 1;
                let se = "Session-Expires: 120;refresher=uac\n";
                b_request("UPDATE", self.b_seq, &b_tag, &call_id, &branch, se, None)
            }
            _ => {
                self.b_seq += 1;
                b_request("INFO", self.b_seq, &b_tag, &call_id, &branch, "", None)
            }
        };
        self.sent_by_phones.push((false, text.clone()));
        self.deliver(false, &text);
    }
}

#[test]
fn random_inputs_end_the_call_exactly_once_and_the_machine_always_finishes() {
    for seed in 0..500 {
        let mut world = World::new(seed);
        let steps = world.rng.gen_range(5..120);
        for _ in 0..steps {
            world.step();
        }
        let end = world.now;
        world.call.hangup(end, HangupCause::SystemShutdown);
        world.observe();
        let t1 = world.call.m.settings.timers.t1;
        let last = end + u64::try_from((t1 * 64).as_millis()).unwrap();
        world.call.run_until(last);
        world.observe();
        assert_eq!(world.ended, 1, "seed {seed}: Ended once");
        assert_eq!(world.finished, 1, "seed {seed}: Finished");
        assert!(world.call.m.is_ended());
        assert_eq!(world.call.m.poll_timeout(), None, "seed {seed}");
    }
}
