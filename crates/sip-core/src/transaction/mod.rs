//! RFC 3261 §17 transactions: client and server, INVITE and non-INVITE, as sans-IO state machines.
//!
//! Pure: no I/O, no clock. Each transaction takes `now: Instant` with every input and hands
//! back encoded bytes, events for the transaction user (TU) and its next deadline.
//!
//! # Driving a transaction
//!
//! The driver owns a table of transactions keyed by [`TransactionKey`] (one table for client
//! transactions, one for server transactions) and the sockets. For every transaction:
//!
//! 1. Create it with the request, `now`, whether the transport is reliable (TCP, TLS, WS:
//!    no retransmissions, zero-length wait timers) and a [`TimerConfig`]. A client transaction
//!    queues the request's first transmission at once.
//! 2. Feed inputs: `handle_response` (client), `handle_request` (server: request
//!    retransmissions and, for INVITE, the ACK), the TU commands `send_response` /
//!    `send_trying` (server), `handle_timeout` when the deadline passes, and
//!    `handle_transport_error` when a send failed.
//! 3. After any input, drain `poll_transmit` (send each datagram: client transactions to the
//!    request's next hop, server transactions back per RFC 3261 §18.2.2), drain `poll_event`
//!    (hand each event to the TU), then re-arm the timer from `poll_timeout`.
//! 4. Remove the transaction from the table after [`TransactionEvent::Terminated`], always the
//!    last event.
//!
//! # Matching (RFC 3261 §17.1.3, §17.2.3)
//!
//! - A response goes to the client transaction whose `key()` equals
//!   [`TransactionKey::for_response`]: top Via branch plus CSeq method.
//! - A request goes to the server transaction whose `key()` equals
//!   [`TransactionKey::for_request`]: top Via branch, sent-by and method, where ACK counts as
//!   INVITE and CANCEL keeps its own method. When the branch lacks the `z9hG4bK` cookie the key
//!   falls back to RFC 2543 matching (Request-URI, From tag, Call-ID, CSeq number, top Via).
//!   [`TransactionKey::for_cancelled_invite`] finds the INVITE a CANCEL refers to.
//! - No match: a response goes to the TU core (a 2xx from another fork, RFC 3261 §17.1.1.2);
//!   a request creates a new server transaction, except ACK, which the TU (dialog layer) gets.
//!
//! # RFC 6026
//!
//! INVITE transactions follow RFC 6026 instead of terminating on a 2xx: the client INVITE
//! transaction stays in Accepted for Timer M (64*T1) and passes 2xx retransmissions to the TU;
//! the server INVITE transaction stays in Accepted for Timer L (64*T1), forwards the TU's 2xx
//! retransmissions, absorbs INVITE retransmissions and passes a matching ACK to the TU.
//!
//! # 100 Trying
//!
//! [`ServerInviteTransaction`] sends 100 Trying itself 200 ms after creation unless the TU
//! sent a provisional response first (RFC 3261 §17.2.1); the TU may send it at once with
//! `send_trying`. Non-INVITE server transactions never send 100 on their own.

mod ack;
mod client_invite;
mod client_non_invite;
mod config;
mod error;
mod event;
mod key;
mod server_invite;
mod server_non_invite;
mod timer;

#[cfg(test)]
mod fixtures;

pub use client_invite::{ClientInviteState, ClientInviteTransaction};
pub use client_non_invite::{ClientNonInviteState, ClientNonInviteTransaction};
pub use config::TimerConfig;
pub use error::TransactionError;
pub use event::TransactionEvent;
pub use key::TransactionKey;
pub use server_invite::{ServerInviteState, ServerInviteTransaction};
pub use server_non_invite::{ServerNonInviteState, ServerNonInviteTransaction};
pub use timer::Timer;
