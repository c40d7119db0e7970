//! What the API and SIGHUP ask of the running switch: a config reload (validated, then
//! swapped in; a bad config is refused with its errors) and an originate (routed to the
//! phones profile that has the user).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::api::notifications::{NotificationError, NotificationRequest};
use crate::api::{Control, OriginateError, OriginateRequest, ReloadSummary};
use crate::call::CallId;
use crate::cluster::BoxFuture;
use crate::config::{Config, ProfileKind, load};
use crate::notify::spec::{ConfirmSpec, RetrySpec, WindowSpec};
use crate::notify::{NotificationSpec, NotifyError, NotifyHandle};
use crate::store::notifications::CancelOutcome;
use crate::switchboard::{OriginateRefusal, Origination, Routing, SharedRouting, Switchboard};
use crate::trunk::ProfileListeners;
use crate::trunk::service::TrunkServices;

/// Reloads the routing (dialplans, trunks, the phones extensions name) from `dir`: validated
/// first, then swapped in whole; calls in progress keep the routing they started with. A bad
/// config is refused with its errors and the running one stays. Profiles (listeners, users'
/// secrets, media) are not reloaded: changes to them are reported and need a restart.
pub(super) fn reload(
    dir: &Path,
    running: &Config,
    routing: &SharedRouting,
    listeners: &ProfileListeners,
    trunk_services: &mut TrunkServices,
) -> Result<ReloadSummary, Vec<String>> {
    let config = match load(dir) {
        Ok(config) => config,
        Err(errors) => {
            for error in errors.errors() {
                tracing::error!(%error, "reload refused: invalid config");
            }
            return Err(errors.errors().iter().map(ToString::to_string).collect());
        }
    };
    let mut warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    let profiles = |c: &Config| -> Vec<String> {
        c.profiles()
            .iter()
            .map(|p| format!("{}:{:?}", p.name(), p.listen()))
            .collect()
    };
    if profiles(&config) != profiles(running) {
        tracing::warn!("profiles or listeners changed: they take effect after a restart");
        warnings.push("profiles or listeners changed: they take effect after a restart".into());
    }
    if config.api() != running.api() {
        tracing::warn!("api.toml changed: it takes effect after a restart");
        warnings.push("api.toml changed: it takes effect after a restart".into());
    }
    let current = routing.load_full();
    let trunks = current.trunks.reloaded(config.trunks(), listeners);
    routing.store(Arc::new(Routing::new(&config, trunks.clone())));
    trunk_services.restart(&trunks, config.trunks());
    let summary = ReloadSummary {
        contexts: config.dialplan().len(),
        trunks: config.trunks().trunks().len(),
        route_groups: config.trunks().route_groups().len(),
        warnings,
    };
    tracing::info!(
        contexts = summary.contexts,
        trunks = summary.trunks,
        route_groups = summary.route_groups,
        "routing reloaded"
    );
    Ok(summary)
}

/// A reload asked for through the API, with where its outcome goes.
pub(super) type ApiReload = oneshot::Sender<Result<ReloadSummary, Vec<String>>>;

/// The switch as the API steers it: reloads go to the run loop (which owns the trunk
/// services), originates to the phones profile's switchboard.
pub(super) struct SwitchControl {
    pub(super) reloads: mpsc::Sender<ApiReload>,
    pub(super) switchboards: Vec<ProfileBoard>,
    /// The voice notification service.
    pub(super) notifications: Option<NotifyHandle>,
}

/// A profile's switchboard, as originate picks it.
pub(super) struct ProfileBoard {
    pub(super) name: String,
    pub(super) kind: ProfileKind,
    /// The profile's SIP domain (host of its users' addresses of record).
    pub(super) domain: String,
    pub(super) switchboard: Arc<Switchboard>,
}

/// What the API says of an originate the switchboard refused.
fn originate_error(refusal: OriginateRefusal) -> OriginateError {
    match refusal {
        OriginateRefusal::NotPhones(profile) => OriginateError::UnknownProfile(profile),
        OriginateRefusal::UnknownUser(user) | OriginateRefusal::UnknownDestination(user) => {
            OriginateError::UnknownExtension(user)
        }
        OriginateRefusal::NotRegistered(user)
        | OriginateRefusal::DestinationNotRegistered(user) => OriginateError::NotRegistered(user),
        OriginateRefusal::UnknownContext(context) => OriginateError::UnknownContext(context),
        refusal @ (OriginateRefusal::DirectMedia(_)
        | OriginateRefusal::BadCallerNumber(_)
        | OriginateRefusal::Unroutable { .. }
        | OriginateRefusal::StoreFailed
        | OriginateRefusal::Media(_)
        | OriginateRefusal::ShuttingDown) => OriginateError::Unavailable(refusal.to_string()),
    }
}

/// The notification service's form of an API request, with the API's defaults filled in.
fn notification_spec(request: NotificationRequest) -> NotificationSpec {
    let defaults = crate::notify::RetryPolicy::default();
    NotificationSpec {
        number: request.number,
        caller_id: request.caller_id,
        caller_id_name: request.caller_id_name,
        prompts: request.prompts,
        confirm: request.confirm.map(|c| ConfirmSpec {
            prompt: c.prompt,
            digit: c.digit,
            timeout_secs: c.timeout_secs.unwrap_or(5),
            retries: c.retries.unwrap_or(2),
            thanks: c.thanks,
        }),
        retry: request.retry.map(|r| RetrySpec {
            max_attempts: r.max_attempts.unwrap_or(3),
            interval_secs: r.interval_secs.unwrap_or(60),
            on: r.on.unwrap_or(defaults.on),
        }),
        window: request.window.map(|w| WindowSpec {
            start: w.start,
            end: w.end,
            timezone: w.timezone,
            days: w.days.unwrap_or_default(),
        }),
        context: request.context,
        ring_timeout_secs: request.ring_timeout_secs,
    }
}

/// What the API says of a notification the service refused.
fn notify_error(error: NotifyError) -> NotificationError {
    match error {
        NotifyError::Invalid(invalid) => NotificationError::Invalid {
            field: invalid.field,
            reason: invalid.reason,
        },
        NotifyError::Store(error) => NotificationError::Store(error.to_string()),
        NotifyError::ShuttingDown => NotificationError::Unavailable(error.to_string()),
    }
}

impl Control for SwitchControl {
    fn reload(&self) -> BoxFuture<'_, Result<ReloadSummary, Vec<String>>> {
        Box::pin(async move {
            let (reply, outcome) = oneshot::channel();
            if self.reloads.send(reply).await.is_err() {
                return Err(vec!["the switch is shutting down".to_owned()]);
            }
            outcome
                .await
                .unwrap_or_else(|_| Err(vec!["the switch is shutting down".to_owned()]))
        })
    }

    fn originate(
        &self,
        request: OriginateRequest,
    ) -> BoxFuture<'_, Result<CallId, OriginateError>> {
        Box::pin(async move {
            // The named phones profile, else each phones profile in turn until one has the
            // user.
            let boards: Vec<&ProfileBoard> = match &request.profile {
                Some(name) => {
                    let board = self
                        .switchboards
                        .iter()
                        .find(|b| b.name == *name && b.kind == ProfileKind::Phones)
                        .ok_or_else(|| OriginateError::UnknownProfile(name.clone()))?;
                    vec![board]
                }
                None => self
                    .switchboards
                    .iter()
                    .filter(|b| b.kind == ProfileKind::Phones)
                    .collect(),
            };
            let named = request.profile.is_some();
            for board in boards {
                let order = Origination {
                    from: request.from.clone(),
                    to: request.to.clone(),
                    domain: board.domain.clone(),
                    context: request.context.clone(),
                    caller_id_number: request.caller_id_number.clone(),
                    caller_id_name: request.caller_id_name.clone(),
                    ring_timeout: request
                        .timeout_secs
                        .filter(|secs| *secs > 0)
                        .map(|secs| Duration::from_secs(u64::from(secs))),
                };
                match board.switchboard.originate(order).await {
                    Ok(id) => return Ok(id),
                    Err(OriginateRefusal::UnknownUser(_)) if !named => {}
                    Err(refusal) => return Err(originate_error(refusal)),
                }
            }
            Err(OriginateError::UnknownExtension(request.from))
        })
    }

    fn create_notification(
        &self,
        request: NotificationRequest,
    ) -> BoxFuture<'_, Result<String, NotificationError>> {
        Box::pin(async move {
            let Some(service) = &self.notifications else {
                return Err(NotificationError::Unavailable(
                    "no notification service".into(),
                ));
            };
            service
                .create(notification_spec(request))
                .await
                .map(|row| row.id)
                .map_err(notify_error)
        })
    }

    fn cancel_notification(&self, id: String) -> BoxFuture<'_, Result<(), NotificationError>> {
        Box::pin(async move {
            let Some(service) = &self.notifications else {
                return Err(NotificationError::Unavailable(
                    "no notification service".into(),
                ));
            };
            match service.cancel(&id).await.map_err(notify_error)? {
                CancelOutcome::Cancelled(_) => Ok(()),
                CancelOutcome::NotWaiting(status) => Err(NotificationError::NotWaiting {
                    id,
                    status: status.as_str().to_owned(),
                }),
                CancelOutcome::Unknown => Err(NotificationError::NotFound(id)),
            }
        })
    }
}
