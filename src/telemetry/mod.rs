//! Tracing setup and the `Pii<T>` wrapper for personal data in logs.
//!
//! Logs go to stderr through `tracing-subscriber`'s fmt layer, filtered by an `EnvFilter`
//! directive (`info`, `switchyard=debug,warn`, …). Personal data (user names, phone numbers)
//! is wrapped in [`Pii`] and printed as `<redacted>` unless [`set_show_pii`] turned it on
//! (`switchyard run --log-pii`, or `SWITCHYARD_LOG_PII=1`).

pub mod events;
pub mod metrics;
mod pii;
mod subscriber;

pub use pii::{Pii, set_show_pii, show_pii};
pub use subscriber::{DEFAULT_FILTER, LogSettings, TelemetryError, filter, init};
