//! Pure RFC 3261 §10.3 binding update: one AOR's bindings plus one REGISTER's change give the
//! new bindings or an error. Every backend runs this same function inside its own atomic
//! section (memory: the map entry lock; Redis: a watched transaction), so they cannot differ.

use super::{
    Aor, Binding, ClusterError, ContactChanges, ContactUpdate, RegisterChange, UnixMillis,
};

/// Applies `change` to `existing` (the AOR's stored bindings, possibly with expired ones) at
/// `now`. Returns the live bindings afterwards in registration order, or the reason the
/// request must fail with nothing changed.
pub(crate) fn apply_change(
    existing: &[Binding],
    aor: &Aor,
    change: &RegisterChange,
    now: UnixMillis,
) -> Result<Vec<Binding>, ClusterError> {
    let mut live: Vec<Binding> = existing
        .iter()
        .filter(|b| !b.is_expired(now))
        .cloned()
        .collect();
    match &change.contacts {
        ContactChanges::RemoveAll => {
            // RFC 3261 §10.3 step 6: a binding from the same Call-ID is removed only when the
            // request's CSeq is higher; otherwise the whole update is aborted.
            for binding in &live {
                check_order(binding, change)?;
            }
            Ok(Vec::new())
        }
        ContactChanges::Update(updates) => {
            // RFC 3261 §10.3 step 7: checks run against the bindings as stored before this
            // request, so a contact listed twice in one REGISTER does not conflict with itself.
            for update in updates {
                if let Some(binding) = live.iter().find(|b| same_binding(b, update)) {
                    check_order(binding, change)?;
                }
            }
            for update in updates {
                let position = live.iter().position(|b| same_binding(b, update));
                if update.expires_secs == 0 {
                    if let Some(i) = position {
                        live.remove(i);
                    }
                    continue;
                }
                let binding = Binding {
                    aor: aor.clone(),
                    contact: update.contact.clone(),
                    q: update.q,
                    expires_at: now.plus_secs(update.expires_secs),
                    call_id: change.call_id.clone(),
                    cseq: change.cseq,
                    flow: change.flow,
                    instance: update.instance.clone(),
                    reg_id: update.reg_id,
                    user_agent: change.user_agent.clone(),
                    updated_at: now,
                };
                match position {
                    Some(i) => live[i] = binding,
                    None => live.push(binding),
                }
            }
            // Kamailio's registrar default when a limit is set: refuse the whole request
            // rather than evict a binding some phone still relies on.
            if let Some(max) = change.max_contacts
                && live.len() > max
            {
                return Err(ClusterError::TooManyContacts { max });
            }
            Ok(live)
        }
    }
}

/// A stored binding and a requested contact name the same registration when the URIs are
/// equivalent (RFC 3261 §19.1.4), or when both carry the same `+sip.instance` and `reg-id`
/// (RFC 5626 §6: a re-registration over a new flow replaces the old flow's binding).
fn same_binding(binding: &Binding, update: &ContactUpdate) -> bool {
    if binding.contact.equivalent(&update.contact) {
        return true;
    }
    match (&binding.instance, &update.instance) {
        (Some(a), Some(b)) => a == b && binding.reg_id == update.reg_id,
        _ => false,
    }
}

/// RFC 3261 §10.3 step 7: same Call-ID requires a strictly higher CSeq.
fn check_order(binding: &Binding, change: &RegisterChange) -> Result<(), ClusterError> {
    if binding.call_id == change.call_id && change.cseq <= binding.cseq {
        return Err(ClusterError::OutOfOrder {
            stored: binding.cseq,
            received: change.cseq,
        });
    }
    Ok(())
}
