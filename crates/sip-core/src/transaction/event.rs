//! What a transaction tells its transaction user (TU), and the queue that holds it until polled.

use std::collections::VecDeque;

use bytes::Bytes;

use super::timer::Timer;
use crate::message::{Request, Response};

/// Something the TU must learn about; drained with `poll_event`.
#[derive(Debug, Clone)]
pub enum TransactionEvent {
    /// A response for the TU (client transactions): provisional, final, or, in the RFC 6026
    /// Accepted state, a 2xx retransmission.
    Response(Response),
    /// An ACK matched a server INVITE transaction in the RFC 6026 Accepted state; the TU
    /// (dialog layer) handles it.
    Ack(Request),
    /// The transaction gave up: Timer B or F (client, no final response) or Timer H (server
    /// INVITE, no ACK for the final response).
    Timeout(Timer),
    /// The transport reported a failure (RFC 3261 §17.1.4, §17.2.4).
    TransportError,
    /// The transaction reached Terminated; the driver drops it from its table. Always the last
    /// event.
    Terminated,
}

/// Transmits and events waiting to be polled, in the order they were produced.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    transmits: VecDeque<Bytes>,
    events: VecDeque<TransactionEvent>,
}

impl Outbox {
    pub(crate) fn transmit(&mut self, bytes: Bytes) {
        self.transmits.push_back(bytes);
    }

    pub(crate) fn event(&mut self, event: TransactionEvent) {
        self.events.push_back(event);
    }

    pub(crate) fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<TransactionEvent> {
        let event = self.events.pop_front();
        // Events are few and large: once drained, give the storage back rather than keep it
        // for the rest of the transaction's life (up to 64*T1).
        if self.events.is_empty() && self.events.capacity() > 0 {
            self.events = VecDeque::new();
        }
        event
    }
}
