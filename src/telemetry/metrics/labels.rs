//! Label values with bounded cardinality: every recording call maps what it is given onto a
//! fixed set (an unknown SIP method is `other`, a status outside 100..=699 is not counted), so
//! no phone number, user, call id or URL can become a label.

use sip_core::transaction::Timer;

/// How a call ended, as the `outcome` label of `switchyard_calls_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// The call was answered (whatever ended it afterwards).
    Answered,
    /// Nobody answered: ring timeout, no response, 480.
    NoAnswer,
    /// The callee was busy (486, 600).
    Busy,
    /// The switch could not complete the call (no route, media, transport, shutdown, other
    /// SIP failures).
    Failed,
    /// The caller (or an operator through the API) gave up before answer.
    Cancelled,
    /// The callee's side refused it: declined, unknown number, not registered, incompatible
    /// media.
    Rejected,
}

impl CallOutcome {
    /// Every outcome, in documentation order.
    pub const ALL: [CallOutcome; 6] = [
        CallOutcome::Answered,
        CallOutcome::NoAnswer,
        CallOutcome::Busy,
        CallOutcome::Failed,
        CallOutcome::Cancelled,
        CallOutcome::Rejected,
    ];

    /// The outcome of a call that was `answered` or else ended with the hangup cause `cause`
    /// (the stable code of `call::cause::HangupCause`).
    pub fn classify(answered: bool, cause: &str) -> CallOutcome {
        if answered {
            return CallOutcome::Answered;
        }
        match cause {
            "no_answer" | "no_user_response" => CallOutcome::NoAnswer,
            "user_busy" => CallOutcome::Busy,
            "originator_cancel" | "manager_request" => CallOutcome::Cancelled,
            "call_rejected"
            | "unallocated_number"
            | "user_not_registered"
            | "incompatible_destination" => CallOutcome::Rejected,
            _ => CallOutcome::Failed,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::NoAnswer => "no_answer",
            CallOutcome::Busy => "busy",
            CallOutcome::Failed => "failed",
            CallOutcome::Cancelled => "cancelled",
            CallOutcome::Rejected => "rejected",
        }
    }
}

/// Call directions, as the `direction` label of the call families.
pub const CALL_DIRECTIONS: [&str; 3] = ["inbound", "outbound", "originate"];

/// The call direction label for `direction`; anything unknown is `other`.
pub(super) fn call_direction(direction: &str) -> &'static str {
    CALL_DIRECTIONS
        .iter()
        .find(|d| **d == direction)
        .copied()
        .unwrap_or("other")
}

/// SIP methods counted by name; everything else is `other`.
pub const SIP_METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

/// Index of the `other` method in the per-method counters.
pub(super) const SIP_METHOD_OTHER: usize = SIP_METHODS.len();

/// The index of `method` (case-sensitive, RFC 3261 §7.1) in [`SIP_METHODS`], or
/// [`SIP_METHOD_OTHER`].
pub(super) fn sip_method_index(method: &[u8]) -> usize {
    SIP_METHODS
        .iter()
        .position(|m| m.as_bytes() == method)
        .unwrap_or(SIP_METHOD_OTHER)
}

/// The method label for an index from [`sip_method_index`].
pub(super) fn sip_method_label(index: usize) -> &'static str {
    SIP_METHODS.get(index).copied().unwrap_or("other")
}

/// The lowest SIP status code (RFC 3261 §7.2).
pub(super) const STATUS_MIN: u16 = 100;
/// Status codes counted: 100..=699.
pub(super) const STATUS_COUNT: usize = 600;

/// The index of a status code in the per-code counters; None outside 100..=699.
pub(super) fn status_index(code: u16) -> Option<usize> {
    let index = usize::from(code.checked_sub(STATUS_MIN)?);
    (index < STATUS_COUNT).then_some(index)
}

/// What a sent message is, read from its start line without parsing the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartLine {
    /// A request, by method index.
    Request(usize),
    /// A response, by status index.
    Response(usize),
}

/// Reads the start line of an encoded SIP message (RFC 3261 §7.1, §7.2).
pub(super) fn start_line(bytes: &[u8]) -> Option<StartLine> {
    if let Some(rest) = bytes.strip_prefix(b"SIP/2.0 ") {
        let digits = rest.get(..3)?;
        let mut code = 0u16;
        for d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            code = code * 10 + u16::from(d - b'0');
        }
        return status_index(code).map(StartLine::Response);
    }
    // A method token is short; look no further than the longest known one plus the space.
    let head = bytes.get(..bytes.len().min(16))?;
    let end = head.iter().position(|b| *b == b' ')?;
    Some(StartLine::Request(sip_method_index(&head[..end])))
}

/// Which side of a SIP message the switch was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SipDirection {
    /// The switch received it.
    Received = 0,
    /// The switch sent it.
    Sent = 1,
}

impl SipDirection {
    /// Both directions, in counter order.
    pub(super) const ALL: [SipDirection; 2] = [SipDirection::Received, SipDirection::Sent];

    /// The label value.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            SipDirection::Received => "received",
            SipDirection::Sent => "sent",
        }
    }
}

/// A retransmission, as the `kind` label of `switchyard_sip_retransmissions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retransmission {
    /// The switch sent a request again on its retransmit timer (RFC 3261 §17.1.2.2 Timer E).
    RequestSent,
    /// A request arrived again and was absorbed by its server transaction (RFC 3261 §17.2).
    RequestReceived,
}

impl Retransmission {
    /// Every kind, in counter order.
    pub const ALL: [Retransmission; 2] =
        [Retransmission::RequestSent, Retransmission::RequestReceived];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Retransmission::RequestSent => "request_sent",
            Retransmission::RequestReceived => "request_received",
        }
    }
}

/// The `timer` label of `switchyard_sip_transaction_timeouts_total`: the RFC 3261 timer that
/// gave up (B: INVITE client, F: non-INVITE client, H: server INVITE waiting for ACK).
pub const TIMEOUT_TIMERS: [&str; 4] = ["B", "F", "H", "other"];

/// The index of `timer` in [`TIMEOUT_TIMERS`].
pub(super) fn timeout_index(timer: Timer) -> usize {
    match timer {
        Timer::B => 0,
        Timer::F => 1,
        Timer::H => 2,
        _ => 3,
    }
}

/// The `result` label of `switchyard_registration_requests_total` for the final status the
/// registrar answered.
pub(super) fn registration_result(status: u16) -> &'static str {
    match status {
        200..=299 => "ok",
        401 | 407 => "challenged",
        403 => "forbidden",
        400..=499 => "rejected",
        _ => "failed",
    }
}

/// Every `result` value of `switchyard_registration_requests_total`.
pub const REGISTRATION_RESULTS: [&str; 5] = ["ok", "challenged", "forbidden", "rejected", "failed"];

/// An HTTP method as a bounded label value.
pub(super) fn http_method(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A webhook delivery outcome as a bounded label value.
pub(super) fn webhook_outcome(outcome: &str) -> &'static str {
    match outcome {
        "delivered" => "delivered",
        "failed" => "failed",
        "dead_lettered" => "dead_lettered",
        _ => "other",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_call_is_answered_whatever_ended_it() {
        assert_eq!(
            CallOutcome::classify(true, "media_timeout"),
            CallOutcome::Answered
        );
    }

    #[test]
    fn unanswered_calls_are_classified_by_their_hangup_cause() {
        let cases = [
            ("no_answer", CallOutcome::NoAnswer),
            ("no_user_response", CallOutcome::NoAnswer),
            ("user_busy", CallOutcome::Busy),
            ("originator_cancel", CallOutcome::Cancelled),
            ("manager_request", CallOutcome::Cancelled),
            ("call_rejected", CallOutcome::Rejected),
            ("unallocated_number", CallOutcome::Rejected),
            ("user_not_registered", CallOutcome::Rejected),
            ("temporary_failure", CallOutcome::Failed),
            ("sip_failure", CallOutcome::Failed),
            ("a cause nobody defined", CallOutcome::Failed),
        ];
        for (cause, outcome) in cases {
            assert_eq!(CallOutcome::classify(false, cause), outcome, "{cause}");
        }
    }

    #[test]
    fn an_unknown_sip_method_counts_as_other() {
        assert_eq!(sip_method_label(sip_method_index(b"INVITE")), "INVITE");
        assert_eq!(sip_method_label(sip_method_index(b"invite")), "other");
        assert_eq!(sip_method_label(sip_method_index(b"X-CUSTOM")), "other");
    }

    #[test]
    fn the_start_line_of_sent_bytes_names_the_method_or_status() {
        assert_eq!(
            start_line(b"INVITE sip:bob@example.com SIP/2.0\r\n"),
            Some(StartLine::Request(0))
        );
        assert_eq!(
            start_line(b"SIP/2.0 180 Ringing\r\n"),
            Some(StartLine::Response(80))
        );
        assert_eq!(
            start_line(b"FROBNICATE sip:x SIP/2.0\r\n"),
            Some(StartLine::Request(SIP_METHOD_OTHER))
        );
        assert_eq!(start_line(b"SIP/2.0 099 Odd\r\n"), None);
        assert_eq!(start_line(b"SIP/2.0 7xx Odd\r\n"), None);
        assert_eq!(start_line(b"\r\n\r\n"), None);
    }

    #[test]
    fn status_codes_outside_the_sip_range_have_no_counter() {
        assert_eq!(status_index(99), None);
        assert_eq!(status_index(100), Some(0));
        assert_eq!(status_index(699), Some(599));
        assert_eq!(status_index(700), None);
    }

    #[test]
    fn registration_results_group_the_registrar_answers() {
        assert_eq!(registration_result(200), "ok");
        assert_eq!(registration_result(401), "challenged");
        assert_eq!(registration_result(403), "forbidden");
        assert_eq!(registration_result(423), "rejected");
        assert_eq!(registration_result(503), "failed");
    }

    #[test]
    fn unknown_http_methods_and_webhook_outcomes_are_other() {
        assert_eq!(http_method("BREW"), "other");
        assert_eq!(http_method("GET"), "GET");
        assert_eq!(webhook_outcome("exploded"), "other");
        assert_eq!(webhook_outcome("dead_lettered"), "dead_lettered");
    }
}
