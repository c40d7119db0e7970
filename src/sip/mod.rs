//! SIP driver: runs sip-core over the transport; registrar, authentication, OPTIONS, and the
//! hand-over of new INVITEs and in-call messages to the call actors.

pub mod admission;
pub mod auth_guard;
pub mod ban;
pub mod call_table;
pub mod client;
mod deadlines;
pub mod driver;
mod driver_ingress;
mod driver_shard;
pub mod invite;
pub mod registrar;
pub mod reply;
pub mod response_route;
mod server_transaction;

pub use admission::{NetworkAdmission, SourceAdmission};
pub use call_table::{CallMessage, CallTable};
pub use client::{ClientError, SipClient};
pub use driver::{
    DriverSettings, DriverStats, ListenerBinding, ProfileService, RegisterHandler, ResponseFuture,
    SipDriver,
};
pub use driver_ingress::send_routed;
pub use invite::{InviteHandler, NewInvite};

#[cfg(test)]
mod driver_tests;
