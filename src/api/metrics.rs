//! `GET /metrics`: the Prometheus text exposition of [`crate::telemetry::metrics`].
