//! Every transaction of one call, both legs, client and server, in one table: what each is
//! for, feeding it, and draining what it sends and reports.
//!
//! Pure: no I/O, no clock.

use std::collections::VecDeque;
use std::time::Instant;

use sip_core::message::{Method, Request, Response};
use sip_core::transaction::{
    ClientInviteState, ClientInviteTransaction, ClientNonInviteTransaction, ServerInviteState,
    ServerInviteTransaction, ServerNonInviteState, ServerNonInviteTransaction, TransactionError,
    TransactionEvent, TransactionKey,
};

use super::api::{Destination, TransactionCounts, Transmit};
use crate::call::record::LegSide;

/// What a transaction is for: decides what its responses and timeouts mean to the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// The caller's INVITE (server).
    CallerInvite,
    /// The INVITE of branch `n` (client).
    Branch(usize),
    /// The INVITE of fork `n` of an originated call's A leg (client).
    Origin(usize),
    /// A request the switch sent whose outcome changes nothing (BYE, CANCEL, ACK-less
    /// requests at the end of a call).
    Detached,
    /// A request received from `side` that the switch answers itself.
    Answered(LegSide),
    /// The server side of relayed request number `n`.
    RelayServer(u32),
    /// The client side of relayed request number `n`.
    RelayClient(u32),
    /// The switch's own session refresh on `side` (RFC 4028 §7.4).
    Refresh(LegSide),
}

/// One of the four RFC 3261 §17 transaction kinds. Boxed, each at its own size: inline, every
/// slot of the call's transaction Vec (which doubles as it grows) would take the largest
/// kind's size, about 1 KB, for the whole life of the call.
#[derive(Debug)]
pub(super) enum Tx {
    /// An INVITE received.
    InviteServer(Box<ServerInviteTransaction>),
    /// Any other request received.
    NonInviteServer(Box<ServerNonInviteTransaction>),
    /// An INVITE sent.
    InviteClient(Box<ClientInviteTransaction>),
    /// Any other request sent (ACK excepted: it has no transaction).
    NonInviteClient(Box<ClientNonInviteTransaction>),
}

#[derive(Debug)]
struct Entry {
    key: TransactionKey,
    tx: Tx,
    destination: Destination,
    role: Role,
    terminated: bool,
    /// A timer fired since the last drain: a client transaction's transmits are then
    /// retransmissions (RFC 3261 §17.1.1.2 Timer A, §17.1.2.2 Timer E).
    timer_fired: bool,
}

/// An event of one transaction, with what the transaction is for.
#[derive(Debug)]
pub(super) struct TxEvent {
    /// The transaction's role.
    pub(super) role: Role,
    /// The transaction's key.
    pub(super) key: TransactionKey,
    /// What happened.
    pub(super) event: TransactionEvent,
}

/// The call's transactions.
#[derive(Debug, Default)]
pub(super) struct Transactions {
    entries: Vec<Entry>,
    counts: TransactionCounts,
}

impl Transactions {
    /// Adds a transaction; its transmits go to `destination`.
    pub(super) fn insert(&mut self, tx: Tx, destination: Destination, role: Role) {
        let key = match &tx {
            Tx::InviteServer(t) => t.key().clone(),
            Tx::NonInviteServer(t) => t.key().clone(),
            Tx::InviteClient(t) => t.key().clone(),
            Tx::NonInviteClient(t) => t.key().clone(),
        };
        super::push_tight(
            &mut self.entries,
            Entry {
                key,
                tx,
                destination,
                role,
                terminated: false,
                timer_fired: false,
            },
        );
    }

    fn entry(&self, key: &TransactionKey) -> Option<&Entry> {
        self.entries.iter().find(|e| !e.terminated && e.key == *key)
    }

    fn entry_mut(&mut self, key: &TransactionKey) -> Option<&mut Entry> {
        self.entries
            .iter_mut()
            .find(|e| !e.terminated && e.key == *key)
    }

    /// True when a live transaction has `key`.
    pub(super) fn contains(&self, key: &TransactionKey) -> bool {
        self.entry(key).is_some()
    }

    /// The role of the live transaction with `key`.
    pub(super) fn role(&self, key: &TransactionKey) -> Option<Role> {
        self.entry(key).map(|e| e.role)
    }

    /// The request of the live transaction with `key`.
    pub(super) fn request(&self, key: &TransactionKey) -> Option<&Request> {
        self.entry(key).map(|e| match &e.tx {
            Tx::InviteServer(t) => t.request(),
            Tx::NonInviteServer(t) => t.request(),
            Tx::InviteClient(t) => t.request(),
            Tx::NonInviteClient(t) => t.request(),
        })
    }

    /// Feeds a request (retransmission, or ACK for a non-2xx) to the server transaction with
    /// `key`; false when there is none.
    pub(super) fn handle_request(
        &mut self,
        key: &TransactionKey,
        now: Instant,
        request: Request,
    ) -> bool {
        let retransmission = request.method() != &Method::Ack;
        match self.entry_mut(key).map(|e| &mut e.tx) {
            Some(Tx::InviteServer(t)) => t.handle_request(now, request),
            Some(Tx::NonInviteServer(t)) => t.handle_request(now, request),
            _ => return false,
        }
        if retransmission {
            self.counts.requests_absorbed += 1;
        }
        true
    }

    /// Feeds a response to the client transaction with `key`; false when there is none.
    pub(super) fn handle_response(
        &mut self,
        key: &TransactionKey,
        now: Instant,
        response: Response,
    ) -> bool {
        match self.entry_mut(key).map(|e| &mut e.tx) {
            Some(Tx::InviteClient(t)) => t.handle_response(now, response),
            Some(Tx::NonInviteClient(t)) => t.handle_response(now, response),
            _ => return false,
        }
        true
    }

    /// Tells the client transaction with `key` that the transport could not send its
    /// request (RFC 3261 §17.1.4); false when there is none. A transaction past waiting for
    /// its final response ignores it.
    pub(super) fn handle_transport_error(&mut self, key: &TransactionKey, now: Instant) -> bool {
        match self.entry_mut(key).map(|e| &mut e.tx) {
            Some(Tx::InviteClient(t)) => t.handle_transport_error(now),
            Some(Tx::NonInviteClient(t)) => t.handle_transport_error(now),
            _ => return false,
        }
        true
    }

    /// Sends `response` through the server transaction with `key`.
    pub(super) fn respond(
        &mut self,
        key: &TransactionKey,
        now: Instant,
        response: Response,
    ) -> Result<(), TransactionError> {
        match self.entry_mut(key).map(|e| &mut e.tx) {
            Some(Tx::InviteServer(t)) => t.send_response(now, response),
            Some(Tx::NonInviteServer(t)) => t.send_response(now, response),
            _ => Err(TransactionError::Terminated),
        }
    }

    /// True while the server transaction with `key` may still send a final response.
    pub(super) fn awaits_final(&self, key: &TransactionKey) -> bool {
        match self.entry(key).map(|e| &e.tx) {
            Some(Tx::InviteServer(t)) => t.state() == ServerInviteState::Proceeding,
            Some(Tx::NonInviteServer(t)) => matches!(
                t.state(),
                ServerNonInviteState::Trying | ServerNonInviteState::Proceeding
            ),
            _ => false,
        }
    }

    /// True while the client INVITE transaction with `key` has no final response.
    pub(super) fn invite_pending(&self, key: &TransactionKey) -> bool {
        match self.entry(key).map(|e| &e.tx) {
            Some(Tx::InviteClient(t)) => matches!(
                t.state(),
                ClientInviteState::Calling | ClientInviteState::Proceeding
            ),
            _ => false,
        }
    }

    /// Keys of the server transactions that have not sent a final response.
    pub(super) fn unanswered_servers(&self) -> Vec<TransactionKey> {
        self.entries
            .iter()
            .filter(|e| !e.terminated && self.awaits_final(&e.key))
            .map(|e| e.key.clone())
            .collect()
    }

    /// Fires the timers of every transaction due at `now`.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        for entry in &mut self.entries {
            let due = entry_timeout(&entry.tx).is_some_and(|at| at <= now);
            if !due {
                continue;
            }
            match &mut entry.tx {
                Tx::InviteServer(t) => t.handle_timeout(now),
                Tx::NonInviteServer(t) => t.handle_timeout(now),
                Tx::InviteClient(t) => t.handle_timeout(now),
                Tx::NonInviteClient(t) => t.handle_timeout(now),
            }
            entry.timer_fired = true;
        }
    }

    /// The earliest timer of any transaction.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter(|e| !e.terminated)
            .filter_map(|e| entry_timeout(&e.tx))
            .min()
    }

    /// Moves every queued transmit to `out` and returns every queued event, in order.
    pub(super) fn drain(&mut self, out: &mut VecDeque<Transmit>) -> Vec<TxEvent> {
        let mut events = Vec::new();
        for entry in &mut self.entries {
            loop {
                let bytes = match &mut entry.tx {
                    Tx::InviteServer(t) => t.poll_transmit(),
                    Tx::NonInviteServer(t) => t.poll_transmit(),
                    Tx::InviteClient(t) => t.poll_transmit(),
                    Tx::NonInviteClient(t) => t.poll_transmit(),
                };
                let Some(bytes) = bytes else { break };
                let client = matches!(entry.tx, Tx::InviteClient(_) | Tx::NonInviteClient(_));
                if client && entry.timer_fired {
                    self.counts.requests_resent += 1;
                }
                out.push_back(Transmit {
                    destination: entry.destination,
                    bytes,
                    transaction: client.then(|| entry.key.clone()),
                });
            }
            loop {
                let event = match &mut entry.tx {
                    Tx::InviteServer(t) => t.poll_event(),
                    Tx::NonInviteServer(t) => t.poll_event(),
                    Tx::InviteClient(t) => t.poll_event(),
                    Tx::NonInviteClient(t) => t.poll_event(),
                };
                let Some(event) = event else { break };
                match &event {
                    TransactionEvent::Terminated => entry.terminated = true,
                    TransactionEvent::Timeout(timer) => self.counts.timeouts.push(*timer),
                    _ => {}
                }
                events.push(TxEvent {
                    role: entry.role,
                    key: entry.key.clone(),
                    event,
                });
            }
        }
        for entry in &mut self.entries {
            entry.timer_fired = false;
        }
        self.entries.retain(|e| !e.terminated);
        events
    }

    /// Retransmissions and timeouts since the last call, for the switch's metrics.
    pub(super) fn take_counts(&mut self) -> TransactionCounts {
        std::mem::take(&mut self.counts)
    }

    /// True when no transaction is left.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn entry_timeout(tx: &Tx) -> Option<Instant> {
    match tx {
        Tx::InviteServer(t) => t.poll_timeout(),
        Tx::NonInviteServer(t) => t.poll_timeout(),
        Tx::InviteClient(t) => t.poll_timeout(),
        Tx::NonInviteClient(t) => t.poll_timeout(),
    }
}
