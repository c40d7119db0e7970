//! Why a `ctl` command failed, and the exit status each failure gets.

use std::fmt::Write as _;

use super::{EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE};

/// A failed `ctl` command.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// `--api` is not an `http://` or `https://` URL.
    #[error("invalid API URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No connection to the API, or no answer in time.
    #[error("cannot reach the switchyard API at {url}: {reason}")]
    Unreachable {
        /// The base URL tried.
        url: String,
        /// The connection error, with its causes.
        reason: String,
    },
    /// The API answered with an error (`{code, message, errors}`).
    #[error("{code}: {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The API's stable error code.
        code: String,
        /// The API's message.
        message: String,
        /// Itemised details (the config errors of a refused reload).
        errors: Vec<String>,
    },
    /// The API answered something that is not the JSON it documents.
    #[error("unexpected answer from {url} (HTTP {status}): {reason}")]
    BadAnswer {
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// What was wrong with the answer.
        reason: String,
    },
    /// The live event stream broke off or was closed by the switch.
    #[error("event stream from {url} ended: {reason}")]
    StreamEnded {
        /// The WebSocket URL.
        url: String,
        /// The close reason or the error.
        reason: String,
    },
    /// The file a download would be saved to exists (and `--force` was not given).
    #[error("{} exists; give another file with -o, or --force to replace it", path.display())]
    FileExists {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A downloaded file could not be saved.
    #[error("cannot save {}: {source}", path.display())]
    Save {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl CtlError {
    /// The process exit status for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::BadUrl { .. } => EXIT_USAGE,
            CtlError::Unreachable { .. } | CtlError::StreamEnded { .. } => EXIT_UNREACHABLE,
            CtlError::Refused { .. }
            | CtlError::BadAnswer { .. }
            | CtlError::FileExists { .. }
            | CtlError::Save { .. }
            | CtlError::Output(_)
            | CtlError::Runtime(_) => EXIT_REFUSED,
        }
    }

    /// What `ctl` prints on stderr: `error: <code>: <message>`, then each itemised error on a
    /// line of its own, and for an unreachable API a hint where it looked.
    pub fn report(&self) -> String {
        let mut text = format!("error: {self}");
        match self {
            CtlError::Refused { errors, .. } => {
                for item in errors {
                    let _ = write!(text, "\n  - {item}");
                }
            }
            CtlError::Unreachable { .. } => {
                text.push_str(
                    "\n  is the switch running with its API enabled? \
                     Set the URL with --api or SWITCHYARD_API_URL.",
                );
            }
            _ => {}
        }
        text
    }
}

/// `error`'s message followed by its causes, `: `-separated (reqwest hides the useful part,
/// "Connection refused", in the source chain).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            let _ = write!(text, ": {cause_text}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_prints_its_code_message_and_each_itemised_error() {
        let error = CtlError::Refused {
            status: 422,
            code: "invalid_config".into(),
            message: "the new config has 2 errors".into(),
            errors: vec!["a.toml: bad".into(), "b.toml: worse".into()],
        };
        assert_eq!(
            error.report(),
            "error: invalid_config: the new config has 2 errors\n  - a.toml: bad\n  - b.toml: worse"
        );
        assert_eq!(error.exit_code(), EXIT_REFUSED);
    }

    #[test]
    fn an_unreachable_api_names_the_url_and_exits_3() {
        let error = CtlError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert!(error.report().contains("http://127.0.0.1:1"));
        assert!(error.report().contains("SWITCHYARD_API_URL"));
        assert_eq!(error.exit_code(), EXIT_UNREACHABLE);
    }
}
