//! The hand-over of an authenticated new INVITE from the driver to whoever runs calls: the
//! [`InviteHandler`] trait and the [`NewInvite`] it receives.

use sip_core::transaction::ServerInviteTransaction;

use super::response_route::ResponseRoute;
use crate::transport::Peer;

/// An authenticated INVITE outside any dialog, taken out of the driver's tables: from now on
/// only its new owner answers it.
#[derive(Debug)]
pub struct NewInvite {
    /// The INVITE's server transaction (its request is the INVITE, Via stamped).
    pub transaction: ServerInviteTransaction,
    /// The flow the INVITE arrived on.
    pub peer: Peer,
    /// Where its responses go (RFC 3261 §18.2.2).
    pub route: ResponseRoute,
    /// The authenticated digest user.
    pub caller: Option<String>,
}

/// Takes new calls for one profile (the switchboard; a stub in tests).
pub trait InviteHandler: Send + Sync + 'static {
    /// Takes over `invite`. Before returning it must route the INVITE's Call-ID in the
    /// driver's `CallTable` (or answer the transaction itself), so that retransmissions, the
    /// ACK and a CANCEL reach the INVITE's new owner.
    fn handle_invite(&self, invite: NewInvite);
}
