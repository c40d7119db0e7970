//! The registrar of one profile: RFC 3261 §10.3 processing of REGISTER against the
//! `LocationStore`, behind digest authentication.
//!
//! Choices where the RFC leaves room:
//! - A Request-URI for a domain we do not serve gets 404 (RFC 3261 §21.4.5), before any
//!   challenge: we are not a proxy that could forward it (§10.3 step 1).
//! - "Ours" means the profile's domain, or the local IP address the REGISTER arrived on (any
//!   address literal on a wildcard listener), so phones configured with the switch's address
//!   register to the profile's AORs.
//! - A REGISTER whose bindings are out of order (same Call-ID, CSeq not higher) fails with 500,
//!   as §10.3 step 7 says; Kamailio answers 200 instead, which hides the failure.
//! - Going over `max_contacts` refuses the whole request with 503 (Kamailio's registrar
//!   default when a limit is set) rather than evicting a binding a phone still relies on.
//! - Only `sip:`/`sips:` contacts are bound; anything else gets 400.

mod contacts;
pub mod events;
mod reply;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use sip_core::message::{HeaderName, Request, Response, StatusCode, Uri};

use crate::cluster::{
    Aor, Binding, ClusterError, ContactChanges, Flow, FlowTransport, LocationStore, RegisterChange,
    UnixMillis,
};
use crate::config::Profile;
use crate::sip::auth_guard::{AuthDecision, AuthGuard, ChallengeKind, Now};
use crate::telemetry::Pii;
use crate::telemetry::events::EventBus;
use crate::telemetry::metrics::metrics;
use crate::transport::{Peer, Transport};

use contacts::{ContactProblem, ExpiryPolicy, read_contacts};

/// REGISTER processing for one profile.
pub struct Registrar {
    profile: String,
    domain: String,
    expiry: ExpiryPolicy,
    max_contacts: usize,
    store: Arc<dyn LocationStore>,
    guard: Arc<AuthGuard>,
    events: Option<EventBus>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("domain", &self.domain)
            .field("expiry", &self.expiry)
            .field("max_contacts", &self.max_contacts)
            .finish_non_exhaustive()
    }
}

impl Registrar {
    /// A registrar for `profile`'s domain, keeping bindings in `store` and authenticating with
    /// `guard`.
    pub fn new(profile: &Profile, store: Arc<dyn LocationStore>, guard: Arc<AuthGuard>) -> Self {
        let policy = profile.registrar();
        let secs = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Self {
            profile: profile.name().to_owned(),
            domain: profile.domain().to_ascii_lowercase(),
            expiry: ExpiryPolicy {
                default: secs(policy.default_expires()),
                min: secs(policy.min_expires()),
                max: secs(policy.max_expires()),
            },
            max_contacts: policy.max_contacts(),
            store,
            guard,
            events: None,
        }
    }

    /// Publishes `registration.*` events on `events` from now on.
    pub fn with_events(mut self, events: EventBus) -> Self {
        self.events = Some(events);
        self
    }

    /// The store bindings are kept in.
    pub fn store(&self) -> &Arc<dyn LocationStore> {
        &self.store
    }

    /// Answers a REGISTER received from `peer`: the final response to send.
    pub async fn handle_register(&self, req: &Request, peer: &Peer) -> Response {
        self.handle_register_at(req, peer, Now::system()).await
    }

    /// [`Self::handle_register`] at an explicit time (for tests and replays).
    pub async fn handle_register_at(&self, req: &Request, peer: &Peer, now: Now) -> Response {
        let mut response = self.process(req, peer, now).await;
        metrics().registration_request(response.status().as_u16());
        // RFC 3261 §8.2.6.2: a final response carries a To tag.
        response.set_to_tag(&format!("{:016x}", rand::random::<u64>()));
        response
    }

    /// [`Self::handle_register`] without the To tag, for a caller that adds its own.
    pub(crate) async fn handle_register_untagged(&self, req: &Request, peer: &Peer) -> Response {
        let response = self.process(req, peer, Now::system()).await;
        metrics().registration_request(response.status().as_u16());
        response
    }

    /// Removes every binding expired by now, in the whole store; returns them. The same as
    /// [`LocationStore::sweep_expired`] on the store, which `app.rs` calls periodically.
    pub async fn sweep_expired(&self) -> Result<Vec<Binding>, ClusterError> {
        self.store.sweep_expired(UnixMillis::now()).await
    }

    async fn process(&self, req: &Request, peer: &Peer, now: Now) -> Response {
        // RFC 3261 §10.3 step 1: the Request-URI names the domain whose bindings change.
        let Uri::Sip(request_uri) = req.uri() else {
            return Response::for_request(req, StatusCode::UNSUPPORTED_URI_SCHEME);
        };
        if !self.is_ours(&request_uri.host().to_string(), peer) {
            return Response::for_request(req, StatusCode::NOT_FOUND);
        }
        // RFC 3261 §10.3 step 2 and §8.2.2.3: we support no extension a REGISTER may require.
        match req.headers().require() {
            Ok(required) if !required.is_empty() => {
                let mut response = Response::for_request(req, StatusCode::BAD_EXTENSION);
                response
                    .headers_mut()
                    .push(HeaderName::Unsupported, required.join(", "));
                return response;
            }
            Ok(_) => {}
            Err(_) => return Response::for_request(req, StatusCode::BAD_REQUEST),
        }
        let headers = req.headers();
        let (Ok(to), Ok(call_id), Ok(cseq)) = (headers.to(), headers.call_id(), headers.cseq())
        else {
            return Response::for_request(req, StatusCode::BAD_REQUEST);
        };
        let Uri::Sip(to_uri) = &to.uri else {
            return Response::for_request(req, StatusCode::BAD_REQUEST);
        };
        let Some(to_user) = to_uri
            .user_unescaped()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        else {
            return Response::for_request(req, StatusCode::BAD_REQUEST);
        };
        // RFC 3261 §10.3 steps 3-4: authenticate, and only let a user change their own AOR
        // (the guard compares the authenticated name with the To user).
        let source = peer.remote.ip();
        match self
            .guard
            .check(req, source, ChallengeKind::Www, Some(&to_user), now)
        {
            AuthDecision::Authorized(_) => {}
            AuthDecision::Respond(response) => return response,
        }
        // RFC 3261 §10.3 step 5: the To AOR must belong to this domain.
        if !self.is_ours(&to_uri.host().to_string(), peer) {
            return Response::for_request(req, StatusCode::NOT_FOUND);
        }
        let aor = Aor::new(&to_user, &self.domain);
        let changes = match read_contacts(req, self.expiry) {
            Ok(changes) => changes,
            Err(ContactProblem::Invalid(why)) => {
                tracing::debug!(aor = %Pii(&aor), why, "REGISTER refused: bad Contact");
                return Response::for_request(req, StatusCode::BAD_REQUEST);
            }
            Err(ContactProblem::TooBrief) => {
                let mut response = Response::for_request(req, StatusCode::INTERVAL_TOO_BRIEF);
                response
                    .headers_mut()
                    .push(HeaderName::MinExpires, self.expiry.min);
                return response;
            }
        };
        let result = match changes {
            // RFC 3261 §10.3 step 8: a REGISTER without Contact is a query.
            ContactChanges::Update(updates) if updates.is_empty() => {
                self.store.bindings(&aor, now.wall).await
            }
            contacts => {
                let change = RegisterChange {
                    call_id: call_id.to_owned(),
                    cseq: cseq.seq,
                    flow: flow_of(peer),
                    user_agent: headers.user_agent().map(str::to_owned),
                    contacts,
                    max_contacts: Some(self.max_contacts),
                };
                let before = self.stored_bindings(&aor).await;
                let result = self.store.apply(&aor, change, now.wall).await;
                if let (Some(bus), Some(before), Ok(after)) = (&self.events, before, &result) {
                    events::publish_changes(bus, &self.profile, &before, after, now.wall);
                }
                result
            }
        };
        match result {
            Ok(bindings) => {
                tracing::debug!(
                    aor = %Pii(&aor),
                    source = %peer.remote,
                    bindings = bindings.len(),
                    "REGISTER accepted"
                );
                reply::bindings_ok(req, &bindings, now.wall)
            }
            Err(err @ ClusterError::OutOfOrder { .. }) => {
                // RFC 3261 §10.3 step 7: abort the update and fail the request with 500.
                tracing::info!(aor = %Pii(&aor), error = %err, "REGISTER refused");
                Response::for_request(req, StatusCode::SERVER_INTERNAL_ERROR)
            }
            Err(err @ ClusterError::TooManyContacts { .. }) => {
                tracing::info!(aor = %Pii(&aor), error = %err, "REGISTER refused");
                Response::for_request(req, StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// Every binding stored for `aor`, lapsed ones not yet swept included, when events are
    /// published (None otherwise, or when the store fails: then nothing is published).
    async fn stored_bindings(&self, aor: &Aor) -> Option<Vec<Binding>> {
        self.events.as_ref()?;
        // Every stored binding is live at the epoch: this reads those that lapsed too, which
        // applying the REGISTER drops without a sweep ever seeing them.
        self.store.bindings(aor, UnixMillis(0)).await.ok()
    }

    /// Whether `host` (as written in a URI) is this profile's domain or the address the
    /// request arrived on.
    fn is_ours(&self, host: &str, peer: &Peer) -> bool {
        if host.eq_ignore_ascii_case(&self.domain) {
            return true;
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(ip) = bare.parse::<std::net::IpAddr>() else {
            return false;
        };
        // A wildcard listener cannot tell which of the host's addresses was hit; an address
        // literal that reached us names this host.
        let local = peer.local.ip();
        local.is_unspecified() || ip.to_canonical() == local.to_canonical()
    }
}

/// The flow a REGISTER arrived on, as the location store records it.
fn flow_of(peer: &Peer) -> Flow {
    Flow {
        transport: match peer.transport {
            Transport::Udp => FlowTransport::Udp,
            Transport::Tcp => FlowTransport::Tcp,
        },
        remote: peer.remote,
        local: peer.local,
    }
}
