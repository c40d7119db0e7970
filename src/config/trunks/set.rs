//! All trunk files together: unique names across files, references to profiles and trunks
//! that exist, rate tables attached after loading.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{RateTable, RouteGroupConfig, Strategy, TrunkConfig};
use crate::config::{ConfigError, ConfigErrorKind, ConfigWarning, ConfigWarningKind, Location};

/// Every trunk and route group of the config directory, validated together. The default is
/// empty (no trunk files).
#[derive(Debug, Clone, Default)]
pub struct TrunksConfig {
    trunks: Vec<TrunkConfig>,
    groups: Vec<RouteGroupConfig>,
    warnings: Vec<ConfigWarning>,
}

impl TrunksConfig {
    /// Puts together what [`super::parse_trunk_file`] returned for each file (in file
    /// order) and checks what spans files: duplicate trunk and group names, trunks naming a
    /// profile not in `profiles`, route groups naming an unknown trunk. Each error names the
    /// file and key of the offending entry.
    pub fn build(
        files: Vec<(PathBuf, Vec<TrunkConfig>, Vec<RouteGroupConfig>)>,
        profiles: &[&str],
    ) -> (TrunksConfig, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let mut config = TrunksConfig::default();
        let mut trunk_at: HashMap<String, String> = HashMap::new();
        let mut group_at: HashMap<String, String> = HashMap::new();
        let place = |file: &PathBuf, key: String| format!("{} {key}", file.display());

        let all = files;
        for (file, trunks, _) in &all {
            for trunk in trunks {
                let key = trunk.key();
                if let Some(other) = trunk_at.get(trunk.name()) {
                    errors.push(ConfigError::new(
                        file,
                        Location::Key(format!("{key}.name")),
                        ConfigErrorKind::DuplicateName {
                            what: "trunk",
                            name: trunk.name().to_owned(),
                            other: other.clone(),
                        },
                    ));
                    continue;
                }
                trunk_at.insert(trunk.name().to_owned(), place(file, key.clone()));
                if !profiles.contains(&trunk.profile()) {
                    errors.push(ConfigError::new(
                        file,
                        Location::Key(format!("{key}.profile")),
                        ConfigErrorKind::UnknownReference {
                            what: "profile",
                            name: trunk.profile().to_owned(),
                        },
                    ));
                }
                config.trunks.push(trunk.clone());
            }
        }
        for (file, _, groups) in all {
            for group in groups {
                let key = group.key();
                if let Some(other) = group_at.get(group.name()) {
                    errors.push(ConfigError::new(
                        &file,
                        Location::Key(format!("{key}.name")),
                        ConfigErrorKind::DuplicateName {
                            what: "route group",
                            name: group.name().to_owned(),
                            other: other.clone(),
                        },
                    ));
                    continue;
                }
                group_at.insert(group.name().to_owned(), place(&file, key.clone()));
                for member in group.members() {
                    let member_key = format!("{key}.trunks[{}]", member.index);
                    if !trunk_at.contains_key(member.name()) {
                        errors.push(ConfigError::new(
                            &file,
                            Location::Key(member_key.clone()),
                            ConfigErrorKind::UnknownReference {
                                what: "trunk",
                                name: member.name().to_owned(),
                            },
                        ));
                    }
                    if member.weight_written && group.strategy() != Strategy::Weighted {
                        config.warnings.push(ConfigWarning::new(
                            &file,
                            Location::Key(format!("{member_key}.weight")),
                            ConfigWarningKind::WeightIgnored {
                                strategy: group.strategy().as_str(),
                            },
                        ));
                    }
                }
                config.groups.push(group);
            }
        }
        (config, errors)
    }

    /// Every trunk, in file order.
    pub fn trunks(&self) -> &[TrunkConfig] {
        &self.trunks
    }

    /// Every route group, in file order.
    pub fn route_groups(&self) -> &[RouteGroupConfig] {
        &self.groups
    }

    /// The trunk with this name.
    pub fn trunk(&self, name: &str) -> Option<&TrunkConfig> {
        self.trunks.iter().find(|t| t.name() == name)
    }

    /// The route group with this name.
    pub fn group(&self, name: &str) -> Option<&RouteGroupConfig> {
        self.groups.iter().find(|g| g.name() == name)
    }

    /// Every context a trunk names, as `(file, key, context)`: each trunk's `context` and
    /// each DID's, for the check that the dialplan defines them.
    pub fn context_refs(&self) -> Vec<(PathBuf, String, String)> {
        let mut refs = Vec::new();
        for trunk in &self.trunks {
            let key = trunk.key();
            if let Some(c) = trunk.context() {
                refs.push((
                    trunk.source().to_path_buf(),
                    format!("{key}.context"),
                    c.to_owned(),
                ));
            }
            for (did, c) in trunk.dids() {
                refs.push((
                    trunk.source().to_path_buf(),
                    format!("{key}.dids.\"{did}\""),
                    c.clone(),
                ));
            }
        }
        refs
    }

    /// The rate tables to load, as `(trunk name, path, file of the trunk, key of its rates)`:
    /// read each with [`super::load_rate_table`], attach it with [`Self::set_rates`].
    pub fn rate_files(&self) -> Vec<(String, PathBuf, PathBuf, String)> {
        self.trunks
            .iter()
            .filter_map(|t| {
                let path = t.rates_path()?;
                Some((
                    t.name().to_owned(),
                    path.to_path_buf(),
                    t.source().to_path_buf(),
                    format!("{}.rates", t.key()),
                ))
            })
            .collect()
    }

    /// Reads every trunk's rate table ([`Self::rate_files`]) and attaches those that
    /// validate; returns the errors of the others (each naming the rate file and line).
    pub fn load_rates(&mut self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        for (trunk, path, _, _) in self.rate_files() {
            match super::load_rate_table(&path) {
                Ok(table) => {
                    self.set_rates(&trunk, table);
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    /// Attaches the rate table of `trunk`; false when there is no such trunk.
    pub fn set_rates(&mut self, trunk: &str, table: RateTable) -> bool {
        match self.trunks.iter_mut().find(|t| t.name() == trunk) {
            Some(t) => {
                t.rates = Some(table);
                true
            }
            None => false,
        }
    }

    /// Legal but doubtful settings (a weight in a group that is not weighted).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }
}
