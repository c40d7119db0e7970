//! Server non-INVITE transaction (RFC 3261 §17.2.2): Trying, Proceeding, Completed,
//! Terminated.
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use bytes::Bytes;

use super::config::TimerConfig;
use super::error::TransactionError;
use super::event::{Outbox, TransactionEvent};
use super::key::TransactionKey;
use super::timer::{Timer, TimerSet};
use crate::message::{Method, Request, Response};

/// States of [`ServerNonInviteTransaction`] (RFC 3261 Figure 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// Request received, no response sent yet.
    Trying,
    /// A provisional response was sent.
    Proceeding,
    /// The final response was sent; answering retransmissions with it until Timer J.
    Completed,
    /// Done; the driver drops the transaction.
    Terminated,
}

/// A server transaction for any request other than INVITE and ACK (RFC 3261 §17.2.2).
///
/// The driver creates it for a new request and hands the request to the TU, which answers
/// with [`Self::send_response`].
#[derive(Debug)]
pub struct ServerNonInviteTransaction {
    key: TransactionKey,
    request: Request,
    reliable: bool,
    config: TimerConfig,
    state: ServerNonInviteState,
    timers: TimerSet,
    last_response: Option<Bytes>,
    outbox: Outbox,
}

impl ServerNonInviteTransaction {
    /// Creates the transaction for an incoming request at `now`.
    ///
    /// `reliable` is true for TCP/TLS/WS: Timer J is zero.
    pub fn new(
        request: Request,
        now: Instant,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        let key = TransactionKey::for_request(&request)?;
        Self::with_key(key, request, now, reliable, config)
    }

    /// Like [`Self::new`], for a driver that already computed `key` with
    /// [`TransactionKey::for_request`] to look the request up (it must be that key).
    pub fn with_key(
        key: TransactionKey,
        request: Request,
        _now: Instant,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<Self, TransactionError> {
        if matches!(request.method(), Method::Invite | Method::Ack) {
            return Err(TransactionError::WrongMethod {
                expected: "a method other than INVITE and ACK",
                found: request.method().clone(),
            });
        }
        Ok(Self {
            key,
            request,
            reliable,
            config,
            state: ServerNonInviteState::Trying,
            timers: TimerSet::default(),
            last_response: None,
            outbox: Outbox::default(),
        })
    }

    /// The key under which the driver files this transaction (RFC 3261 §17.2.3).
    pub fn key(&self) -> &TransactionKey {
        &self.key
    }

    /// The request that created the transaction.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// Feeds a retransmission of the request: answered with the last response sent, or
    /// absorbed while none was (RFC 3261 §17.2.2).
    pub fn handle_request(&mut self, _now: Instant, _request: Request) {
        if matches!(
            self.state,
            ServerNonInviteState::Proceeding | ServerNonInviteState::Completed
        ) && let Some(bytes) = &self.last_response
        {
            self.outbox.transmit(bytes.clone());
        }
    }

    /// TU command: sends `response`. A 1xx moves to Proceeding, a final response to
    /// Completed; responses after the final one are refused (RFC 3261 §17.2.2).
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        match self.state {
            ServerNonInviteState::Trying | ServerNonInviteState::Proceeding => {
                let bytes = response.encode();
                self.outbox.transmit(bytes.clone());
                self.last_response = Some(bytes);
                if response.status().is_provisional() {
                    self.state = ServerNonInviteState::Proceeding;
                } else {
                    // RFC 3261 §17.2.2: Timer J, 64*T1 unreliable, zero reliable.
                    self.state = ServerNonInviteState::Completed;
                    let j = self.config.timer_j(self.reliable);
                    if j.is_zero() {
                        self.terminate();
                    } else {
                        self.timers.arm(Timer::J, now, j);
                    }
                }
                Ok(())
            }
            ServerNonInviteState::Completed => Err(TransactionError::FinalResponseAlreadySent),
            ServerNonInviteState::Terminated => Err(TransactionError::Terminated),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            if (self.state, timer) == (ServerNonInviteState::Completed, Timer::J) {
                self.terminate();
            }
        }
    }

    /// The transport failed to deliver a response, after the driver tried the alternatives
    /// of RFC 3261 §18.2.2 (RFC 3261 §17.2.4): the TU learns of it and the transaction
    /// terminates.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != ServerNonInviteState::Terminated {
            self.outbox.event(TransactionEvent::TransportError);
            self.terminate();
        }
    }

    /// The next encoded response to send, per RFC 3261 §18.2.2.
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

    fn terminate(&mut self) {
        if self.state != ServerNonInviteState::Terminated {
            self.state = ServerNonInviteState::Terminated;
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
        Drain, decode_response, invite, ms, non_invite, response_to, summary, t0,
    };

    fn register() -> Request {
        non_invite("REGISTER")
    }

    fn new(now: Instant, reliable: bool) -> ServerNonInviteTransaction {
        ServerNonInviteTransaction::new(register(), now, reliable, TimerConfig::default()).unwrap()
    }

    fn status_of(bytes: &[Bytes]) -> Vec<u16> {
        bytes
            .iter()
            .map(|b| decode_response(b).status().as_u16())
            .collect()
    }

    #[test]
    fn server_non_invite_absorbs_a_retransmission_while_trying() {
        let t0 = t0();
        let mut tx = new(t0, false);
        assert_eq!(tx.state(), ServerNonInviteState::Trying);
        tx.handle_request(ms(t0, 500), register());
        assert!(tx.transmits().is_empty());
        assert!(tx.events().is_empty());
        // RFC 3261 §8.2.6.1: no automatic 100 for non-INVITE.
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn server_non_invite_answers_a_retransmission_with_the_last_provisional() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 10), response_to(&register(), 100))
            .unwrap();
        assert_eq!(tx.state(), ServerNonInviteState::Proceeding);
        assert_eq!(status_of(&tx.transmits()), [100]);
        tx.handle_request(ms(t0, 500), register());
        assert_eq!(status_of(&tx.transmits()), [100]);
    }

    #[test]
    fn server_non_invite_answers_retransmission_with_last_response() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 10), response_to(&register(), 100))
            .unwrap();
        tx.send_response(ms(t0, 20), response_to(&register(), 401))
            .unwrap();
        assert_eq!(tx.state(), ServerNonInviteState::Completed);
        assert_eq!(status_of(&tx.transmits()), [100, 401]);
        tx.handle_request(ms(t0, 500), register());
        tx.handle_request(ms(t0, 1_500), register());
        assert_eq!(status_of(&tx.transmits()), [401, 401]);
        assert!(tx.events().is_empty());
    }

    #[test]
    fn server_non_invite_timer_j_ends_completed_after_64_t1_over_unreliable_transport() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 1_000), response_to(&register(), 200))
            .unwrap();
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 33_000)));
        tx.handle_timeout(ms(t0, 32_999));
        assert_eq!(tx.state(), ServerNonInviteState::Completed);
        tx.handle_timeout(ms(t0, 33_000));
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert_eq!(tx.state(), ServerNonInviteState::Terminated);
        tx.transmits();
        tx.handle_request(ms(t0, 33_001), register());
        assert!(tx.transmits().is_empty());
    }

    #[test]
    fn server_non_invite_over_reliable_transport_terminates_on_the_final_response() {
        let t0 = t0();
        let mut tx = new(t0, true);
        tx.send_response(ms(t0, 10), response_to(&register(), 200))
            .unwrap();
        assert_eq!(status_of(&tx.transmits()), [200]);
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn server_non_invite_refuses_responses_after_the_final() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 10), response_to(&register(), 200))
            .unwrap();
        assert!(matches!(
            tx.send_response(ms(t0, 20), response_to(&register(), 500)),
            Err(TransactionError::FinalResponseAlreadySent)
        ));
        assert_eq!(tx.transmits().len(), 1);
    }

    #[test]
    fn server_non_invite_reports_transport_error_and_terminates() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 10), response_to(&register(), 200))
            .unwrap();
        tx.handle_transport_error(ms(t0, 11));
        assert_eq!(summary(&tx.events()), ["transport error", "terminated"]);
        assert!(matches!(
            tx.send_response(ms(t0, 20), response_to(&register(), 200)),
            Err(TransactionError::Terminated)
        ));
    }

    #[test]
    fn server_non_invite_refuses_invite_and_ack() {
        for request in [invite(), non_invite("ACK")] {
            let result =
                ServerNonInviteTransaction::new(request, t0(), false, TimerConfig::default());
            assert!(matches!(result, Err(TransactionError::WrongMethod { .. })));
        }
    }
}
