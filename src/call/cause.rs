//! The one table of hangup causes: each cause's stable code (what call records, metrics and
//! the API carry), its ITU-T Q.850 value and the SIP status it maps to, both ways (RFC 3398
//! §7.2.4.1 for Q.850 -> SIP, §8.2.6.1 for SIP -> Q.850).

use sip_core::message::StatusCode;

/// Why a call (or a leg) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HangupCause {
    /// A BYE after answer, or any normal end.
    NormalClearing,
    /// The caller cancelled before answer (CANCEL; the caller gets 487).
    OriginatorCancel,
    /// The callee is busy (486, 600).
    UserBusy,
    /// Nobody answered before the ring timeout (480 to the caller).
    NoAnswer,
    /// The callee's phones did not respond at all (408, Timer B).
    NoUserResponse,
    /// The callee declined (603, 403).
    CallRejected,
    /// The dialled user does not exist (404).
    UnallocatedNumber,
    /// The dialled user exists but has no registered phone (480).
    UserNotRegistered,
    /// The callee's side did not accept the session's media (488).
    IncompatibleDestination,
    /// No RTP for the configured time: the relay hung the call up.
    MediaTimeout,
    /// An RFC 4028 session refresh failed or never came.
    SessionTimeout,
    /// The call reached the profile's maximum duration.
    MaxDuration,
    /// The switch is shutting down.
    SystemShutdown,
    /// An operator or application hung the call up through the control API.
    ManagerRequest,
    /// The switch could not go on with the call (no media ports, transport failure, internal
    /// limits).
    TemporaryFailure,
    /// Any other SIP failure from the callee's side, by its status.
    SipFailure(u16),
}

impl HangupCause {
    /// The stable code in call records (never changes once released).
    pub fn code(self) -> &'static str {
        match self {
            Self::NormalClearing => "normal_clearing",
            Self::OriginatorCancel => "originator_cancel",
            Self::UserBusy => "user_busy",
            Self::NoAnswer => "no_answer",
            Self::NoUserResponse => "no_user_response",
            Self::CallRejected => "call_rejected",
            Self::UnallocatedNumber => "unallocated_number",
            Self::UserNotRegistered => "user_not_registered",
            Self::IncompatibleDestination => "incompatible_destination",
            Self::MediaTimeout => "media_timeout",
            Self::SessionTimeout => "session_timeout",
            Self::MaxDuration => "max_duration",
            Self::SystemShutdown => "system_shutdown",
            Self::ManagerRequest => "manager_request",
            Self::TemporaryFailure => "temporary_failure",
            Self::SipFailure(_) => "sip_failure",
        }
    }

    /// The ITU-T Q.850 cause value.
    pub fn q850(self) -> u16 {
        match self {
            Self::NormalClearing | Self::OriginatorCancel | Self::ManagerRequest => 16,
            Self::UserBusy => 17,
            Self::NoUserResponse => 18,
            Self::NoAnswer => 19,
            Self::UserNotRegistered => 20,
            Self::CallRejected => 21,
            Self::UnallocatedNumber => 1,
            Self::IncompatibleDestination => 88,
            // Q.850 102 "recovery on timer expiry": the switch's timers ended the call.
            Self::MediaTimeout | Self::SessionTimeout | Self::MaxDuration => 102,
            Self::SystemShutdown | Self::TemporaryFailure => 41,
            Self::SipFailure(status) => q850_for_sip(status),
        }
    }

    /// The SIP status sent to the caller when this cause ends an unanswered call.
    pub fn sip_status(self) -> StatusCode {
        let code = match self {
            // After answer a call ends with BYE; before answer "normal" has no better status.
            Self::NormalClearing | Self::TemporaryFailure | Self::SystemShutdown => 503,
            // Ended on an operator's request before answer: the caller is told to go away.
            Self::ManagerRequest => 487,
            Self::OriginatorCancel => 487,
            Self::UserBusy => 486,
            Self::NoAnswer | Self::UserNotRegistered => 480,
            Self::NoUserResponse => 408,
            Self::CallRejected => 603,
            Self::UnallocatedNumber => 404,
            Self::IncompatibleDestination => 488,
            Self::MediaTimeout | Self::SessionTimeout | Self::MaxDuration => 408,
            Self::SipFailure(status) => status,
        };
        // Every code above is within 100..=699; a SipFailure came from a parsed status.
        StatusCode::from_u16(code).unwrap_or(StatusCode::SERVER_INTERNAL_ERROR)
    }

    /// The cause for a final failure response (>= 300) from the callee's side.
    pub fn from_sip_status(status: u16) -> Self {
        match status {
            486 | 600 => Self::UserBusy,
            408 => Self::NoUserResponse,
            480 => Self::NoAnswer,
            403 | 603 => Self::CallRejected,
            404 | 604 => Self::UnallocatedNumber,
            487 => Self::OriginatorCancel,
            488 | 606 => Self::IncompatibleDestination,
            other => Self::SipFailure(other),
        }
    }
}

/// RFC 3398 §8.2.6.1: the Q.850 cause for a SIP failure status.
fn q850_for_sip(status: u16) -> u16 {
    match status {
        401 | 402 | 403 | 407 | 603 => 21,
        404 | 485 | 604 => 1,
        405 => 63,
        406 | 415 | 501 => 79,
        408 | 504 => 102,
        410 => 22,
        480 => 18,
        482 | 483 => 25,
        484 => 28,
        486 | 600 => 17,
        502 => 38,
        606 => 58,
        400 | 481 | 500 | 503 => 41,
        _ => 127,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_status_round_trips_to_a_cause_with_the_same_status() {
        for status in [
            403, 404, 408, 480, 486, 487, 488, 500, 503, 600, 603, 604, 606,
        ] {
            let cause = HangupCause::from_sip_status(status);
            let back = cause.sip_status().as_u16();
            // The mapping may normalise (600 -> 486, 604 -> 404, 606 -> 488) but stays in the
            // same class of answer.
            assert_eq!(
                back / 100 == 4 || back / 100 == 6,
                status / 100 == 4 || status / 100 == 6
            );
        }
    }

    #[test]
    fn busy_maps_to_q850_17_and_486() {
        let cause = HangupCause::from_sip_status(486);
        assert_eq!(cause, HangupCause::UserBusy);
        assert_eq!(cause.q850(), 17);
        assert_eq!(cause.sip_status().as_u16(), 486);
        assert_eq!(cause.code(), "user_busy");
    }

    #[test]
    fn unknown_failure_keeps_its_status_and_uses_the_rfc_3398_table() {
        let cause = HangupCause::from_sip_status(502);
        assert_eq!(cause.sip_status().as_u16(), 502);
        assert_eq!(cause.q850(), 38);
        assert_eq!(HangupCause::from_sip_status(599).q850(), 127);
    }

    #[test]
    fn timer_causes_use_recovery_on_timer_expiry() {
        for cause in [
            HangupCause::MediaTimeout,
            HangupCause::SessionTimeout,
            HangupCause::MaxDuration,
        ] {
            assert_eq!(cause.q850(), 102);
        }
    }
}
