//! The INVITE of one branch: the switch's own headers, the branch's identity (From, To,
//! RFC 3325 P-Asserted-Identity, RFC 3323 privacy), the caller's headers named in the target's
//! allow-list, and the same INVITE sent again (422, digest challenge). Nothing else of the
//! caller's INVITE reaches the branch: no Via, Record-Route, Contact, Call-ID, User-Agent or
//! extension header of the caller's side (topology hiding).
//!
//! Pure: no I/O, no clock.

use std::time::Instant;

use bytes::Bytes;
use sip_core::message::{HeaderName, Headers, Method, NameAddr, Request, Uri};

use super::CallMachine;
use super::api::Target;
use super::outgoing::{self, ALLOW, SUPPORTED};
use super::transactions::Role;

/// RFC 3261 §8.1.1.6: the most Max-Forwards the switch sends.
pub(super) const MAX_FORWARDS: u32 = 70;

/// RFC 3323 §4.1.1.3: the From of an anonymous caller.
const ANONYMOUS_URI: &str = "sip:anonymous@anonymous.invalid";

/// RFC 3323 §4.2: hide the caller's identity.
const PRIVACY_ID: &str = "id";

/// Headers the switch writes itself (or that describe its own body, route or credentials): an
/// allow-list naming one copies nothing, so the caller can never replace them.
fn is_own(name: &HeaderName) -> bool {
    use HeaderName as H;
    matches!(
        name,
        H::Via
            | H::From
            | H::To
            | H::CallId
            | H::CSeq
            | H::MaxForwards
            | H::Contact
            | H::ContentLength
            | H::ContentType
            | H::ContentEncoding
            | H::ContentDisposition
            | H::ContentLanguage
            | H::MimeVersion
            | H::Route
            | H::RecordRoute
            | H::Allow
            | H::Supported
            | H::Require
            | H::ProxyRequire
            | H::UserAgent
            | H::SessionExpires
            | H::MinSe
            | H::Authorization
            | H::ProxyAuthorization
            | H::Privacy
            | H::PAssertedIdentity
            | H::PPreferredIdentity
    )
}

/// The CSeq number of an INVITE the switch built.
pub(super) fn invite_seq(invite: &Request) -> u32 {
    invite.headers().cseq().map_or(1, |c| c.seq)
}

impl CallMachine {
    /// The INVITE to one target, CSeq `seq`.
    pub(super) fn branch_invite(&self, target: &Target, seq: u32, body: Option<&Bytes>) -> Request {
        let source = self.caller.invite.headers();
        let identity = &target.identity;
        let mut invite = Request::new(Method::Invite, target.uri.clone());
        let max_forwards = source
            .max_forwards()
            .ok()
            .flatten()
            .map_or(MAX_FORWARDS, |n| n.saturating_sub(1).min(MAX_FORWARDS));
        let mut from = self.branch_from(target);
        from.set_tag(&self.b_tag);
        let to_uri = identity.to_uri.clone().unwrap_or_else(|| {
            source
                .to()
                .map(|to| to.uri)
                .unwrap_or_else(|_| target.uri.clone())
        });
        let headers = invite.headers_mut();
        headers.push(HeaderName::Via, outgoing::via(&target.flow).to_string());
        headers.push(HeaderName::MaxForwards, max_forwards);
        headers.push(HeaderName::From, from.to_string());
        headers.push(HeaderName::To, NameAddr::new(to_uri).to_string());
        headers.push(HeaderName::CallId, self.b_call_id.as_str());
        headers.push(HeaderName::CSeq, format!("{seq} INVITE"));
        headers.push(HeaderName::Contact, outgoing::contact(&target.flow));
        headers.push(HeaderName::Allow, ALLOW);
        headers.push(HeaderName::Supported, SUPPORTED);
        headers.push(HeaderName::UserAgent, self.settings.user_agent.as_str());
        // RFC 3325 §9.1: the identity the switch asserts; the route sends one only where the
        // next hop is trusted (a carrier normally is). With privacy it still goes, beside
        // `Privacy: id` (RFC 3325 §9.3): the trusted carrier removes it before it leaves its
        // trust domain.
        if let Some(asserted) = &identity.asserted {
            headers.push(
                HeaderName::PAssertedIdentity,
                NameAddr::new(asserted.clone()).to_string(),
            );
        }
        if identity.privacy {
            headers.push(HeaderName::Privacy, PRIVACY_ID);
        }
        self.push_session_timer(headers);
        let mut passed: Vec<HeaderName> = Vec::new();
        for name in &target.pass_headers {
            let Some(name) = HeaderName::parse(name) else {
                continue;
            };
            if is_own(&name) || passed.contains(&name) {
                continue;
            }
            for value in source.get_all(&name) {
                headers.push(name.clone(), value.clone());
            }
            passed.push(name);
        }
        outgoing::request_with_sdp(invite, body)
    }

    /// RFC 4028 §7.1: the interval the switch asks for on an INVITE it sends, and its Min-SE.
    pub(super) fn push_session_timer(&self, headers: &mut Headers) {
        if let Some(interval) = self.settings.session_expires {
            headers.push(HeaderName::SessionExpires, interval.as_secs().to_string());
            headers.push(
                HeaderName::MinSe,
                self.settings.min_se.as_secs().to_string(),
            );
        }
    }

    /// RFC 3261 §13.2.2.4: the ACK of a 2xx carries the same credentials as the INVITE.
    pub(super) fn with_credentials(ack: &mut Request, invite: &Request) {
        for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
            for value in invite.headers().get_all(&name) {
                ack.headers_mut().push(name.clone(), value.clone());
            }
        }
    }

    /// The branch's From: anonymous with privacy (RFC 3323 §4.1.1.3); otherwise the
    /// identity's URI and display name, each defaulting to the caller's.
    fn branch_from(&self, target: &Target) -> NameAddr {
        let identity = &target.identity;
        if identity.privacy
            && let Some(uri) = Uri::parse(ANONYMOUS_URI)
        {
            let mut from = NameAddr::new(uri);
            from.display_name = Some("Anonymous".to_owned());
            return from;
        }
        let caller = self.caller.invite.headers().from().ok();
        let uri = identity
            .from_uri
            .clone()
            .or_else(|| caller.as_ref().map(|c| c.uri.clone()))
            .unwrap_or_else(|| outgoing::contact_uri(&target.flow));
        let mut from = NameAddr::new(uri);
        from.display_name = identity
            .from_display
            .clone()
            .or_else(|| caller.and_then(|c| c.display_name));
        from
    }

    /// Sends branch `n`'s INVITE again in a new transaction (new Via branch, next CSeq,
    /// RFC 3261 §8.1.3.5 and RFC 4028 §6), after `edit`; false when it could not be sent.
    pub(super) fn resend_invite(
        &mut self,
        now: Instant,
        n: usize,
        edit: impl FnOnce(&mut Headers),
    ) -> bool {
        let silence = self.silence_deadline(now);
        let Some(branch) = self.branches.get_mut(n) else {
            return false;
        };
        let mut invite = branch.invite.clone();
        let seq = invite_seq(&invite) + 1;
        let headers = invite.headers_mut();
        headers.set(
            HeaderName::Via,
            outgoing::via(&branch.target.flow).to_string(),
        );
        headers.set(HeaderName::CSeq, format!("{seq} INVITE"));
        edit(headers);
        let Ok(key) = sip_core::transaction::TransactionKey::for_client_request(&invite) else {
            return false;
        };
        branch.invite = invite.clone();
        branch.key = key;
        branch.provisional = false;
        branch.silence_deadline = silence;
        let flow = branch.target.flow;
        self.note_invite_seq(seq);
        self.send_request(now, invite, flow, Role::Branch(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switchs_own_headers_cannot_be_passed_through() {
        for name in [
            "via",
            "record-route",
            "contact",
            "call-id",
            "f",
            "p-asserted-identity",
        ] {
            assert!(
                is_own(&HeaderName::parse(name).unwrap_or(HeaderName::Via)),
                "{name}"
            );
        }
        for name in ["x-campaign", "subject", "diversion"] {
            assert!(
                !is_own(&HeaderName::parse(name).unwrap_or(HeaderName::Via)),
                "{name}"
            );
        }
    }
}
