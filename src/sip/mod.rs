//! SIP driver: runs sip-core over the transport; registrar, authentication, OPTIONS.

pub mod auth_guard;
pub mod ban;
pub mod call_table;
mod deadlines;
pub mod driver;
mod driver_ingress;
mod driver_shard;
pub mod registrar;
pub mod reply;
pub mod response_route;
mod server_transaction;

pub use driver::{
    DriverSettings, DriverStats, ListenerBinding, ProfileService, RegisterHandler, ResponseFuture,
    SipDriver,
};

#[cfg(test)]
mod driver_tests;
