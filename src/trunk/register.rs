//! Outbound registration with a carrier (RFC 3261 §10.2): REGISTER, answer the carrier's
//! digest challenge, refresh before the binding expires, retry after failures, unregister on
//! shutdown. The decisions live in [`machine`]; this file runs them over the SIP client.

mod machine;

use std::sync::Arc;
use std::time::Duration;

use sip_core::message::{StatusCode, Uri};
use tokio_util::sync::CancellationToken;

use crate::sip::client::{self, ClientError, SipClient};
use crate::transport::Peer;
use machine::{Registration, Step};

/// How long the unregistration on shutdown may take.
const UNREGISTER_TIMEOUT: Duration = Duration::from_secs(2);

/// Digest credentials for the carrier's challenges.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestAccount {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// The only realm these credentials answer.
    pub realm: String,
}

impl std::fmt::Debug for DigestAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password into logs.
        f.debug_struct("DigestAccount")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// One trunk's registration with its carrier.
#[derive(Debug, Clone)]
pub struct RegistrationSpec {
    /// The trunk's name, for logs.
    pub trunk: String,
    /// The registrar's URI (`sip:host[:port]`), the Request-URI of every REGISTER.
    pub registrar: Uri,
    /// The flow to the registrar: `remote` its address, `local` the trunk profile's listener.
    pub flow: Peer,
    /// User part of the address of record.
    pub user: String,
    /// Domain of the address of record (`host[:port]`).
    pub domain: String,
    /// The Contact to bind: our listener (see [`client::local_uri`]).
    pub contact: Uri,
    /// Expiry to ask for, in seconds.
    pub expires: u32,
    /// Wait after a failed attempt.
    pub retry: Duration,
    /// Credentials for the carrier's challenges; None never answers one.
    pub credentials: Option<DigestAccount>,
}

/// Why an attempt to register failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationFailure {
    /// The registrar answered with this final status (a challenge we would not or could not
    /// answer included).
    Rejected(StatusCode),
    /// The registrar accepted the REGISTER but holds no binding for our contact.
    NotBound,
    /// No final response in time.
    Timeout,
    /// The REGISTER could not be sent.
    Unreachable,
}

/// What a registration reports as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// The registrar holds our binding for `expires`.
    Registered {
        /// The expiry it granted.
        expires: Duration,
    },
    /// The last attempt failed; the next comes after the retry interval.
    Failed(RegistrationFailure),
    /// Stopped: the binding was removed (or given up on) at shutdown.
    Unregistered,
}

/// Reports each state of a registration.
pub type RegistrationReport = Arc<dyn Fn(RegistrationState) + Send + Sync>;

/// Keeps `spec` registered until `shutdown`, reporting each outcome to `on_state`; then
/// unregisters (at most [`UNREGISTER_TIMEOUT`]) and reports `Unregistered`.
pub async fn run_registration(
    client: SipClient,
    spec: RegistrationSpec,
    on_state: RegistrationReport,
    shutdown: CancellationToken,
) {
    let flow = spec.flow;
    let trunk = spec.trunk.clone();
    let mut registration = Registration::new(spec, client::new_call_id(&flow), &client::new_tag());
    let mut last: Option<RegistrationState> = None;
    loop {
        let first = registration.begin();
        let step = tokio::select! {
            () = shutdown.cancelled() => break,
            step = exchange(&client, &mut registration, first, flow) => step,
        };
        let (state, wake) = match step {
            Step::Registered {
                expires,
                refresh_at,
            } => (RegistrationState::Registered { expires }, refresh_at),
            Step::Failed { failure, retry_at } => (RegistrationState::Failed(failure), retry_at),
            // Only an unregistration ends so; never while binding.
            Step::Send(_) | Step::Unregistered => break,
        };
        log_state(&trunk, state, last);
        last = Some(state);
        on_state(state);
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {}
        }
    }
    if registration.is_bound(now()) {
        let request = registration.unregister();
        let done = tokio::time::timeout(
            UNREGISTER_TIMEOUT,
            exchange(&client, &mut registration, request, flow),
        )
        .await;
        if done.is_err() {
            tracing::debug!(trunk = %trunk, "unregistration unanswered");
        }
    }
    tracing::info!(trunk = %trunk, "registration stopped");
    on_state(RegistrationState::Unregistered);
}

/// Sends `request` and the REGISTERs the machine asks for after it (challenge answers, 423
/// raises) until it reaches a verdict.
async fn exchange(
    client: &SipClient,
    registration: &mut Registration,
    mut request: sip_core::message::Request,
    flow: Peer,
) -> Step {
    loop {
        let step = match client.transact(request, flow).await {
            Ok(received) => registration.on_response(
                &received.response,
                received.source.remote,
                now(),
                &client::new_tag(),
            ),
            Err(e) => {
                tracing::debug!(call_id = registration.call_id(), error = %e, "REGISTER got no answer");
                registration.on_error(failure_of(&e), now())
            }
        };
        match step {
            Step::Send(next) => request = *next,
            verdict => return verdict,
        }
    }
}

fn failure_of(error: &ClientError) -> RegistrationFailure {
    match error {
        ClientError::Timeout => RegistrationFailure::Timeout,
        ClientError::Transport(_)
        | ClientError::InvalidRequest(_)
        | ClientError::CallIdInUse(_) => RegistrationFailure::Unreachable,
    }
}

/// A line when the state changes (a refresh that keeps it registered is debug).
fn log_state(trunk: &str, state: RegistrationState, last: Option<RegistrationState>) {
    match state {
        RegistrationState::Registered { expires } => {
            if matches!(last, Some(RegistrationState::Registered { .. })) {
                tracing::debug!(
                    trunk,
                    expires_secs = expires.as_secs(),
                    "registration refreshed"
                );
            } else {
                tracing::info!(
                    trunk,
                    expires_secs = expires.as_secs(),
                    "registered with carrier"
                );
            }
        }
        RegistrationState::Failed(failure) => {
            tracing::warn!(trunk, ?failure, "registration with carrier failed");
        }
        RegistrationState::Unregistered => {}
    }
}

/// The registration clock: tokio's, so tests with a paused clock drive it.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

#[cfg(test)]
mod tests;
