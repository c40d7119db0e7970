//! The live configuration behind an atomic pointer: readers take a snapshot, a reload
//! validates first and swaps only a good config in.

use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::Config;
use super::error::ConfigErrors;
use super::load::load;

/// Shared handle to the current [`Config`]. Readers call [`current`](Self::current) and keep
/// the snapshot for as long as they need a consistent view (a call keeps the config it
/// started with); [`reload`](Self::reload) never replaces a good config with a bad one.
#[derive(Debug)]
pub struct ConfigHandle {
    current: ArcSwap<Config>,
}

impl ConfigHandle {
    /// A handle holding `config`.
    pub fn new(config: Config) -> Self {
        Self {
            current: ArcSwap::from_pointee(config),
        }
    }

    /// Loads `dir` and wraps the result.
    pub fn load(dir: &Path) -> Result<Self, ConfigErrors> {
        load(dir).map(Self::new)
    }

    /// The current config (a cheap reference-counted snapshot).
    pub fn current(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// Validates `dir` and, only if it is valid, makes it current. On error the current
    /// config stays in place and every error is returned.
    pub fn reload(&self, dir: &Path) -> Result<(), ConfigErrors> {
        let config = load(dir)?;
        self.current.store(Arc::new(config));
        Ok(())
    }

    /// Makes an already validated `config` current.
    pub fn replace(&self, config: Config) {
        self.current.store(Arc::new(config));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::fs;

    use super::*;

    fn write_profile(dir: &Path, domain: &str) {
        let text = format!(
            "[profile]\nname = \"p\"\ndomain = \"{domain}\"\nlisten = [\"udp:127.0.0.1:5060\"]\n"
        );
        fs::write(dir.join("sip-profiles/p.toml"), text).unwrap();
    }

    #[test]
    fn reload_swaps_in_a_good_config_and_keeps_the_old_one_on_errors() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sip-profiles")).unwrap();
        write_profile(dir.path(), "one.example");
        let handle = ConfigHandle::load(dir.path()).unwrap();
        let before = handle.current();
        assert_eq!(before.profiles()[0].domain(), "one.example");

        write_profile(dir.path(), "not a domain");
        let err = handle.reload(dir.path()).unwrap_err();
        assert_eq!(err.len(), 1);
        assert_eq!(handle.current().profiles()[0].domain(), "one.example");

        write_profile(dir.path(), "two.example");
        handle.reload(dir.path()).unwrap();
        assert_eq!(handle.current().profiles()[0].domain(), "two.example");
        assert_eq!(
            before.profiles()[0].domain(),
            "one.example",
            "a snapshot taken before the reload keeps its config"
        );
    }
}
