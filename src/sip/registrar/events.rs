//! Registration events: `registration.added` when a REGISTER binds a new contact,
//! `registration.removed` when a binding goes (unregistered, replaced by a new flow of the same
//! instance, or expired). Worked out from an AOR's bindings before and after a REGISTER; a
//! refresh of an existing binding publishes nothing.

use serde_json::json;

use crate::cluster::{Binding, FlowTransport, UnixMillis};
use crate::telemetry::events::{EventBus, EventType};

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The phone removed it (`Expires: 0`, `Contact: *`).
    Unregistered,
    /// It lapsed without a refresh.
    Expired,
    /// The same instance (`+sip.instance`, `reg-id`) registered another contact (RFC 5626 §6).
    Replaced,
}

impl Removal {
    /// The `reason` of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            Removal::Unregistered => "unregistered",
            Removal::Expired => "expired",
            Removal::Replaced => "replaced",
        }
    }
}

/// Publishes `registration.added` for `binding` of `profile`.
pub fn publish_added(bus: &EventBus, profile: Option<&str>, binding: &Binding, now: UnixMillis) {
    let mut data = describe(profile, binding);
    data["expires_secs"] = json!(binding.expires_in(now));
    bus.publish(EventType::RegistrationAdded, None, data);
}

/// Publishes `registration.removed` for `binding` of `profile`.
pub fn publish_removed(bus: &EventBus, profile: Option<&str>, binding: &Binding, why: Removal) {
    let mut data = describe(profile, binding);
    data["reason"] = json!(why.as_str());
    bus.publish(EventType::RegistrationRemoved, None, data);
}

/// Publishes what one REGISTER changed: `before` is every binding the AOR had stored
/// (lapsed ones included), `after` its live bindings once the REGISTER was applied at `now`.
pub(super) fn publish_changes(
    bus: &EventBus,
    profile: &str,
    before: &[Binding],
    after: &[Binding],
    now: UnixMillis,
) {
    for old in before {
        if old.is_expired(now) {
            // Applying the REGISTER dropped it, so no sweep will see it.
            publish_removed(bus, Some(profile), old, Removal::Expired);
        } else if !after.iter().any(|b| b.contact.equivalent(&old.contact)) {
            let replaced = old.instance.is_some()
                && after
                    .iter()
                    .any(|b| b.instance == old.instance && b.reg_id == old.reg_id);
            let why = if replaced {
                Removal::Replaced
            } else {
                Removal::Unregistered
            };
            publish_removed(bus, Some(profile), old, why);
        }
    }
    for new in after {
        let existed = before
            .iter()
            .any(|b| !b.is_expired(now) && b.contact.equivalent(&new.contact));
        if !existed {
            publish_added(bus, Some(profile), new, now);
        }
    }
}

fn describe(profile: Option<&str>, binding: &Binding) -> serde_json::Value {
    json!({
        "user": binding.aor.user(),
        "aor": binding.aor.as_str(),
        "contact": binding.contact.as_str(),
        "profile": profile,
        "source": binding.flow.remote.to_string(),
        "transport": transport_name(binding.flow.transport),
        "user_agent": binding.user_agent,
    })
}

fn transport_name(transport: FlowTransport) -> &'static str {
    match transport {
        FlowTransport::Udp => "udp",
        FlowTransport::Tcp => "tcp",
        FlowTransport::Tls => "tls",
        FlowTransport::Ws => "ws",
        FlowTransport::Wss => "wss",
    }
}
