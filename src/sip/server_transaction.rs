//! A server transaction of either kind, so one shard table holds INVITE and non-INVITE ones.

use std::time::Instant;

use bytes::Bytes;
use sip_core::message::{Method, Request, Response};
use sip_core::transaction::{
    ServerInviteState, ServerInviteTransaction, ServerNonInviteTransaction, TimerConfig,
    TransactionError, TransactionEvent, TransactionKey,
};

/// An RFC 3261 §17.2 server transaction.
#[derive(Debug)]
pub(crate) enum ServerTransaction {
    /// For INVITE (§17.2.1).
    Invite(ServerInviteTransaction),
    /// For every other method except ACK (§17.2.2).
    NonInvite(ServerNonInviteTransaction),
}

impl ServerTransaction {
    /// The transaction for a new request (not ACK) whose key the caller already computed.
    pub(crate) fn new(
        key: TransactionKey,
        request: Request,
        now: Instant,
        reliable: bool,
        timers: TimerConfig,
    ) -> Result<Self, TransactionError> {
        if *request.method() == Method::Invite {
            ServerInviteTransaction::with_key(key, request, now, reliable, timers).map(Self::Invite)
        } else {
            ServerNonInviteTransaction::with_key(key, request, now, reliable, timers)
                .map(Self::NonInvite)
        }
    }

    /// The table key.
    pub(crate) fn key(&self) -> &TransactionKey {
        match self {
            Self::Invite(t) => t.key(),
            Self::NonInvite(t) => t.key(),
        }
    }

    /// The request that created the transaction.
    pub(crate) fn request(&self) -> &Request {
        match self {
            Self::Invite(t) => t.request(),
            Self::NonInvite(t) => t.request(),
        }
    }

    /// True for an INVITE transaction that has sent no final response yet (CANCEL applies).
    pub(crate) fn is_invite_pending(&self) -> bool {
        matches!(self, Self::Invite(t) if t.state() == ServerInviteState::Proceeding)
    }

    /// A retransmission, or the ACK of an INVITE transaction.
    pub(crate) fn handle_request(&mut self, now: Instant, request: Request) {
        match self {
            Self::Invite(t) => t.handle_request(now, request),
            Self::NonInvite(t) => t.handle_request(now, request),
        }
    }

    /// TU command: send `response`.
    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        match self {
            Self::Invite(t) => t.send_response(now, response),
            Self::NonInvite(t) => t.send_response(now, response),
        }
    }

    /// Fires due timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self {
            Self::Invite(t) => t.handle_timeout(now),
            Self::NonInvite(t) => t.handle_timeout(now),
        }
    }

    /// A response could not be delivered.
    pub(crate) fn handle_transport_error(&mut self, now: Instant) {
        match self {
            Self::Invite(t) => t.handle_transport_error(now),
            Self::NonInvite(t) => t.handle_transport_error(now),
        }
    }

    /// Next bytes to send.
    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        match self {
            Self::Invite(t) => t.poll_transmit(),
            Self::NonInvite(t) => t.poll_transmit(),
        }
    }

    /// Next event for the TU.
    pub(crate) fn poll_event(&mut self) -> Option<TransactionEvent> {
        match self {
            Self::Invite(t) => t.poll_event(),
            Self::NonInvite(t) => t.poll_event(),
        }
    }

    /// Next deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::Invite(t) => t.poll_timeout(),
            Self::NonInvite(t) => t.poll_timeout(),
        }
    }
}
