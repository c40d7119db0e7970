//! A validated dialplan context: a name, an optional webhook router and ordered rules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rule::Rule;

/// One `[[context]]`.
#[derive(Debug, Clone)]
pub struct Context {
    pub(super) source: PathBuf,
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) webhook: Option<Webhook>,
    pub(super) rules: Vec<Rule>,
}

impl Context {
    /// The file it was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Position in the file's `context` array (from 0), for `context[i]` key paths.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Unique name across all dialplan files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The webhook router asked first, when configured.
    pub fn webhook(&self) -> Option<&Webhook> {
        self.webhook.as_ref()
    }

    /// The rules, in order; the first that matches wins.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// `webhook = { url, timeout_ms, fallback }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub(super) url: String,
    pub(super) timeout: Duration,
    pub(super) fallback: Option<String>,
}

impl Webhook {
    /// An `http` or `https` URL with a host.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Hard limit on the whole exchange (1 ms to 10 s).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Context decided statically when the webhook fails (may be this context itself).
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }
}
