//! Installs the global tracing subscriber: fmt to stderr, filtered by an `EnvFilter`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::pii::set_show_pii;

/// Filter used when none is given.
pub const DEFAULT_FILTER: &str = "info";

/// How to log; usually from the command line (`--log`, `--log-pii`) or the environment
/// (`SWITCHYARD_LOG`, `SWITCHYARD_LOG_PII`).
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// `EnvFilter` directives (`debug`, `switchyard::sip=trace,info`); `None` means
    /// [`DEFAULT_FILTER`].
    pub filter: Option<String>,
    /// Print [`Pii`](super::Pii) values in clear.
    pub show_pii: bool,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter directive does not parse.
    #[error("invalid log filter {filter:?}: {source}")]
    BadFilter {
        /// The directive given.
        filter: String,
        /// The parser's reason.
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber was already installed (e.g. by a test harness).
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
}

/// Builds the filter for `settings` without installing anything.
pub fn filter(settings: &LogSettings) -> Result<EnvFilter, TelemetryError> {
    let directive = settings
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .unwrap_or(DEFAULT_FILTER);
    EnvFilter::try_new(directive).map_err(|source| TelemetryError::BadFilter {
        filter: directive.to_owned(),
        source,
    })
}

/// Installs the global subscriber: human-readable lines with their fields on stderr.
pub fn init(settings: &LogSettings) -> Result<(), TelemetryError> {
    let filter = filter(settings)?;
    set_show_pii(settings.show_pii);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInstalled)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn settings(filter: Option<&str>) -> LogSettings {
        LogSettings {
            filter: filter.map(str::to_owned),
            show_pii: false,
        }
    }

    #[test]
    fn missing_or_blank_filter_means_info() {
        assert_eq!(filter(&settings(None)).unwrap().to_string(), "info");
        assert_eq!(filter(&settings(Some("  "))).unwrap().to_string(), "info");
    }

    #[test]
    fn envfilter_directives_are_accepted() {
        let f = filter(&settings(Some("switchyard::sip=trace,warn"))).unwrap();
        assert!(f.to_string().contains("switchyard::sip=trace"));
    }

    #[test]
    fn a_bad_filter_is_reported_with_the_directive() {
        let err = filter(&settings(Some("switchyard=loud"))).unwrap_err();
        assert!(err.to_string().contains("switchyard=loud"), "{err}");
    }
}
