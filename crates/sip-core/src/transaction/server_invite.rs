//! Server INVITE transaction (RFC 3261 §17.2.1, with RFC 6026's Accepted state): Proceeding,
//! Completed, Confirmed, Accepted, Terminated.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::config::TimerConfig;
use super::error::TransactionError;
use super::event::{Outbox, TransactionEvent};
use super::key::TransactionKey;
use super::timer::{Timer, TimerSet};
use crate::message::{HeaderName, Method, Request, Response, StatusCode};

/// RFC 3261 §17.2.1: the server transaction sends 100 Trying itself when the TU has sent no
/// provisional response within 200 ms.
const TRYING_DELAY: Duration = Duration::from_millis(200);

/// States of [`ServerInviteTransaction`] (RFC 3261 Figure 7 as amended by RFC 6026 Figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// INVITE received; provisional responses may be sent.
    Proceeding,
    /// A 300–699 was sent; retransmitting it (Timer G) until the ACK or Timer H.
    Completed,
    /// The ACK arrived; absorbing ACK retransmissions until Timer I.
    Confirmed,
    /// A 2xx was sent (RFC 6026); the TU retransmits it, ACKs reach the TU, until Timer L.
    Accepted,
    /// Done; the driver drops the transaction.
    Terminated,
}

/// A server INVITE transaction (RFC 3261 §17.2.1).
///
/// The driver creates it for a new INVITE and hands the request to the TU. 100 Trying: the
/// TU may send it at once with [`Self::send_trying`] (or any 1xx with
/// [`Self::send_response`]); if no provisional response was sent 200 ms after creation, the
/// transaction sends 100 Trying itself when `handle_timeout` runs.
#[derive(Debug)]
pub struct ServerInviteTransaction {
    key: TransactionKey,
    request: Request,
    reliable: bool,
    config: TimerConfig,
    state: ServerInviteState,
    timers: TimerSet,
    retransmit_interval: Duration,
    last_provisional: Option<Bytes>,
    final_response: Option<Bytes>,
    final_to_tag: Option<String>,
    outbox: Outbox,
}

impl ServerInviteTransaction {
    /// Creates the transaction for an incoming INVITE at `now`.
    ///
    /// `reliable` is true for TCP/TLS/WS: no Timer G, and Timer I is zero.
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
        let mut timers = TimerSet::default();
        timers.arm(Timer::Trying, now, TRYING_DELAY);
        Ok(Self {
            key,
            request,
            reliable,
            config,
            state: ServerInviteState::Proceeding,
            timers,
            retransmit_interval: config.first_retransmit(),
            last_provisional: None,
            final_response: None,
            final_to_tag: None,
            outbox: Outbox::default(),
        })
    }

    /// The key under which the driver files this transaction (RFC 3261 §17.2.3).
    pub fn key(&self) -> &TransactionKey {
        &self.key
    }

    /// The INVITE that created the transaction.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// Feeds a request matched to this transaction: an INVITE retransmission or an ACK.
    pub fn handle_request(&mut self, now: Instant, request: Request) {
        match request.method() {
            Method::Invite => self.on_invite_retransmission(),
            Method::Ack => self.on_ack(now, request),
            _ => {}
        }
    }

    /// TU command: sends 100 Trying built from the INVITE.
    pub fn send_trying(&mut self, now: Instant) -> Result<(), TransactionError> {
        self.send_response(now, self.trying())
    }

    /// TU command: sends `response` through the transaction.
    ///
    /// A 1xx keeps Proceeding; a 2xx moves to Accepted (RFC 6026 §7.1), after which only 2xx
    /// retransmissions from the TU are accepted; a 300–699 moves to Completed.
    pub fn send_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        let status = response.status();
        match self.state {
            ServerInviteState::Proceeding => {
                let bytes = response.encode();
                self.outbox.transmit(bytes.clone());
                self.timers.disarm(Timer::Trying);
                if status.is_provisional() {
                    self.last_provisional = Some(bytes);
                    return Ok(());
                }
                // Only Proceeding answers a retransmitted INVITE with the provisional.
                self.last_provisional = None;
                if status.is_success() {
                    // RFC 6026 §7.1: 2xx moves to Accepted with Timer L.
                    self.state = ServerInviteState::Accepted;
                    self.timers
                        .arm(Timer::L, now, self.config.transaction_timeout());
                } else {
                    // RFC 3261 §17.2.1: Timer G only over unreliable transport; Timer H always.
                    self.final_to_tag = response
                        .headers()
                        .to()
                        .ok()
                        .and_then(|to| to.tag().map(str::to_string));
                    self.final_response = Some(bytes);
                    self.state = ServerInviteState::Completed;
                    if !self.reliable {
                        self.timers.arm(Timer::G, now, self.retransmit_interval);
                    }
                    self.timers
                        .arm(Timer::H, now, self.config.transaction_timeout());
                }
                Ok(())
            }
            ServerInviteState::Accepted if status.is_success() => {
                // RFC 6026 §7.1: the TU's 2xx retransmissions pass through.
                self.outbox.transmit(response.encode());
                Ok(())
            }
            ServerInviteState::Accepted
            | ServerInviteState::Completed
            | ServerInviteState::Confirmed => Err(TransactionError::FinalResponseAlreadySent),
            ServerInviteState::Terminated => Err(TransactionError::Terminated),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            self.on_timer(now, timer);
        }
    }

    /// The transport failed to deliver a response, after the driver tried the alternatives
    /// of RFC 3261 §18.2.2 (RFC 3261 §17.2.4): the TU learns of it and the transaction
    /// terminates.
    pub fn handle_transport_error(&mut self, _now: Instant) {
        if self.state != ServerInviteState::Terminated {
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

    fn on_invite_retransmission(&mut self) {
        let resend = match self.state {
            // RFC 3261 §17.2.1: answer with the most recent provisional response, if any.
            ServerInviteState::Proceeding => self.last_provisional.clone(),
            // RFC 3261 §17.2.1: answer with the final response.
            ServerInviteState::Completed => self.final_response.clone(),
            // RFC 3261 §17.2.1, RFC 6026 §7.1: absorbed.
            ServerInviteState::Confirmed
            | ServerInviteState::Accepted
            | ServerInviteState::Terminated => None,
        };
        if let Some(bytes) = resend {
            self.outbox.transmit(bytes);
        }
    }

    fn on_ack(&mut self, now: Instant, ack: Request) {
        match self.state {
            ServerInviteState::Completed => {
                // RFC 3261 §17.2.3: under the RFC 2543 fallback the ACK's To tag must be the
                // one of the response it acknowledges.
                if self.key.is_rfc2543() {
                    let tag = ack
                        .headers()
                        .to()
                        .ok()
                        .and_then(|to| to.tag().map(str::to_string));
                    if tag != self.final_to_tag {
                        return;
                    }
                }
                // RFC 3261 §17.2.1: ACK moves to Confirmed; Timer I absorbs ACK retransmissions.
                self.timers.clear();
                self.state = ServerInviteState::Confirmed;
                let i = self.config.wait_for_stragglers(self.reliable);
                if i.is_zero() {
                    self.terminate();
                } else {
                    self.timers.arm(Timer::I, now, i);
                }
            }
            // RFC 6026 §7.1: an ACK in Accepted goes to the TU.
            ServerInviteState::Accepted => self.outbox.event(TransactionEvent::Ack(ack)),
            ServerInviteState::Proceeding
            | ServerInviteState::Confirmed
            | ServerInviteState::Terminated => {}
        }
    }

    fn on_timer(&mut self, now: Instant, timer: Timer) {
        match (self.state, timer) {
            (ServerInviteState::Proceeding, Timer::Trying) if self.last_provisional.is_none() => {
                let bytes = self.trying().encode();
                self.outbox.transmit(bytes.clone());
                self.last_provisional = Some(bytes);
            }
            (ServerInviteState::Completed, Timer::G) => {
                // RFC 3261 §17.2.1: Timer G doubles, capped at T2.
                if let Some(bytes) = &self.final_response {
                    self.outbox.transmit(bytes.clone());
                }
                self.retransmit_interval = self.config.backoff_capped(self.retransmit_interval);
                self.timers.arm(Timer::G, now, self.retransmit_interval);
            }
            (ServerInviteState::Completed, Timer::H) => {
                // RFC 3261 §17.2.1: no ACK before Timer H is a transaction failure.
                self.outbox.event(TransactionEvent::Timeout(Timer::H));
                self.terminate();
            }
            (ServerInviteState::Confirmed, Timer::I) | (ServerInviteState::Accepted, Timer::L) => {
                self.terminate();
            }
            _ => {}
        }
    }

    /// RFC 3261 §8.2.6.1: 100 Trying gets no To tag and copies any Timestamp.
    fn trying(&self) -> Response {
        let mut trying = Response::for_request(&self.request, StatusCode::TRYING);
        if let Some(timestamp) = self.request.headers().get(HeaderName::Timestamp) {
            trying
                .headers_mut()
                .push(HeaderName::Timestamp, timestamp.clone());
        }
        trying
    }

    fn terminate(&mut self) {
        if self.state != ServerInviteState::Terminated {
            self.state = ServerInviteState::Terminated;
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
        Drain, decode_response, invite, ms, non_invite, request, response_to, summary, t0,
    };

    fn new(now: Instant, reliable: bool) -> ServerInviteTransaction {
        ServerInviteTransaction::new(invite(), now, reliable, TimerConfig::default()).unwrap()
    }

    fn ack() -> Request {
        request(
            "ACK sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 ACK
Content-Length: 0

",
        )
    }

    fn status_of(bytes: &[Bytes]) -> Vec<u16> {
        bytes
            .iter()
            .map(|b| decode_response(b).status().as_u16())
            .collect()
    }

    fn transmit_times(tx: &mut ServerInviteTransaction, t0: Instant, until: Instant) -> Vec<u64> {
        let mut times = Vec::new();
        while let Some(at) = tx.poll_timeout().filter(|at| *at <= until) {
            tx.handle_timeout(at);
            for _ in tx.transmits() {
                times.push(at.duration_since(t0).as_millis() as u64);
            }
        }
        times
    }

    /// A transaction that sent 486 at `t0 + 1 s`.
    fn completed(t0: Instant, reliable: bool) -> ServerInviteTransaction {
        let mut tx = new(t0, reliable);
        tx.send_response(ms(t0, 100), response_to(&invite(), 180))
            .unwrap();
        tx.send_response(ms(t0, 1_000), response_to(&invite(), 486))
            .unwrap();
        tx.transmits();
        tx
    }

    #[test]
    fn server_invite_sends_100_trying_after_200ms_when_the_tu_is_silent() {
        let t0 = t0();
        let mut tx = new(t0, false);
        assert!(tx.transmits().is_empty());
        assert_eq!(tx.state(), ServerInviteState::Proceeding);
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 200)));
        tx.handle_timeout(ms(t0, 199));
        assert!(tx.transmits().is_empty());
        tx.handle_timeout(ms(t0, 200));
        let sent = tx.transmits();
        assert_eq!(status_of(&sent), [100]);
        // RFC 3261 §8.2.6.1: 100 Trying carries no To tag.
        assert_eq!(
            decode_response(&sent[0]).headers().to().unwrap().tag(),
            None
        );
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn server_invite_trying_copies_the_timestamp() {
        let t0 = t0();
        let mut invite = invite();
        invite.headers_mut().push(HeaderName::Timestamp, "54.2");
        let mut tx =
            ServerInviteTransaction::new(invite, t0, false, TimerConfig::default()).unwrap();
        tx.send_trying(t0).unwrap();
        let sent = tx.transmits();
        let trying = decode_response(&sent[0]);
        assert_eq!(
            trying
                .headers()
                .get(HeaderName::Timestamp)
                .unwrap()
                .as_bytes(),
            b"54.2"
        );
    }

    #[test]
    fn server_invite_sends_no_automatic_trying_after_a_provisional_from_the_tu() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 50), response_to(&invite(), 180))
            .unwrap();
        assert_eq!(status_of(&tx.transmits()), [180]);
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_timeout(ms(t0, 1_000));
        assert!(tx.transmits().is_empty());
    }

    #[test]
    fn server_invite_sends_trying_on_tu_command() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_trying(ms(t0, 1)).unwrap();
        assert_eq!(status_of(&tx.transmits()), [100]);
        tx.handle_timeout(ms(t0, 200));
        assert!(tx.transmits().is_empty());
    }

    #[test]
    fn server_invite_absorbs_a_retransmission_before_any_provisional() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.handle_request(ms(t0, 100), invite());
        assert!(tx.transmits().is_empty());
        assert!(tx.events().is_empty());
    }

    #[test]
    fn server_invite_answers_a_retransmission_with_the_last_provisional() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 10), response_to(&invite(), 100))
            .unwrap();
        tx.send_response(ms(t0, 20), response_to(&invite(), 180))
            .unwrap();
        tx.transmits();
        tx.handle_request(ms(t0, 500), invite());
        assert_eq!(status_of(&tx.transmits()), [180]);
        assert!(tx.events().is_empty());
    }

    #[test]
    fn server_invite_retransmits_the_final_with_timer_g_capped_at_t2_until_timer_h() {
        let t0 = t0();
        let mut tx = completed(t0, false);
        assert_eq!(tx.state(), ServerInviteState::Completed);
        let times = transmit_times(&mut tx, t0, ms(t0, 40_000));
        assert_eq!(
            times,
            vec![
                1_500, 2_500, 4_500, 8_500, 12_500, 16_500, 20_500, 24_500, 28_500, 32_500
            ]
        );
        // RFC 3261 §17.2.1: Timer H (64*T1 after the final) without an ACK is a failure.
        assert_eq!(summary(&tx.events()), ["timeout H", "terminated"]);
        assert_eq!(tx.state(), ServerInviteState::Terminated);
    }

    #[test]
    fn server_invite_over_reliable_transport_has_no_timer_g_but_timer_h() {
        let t0 = t0();
        let mut tx = completed(t0, true);
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 33_000)));
        let times = transmit_times(&mut tx, t0, ms(t0, 40_000));
        assert!(times.is_empty());
        assert_eq!(summary(&tx.events()), ["timeout H", "terminated"]);
    }

    #[test]
    fn server_invite_answers_a_retransmission_in_completed_with_the_final() {
        let t0 = t0();
        let mut tx = completed(t0, false);
        tx.handle_request(ms(t0, 1_200), invite());
        assert_eq!(status_of(&tx.transmits()), [486]);
    }

    #[test]
    fn server_invite_ack_moves_to_confirmed_and_timer_i_ends_it() {
        let t0 = t0();
        let mut tx = completed(t0, false);
        tx.handle_request(ms(t0, 1_200), ack());
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
        // RFC 3261 §17.2.1: the ACK for a non-2xx is absorbed, and Timer G stops.
        assert!(tx.events().is_empty());
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 6_200)));
        tx.handle_request(ms(t0, 1_300), ack());
        tx.handle_request(ms(t0, 1_400), invite());
        assert!(tx.transmits().is_empty());
        assert!(tx.events().is_empty());
        tx.handle_timeout(ms(t0, 6_199));
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
        tx.handle_timeout(ms(t0, 6_200));
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert_eq!(tx.state(), ServerInviteState::Terminated);
    }

    #[test]
    fn server_invite_over_reliable_transport_terminates_on_the_ack() {
        let t0 = t0();
        let mut tx = completed(t0, true);
        tx.handle_request(ms(t0, 1_200), ack());
        assert_eq!(summary(&tx.events()), ["terminated"]);
        assert_eq!(tx.poll_timeout(), None);
    }

    #[test]
    fn server_invite_2xx_moves_to_accepted_until_timer_l() {
        let t0 = t0();
        let mut tx = new(t0, false);
        tx.send_response(ms(t0, 100), response_to(&invite(), 200))
            .unwrap();
        assert_eq!(tx.state(), ServerInviteState::Accepted);
        assert_eq!(status_of(&tx.transmits()), [200]);
        // RFC 6026 §7.1: INVITE retransmissions absorbed, TU 2xx retransmissions sent.
        tx.handle_request(ms(t0, 600), invite());
        assert!(tx.transmits().is_empty());
        tx.send_response(ms(t0, 600), response_to(&invite(), 200))
            .unwrap();
        assert_eq!(status_of(&tx.transmits()), [200]);
        assert!(matches!(
            tx.send_response(ms(t0, 700), response_to(&invite(), 486)),
            Err(TransactionError::FinalResponseAlreadySent)
        ));
        tx.handle_request(ms(t0, 800), ack());
        assert_eq!(summary(&tx.events()), ["ack"]);
        assert_eq!(tx.poll_timeout(), Some(ms(t0, 32_100)));
        tx.handle_timeout(ms(t0, 32_100));
        assert_eq!(summary(&tx.events()), ["terminated"]);
    }

    #[test]
    fn server_invite_refuses_responses_after_the_final() {
        let t0 = t0();
        let mut tx = completed(t0, false);
        for code in [180, 200, 500] {
            assert!(matches!(
                tx.send_response(ms(t0, 1_100), response_to(&invite(), code)),
                Err(TransactionError::FinalResponseAlreadySent)
            ));
        }
        assert!(matches!(
            tx.send_trying(ms(t0, 1_100)),
            Err(TransactionError::FinalResponseAlreadySent)
        ));
    }

    #[test]
    fn server_invite_reports_transport_error_and_terminates() {
        let t0 = t0();
        let mut tx = completed(t0, false);
        tx.handle_transport_error(ms(t0, 1_100));
        assert_eq!(summary(&tx.events()), ["transport error", "terminated"]);
        assert!(matches!(
            tx.send_response(ms(t0, 1_200), response_to(&invite(), 200)),
            Err(TransactionError::Terminated)
        ));
    }

    #[test]
    fn server_invite_refuses_a_non_invite_request() {
        let result =
            ServerInviteTransaction::new(non_invite("BYE"), t0(), false, TimerConfig::default());
        assert!(matches!(result, Err(TransactionError::WrongMethod { .. })));
    }

    const RFC2543_INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP old.example.com:5060
To: <sip:bob@biloxi.example.com>
From: <sip:carol@example.com>;tag=77
Call-ID: 2543@old.example.com
CSeq: 5 INVITE
Content-Length: 0

";

    #[test]
    fn server_invite_rfc2543_ack_confirms_only_with_the_to_tag_of_the_final() {
        let t0 = t0();
        let invite = request(RFC2543_INVITE);
        let mut tx =
            ServerInviteTransaction::new(invite.clone(), t0, false, TimerConfig::default())
                .unwrap();
        assert!(tx.key().is_rfc2543());
        tx.send_response(ms(t0, 10), response_to(&invite, 480))
            .unwrap();
        let ack_text = RFC2543_INVITE
            .replace("INVITE sip", "ACK sip")
            .replace("5 INVITE", "5 ACK");
        let wrong = request(&ack_text.replace(
            "<sip:bob@biloxi.example.com>\n",
            "<sip:bob@biloxi.example.com>;tag=other\n",
        ));
        assert_eq!(TransactionKey::for_request(&wrong).unwrap(), *tx.key());
        tx.handle_request(ms(t0, 20), wrong);
        assert_eq!(tx.state(), ServerInviteState::Completed);
        let right = request(&ack_text.replace(
            "<sip:bob@biloxi.example.com>\n",
            "<sip:bob@biloxi.example.com>;tag=a6c85cf\n",
        ));
        tx.handle_request(ms(t0, 30), right);
        assert_eq!(tx.state(), ServerInviteState::Confirmed);
    }
}
