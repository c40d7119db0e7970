//! RFC 4028 session timers on one leg: reading Session-Expires and Min-SE, choosing the
//! interval and the refresher, and the leg's refresh or expiry deadline.
//!
//! Pure: no I/O, no clock.

use std::time::{Duration, Instant};

use sip_core::message::{HeaderName, Headers};

use super::api::CallSettings;
use super::outgoing::supports_timer;

/// Who refreshes a session (RFC 4028 §4: the `refresher` parameter), seen from the
/// transaction that negotiated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refresher {
    /// The client of the transaction.
    Uac,
    /// The server of the transaction.
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        }
    }
}

/// A parsed Session-Expires header (RFC 4028 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SessionExpires {
    /// The session interval.
    pub(super) interval: Duration,
    /// The refresher parameter, when present.
    pub(super) refresher: Option<Refresher>,
}

/// The Session-Expires of a message (None when absent or malformed).
pub(super) fn session_expires(headers: &Headers) -> Option<SessionExpires> {
    let text = headers.get(HeaderName::SessionExpires)?.to_str().ok()?;
    let mut parts = text.split(';');
    // At most u32 seconds, so deadlines computed from it cannot overflow an Instant.
    let secs: u32 = parts.next()?.trim().parse().ok()?;
    let mut refresher = None;
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("refresher") {
            refresher = match value.trim().to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            };
        }
    }
    (secs > 0).then_some(SessionExpires {
        interval: Duration::from_secs(u64::from(secs)),
        refresher,
    })
}

/// The Min-SE of a message (RFC 4028 §5).
pub(super) fn min_se(headers: &Headers) -> Option<Duration> {
    let text = headers.get(HeaderName::MinSe)?.to_str().ok()?;
    let secs: u32 = text.split(';').next()?.trim().parse().ok()?;
    Some(Duration::from_secs(u64::from(secs)))
}

/// The Session-Expires header value for `interval` and `refresher`.
pub(super) fn header_value(interval: Duration, refresher: Refresher) -> String {
    format!("{};refresher={}", interval.as_secs(), refresher.as_str())
}

/// What a request the switch serves (as UAS) negotiates (RFC 4028 §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UasOutcome {
    /// No session timer.
    None,
    /// A session timer with this interval and refresher.
    Timer(Duration, Refresher),
    /// The request's interval is below the switch's Min-SE: answer 422 with it.
    TooSmall(Duration),
}

/// RFC 4028 §9: the interval and refresher for a request the switch answers. A request
/// without Session-Expires gets the switch's own interval when it has one (refresher uas);
/// a refresher the request names is kept; otherwise the client refreshes when it supports
/// timers.
pub(super) fn negotiate_as_uas(headers: &Headers, settings: &CallSettings) -> UasOutcome {
    let supported = supports_timer(headers);
    match session_expires(headers) {
        Some(se) if se.interval < settings.min_se => UasOutcome::TooSmall(settings.min_se),
        Some(se) => {
            let refresher = match se.refresher {
                Some(r) if supported => r,
                _ if supported => Refresher::Uac,
                _ => Refresher::Uas,
            };
            UasOutcome::Timer(se.interval, refresher)
        }
        None => match settings.session_expires {
            Some(ours) => {
                let floor = min_se(headers)
                    .unwrap_or(Duration::ZERO)
                    .max(settings.min_se);
                UasOutcome::Timer(ours.max(floor), Refresher::Uas)
            }
            None => UasOutcome::None,
        },
    }
}

/// RFC 4028 §7.2: what a 2xx to a request the switch sent (as UAC) negotiates. A 2xx
/// without Session-Expires leaves the switch free to refresh with its own interval
/// (§7.4), when it has one.
pub(super) fn negotiate_as_uac(
    headers: &Headers,
    ours: Option<Duration>,
) -> Option<(Duration, Refresher)> {
    match session_expires(headers) {
        Some(se) => Some((se.interval, se.refresher.unwrap_or(Refresher::Uac))),
        None => ours.map(|interval| (interval, Refresher::Uac)),
    }
}

/// One leg's session timer: the switch refreshes it at half the interval, or, when the
/// phone refreshes, ends the call if no refresh arrives in time (RFC 4028 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LegTimer {
    interval: Duration,
    switch_refreshes: bool,
    deadline: Instant,
}

impl LegTimer {
    /// A timer negotiated at `now`.
    pub(super) fn new(now: Instant, interval: Duration, switch_refreshes: bool) -> Self {
        let mut timer = LegTimer {
            interval,
            switch_refreshes,
            deadline: now,
        };
        timer.restart(now);
        timer
    }

    /// The session interval.
    pub(super) fn interval(&self) -> Duration {
        self.interval
    }

    /// True when the switch sends the refreshes on this leg.
    pub(super) fn switch_refreshes(&self) -> bool {
        self.switch_refreshes
    }

    /// When the switch must refresh, or when the session expires without a refresh.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The refresher seen from a request the switch sends on this leg.
    pub(super) fn refresher_as_uac(&self) -> Refresher {
        if self.switch_refreshes {
            Refresher::Uac
        } else {
            Refresher::Uas
        }
    }

    /// A refresh happened at `now` (RFC 4028 §10: refresh at half the interval; expire at
    /// the interval minus the lesser of 32 s and a third of it).
    pub(super) fn restart(&mut self, now: Instant) {
        self.deadline = if self.switch_refreshes {
            now + self.interval / 2
        } else {
            now + self.interval - Duration::from_secs(32).min(self.interval / 3)
        };
    }

    /// Tries the refresh again at `at` (after a 491 or while another offer is pending).
    pub(super) fn retry_at(&mut self, at: Instant) {
        self.deadline = at;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (name, value) in lines {
            h.push(HeaderName::parse(name).unwrap(), *value);
        }
        h
    }

    fn settings(ours: Option<u64>) -> CallSettings {
        CallSettings {
            timers: Default::default(),
            ring_timeout: Duration::from_secs(60),
            max_duration: None,
            session_expires: ours.map(Duration::from_secs),
            min_se: Duration::from_secs(90),
            user_agent: "test".into(),
        }
    }

    #[test]
    fn session_expires_reads_interval_and_refresher() {
        let h = headers(&[("x", "1800 ; refresher=UAS")]);
        assert_eq!(
            session_expires(&h),
            Some(SessionExpires {
                interval: Duration::from_secs(1800),
                refresher: Some(Refresher::Uas)
            })
        );
        assert_eq!(session_expires(&headers(&[("Session-Expires", "x")])), None);
        let huge = headers(&[("Session-Expires", "18446744073709551615")]);
        assert_eq!(session_expires(&huge), None);
    }

    #[test]
    fn a_caller_interval_below_min_se_is_too_small() {
        let h = headers(&[("Session-Expires", "60"), ("Supported", "timer")]);
        assert_eq!(
            negotiate_as_uas(&h, &settings(Some(1800))),
            UasOutcome::TooSmall(Duration::from_secs(90))
        );
    }

    #[test]
    fn a_caller_supporting_timers_refreshes_unless_it_names_the_server() {
        let h = headers(&[("Session-Expires", "600"), ("Supported", "timer")]);
        assert_eq!(
            negotiate_as_uas(&h, &settings(None)),
            UasOutcome::Timer(Duration::from_secs(600), Refresher::Uac)
        );
        let h = headers(&[("Session-Expires", "600;refresher=uas"), ("k", "timer")]);
        assert_eq!(
            negotiate_as_uas(&h, &settings(None)),
            UasOutcome::Timer(Duration::from_secs(600), Refresher::Uas)
        );
        let h = headers(&[("Session-Expires", "600;refresher=uac")]);
        assert_eq!(
            negotiate_as_uas(&h, &settings(None)),
            UasOutcome::Timer(Duration::from_secs(600), Refresher::Uas)
        );
    }

    #[test]
    fn without_a_caller_interval_the_switch_adds_its_own_and_refreshes() {
        let h = headers(&[("Min-SE", "2000")]);
        assert_eq!(
            negotiate_as_uas(&h, &settings(Some(1800))),
            UasOutcome::Timer(Duration::from_secs(2000), Refresher::Uas)
        );
        assert_eq!(negotiate_as_uas(&h, &settings(None)), UasOutcome::None);
    }

    #[test]
    fn refresher_deadline_is_half_the_interval_and_expiry_leaves_a_margin() {
        let t0 = Instant::now();
        let ours = LegTimer::new(t0, Duration::from_secs(1800), true);
        assert_eq!(ours.deadline(), t0 + Duration::from_secs(900));
        let theirs = LegTimer::new(t0, Duration::from_secs(1800), false);
        assert_eq!(theirs.deadline(), t0 + Duration::from_secs(1768));
        let short = LegTimer::new(t0, Duration::from_secs(90), false);
        assert_eq!(short.deadline(), t0 + Duration::from_secs(60));
    }
}
