//! Switchyard: a cloud call-center softswitch.
//!
//! `main.rs` is a thin CLI over [`app`], the composition root. See ARCHITECTURE.md for the code
//! map and the dependency rules.

pub mod api;
pub mod app;
pub mod call;
pub mod cluster;
pub mod config;
pub mod ctl;
pub mod dialplan;
pub mod ivr;
pub mod media;
pub mod notify;
pub mod sip;
pub mod store;
pub mod switchboard;
pub mod telemetry;
pub mod transport;
pub mod trunk;
