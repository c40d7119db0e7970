//! Client non-INVITE transaction (RFC 3261 §17.1.2): Trying, Proceeding, Completed, Terminated.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::TimerConfig;
use super::error::TransactionError;
use super::event::{Outbox, TransactionEvent};
use super::key::TransactionKey;
use super::timer::{Timer, TimerSet};
use crate::message::{Method, Request, Response};

/// States of [`ClientNonInviteTransaction`] (RFC 3261 Figure 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent, nothing received yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived; absorbing its retransmissions until Timer K.
    Completed,
    /// Done; the driver drops the transaction.
    Terminated,
}

/// A client transaction for any request other than INVITE and ACK (RFC 3261 §17.1.2).
///
/// Construction queues the first transmission of the request.
#[derive(Debug)]
pub struct ClientNonInviteTransaction {
    key: TransactionKey,
    request: Request,
    encoded: Bytes,
    reliable: bool,
    config: TimerConfig,
    state: ClientNonInviteState,
    timers: TimerSet,
    retransmit_interval: Duration,
    outbox: Outbox,
}

impl ClientNonInviteTransaction {
    /// Starts the transaction for `request` at `now` and queues its first transmission.
    ///
    /// `reliable` is true for TCP/TLS/WS: no retransmissions, and Timer K is zero.
    pub fn new(
        request: Request,
        now: Instant,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        if matches!(request.method(), Method::Invite | Method::Ack) {
            return Err(TransactionError::WrongMethod {
                expected: "a method other than INVITE and ACK",
                found: request.method().clone(),
            });
        }
        let key = TransactionKey::for_client_request(&request)?;
        let encoded = request.encode();
        let mut tx = Self {
            key,
            request,
            encoded,
            reliable,
            config,
            state: ClientNonInviteState::Trying,
            timers: TimerSet::default(),
            retransmit_interval: config.first_retransmit(),
            outbox: Outbox::default(),
        };
        tx.outbox.transmit(tx.encoded.clone());
        // RFC 3261 §17.1.2.2: Timer E only over unreliable transport; Timer F always.
        if !reliable {
            tx.timers.arm(Timer::E, now, tx.retransmit_interval);
        }
        tx.timers.arm(Timer::F, now, config.transaction_timeout());
        Ok(tx)
    }

    /// The key a response must have to reach this transaction (RFC 3261 §17.1.3).
    pub fn key(&self) -> &TransactionKey {
        &self.key
    }

    /// The request this transaction sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// Feeds a response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        let status = response.status();
        match self.state {
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding => {
                if status.is_provisional() {
                    // RFC 3261 §17.1.2.2: a provisional moves Trying to Proceeding.
                    self.state = ClientNonInviteState::Proceeding;
                    self.outbox.event(TransactionEvent::Response(response));
                } else {
                    // RFC 3261 §17.1.2.2: a final response goes to the TU; Timer K absorbs
                    // its retransmissions.
                    self.outbox.event(TransactionEvent::Response(response));
                    self.timers.clear();
                    // The request is never retransmitted again: its bytes can go.
                    self.encoded = Bytes::new();
                    self.state = ClientNonInviteState::Completed;
                    let k = self.config.wait_for_stragglers(self.reliable);
                    if k.is_zero() {
                        self.terminate();
                    } else {
                        self.timers.arm(Timer::K, now, k);
                    }
                }
            }
            // RFC 3261 §17.1.2.2: retransmissions in Completed are absorbed.
            ClientNonInviteState::Completed | ClientNonInviteState::Terminated => {}
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            self.on_timer(now, timer);
        }
    }

    /// The transport failed to send the request (RFC 3261 §17.1.4): the TU learns of it and
    /// the transaction terminates.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if matches!(
            self.state,
            ClientNonInviteState::Trying | ClientNonInviteState::Proceeding
        ) {
            self.outbox.event(TransactionEvent::TransportError);
            self.terminate();
        }
    }

    /// The next encoded message to send to the request's destination.
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
            (ClientNonInviteState::Trying, Timer::E) => {
                // RFC 3261 §17.1.2.2: Timer E doubles, capped at T2.
                self.outbox.transmit(self.encoded.clone());
                self.retransmit_interval = self.config.backoff_capped(self.retransmit_interval);
                self.timers.arm(Timer::E, now, self.retransmit_interval);
            }
            (ClientNonInviteState::Proceeding, Timer::E) => {
                // RFC 3261 §17.1.2.2: in Proceeding, Timer E is reset to T2.
                self.outbox.transmit(self.encoded.clone());
                self.retransmit_interval = self.config.proceeding_retransmit();
                self.timers.arm(Timer::E, now, self.retransmit_interval);
            }
            (ClientNonInviteState::Trying | ClientNonInviteState::Proceeding, Timer::F) => {
                // RFC 3261 §17.1.2.2: Timer F means the TU gets a timeout.
                self.outbox.event(TransactionEvent::Timeout(Timer::F));
                self.terminate();
            }
            (ClientNonInviteState::Completed, Timer::K) => self.terminate(),
            _ => {}
        }
    }

    fn terminate(&mut self) {
        if self.state != ClientNonInviteState::Terminated {
            self.state = ClientNonInviteState::Terminated;
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

    fn options() -> Request {
        non_invite("OPTIONS")
    }

    fn new(now: Instant, reliable: bool) -> ClientNonInviteTransaction {
        ClientNonInviteTransaction::new(options(), now, reliable, TimerConfig::default()).unwrap()
    }

    fn transmit_times(
        tx: &mut ClientNonInviteTransaction,
        t0: Instant,
        until: Instant,
    ) -> Vec<u64> {
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
    fn client_non_invite_sends_the_request_on_creation() {
        let t0 = t0();
        let mut tx = new(t0, false);
        let sent = tx.transmits();
        assert_eq!(sent.len(), 1);
        assert_eq!(decode_request(&sent[0]).method(), &Method::Options);
        assert_eq!(tx.state(), ClientNonInviteState::Trying);
    }

    #[test]
    fn client_non_invite_timer_e_doubles_and_caps_at_t2_until_timer_f() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.transmits();
        let times = transmit_times(&mut tx, t0, ms(t0, 40_000));
        assert_eq!(
            times,
            vec![
                500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
        assert_eq!(summary(&tx.events()), ["timeout F", "terminated"]);
        assert_eq!(tx.state(), ClientNonInviteState::Terminated);
    }

    #[test]
    fn client_non_invite_retransmits_every_t2_in_proceeding() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.transmits();
        tx.handle_timeout(ms(t0, 500));
        tx.handle_response(ms(t0, 600), response_to(&options(), 100));
        assert_eq!(tx.state(), ClientNonInviteState::Proceeding);
        assert_eq!(summary(&tx.events()), ["100"]);
        tx.transmits();
        // The pending Timer E (1 s interval) still fires, then T2 apart.
        let times = transmit_times(&mut tx, t0, ms(t0, 14_000));
        assert_eq!(times, vec![1_500, 5_500, 9_500, 13_500]);
    }

    #[test]
    fn client_non_invite_timer_f_fires_in_proceeding() {
        let t0 = t0();
        let mut tx = new(t0, true);
        tx.handle_response(ms(t0, 100), response_to(&options(), 180));
        tx.events();
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 32_000)));
        tx.handle_timeout(ms(t0, 32_000));
        assert_eq!(summary(&tx.events()), ["timeout F", "terminated"]);
    }

    #[test]
    fn client_non_invite_final_response_is_followed_by_timer_k_over_unreliable_transport() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.transmits();
        tx.handle_response(ms(t0, 1_000), response_to(&options(), 200));
        assert_eq!(tx.state(), ClientNonInviteState::Completed);
        assert_eq!(summary(&tx.events()), ["200"]);
        // RFC 3261 §17.1.2.2: retransmissions are absorbed; no more request retransmits.
        tx.handle_response(ms(t0, 2_000), response_to(&options(), 200));
        assert!(tx.events().is_empty());
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 6_000)));
        tx.handle_timeout(ms(t0, 5_999));
        assert!(tx.transmits().is_empty());
        assert_eq!(tx.state(), ClientNonInviteState::Completed);
        tx.handle_timeout(ms(t0, 6_000));
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert_eq!(tx.state(), ClientNonInviteState::Terminated);
    }

    #[test]
    fn client_non_invite_over_reliable_transport_terminates_on_the_final_response() {
        let t0 = t0();
        let mut tx = new(t0, true);
        tx.transmits();
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 32_000)));
        tx.handle_response(ms(t0, 100), response_to(&options(), 404));
        assert_eq!(summary(&tx.events()), ["404", "terminated"]);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn client_non_invite_over_reliable_transport_never_retransmits() {
        let t0 = t0();
        let mut tx = new(t0, true);
        tx.transmits();
        let times = transmit_times(&mut tx, t0, ms(t0, 40_000));
        assert!(times.is_empty());
        assert_eq!(summary(&tx.events()), ["timeout F", "terminated"]);
    }

    #[test]
    fn client_non_invite_reports_transport_error_and_terminates() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.handle_transport_error(ms(t0, 1));
        assert_eq!(summary(&tx.events()), ["transport error", "terminated"]);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn client_non_invite_refuses_invite_and_ack() {
        for request in [invite(), non_invite("ACK")] {
            let result =
                ClientNonInviteTransaction::new(request, t0(), false, TimerConfig::default());
            assert!(matches!(result, Err(TransactionError::WrongMethod { .. })));
        }
    }
}
