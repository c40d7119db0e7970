//! `GET /api/v1/registrations`: the phones registered now, from the location store.
//!
//! A profile's registrar binds each phone under `user@<profile domain>` (RFC 3261 §10.3 step
//! 5), so the `profile` filter selects the bindings of that profile's domain: profiles that
//! share a domain share their registrations, and an item names the first profile serving its
//! domain.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::json::{ApiQuery, decode_cursor, encode_cursor, page_limit};
use crate::cluster::{Binding, BindingFilter, FlowTransport, UnixMillis};
use crate::config::Config;
use crate::config::api::Role;

/// Each profile's name and SIP domain (lower case), in config order; profiles are not
/// reloaded, so this is fixed for the life of the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileDomains(Vec<(String, String)>);

impl ProfileDomains {
    /// The profiles of `config`.
    pub fn from_config(config: &Config) -> Self {
        Self(
            config
                .profiles()
                .iter()
                .map(|p| (p.name().to_owned(), p.domain().to_ascii_lowercase()))
                .collect(),
        )
    }

    /// From `(profile, domain)` pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    fn domain_of(&self, profile: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == profile)
            .map(|(_, domain)| domain.as_str())
    }

    fn profile_of(&self, domain: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, d)| d.eq_ignore_ascii_case(domain))
            .map(|(name, _)| name.as_str())
    }
}

/// Query of `GET /api/v1/registrations`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegistrationParams {
    /// Only this user (the user part of the address of record, exact).
    pub user: Option<String>,
    /// Only registrations of this profile (of its SIP domain).
    pub profile: Option<String>,
    /// Items per page, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Registration {
    /// The user part of the address of record.
    pub user: String,
    /// The domain part (the profile's SIP domain).
    pub domain: String,
    /// `user@domain`.
    pub aor: String,
    /// The profile serving the domain, when one does.
    pub profile: Option<String>,
    /// The Contact URI, as the phone sent it.
    pub contact: String,
    /// Seconds until the binding lapses unless refreshed.
    pub expires_in_secs: u32,
    /// Where the REGISTER came from (`ip:port`, as seen by the switch).
    pub source: String,
    /// Transport of the registration's flow: `udp`, `tcp`, `tls`, `ws` or `wss`.
    pub transport: &'static str,
    /// `User-Agent` of the REGISTER.
    pub user_agent: Option<String>,
    /// The Contact's `q` value (0 to 1), when given.
    pub q: Option<f32>,
    /// The Contact's `+sip.instance` (RFC 5626), when given.
    pub instance: Option<String>,
}

/// A page of registrations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrationList {
    /// Ordered by address of record, then contact.
    pub items: Vec<Registration>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
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

fn registration(binding: &Binding, profiles: &ProfileDomains, now: UnixMillis) -> Registration {
    Registration {
        user: binding.aor.user().to_owned(),
        domain: binding.aor.domain().to_owned(),
        aor: binding.aor.as_str().to_owned(),
        profile: profiles.profile_of(binding.aor.domain()).map(str::to_owned),
        contact: binding.contact.as_str().to_owned(),
        expires_in_secs: binding.expires_in(now),
        source: binding.flow.remote.to_string(),
        transport: transport_name(binding.flow.transport),
        user_agent: binding.user_agent.clone(),
        q: binding.q.map(|q| f32::from(q.thousandths()) / 1000.0),
        instance: binding.instance.clone(),
    }
}

/// The phones registered now.
#[utoipa::path(get, path = "/api/v1/registrations", tag = "registrations",
    operation_id = "list_registrations",
    params(RegistrationParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of registrations", body = RegistrationList),
        (status = 400, description = "`invalid_query`: an unknown parameter, a bad limit or \
            cursor, or an unknown profile", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    params: Result<ApiQuery<RegistrationParams>, ApiError>,
) -> Result<Json<RegistrationList>, ApiError> {
    caller.require(Role::Readonly)?;
    let ApiQuery(params) = params?;
    let limit = page_limit(params.limit)?;
    let after = params
        .cursor
        .as_deref()
        .map(|cursor| decode_cursor(cursor, 2))
        .transpose()?;
    let domain = match &params.profile {
        Some(profile) => Some(
            state
                .profiles
                .domain_of(profile)
                .ok_or_else(|| {
                    ApiError::invalid_query(format!("profile {profile:?} does not exist"))
                })?
                .to_owned(),
        ),
        None => None,
    };
    let filter = BindingFilter {
        aor: None,
        domain,
        limit: None,
    };
    let now = UnixMillis::now();
    let bindings = state
        .locations
        .list(&filter, now)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut items: Vec<Registration> = bindings
        .iter()
        .filter(|b| params.user.as_ref().is_none_or(|u| b.aor.user() == u))
        .map(|b| registration(b, &state.profiles, now))
        .collect();
    items.sort_by(|a, b| (&a.aor, &a.contact).cmp(&(&b.aor, &b.contact)));
    if let Some(after) = after {
        items.retain(|r| (r.aor.as_str(), r.contact.as_str()) > (after[0].as_str(), &after[1]));
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| encode_cursor(&[&last.aor, &last.contact]))
    } else {
        None
    };
    Ok(Json(RegistrationList { items, next_cursor }))
}

/// The registrations route.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(list))
}
