//! Routing of in-call messages: which call actor owns a SIP Call-ID. The receive path looks a
//! message's Call-ID up here first and hands it straight to the owning call's mailbox; what
//! matches no call goes to the shards as before.

use bytes::Bytes;
use dashmap::DashMap;
use sip_core::message::{Message, Request, Response};
use tokio::sync::mpsc;

use super::response_route::ResponseRoute;
use crate::transport::Peer;

/// A recording request of the control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingCommand {
    /// Start recording (from now on; the file starts at this moment).
    Start,
    /// Pause: the file gets silence until resumed.
    Pause,
    /// Resume after a pause.
    Resume,
    /// Stop and finish the file.
    Stop,
}

/// A call's answer to a [`RecordingCommand`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingReply {
    /// Done; the recording's state now.
    Done {
        /// Recording (true) or paused (false); after Stop: false.
        active: bool,
        /// The file (relative to the recordings directory's parent as stored in the record).
        path: String,
    },
    /// The call has no answered media to record yet (not answered, or direct media).
    NotAnswered,
    /// Recording is disabled for the call's profile (no recordings directory).
    Disabled,
    /// Start while recording, or pause/resume/stop without a recording.
    Conflict(&'static str),
}

/// A SIP message for a call actor.
// Both variants are large; boxing would only add an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CallMessage {
    /// A request in one of the call's dialogs (or a retransmission of its INVITE, a CANCEL, an
    /// ACK), Via already stamped.
    Request {
        /// The request.
        request: Request,
        /// The flow it arrived on.
        peer: Peer,
        /// Where its responses go (RFC 3261 §18.2.2).
        route: ResponseRoute,
    },
    /// A response to one of the call's client transactions.
    Response {
        /// The response.
        response: Response,
        /// The flow it arrived on.
        peer: Peer,
    },
    /// The operator asked (through the control API) for the call to end: a BYE to the
    /// answered sides, CANCEL or a final answer before that.
    HangUp,
    /// The operator asked (through the control API) to start, pause, resume or stop the
    /// call's recording; the answer goes back on `reply`.
    Recording {
        /// What to do.
        command: RecordingCommand,
        /// The call's answer.
        reply: tokio::sync::oneshot::Sender<RecordingReply>,
    },
    /// A request the call sent that the transport could not deliver (its TCP connection
    /// failed first, see [`crate::transport::InboundHandler::on_undelivered`]): RFC 3261
    /// §17.1.4, a transport error for the client transaction that sent it.
    Undelivered {
        /// The request as it was sent.
        request: Request,
        /// The flow it was sent on.
        peer: Peer,
    },
}

/// The sending side of a call actor's mailbox. Messages are boxed: a channel allocates its
/// slots in blocks of 32, and 32 unboxed messages (about 400 bytes each) would cost every call
/// 12 KB before its first message.
pub type Mailbox = mpsc::Sender<Box<CallMessage>>;

/// The receiving side of a call actor's mailbox.
pub type Inbox = mpsc::Receiver<Box<CallMessage>>;

/// What became of a request offered to the call that owns its Call-ID.
// The variants hand the request back; boxing it would add an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Delivery {
    /// The call has it.
    Delivered,
    /// The call's mailbox is full: the request is handed back to be refused (503, never for
    /// an ACK).
    MailboxFull {
        /// The request.
        request: Request,
        /// Where its response goes.
        route: ResponseRoute,
    },
    /// No call owns the Call-ID (or the call has just ended and it is anyone's again): the
    /// request is handed back for the shards.
    NoCall {
        /// The request.
        request: Request,
        /// The flow it arrived on.
        peer: Peer,
        /// Where its responses go.
        route: ResponseRoute,
    },
}

/// SIP Call-ID -> mailbox of the call actor that owns it (a call owns one Call-ID per leg
/// side).
#[derive(Debug, Default)]
pub struct CallTable {
    calls: DashMap<String, Mailbox>,
}

impl CallTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `sip_call_id` to `mailbox`. False (and nothing changes) when the Call-ID already
    /// belongs to a call.
    pub fn insert(&self, sip_call_id: &str, mailbox: Mailbox) -> bool {
        match self.calls.entry(sip_call_id.to_owned()) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(slot) => {
                slot.insert(mailbox);
                true
            }
        }
    }

    /// Hands `request` to the call that owns its Call-ID, without waiting.
    pub fn deliver_request(&self, request: Request, peer: Peer, route: ResponseRoute) -> Delivery {
        let mailbox = request
            .headers()
            .call_id()
            .ok()
            .and_then(|call_id| self.get(call_id));
        let Some(mailbox) = mailbox else {
            return Delivery::NoCall {
                request,
                peer,
                route,
            };
        };
        let message = Box::new(CallMessage::Request {
            request,
            peer,
            route,
        });
        match mailbox.try_send(message) {
            Ok(()) => Delivery::Delivered,
            Err(mpsc::error::TrySendError::Full(message)) => match *message {
                CallMessage::Request { request, route, .. } => {
                    Delivery::MailboxFull { request, route }
                }
                CallMessage::Response { .. }
                | CallMessage::Undelivered { .. }
                | CallMessage::HangUp
                | CallMessage::Recording { .. } => Delivery::Delivered,
            },
            Err(mpsc::error::TrySendError::Closed(message)) => match *message {
                CallMessage::Request {
                    request,
                    peer,
                    route,
                } => Delivery::NoCall {
                    request,
                    peer,
                    route,
                },
                CallMessage::Response { .. }
                | CallMessage::Undelivered { .. }
                | CallMessage::HangUp
                | CallMessage::Recording { .. } => Delivery::Delivered,
            },
        }
    }

    /// RFC 3261 §17.1.4: hands each request the transport could not deliver back to the call
    /// (or client) that owns its Call-ID, as a transport error of its client transaction.
    /// Responses, and requests of no call, have nobody waiting: they are dropped.
    pub fn report_undelivered(&self, peer: Peer, messages: Vec<Bytes>) {
        for data in messages {
            let Ok(Message::Request(request)) = Message::parse(data) else {
                continue;
            };
            let mailbox = request
                .headers()
                .call_id()
                .ok()
                .and_then(|call_id| self.get(call_id));
            let Some(mailbox) = mailbox else {
                continue;
            };
            let method = request.method().clone();
            if let Err(e) = mailbox.try_send(Box::new(CallMessage::Undelivered { request, peer })) {
                // The transaction then ends at its own timeout.
                let full = matches!(e, mpsc::error::TrySendError::Full(_));
                tracing::debug!(remote = %peer.remote, %method, full, "undelivered request not reported to its call");
            }
        }
    }

    /// Stops routing `sip_call_id`.
    pub fn remove(&self, sip_call_id: &str) {
        self.calls.remove(sip_call_id);
    }

    /// The mailbox of the call that owns `sip_call_id`.
    pub fn get(&self, sip_call_id: &str) -> Option<Mailbox> {
        self.calls
            .get(sip_call_id)
            .map(|entry| entry.value().clone())
    }

    /// Number of Call-IDs routed (two per call with a B side).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True when no call is routed.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}
