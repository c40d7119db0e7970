//! Tracing setup and the `Pii<T>` wrapper for personal data in logs.
