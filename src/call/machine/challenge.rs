//! A carrier's digest challenge (401/407) on a branch, answered with the target's credentials
//! (RFC 3261 §22.2, §8.1.3.5): only a challenge for their realm, only from the branch's own
//! remote address, once per nonce. Any other challenge fails the branch like any other 4xx,
//! and the credentials go nowhere.
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use sip_core::auth::{Challenge, Credentials, Secret};
use sip_core::message::{HeaderName, Response};

use super::CallMachine;

/// The most challenges one branch answers: the first, and one more only when it says the
/// nonce we answered went stale (RFC 2617 §3.2.1: the credentials were right).
const MOST_ANSWERS: u8 = 2;

/// The challenges a branch answered.
#[derive(Debug, Default)]
pub(super) struct Answered {
    /// The nonce last answered.
    nonce: Option<String>,
    /// How many were answered.
    count: u8,
}

impl CallMachine {
    /// Answers the 401/407 on branch `n` by sending its INVITE again with credentials; false
    /// when this challenge is not one to answer (the branch then fails with its status).
    pub(super) fn answer_challenge(&mut self, now: Instant, n: usize, response: &Response) -> bool {
        let from = self.response_from;
        let Some(branch) = self.branches.get(n) else {
            return false;
        };
        let Some(credentials) = &branch.target.credentials else {
            return false;
        };
        if from != Some(branch.target.flow.remote) {
            tracing::debug!(branch = n, "challenge from another address: not answered");
            return false;
        }
        let proxy = response.status().as_u16() == 407;
        let headers = response.headers();
        let offered = if proxy {
            headers.proxy_authenticate().collect::<Vec<_>>()
        } else {
            headers.www_authenticate().collect::<Vec<_>>()
        };
        let uri = branch.invite.uri().to_string();
        let secret = Secret::Password(credentials.password.clone());
        let cnonce = format!("{:016x}", rand::random::<u64>());
        // RFC 8760 §2.4: the challenges come in the server's order of preference.
        let answer = offered
            .into_iter()
            .filter_map(|value| Challenge::parse(value.to_str().ok()?).ok())
            .filter(|challenge| challenge.realm() == credentials.realm)
            .filter(|challenge| match &branch.auth.nonce {
                None => true,
                // A second challenge after our answer: our credentials were refused, unless
                // it only renews a stale nonce.
                Some(answered) => {
                    challenge.is_stale()
                        && challenge.nonce() != answered
                        && branch.auth.count < MOST_ANSWERS
                }
            })
            .find_map(|challenge| {
                Credentials::answer(
                    &challenge,
                    "INVITE",
                    &uri,
                    &credentials.username,
                    &secret,
                    &cnonce,
                    1,
                )
                .ok()
            });
        let Some(answer) = answer else {
            tracing::debug!(branch = n, "challenge not answered");
            return false;
        };
        let nonce = answer.nonce().to_owned();
        let value = answer.to_string();
        if let Some(branch) = self.branches.get_mut(n) {
            branch.auth.nonce = Some(nonce);
            branch.auth.count += 1;
        }
        let header = if proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        self.resend_invite(now, n, |headers| headers.set(header, value))
    }
}
