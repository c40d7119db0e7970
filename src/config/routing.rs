//! The routing half of a config directory: `dialplans/*.toml` and `sip-profiles/trunks/*.toml`,
//! and the checks that span them and the profiles (contexts, route groups, trunk profiles,
//! gateway transports the profile listens on, rate tables). Every error names its file and
//! key.

use std::collections::HashSet;
use std::path::PathBuf;

use super::dialplan::{Context, DEFAULT_CONTEXT, DialplanConfig, parse_dialplan_file};
use super::error::{ConfigError, ConfigErrorKind, ConfigWarning, Location};
use super::listen::Transport;
use super::profile::Profile;
use super::trunks::{TrunksConfig, parse_trunk_file};

/// The dialplan used when no file defines the `default` context: the shipped
/// `dialplans/default.toml` (ring the dialled user of the profile).
const BUILTIN_DIALPLAN: &str = include_str!("../../dialplans/default.toml");

/// How errors name the built-in dialplan.
const BUILTIN_PATH: &str = "<built-in>/dialplans/default.toml";

/// Dialplan and trunks, validated together.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoutingConfig {
    pub(crate) dialplan: DialplanConfig,
    pub(crate) trunks: TrunksConfig,
    pub(crate) warnings: Vec<ConfigWarning>,
}

/// What the profiles contribute to the routing checks.
pub(crate) struct ProfileRefs<'a> {
    /// Names of the profiles that parsed far enough to have one.
    pub(crate) names: Vec<&'a str>,
    /// The validated profiles (their `context` keys are checked).
    pub(crate) profiles: &'a [Profile],
    /// False when some profile file failed: references to profiles are then not checked (the
    /// profile's own error says what is wrong).
    pub(crate) complete: bool,
}

/// Parses and checks the dialplan and trunk files.
pub(crate) fn build_routing(
    dialplans: Vec<(PathBuf, String)>,
    trunk_files: Vec<(PathBuf, String)>,
    profiles: &ProfileRefs<'_>,
    errors: &mut Vec<ConfigError>,
) -> RoutingConfig {
    let mut plan_files: Vec<(PathBuf, Vec<Context>)> = Vec::new();
    for (path, text) in dialplans {
        let (contexts, mut file_errors) = parse_dialplan_file(&path, &text);
        errors.append(&mut file_errors);
        plan_files.push((path, contexts));
    }
    let has_default = plan_files
        .iter()
        .any(|(_, contexts)| contexts.iter().any(|c| c.name() == DEFAULT_CONTEXT));
    if !has_default {
        let path = PathBuf::from(BUILTIN_PATH);
        let (contexts, mut builtin_errors) = parse_dialplan_file(&path, BUILTIN_DIALPLAN);
        errors.append(&mut builtin_errors);
        plan_files.push((path, contexts));
    }
    let (dialplan, mut plan_errors) = DialplanConfig::build(plan_files);
    errors.append(&mut plan_errors);

    let mut parsed = Vec::new();
    for (path, text) in trunk_files {
        let (trunks, groups, mut file_errors) = parse_trunk_file(&path, &text);
        errors.append(&mut file_errors);
        parsed.push((path, trunks, groups));
    }
    let (mut trunks, trunk_errors) = TrunksConfig::build(parsed, &profiles.names);
    errors.extend(trunk_errors.into_iter().filter(|e| {
        profiles.complete
            || !matches!(
                e.kind(),
                ConfigErrorKind::UnknownReference {
                    what: "profile",
                    ..
                }
            )
    }));
    errors.append(&mut trunks.load_rates());

    for profile in profiles.profiles {
        if !dialplan.has_context(profile.context()) {
            errors.push(unknown(
                profile.source().to_path_buf(),
                "profile.context".to_owned(),
                "context",
                profile.context(),
            ));
        }
    }
    for (file, key, context) in trunks.context_refs() {
        if !dialplan.has_context(&context) {
            errors.push(unknown(file, key, "context", &context));
        }
    }
    for trunk in trunks.trunks() {
        let Some(profile) = profiles
            .profiles
            .iter()
            .find(|p| p.name() == trunk.profile())
        else {
            continue;
        };
        for (i, gateway) in trunk.gateways().iter().enumerate() {
            // An IP literal without `transport` is reached over UDP (RFC 3263 §4.1); a DNS
            // name without one resolves over the transports the profile has.
            let transport = match (gateway.transport(), gateway.ip()) {
                (Some(t), _) => t,
                (None, Some(_)) => Transport::Udp,
                (None, None) => continue,
            };
            if !profile.listen().iter().any(|l| l.transport == transport) {
                errors.push(ConfigError::new(
                    trunk.source().to_path_buf(),
                    Location::Key(format!("{}.gateways[{i}]", trunk.key())),
                    ConfigErrorKind::GatewayTransportNotListened {
                        transport,
                        profile: profile.name().to_owned(),
                    },
                ));
            }
        }
    }
    let groups: HashSet<&str> = trunks.route_groups().iter().map(|g| g.name()).collect();
    for (file, key, group) in dialplan.route_group_refs() {
        if !groups.contains(group.as_str()) {
            errors.push(unknown(file, key, "route group", &group));
        }
    }
    let warnings = trunks.warnings().to_vec();
    RoutingConfig {
        dialplan,
        trunks,
        warnings,
    }
}

fn unknown(file: PathBuf, key: String, what: &'static str, name: &str) -> ConfigError {
    ConfigError::new(
        file,
        Location::Key(key),
        ConfigErrorKind::UnknownReference {
            what,
            name: name.to_owned(),
        },
    )
}

#[cfg(test)]
mod tests;
