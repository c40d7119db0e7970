//! Client INVITE transaction (RFC 3261 §17.1.1, with RFC 6026's Accepted state): Calling,
//! Proceeding, Completed, Accepted, Terminated.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ack::AckTemplate;
use super::config::TimerConfig;
use super::error::TransactionError;
use super::event::{Outbox, TransactionEvent};
use super::key::TransactionKey;
use super::timer::{Timer, TimerSet};
use crate::message::{Method, Request, Response};

/// States of [`ClientInviteTransaction`] (RFC 3261 Figure 5 as amended by RFC 6026 Figure 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, nothing received yet.
    Calling,
    /// A provisional response arrived; waiting for a final one without a deadline.
    Proceeding,
    /// A 300–699 arrived and was ACKed; re-ACKing its retransmissions until Timer D.
    Completed,
    /// A 2xx arrived (RFC 6026); its retransmissions still reach the TU until Timer M.
    Accepted,
    /// Done; the driver drops the transaction.
    Terminated,
}

/// A client INVITE transaction (RFC 3261 §17.1.1).
///
/// Construction queues the first transmission of the INVITE. For a 300–699 final response
/// the transaction builds and sends the ACK itself (RFC 3261 §17.1.1.3); the ACK for a 2xx is
/// the TU's job. Instead of terminating on a 2xx as RFC 3261 says, it follows RFC 6026 and
/// stays in Accepted for 64*T1 so 2xx retransmissions (from forks as well) reach the TU.
#[derive(Debug)]
pub struct ClientInviteTransaction {
    key: TransactionKey,
    request: Request,
    encoded: Bytes,
    ack_template: AckTemplate,
    ack: Option<Bytes>,
    reliable: bool,
    config: TimerConfig,
    state: ClientInviteState,
    timers: TimerSet,
    retransmit_interval: Duration,
    outbox: Outbox,
}

impl ClientInviteTransaction {
    /// Starts the transaction for the INVITE `request` at `now` and queues its first
    /// transmission.
    ///
    /// `reliable` is true for TCP/TLS/WS: no retransmissions, and Timer D is zero.
    pub fn new(
        request: Request,
        now: Instant,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        if *request.method() != Method::Invite {
            return Err(TransactionError::WrongMethod {
                expected: "INVITE",
                found: request.method().clone(),
            });
        }
        let key = TransactionKey::for_client_request(&request)?;
        let ack_template = AckTemplate::from_invite(&request)?;
        let encoded = request.encode();
        let mut tx = Self {
            key,
            request,
            encoded,
            ack_template,
            ack: None,
            reliable,
            config,
            state: ClientInviteState::Calling,
            timers: TimerSet::default(),
            retransmit_interval: config.first_retransmit(),
            outbox: Outbox::default(),
        };
        tx.outbox.transmit(tx.encoded.clone());
        // RFC 3261 §17.1.1.2: Timer A only over unreliable transport; Timer B always.
        if !reliable {
            tx.timers.arm(Timer::A, now, tx.retransmit_interval);
        }
        tx.timers.arm(Timer::B, now, config.transaction_timeout());
        Ok(tx)
    }

    /// The key a response must have to reach this transaction (RFC 3261 §17.1.3).
    pub fn key(&self) -> &TransactionKey {
        &self.key
    }

    /// The INVITE this transaction sends (the TU builds a CANCEL from it, RFC 3261 §9.1).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// Feeds a response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let status = response.status();
        match self.state {
            ClientInviteState::Calling | ClientInviteState::Proceeding => {
                if status.is_provisional() {
                    // RFC 3261 §17.1.1.2: a provisional stops retransmissions and Timer B.
                    self.timers.disarm(Timer::A);
                    self.timers.disarm(Timer::B);
                    self.state = ClientInviteState::Proceeding;
                    self.outbox.event(TransactionEvent::Response(response));
                } else if status.is_success() {
                    // RFC 6026 §7.2: a 2xx goes to the TU and moves to Accepted for Timer M.
                    // The INVITE is never retransmitted again: its bytes can go.
                    self.encoded = Bytes::new();
                    self.timers.clear();
                    self.state = ClientInviteState::Accepted;
                    self.timers
                        .arm(Timer::M, now, self.config.transaction_timeout());
                    self.outbox.event(TransactionEvent::Response(response));
                } else {
                    // RFC 3261 §17.1.1.2: 300–699 is ACKed here and passed to the TU.
                    let ack = self.ack_template.ack_for(&response).encode();
                    self.encoded = Bytes::new();
                    self.outbox.transmit(ack.clone());
                    self.ack = Some(ack);
                    self.timers.clear();
                    self.state = ClientInviteState::Completed;
                    self.outbox.event(TransactionEvent::Response(response));
                    let d = self.config.timer_d(self.reliable);
                    if d.is_zero() {
                        self.terminate();
                    } else {
                        self.timers.arm(Timer::D, now, d);
                    }
                }
            }
            ClientInviteState::Completed => {
                // RFC 3261 §17.1.1.2: a retransmitted final is answered with the same ACK and
                // not passed up.
                if status.is_final()
                    && !status.is_success()
                    && let Some(ack) = &self.ack
                {
                    self.outbox.transmit(ack.clone());
                }
            }
            ClientInviteState::Accepted => {
                // RFC 6026 §7.2: 2xx retransmissions reach the TU, which re-sends its ACK.
                if status.is_success() {
                    self.outbox.event(TransactionEvent::Response(response));
                }
            }
            ClientInviteState::Terminated => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            self.on_timer(now, timer);
        }
    }

    /// The transport failed to send the INVITE (RFC 3261 §17.1.1.2, §17.1.4): the TU learns
    /// of it and the transaction terminates. A failed ACK is not reported.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(
            self.state,
            ClientInviteState::Calling | ClientInviteState::Proceeding
        ) {
            self.outbox.event(TransactionEvent::TransportError);
            self.terminate();
        }
    }

    /// The next encoded message (INVITE or ACK) to send to the request's destination.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbox.poll_transmit()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.outbox.poll_event()
    }

    /// The earliest armed timer; call `handle_timeout` then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match (self.state, timer) {
            (ClientInviteState::Calling, Timer::A) => {
                // RFC 3261 §17.1.1.2: Timer A doubles without a cap; Timer B ends it.
                self.outbox.transmit(self.encoded.clone());
                self.retransmit_interval = self.retransmit_interval.saturating_mul(2);
                self.timers.arm(Timer::A, now, self.retransmit_interval);
            }
            (ClientInviteState::Calling, Timer::B) => {
                // RFC 3261 §17.1.1.2: still Calling when Timer B fires means a timeout.
                self.outbox.event(TransactionEvent::Timeout(Timer::B));
                self.terminate();
            }
            (ClientInviteState::Completed, Timer::D) | (ClientInviteState::Accepted, Timer::M) => {
                self.terminate();
            }
            _ => {}
        }
    }

    fn terminate(&mut self) {
        if self.state != ClientInviteState::Terminated {
            self.state = ClientInviteState::Terminated;
            self.timers.clear();
            self.outbox.event(TransactionEvent::Terminated);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::transaction::fixtures::{
        Drain, decode_request, invite, ms, non_invite, response_to, summary, t0,
    };

    fn unreliable(now: Instant) -> ClientInviteTransaction {
        ClientInviteTransaction::new(invite(), now, false, TimerConfig::default()).unwrap()
    }

    fn reliable(now: Instant) -> ClientInviteTransaction {
        ClientInviteTransaction::new(invite(), now, true, TimerConfig::default()).unwrap()
    }

    /// Runs the transaction to `until`, firing each deadline exactly when due; returns the
    /// offsets (ms from `t0`) at which something was transmitted.
    fn transmit_times(tx: &mut ClientInviteTransaction, t0: Instant, until: Instant) -> Vec<u64> {
        let mut times = Vec::new();
        while let Some(at) = tx.poll_timeout().filter(|at| *at <= until) {
            tx.handle_timeout(at);
            for _ in tx.transmits() {
                times.push(at.duration_since(t0).as_millis() as u64);
            }
        }
        times
    }

    #[test]
    fn client_invite_sends_the_request_on_creation() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        let sent = tx.transmits();
        assert_eq!(sent.len(), 1);
        assert_eq!(decode_request(&sent[0]).method(), &Method::Invite);
        assert_eq!(tx.state(), ClientInviteState::Calling);
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 500)));
        assert!(tx.events().is_empty());
    }

    #[test]
    fn client_invite_retransmits_until_timer_b() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.transmits();
        // RFC 3261 §17.1.1.2: A doubles without a T2 cap (8 s, 16 s intervals) until B at 64*T1.
        let times = transmit_times(&mut tx, t0, ms(t0, 40_000));
        assert_eq!(times, vec![500, 1_500, 3_500, 7_500, 15_500, 31_500]);
        assert_eq!(summary(&tx.events()), ["timeout B", "terminated"]);
        assert_eq!(tx.state(), ClientInviteState::Terminated);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn client_invite_over_reliable_transport_never_retransmits() {
        let t0 = t0();
        let mut tx = reliable(t0);
        tx.transmits();
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 32_000)));
        tx.handle_timeout(ms(t0, 31_999));
        assert!(tx.transmits().is_empty());
        assert_eq!(tx.state(), ClientInviteState::Calling);
        tx.handle_timeout(ms(t0, 32_000));
        assert!(tx.transmits().is_empty());
        assert_eq!(summary(&tx.events()), ["timeout B", "terminated"]);
    }

    #[test]
    fn client_invite_provisional_stops_retransmissions_and_timer_b() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.transmits();
        tx.handle_timeout(ms(t0, 500));
        assert_eq!(tx.transmits().len(), 1);
        tx.handle_response(ms(t0, 600), response_to(&invite(), 180));
        assert_eq!(tx.state(), ClientInviteState::Proceeding);
        assert_eq!(summary(&tx.events()), ["180"]);
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_timeout(ms(t0, 100_000));
        assert!(tx.transmits().is_empty());
        assert_eq!(tx.state(), ClientInviteState::Proceeding);
        // RFC 3261 §17.1.1.2: further provisionals still reach the TU.
        tx.handle_response(ms(t0, 100_001), response_to(&invite(), 183));
        assert_eq!(summary(&tx.events()), ["183"]);
    }

    #[test]
    fn client_invite_acks_non_2xx_itself() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.transmits();
        tx.handle_response(ms(t0, 100), response_to(&invite(), 180));
        tx.handle_response(ms(t0, 200), response_to(&invite(), 486));
        assert_eq!(summary(&tx.events()), ["180", "486"]);
        assert_eq!(tx.state(), ClientInviteState::Completed);
        let sent = tx.transmits();
        assert_eq!(sent.len(), 1);
        let ack = decode_request(&sent[0]);
        let original = invite();
        // RFC 3261 §17.1.1.3: same Request-URI, Call-ID, From, CSeq number, top Via and
        // Route; To from the response; method ACK.
        assert_eq!(ack.method(), &Method::Ack);
        assert_eq!(ack.uri().to_string(), original.uri().to_string());
        let (h, o) = (ack.headers(), original.headers());
        assert_eq!(h.call_id().unwrap(), o.call_id().unwrap());
        assert_eq!(h.from().unwrap().tag(), o.from().unwrap().tag());
        let cseq = h.cseq().unwrap();
        assert_eq!((cseq.seq, cseq.method), (314159, Method::Ack));
        let vias = h.via().unwrap();
        assert_eq!(vias.len(), 1);
        assert_eq!(vias[0].to_string(), o.via().unwrap()[0].to_string());
        assert_eq!(h.to().unwrap().tag(), Some("a6c85cf"));
        assert_eq!(
            format!("{:?}", h.route().unwrap()),
            format!("{:?}", o.route().unwrap())
        );
        assert!(ack.body().is_empty());
    }

    #[test]
    fn client_invite_re_acks_retransmitted_final_without_telling_the_tu() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.transmits();
        tx.handle_response(ms(t0, 200), response_to(&invite(), 603));
        let first_ack = tx.transmits();
        tx.events();
        tx.handle_response(ms(t0, 700), response_to(&invite(), 603));
        assert_eq!(tx.transmits(), first_ack);
        assert!(tx.events().is_empty());
        // A provisional or 2xx that straggles in after the final is absorbed.
        tx.handle_response(ms(t0, 800), response_to(&invite(), 180));
        assert!(tx.transmits().is_empty());
        assert!(tx.events().is_empty());
    }

    #[test]
    fn client_invite_timer_d_ends_completed_after_32_seconds_over_unreliable_transport() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.handle_response(ms(t0, 1_000), response_to(&invite(), 404));
        tx.transmits();
        tx.events();
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 33_000)));
        tx.handle_timeout(ms(t0, 32_999));
        assert_eq!(tx.state(), ClientInviteState::Completed);
        tx.handle_timeout(ms(t0, 33_000));
        assert_eq!(tx.state(), ClientInviteState::Terminated);
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert!(tx.transmits().is_empty());
    }

    #[test]
    fn client_invite_over_reliable_transport_terminates_right_after_the_ack() {
        let t0 = t0();
        let mut tx = reliable(t0);
        tx.transmits();
        tx.handle_response(ms(t0, 1_000), response_to(&invite(), 500));
        assert_eq!(tx.transmits().len(), 1);
        assert_eq!(summary(&tx.events()), ["500", "terminated"]);
        assert_eq!(tx.state(), ClientInviteState::Terminated);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn client_invite_passes_2xx_and_its_retransmissions_to_the_tu_until_timer_m() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.transmits();
        tx.handle_response(ms(t0, 1_000), response_to(&invite(), 200));
        assert_eq!(tx.state(), ClientInviteState::Accepted);
        // RFC 3261 §13.2.2.4: the ACK for a 2xx is the TU's; the transaction sends nothing.
        assert!(tx.transmits().is_empty());
        assert_eq!(summary(&tx.events()), ["200"]);
        tx.handle_response(ms(t0, 1_500), response_to(&invite(), 200));
        tx.handle_response(ms(t0, 1_600), response_to(&invite(), 486));
        assert_eq!(summary(&tx.events()), ["200"]);
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 33_000)));
        tx.handle_timeout(ms(t0, 33_000));
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert_eq!(tx.state(), ClientInviteState::Terminated);
    }

    #[test]
    fn client_invite_accepts_2xx_while_calling_over_reliable_transport() {
        let t0 = t0();
        let mut tx = reliable(t0);
        tx.handle_response(ms(t0, 10), response_to(&invite(), 200));
        assert_eq!(tx.state(), ClientInviteState::Accepted);
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 32_010)));
    }

    #[test]
    fn client_invite_reports_transport_error_and_terminates() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.transmits();
        tx.handle_transport_error(ms(t0, 1));
        assert_eq!(summary(&tx.events()), ["transport error", "terminated"]);
        assert_eq!(tx.state(), ClientInviteState::Terminated);
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_response(ms(t0, 2), response_to(&invite(), 200));
        assert!(tx.events().is_empty());
    }

    #[test]
    fn client_invite_ignores_transport_error_on_the_ack() {
        let t0 = t0();
        let mut tx = unreliable(t0);
        tx.handle_response(ms(t0, 1), response_to(&invite(), 486));
        tx.events();
        tx.handle_transport_error(ms(t0, 2));
        assert!(tx.events().is_empty());
        assert_eq!(tx.state(), ClientInviteState::Completed);
    }

    #[test]
    fn client_invite_refuses_a_non_invite_request() {
        let err = ClientInviteTransaction::new(
            non_invite("OPTIONS"),
            t0(),
            false,
            TimerConfig::default(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            TransactionError::WrongMethod {
                found: Method::Options,
                ..
            }
        ));
    }

    #[test]
    fn client_invite_key_matches_its_responses() {
        let tx = unreliable(t0());
        let response = response_to(&invite(), 180);
        assert_eq!(tx.key(), &TransactionKey::for_response(&response).unwrap());
    }
}
