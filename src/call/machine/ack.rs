//! The three-way handshake of INVITE, both ways: 2xx the switch retransmits until the ACK
//! (RFC 3261 §13.3.1.4), the ACKs it sends for 2xx it received (§13.2.2.4) and repeats for
//! their retransmissions, and the late-offer case where an ACK carries the answer that
//! completes the other side's exchange (RFC 3264 §4).
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::message::{Request, Response};
use sip_core::transaction::TransactionKey;

use super::CallMachine;
use super::api::{Destination, Transmit};
use super::outgoing;
use super::sdp_rewrite::{phone_media, read_sdp};
use crate::call::cause::HangupCause;
use crate::call::record::{HangupSide, LegSide};
use crate::transport::Peer;

/// Floor for the retransmit interval, so a zero T1 cannot spin.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// What the ACK for a 2xx completes.
#[derive(Debug, Clone)]
pub(super) enum AfterAck {
    /// Nothing more.
    Nothing,
    /// Late offer: the ACK carries the answer to the offer in `side`'s 2xx, so `side` gets
    /// its ACK now, with that answer.
    AckOther {
        /// The side whose 2xx waits for its ACK.
        side: LegSide,
        /// CSeq number of the INVITE that side answered.
        seq: u32,
        /// The client transaction of that INVITE (its 2xx retransmissions get the same ACK).
        key: TransactionKey,
        /// The To tag of that 2xx.
        tag: String,
    },
}

/// A 2xx the switch sent to an INVITE and retransmits until its ACK.
#[derive(Debug)]
pub(super) struct PendingOk {
    side: LegSide,
    seq: u32,
    bytes: Bytes,
    destination: Destination,
    interval: Duration,
    next: Instant,
    give_up: Instant,
    then: AfterAck,
}

impl PendingOk {
    /// When this 2xx needs attention next.
    pub(super) fn next_due(&self) -> Instant {
        self.next.min(self.give_up)
    }
}

/// An ACK the switch sent for a 2xx, repeated for each retransmission of that 2xx.
#[derive(Debug)]
pub(super) struct SentAck {
    /// The client INVITE transaction the 2xx belongs to.
    pub(super) key: TransactionKey,
    tag: String,
    bytes: Bytes,
    flow: Peer,
}

fn to_tag(response: &Response) -> String {
    response
        .headers()
        .to()
        .ok()
        .and_then(|to| to.tag().map(str::to_owned))
        .unwrap_or_default()
}

impl CallMachine {
    /// Starts retransmitting the 2xx `bytes` sent to `side`'s INVITE number `seq`.
    pub(super) fn expect_ack(
        &mut self,
        now: Instant,
        side: LegSide,
        seq: u32,
        bytes: Bytes,
        destination: Destination,
        then: AfterAck,
    ) {
        let interval = self.settings.timers.t1.max(MIN_INTERVAL);
        let give_up = now + self.transaction_timeout();
        super::push_tight(
            &mut self.oks,
            PendingOk {
                side,
                seq,
                bytes,
                destination,
                interval,
                next: now + interval,
                give_up,
                then,
            },
        );
    }

    /// True while a 2xx to an INVITE waits for its ACK.
    pub(super) fn awaiting_ack(&self) -> bool {
        !self.oks.is_empty()
    }

    /// RFC 3261 §13.3.1.4: retransmit each 2xx at T1, doubling up to T2; without an ACK
    /// after 64*T1 the session ends with BYE.
    pub(super) fn retransmit_oks(&mut self, now: Instant) {
        let t2 = self.settings.timers.t2.max(MIN_INTERVAL);
        let mut expired = false;
        for ok in &mut self.oks {
            if ok.give_up <= now {
                expired = true;
            } else if ok.next <= now {
                self.transmits.push_back(Transmit {
                    destination: ok.destination,
                    bytes: ok.bytes.clone(),
                    transaction: None,
                });
                ok.interval = ok.interval.saturating_mul(2).min(t2);
                ok.next = now + ok.interval;
            }
        }
        if expired {
            self.tear_down(
                now,
                HangupCause::TemporaryFailure,
                HangupSide::Switch,
                true,
                true,
            );
        }
    }

    /// An ACK for a 2xx from `side` (a dialog-level request, RFC 3261 §13.2.2.4): stops
    /// the retransmissions of that 2xx and completes a late offer. Others are absorbed.
    pub(super) fn on_ack(&mut self, side: LegSide, ack: Request) {
        let Ok(cseq) = ack.headers().cseq() else {
            return;
        };
        let Some(position) = self
            .oks
            .iter()
            .position(|ok| ok.side == side && ok.seq == cseq.seq)
        else {
            return;
        };
        let ok = self.oks.remove(position);
        if let AfterAck::AckOther {
            side: waiting,
            seq,
            key,
            tag,
        } = ok.then
        {
            let body = match read_sdp(ack.headers(), ack.body()) {
                Ok(Some(sdp)) => {
                    self.sdp_mut(side).heard(&sdp.parsed);
                    self.remote_media(side, phone_media(&sdp.parsed));
                    let relay = self.media.relay_for(waiting);
                    Some(self.sdp_mut(waiting).render(relay, &sdp))
                }
                _ => None,
            };
            self.ack_leg(waiting, seq, key, tag, body);
        }
    }

    /// Sends the ACK for `side`'s 2xx to INVITE number `seq` on its dialog, and keeps it for
    /// the 2xx's retransmissions.
    pub(super) fn ack_leg(
        &mut self,
        side: LegSide,
        seq: u32,
        key: TransactionKey,
        tag: String,
        body: Option<Bytes>,
    ) {
        let Some(leg) = self.leg(side) else {
            return;
        };
        let flow = leg.flow;
        let mut ack = leg.dialog.create_ack(seq, outgoing::via(&flow));
        if side == LegSide::B
            && let Some(branch) = self.branches.iter().find(|b| b.answered.is_some())
        {
            CallMachine::with_credentials(&mut ack, &branch.invite);
        }
        let ack = outgoing::request_with_sdp(ack, body.as_ref());
        self.remember_ack(key, tag, &ack, flow);
    }

    /// Sends `ack` and keeps it for retransmissions of the 2xx it acknowledges.
    pub(super) fn remember_ack(
        &mut self,
        key: TransactionKey,
        tag: String,
        ack: &Request,
        flow: Peer,
    ) {
        let bytes = self.send_ack(ack, flow);
        super::push_tight(
            &mut self.acks,
            SentAck {
                key,
                tag,
                bytes,
                flow,
            },
        );
    }

    /// A retransmitted 2xx whose ACK was sent: the same ACK again (RFC 3261 §13.2.2.4).
    pub(super) fn resend_ack(&mut self, key: &TransactionKey, response: &Response) -> bool {
        let tag = to_tag(response);
        let Some(sent) = self.acks.iter().find(|a| a.key == *key && a.tag == tag) else {
            return false;
        };
        self.transmits.push_back(Transmit {
            destination: Destination::Flow(sent.flow),
            bytes: sent.bytes.clone(),
            transaction: None,
        });
        true
    }

    /// Stops every 2xx retransmission; a side still waiting for a late-offer ACK gets one
    /// without a body.
    pub(super) fn flush_pending_acks(&mut self) {
        for ok in std::mem::take(&mut self.oks) {
            if let AfterAck::AckOther {
                side,
                seq,
                key,
                tag,
            } = ok.then
            {
                self.ack_leg(side, seq, key, tag, None);
            }
        }
    }

    /// The To tag of a response.
    pub(super) fn tag_of(response: &Response) -> String {
        to_tag(response)
    }
}
