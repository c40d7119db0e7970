//! The media application of a call as its actor runs it: the leg answered by the switch (a
//! caller's call) or started once A answered (an originated call), the [`MediaPort`] on
//! side A, SIP INFO digits into the port, and what the app decided (hang up, transfer). An
//! app that never ran hears why through [`CallApp::not_run`].
//!
//! [`MediaPort`]: crate::media::MediaPort

use tokio::sync::mpsc;

use super::{CallActor, now};
use crate::call::app::{AppContext, AppOutcome, CallApp, DtmfMode};
use crate::call::cause::HangupCause;
use crate::call::registry::CallDirection;
use crate::cluster::BoxFuture;
use crate::media::{DtmfDetection, MediaFormat, Side};
use crate::telemetry::metrics::metrics;

/// Who the app talks to, as the app sees it.
#[derive(Debug, Clone, Default)]
pub(super) struct Parties {
    /// `AppContext::remote`.
    pub(super) remote: String,
    /// `AppContext::dialled`.
    pub(super) dialled: String,
}

/// The app of a call, from the route's decision to its outcome.
#[derive(Default)]
pub(super) struct AppRun {
    /// Decided but not running yet (an originated call whose A has not answered).
    pending: Option<Box<dyn CallApp>>,
    /// The app's future, polled in the actor's loop.
    pub(super) running: Option<BoxFuture<'static, AppOutcome>>,
    /// Where SIP INFO digits go while the app runs.
    digits: Option<mpsc::Sender<char>>,
    /// The app asked for the call to be recorded from answer.
    pub(super) record: bool,
    pub(super) parties: Parties,
}

/// Which DTMF the port listens for in the RTP: `mode` with what the SDP negotiated.
pub(super) fn detection(mode: DtmfMode, format: MediaFormat) -> DtmfDetection {
    let events = format.telephone_event.is_some();
    match mode {
        DtmfMode::Auto => DtmfDetection {
            rfc4733: events,
            inband: !events,
        },
        DtmfMode::Rfc4733 => DtmfDetection {
            rfc4733: true,
            inband: false,
        },
        DtmfMode::Info => DtmfDetection {
            rfc4733: false,
            inband: false,
        },
        DtmfMode::Inband => DtmfDetection {
            rfc4733: false,
            inband: true,
        },
    }
}

impl AppRun {
    /// No app yet.
    pub(super) fn new(parties: Parties) -> Self {
        Self {
            parties,
            ..Self::default()
        }
    }

    /// True while the app's future runs.
    pub(super) fn is_running(&self) -> bool {
        self.running.is_some()
    }
}

impl CallActor {
    /// The route decided for an app: a caller's call is answered by the switch now; an
    /// originated call's app waits for A's answer.
    pub(super) fn on_app_decision(&mut self, app: Box<dyn CallApp>) {
        if self.machine.is_ended() {
            let cause = self
                .machine
                .hangup_cause()
                .unwrap_or(HangupCause::TemporaryFailure);
            app.not_run(cause);
            return;
        }
        if self.relay.is_none() {
            // Direct media: the switch has no media of its own to answer with.
            tracing::warn!("a media application needs anchored media; refused");
            app.not_run(HangupCause::IncompatibleDestination);
            self.machine
                .reject(now(), HangupCause::IncompatibleDestination);
            return;
        }
        self.app.record |= app.record();
        if self.lifecycle.direction() == CallDirection::Originate {
            self.app.pending = Some(app);
            if self.machine.awaits_stage() {
                self.start_origin_app();
            }
            return;
        }
        match self.machine.answer_locally(now()) {
            Ok(format) => self.run_app(app, format),
            Err(cause) => {
                tracing::info!(cause = cause.code(), "the switch could not answer the call");
                app.not_run(cause);
            }
        }
    }

    /// A of an originated call answered: its app starts. True when there was one.
    pub(super) fn start_origin_app(&mut self) -> bool {
        let Some(app) = self.app.pending.take() else {
            return false;
        };
        match self.machine.start_app(now()) {
            Ok(format) => self.run_app(app, format),
            Err(cause) => app.not_run(cause),
        }
        true
    }

    /// Attaches the port on side A and starts the app's future.
    fn run_app(&mut self, app: Box<dyn CallApp>, format: MediaFormat) {
        let Some(relay) = &self.relay else {
            app.not_run(HangupCause::TemporaryFailure);
            self.machine.hangup(now(), HangupCause::TemporaryFailure);
            return;
        };
        let port = relay.attach(Side::A, format, detection(self.options.dtmf, format));
        self.app.digits = Some(port.digits.sender());
        let context = AppContext {
            call_id: self.lifecycle.id(),
            remote: self.app.parties.remote.clone(),
            dialled: self.app.parties.dialled.clone(),
            media: port,
        };
        tracing::debug!(payload_type = format.payload_type, "media application runs");
        self.app.running = Some(app.run(context));
    }

    /// A digit A sent by SIP INFO while the app runs.
    pub(super) fn on_info_digit(&mut self, digit: char) {
        metrics().dtmf_digit("info");
        if let Some(digits) = &self.app.digits
            && digits.try_send(digit).is_err()
        {
            tracing::debug!("digit dropped: the app's queue is full");
        }
    }

    /// The app finished with `outcome`.
    pub(super) fn on_app_outcome(&mut self, outcome: AppOutcome) {
        // The app's future, and with it the port, is gone: the relay carries A's media again.
        self.app.running = None;
        self.app.digits = None;
        if self.machine.is_ended() {
            return;
        }
        match outcome {
            AppOutcome::HangUp(cause) => {
                tracing::debug!(cause = cause.code(), "the app hangs up");
                self.machine.hangup(now(), cause);
            }
            AppOutcome::Transfer(route) => {
                tracing::debug!("the app transfers the call");
                self.route = Some(route);
                self.dial_first();
            }
        }
    }

    /// The call ended: a running app is dropped; one that never ran hears why.
    pub(super) fn end_app(&mut self) {
        self.app.running = None;
        self.app.digits = None;
        if let Some(app) = self.app.pending.take() {
            let cause = self
                .machine
                .hangup_cause()
                .unwrap_or(HangupCause::TemporaryFailure);
            app.not_run(cause);
        }
    }
}
