//! The calls in progress on this node, for the control API: a summary per call, kept up to
//! date by the call's actor, and the call's mailbox so an operator can hang it up.

use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use serde::Serialize;

use super::record::CallId;
use crate::cluster::UnixMillis;
use crate::sip::call_table::{CallMessage, Mailbox};

/// Where a call came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// From a carrier trunk.
    Inbound,
    /// From a registered phone (to another phone or out through a trunk).
    Outbound,
    /// Started by the switch on an API request (click-to-call).
    Originate,
}

impl CallDirection {
    /// The label value (`inbound`, `outbound`, `originate`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
            CallDirection::Originate => "originate",
        }
    }
}

/// Where a call in progress stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// Being routed, or its first stage dialled with no answer yet.
    Routing,
    /// The callee's side is ringing.
    Ringing,
    /// Answered and up.
    Answered,
    /// Answered, and a side has put it on hold.
    Held,
    /// Ending: the BYE or CANCEL is out.
    Ending,
}

/// What the API shows of a call in progress.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallSummary {
    /// Our id of the call.
    pub id: CallId,
    /// Where it came from.
    pub direction: CallDirection,
    /// Where it stands.
    pub state: CallState,
    /// The profile it arrived on (or was originated on).
    pub profile: String,
    /// The caller's From URI.
    pub from_uri: String,
    /// The To URI the caller dialled.
    pub to_uri: String,
    /// The authenticated caller (digest user), when there is one.
    pub caller: Option<String>,
    /// SIP Call-ID of the caller's leg.
    pub sip_call_id: String,
    /// When the call started (Unix milliseconds).
    #[schema(value_type = u64)]
    pub started_at: UnixMillis,
    /// When it was answered (Unix milliseconds).
    #[schema(value_type = Option<u64>)]
    pub answered_at: Option<UnixMillis>,
    /// The carrier trunk of the answered branch, when it went out through one.
    pub trunk: Option<String>,
}

#[derive(Debug)]
struct Entry {
    summary: Mutex<CallSummary>,
    mailbox: Mailbox,
}

/// The calls in progress, by id. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct ActiveCalls {
    calls: DashMap<CallId, Arc<Entry>>,
}

/// What became of a hang-up request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUpResult {
    /// The call has the request and is ending.
    Requested,
    /// No call in progress has that id.
    NotFound,
    /// The call's mailbox is full; try again.
    Busy,
}

impl ActiveCalls {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a new call.
    pub fn insert(&self, summary: CallSummary, mailbox: Mailbox) {
        let id = summary.id;
        self.calls.insert(
            id,
            Arc::new(Entry {
                summary: Mutex::new(summary),
                mailbox,
            }),
        );
    }

    /// Changes a call's summary (no-op for an unknown id).
    pub fn update(&self, id: CallId, change: impl FnOnce(&mut CallSummary)) {
        if let Some(entry) = self.calls.get(&id) {
            match entry.summary.lock() {
                Ok(mut summary) => change(&mut summary),
                Err(poisoned) => change(&mut poisoned.into_inner()),
            }
        }
    }

    /// Forgets a call (it ended).
    pub fn remove(&self, id: CallId) {
        self.calls.remove(&id);
    }

    /// The summary of one call.
    pub fn get(&self, id: CallId) -> Option<CallSummary> {
        let entry = self.calls.get(&id).map(|e| Arc::clone(e.value()))?;
        Some(summary_of(&entry))
    }

    /// Every call in progress, oldest first.
    pub fn list(&self) -> Vec<CallSummary> {
        let entries: Vec<Arc<Entry>> = self.calls.iter().map(|e| Arc::clone(e.value())).collect();
        let mut calls: Vec<CallSummary> = entries.iter().map(|e| summary_of(e)).collect();
        calls.sort_by_key(|c| (c.started_at, c.id.to_string()));
        calls
    }

    /// How many calls are in progress.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// True when no call is in progress.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Asks the call to hang up ([`CallMessage::HangUp`]); never waits.
    pub fn hang_up(&self, id: CallId) -> HangUpResult {
        let Some(entry) = self.calls.get(&id).map(|e| Arc::clone(e.value())) else {
            return HangUpResult::NotFound;
        };
        match entry.mailbox.try_send(Box::new(CallMessage::HangUp)) {
            Ok(()) => HangUpResult::Requested,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => HangUpResult::Busy,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => HangUpResult::NotFound,
        }
    }
}

impl ActiveCalls {
    /// Hands the call a recording command ([`CallMessage::Recording`]) without waiting; the
    /// call's answer comes on the returned receiver. Err: [`HangUpResult::NotFound`] or
    /// [`HangUpResult::Busy`] (its mailbox is full), as for a hang-up.
    pub fn recording(
        &self,
        id: CallId,
        command: crate::sip::call_table::RecordingCommand,
    ) -> Result<tokio::sync::oneshot::Receiver<crate::sip::call_table::RecordingReply>, HangUpResult>
    {
        let Some(entry) = self.calls.get(&id).map(|e| Arc::clone(e.value())) else {
            return Err(HangUpResult::NotFound);
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        match entry
            .mailbox
            .try_send(Box::new(CallMessage::Recording { command, reply }))
        {
            Ok(()) => Ok(answer),
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Err(HangUpResult::Busy),
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => Err(HangUpResult::NotFound),
        }
    }
}

fn summary_of(entry: &Entry) -> CallSummary {
    match entry.summary.lock() {
        Ok(summary) => summary.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn summary(started: u64) -> CallSummary {
        CallSummary {
            id: CallId::new_random(),
            direction: CallDirection::Outbound,
            state: CallState::Routing,
            profile: "default".into(),
            from_uri: "sip:1000@example.com".into(),
            to_uri: "sip:1001@example.com".into(),
            caller: Some("1000".into()),
            sip_call_id: "abc".into(),
            started_at: UnixMillis(started),
            answered_at: None,
            trunk: None,
        }
    }

    #[test]
    fn calls_are_listed_oldest_first_and_forgotten_when_removed() {
        let calls = ActiveCalls::new();
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let late = summary(20);
        let early = summary(10);
        calls.insert(late.clone(), tx.clone());
        calls.insert(early.clone(), tx);
        let listed: Vec<CallId> = calls.list().iter().map(|c| c.id).collect();
        assert_eq!(listed, [early.id, late.id]);
        calls.remove(early.id);
        assert_eq!(calls.len(), 1);
        assert!(calls.get(early.id).is_none());
    }

    #[test]
    fn a_hang_up_reaches_the_calls_mailbox_and_a_full_one_says_busy() {
        let calls = ActiveCalls::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        let call = summary(1);
        calls.insert(call.clone(), tx);
        assert_eq!(calls.hang_up(call.id), HangUpResult::Requested);
        assert_eq!(calls.hang_up(call.id), HangUpResult::Busy);
        assert!(matches!(*rx.try_recv().unwrap(), CallMessage::HangUp));
        assert_eq!(calls.hang_up(CallId::new_random()), HangUpResult::NotFound);
    }

    #[test]
    fn updates_change_the_summary_the_api_sees() {
        let calls = ActiveCalls::new();
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let call = summary(1);
        calls.insert(call.clone(), tx);
        calls.update(call.id, |s| s.state = CallState::Answered);
        assert_eq!(calls.get(call.id).unwrap().state, CallState::Answered);
    }
}
