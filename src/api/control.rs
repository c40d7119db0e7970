//! What the API asks of the rest of the switch that only the composition root can do:
//! reload the config, originate a call, accept and cancel voice notifications. `app.rs`
//! implements [`Control`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::notifications::{NotificationError, NotificationRequest};
use crate::call::CallId;
use crate::cluster::BoxFuture;

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReloadSummary {
    /// Dialplan contexts now in force.
    pub contexts: usize,
    /// Carrier trunks now in force.
    pub trunks: usize,
    /// Route groups now in force.
    pub route_groups: usize,
    /// Legal but doubtful settings of the new config, and changes that need a restart.
    pub warnings: Vec<String>,
}

/// Click-to-call: ring extension `from`; once it answers, connect it to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginateRequest {
    /// The extension (user of a phones profile) rung first.
    pub from: String,
    /// Where it is connected once it answers: an extension or a number, routed by the
    /// dialplan context of `from`'s profile (or `context`).
    pub to: String,
    /// The phones profile `from` belongs to; default: the first phones profile that has the
    /// user.
    #[serde(default)]
    pub profile: Option<String>,
    /// The dialplan context `to` is routed in; default: the profile's context.
    #[serde(default)]
    pub context: Option<String>,
    /// Caller number shown to `to` (default: `from`).
    #[serde(default)]
    pub caller_id_number: Option<String>,
    /// Caller name shown to `to` (and to `from` as who is calling).
    #[serde(default)]
    pub caller_id_name: Option<String>,
    /// How long `from` may ring before the originate gives up (default: the profile's ring
    /// timeout).
    #[serde(default)]
    pub timeout_secs: Option<u32>,
}

/// Why an originate was refused before any phone rang.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginateError {
    /// No phones profile has this user.
    #[error("unknown extension {0:?}")]
    UnknownExtension(String),
    /// The extension has no registered phone.
    #[error("extension {0:?} has no registered phone")]
    NotRegistered(String),
    /// The named profile does not exist or is not a phones profile.
    #[error("unknown phones profile {0:?}")]
    UnknownProfile(String),
    /// The named dialplan context does not exist.
    #[error("unknown dialplan context {0:?}")]
    UnknownContext(String),
    /// The switch cannot take a call now (no media ports, shutting down).
    #[error("cannot start a call now: {0}")]
    Unavailable(String),
}

/// The switch, as the API steers it.
pub trait Control: Send + Sync + 'static {
    /// Reads the config directory again: validated first, then swapped in whole. A bad
    /// config is refused with its errors (one line each) and the running one stays.
    fn reload(&self) -> BoxFuture<'_, Result<ReloadSummary, Vec<String>>>;

    /// Starts a click-to-call; returns its call id once `from` is being rung.
    fn originate(&self, request: OriginateRequest)
    -> BoxFuture<'_, Result<CallId, OriginateError>>;

    /// Accepts a voice notification (validated, stored, scheduled); returns its id. Without
    /// a notification service: `Unavailable`.
    fn create_notification(
        &self,
        request: NotificationRequest,
    ) -> BoxFuture<'_, Result<String, NotificationError>> {
        let _ = request;
        Box::pin(async {
            Err(NotificationError::Unavailable(
                "no notification service".into(),
            ))
        })
    }

    /// Cancels voice notification `id` while it is still waiting.
    fn cancel_notification(&self, id: String) -> BoxFuture<'_, Result<(), NotificationError>> {
        let _ = id;
        Box::pin(async {
            Err(NotificationError::Unavailable(
                "no notification service".into(),
            ))
        })
    }
}
