//! The validated dialplan: every context of every `dialplans/*.toml` file, names unique, and
//! every `goto` and webhook `fallback` naming a context that exists.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::super::error::{ConfigError, ConfigErrorKind, Location};
use super::context::Context;
use super::rule::Action;

/// Name of the context calls start in unless a profile or trunk says otherwise.
pub const DEFAULT_CONTEXT: &str = "default";

/// Every dialplan context, by name. Cheap to share behind an `Arc`; built only by
/// [`DialplanConfig::build`] (or empty by `default()`).
#[derive(Debug, Clone, Default)]
pub struct DialplanConfig {
    contexts: BTreeMap<String, Context>,
}

impl DialplanConfig {
    /// Joins the contexts of several files (as returned by
    /// [`parse_dialplan_file`](super::parse_dialplan_file), in file order) and checks what
    /// spans them: duplicate context names (the later one is dropped) and `goto` or webhook
    /// `fallback` naming no context. Every error names its file and key.
    pub fn build(files: Vec<(PathBuf, Vec<Context>)>) -> (DialplanConfig, Vec<ConfigError>) {
        let mut errors = Vec::new();
        let mut contexts: BTreeMap<String, Context> = BTreeMap::new();
        for (path, file_contexts) in files {
            for mut context in file_contexts {
                context.source.clone_from(&path);
                if let Some(first) = contexts.get(&context.name) {
                    errors.push(ConfigError::new(
                        &path,
                        Location::Key(format!("context[{}].name", context.index)),
                        ConfigErrorKind::DuplicateName {
                            what: "context",
                            name: context.name.clone(),
                            other: format!(
                                "{} context[{}].name",
                                first.source.display(),
                                first.index
                            ),
                        },
                    ));
                    continue;
                }
                contexts.insert(context.name.clone(), context);
            }
        }
        let plan = DialplanConfig { contexts };
        errors.extend(plan.unknown_contexts());
        (plan, errors)
    }

    /// `goto` and `fallback` keys naming no context, in file and key order.
    fn unknown_contexts(&self) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut ordered: Vec<&Context> = self.contexts.values().collect();
        ordered.sort_by(|a, b| (&a.source, a.index).cmp(&(&b.source, b.index)));
        for context in ordered {
            let mut check = |key: String, name: &str| {
                if !self.has_context(name) {
                    errors.push(ConfigError::new(
                        &context.source,
                        Location::Key(key),
                        ConfigErrorKind::UnknownReference {
                            what: "context",
                            name: name.to_owned(),
                        },
                    ));
                }
            };
            if let Some(fallback) = context.webhook.as_ref().and_then(|w| w.fallback()) {
                check(
                    format!("context[{}].webhook.fallback", context.index),
                    fallback,
                );
            }
            for rule in &context.rules {
                if let Action::Goto(target) = &rule.action {
                    check(
                        format!("context[{}].rule[{}].goto", context.index, rule.index),
                        target,
                    );
                }
            }
        }
        errors
    }

    /// The context with this name.
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.get(name)
    }

    /// Whether a context of this name exists.
    pub fn has_context(&self, name: &str) -> bool {
        self.contexts.contains_key(name)
    }

    /// Every context, by name.
    pub fn contexts(&self) -> impl Iterator<Item = &Context> {
        self.contexts.values()
    }

    /// Number of contexts.
    pub fn len(&self) -> usize {
        self.contexts.len()
    }

    /// Whether there are no contexts.
    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty()
    }

    /// Every `ivr` action as (file, key, menu name), in file and key order, for the check
    /// against the IVR menus.
    pub fn ivr_refs(&self) -> Vec<(PathBuf, String, String)> {
        let mut refs = Vec::new();
        for context in self.contexts.values() {
            for rule in &context.rules {
                if let Action::Ivr(menu) = &rule.action {
                    refs.push((
                        context.source.clone(),
                        format!("context[{}].rule[{}].ivr", context.index, rule.index),
                        menu.clone(),
                    ));
                }
            }
        }
        refs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        refs
    }

    /// Every `route_group` action as (file, key, group name), in file and key order, for the
    /// check against the route groups of the trunk files.
    pub fn route_group_refs(&self) -> Vec<(PathBuf, String, String)> {
        let mut refs = Vec::new();
        for context in self.contexts.values() {
            for rule in &context.rules {
                if let Action::RouteGroup(group) = &rule.action {
                    refs.push((
                        context.source.clone(),
                        format!(
                            "context[{}].rule[{}].route_group",
                            context.index, rule.index
                        ),
                        group.clone(),
                    ));
                }
            }
        }
        refs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        refs
    }
}
