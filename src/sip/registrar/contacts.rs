//! Reads the Contact and Expires header fields of a REGISTER into the change the location
//! store applies (RFC 3261 §10.3 steps 6-7): wildcard rules, per-contact expiry, limits.

use sip_core::message::{ContactList, Request, Uri};

use crate::cluster::{ContactChanges, ContactUpdate, ContactUri, QValue};

/// Expiry bounds of the profile, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ExpiryPolicy {
    pub default: u32,
    pub min: u32,
    pub max: u32,
}

/// Why the Contact header fields cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ContactProblem {
    /// 400: unreadable Contact, `*` misused, a non-SIP contact or a bad `q`.
    Invalid(&'static str),
    /// 423: a binding asked for a positive lifetime below the minimum.
    TooBrief,
}

/// The change the REGISTER asks for, or why it cannot be granted.
pub(super) fn read_contacts(
    req: &Request,
    policy: ExpiryPolicy,
) -> Result<ContactChanges, ContactProblem> {
    let headers = req.headers();
    let list = headers
        .contact()
        .map_err(|_| ContactProblem::Invalid("malformed Contact"))?;
    let header_expires = headers.expires();
    let contacts = match list {
        ContactList::Star => {
            // RFC 3261 §10.3 step 6: `*` only with Expires: 0 (a lone `*` is checked by the
            // parser, which refuses `*` next to addresses).
            return if header_expires == Some(0) {
                Ok(ContactChanges::RemoveAll)
            } else {
                Err(ContactProblem::Invalid("Contact: * requires Expires: 0"))
            };
        }
        ContactList::List(contacts) => contacts,
    };
    let mut updates = Vec::with_capacity(contacts.len());
    for contact in &contacts {
        let uri = contact.uri();
        if !matches!(uri, Uri::Sip(_)) {
            return Err(ContactProblem::Invalid(
                "contact is not a sip: or sips: URI",
            ));
        }
        let params = contact.params();
        let q = match params.value("q") {
            None => None,
            Some(_) => Some(
                contact
                    .q_millis()
                    .and_then(QValue::from_thousandths)
                    .ok_or(ContactProblem::Invalid("bad q value"))?,
            ),
        };
        // RFC 3261 §10.2.1.1: the Contact parameter wins over the Expires header field, which
        // wins over the registrar's default. Malformed values count as absent (§20.19).
        let asked = contact
            .expires()
            .or(header_expires)
            .unwrap_or(policy.default);
        // RFC 3261 §10.3 step 7: a positive lifetime below the minimum is refused with 423;
        // one above the maximum is shortened.
        if asked > 0 && asked < policy.min {
            return Err(ContactProblem::TooBrief);
        }
        let reg_id = params.value("reg-id").and_then(|v| v.parse::<u32>().ok());
        updates.push(ContactUpdate {
            contact: ContactUri::from_parts(uri.to_string(), uri.clone()),
            expires_secs: asked.min(policy.max),
            q,
            instance: params.value("+sip.instance").map(str::to_owned),
            reg_id,
        });
    }
    Ok(ContactChanges::Update(updates))
}
