//! Media applications a call runs on a leg the switch answers itself: an IVR on a caller's
//! call, a voice notification on an originated call. `call` knows nothing of what the app
//! does: the actor answers the leg, attaches a [`MediaPort`] to its side of the relay, hands
//! the app an [`AppContext`] and carries out the [`AppOutcome`] (hang up, or dial a route as
//! if the caller had dialled it: a transfer).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::actor::CallRoute;
use super::cause::HangupCause;
use super::record::CallId;
use crate::cluster::BoxFuture;
use crate::media::{Audio, MediaPort};

/// A media application: runs once its leg is answered, until it returns an outcome or the
/// call ends (then its future is dropped, whatever it was doing).
pub trait CallApp: Send + 'static {
    /// Runs the app on the answered leg.
    fn run(self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome>;

    /// The leg was never answered (the caller hung up first, A of an originated call did not
    /// answer, no media could be set up): the app will not run. `cause` says why.
    fn not_run(self: Box<Self>, cause: HangupCause) {
        let _ = cause;
    }

    /// The app's route asks for the call to be recorded from answer (a dialplan rule's
    /// `record` on an `ivr` action).
    fn record(&self) -> bool {
        false
    }
}

/// What an app works with.
#[derive(Debug)]
pub struct AppContext {
    /// The call's id.
    pub call_id: CallId,
    /// The other party's number: the caller (user part of From) of an inbound call, the
    /// dialled number of an originated one.
    pub remote: String,
    /// The number dialled (user part of the Request-URI / To).
    pub dialled: String,
    /// The switch's end of the leg's media: player and DTMF.
    pub media: MediaPort,
}

/// What the app decided.
pub enum AppOutcome {
    /// End the call (BYE to the answered leg) with this cause.
    HangUp(HangupCause),
    /// Connect the caller to this route: its stages are dialled with the leg's media, and
    /// the caller is bridged to whoever answers (a failure ends the call).
    Transfer(Box<dyn CallRoute>),
}

impl std::fmt::Debug for AppOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppOutcome::HangUp(cause) => f.debug_tuple("HangUp").field(cause).finish(),
            AppOutcome::Transfer(_) => f.write_str("Transfer"),
        }
    }
}

/// Which DTMF a profile's calls understand (`[media] dtmf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfMode {
    /// RFC 4733 when the phone's SDP offers telephone-event, else in-band tones; SIP INFO
    /// always.
    #[default]
    Auto,
    /// RFC 4733 only (plus SIP INFO).
    Rfc4733,
    /// SIP INFO only.
    Info,
    /// In-band tones only (plus SIP INFO).
    Inband,
}

/// Per-call options that come from the profile and the route, beyond the machine's
/// [`super::CallSettings`].
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// DTMF modes of the app leg.
    pub dtmf: DtmfMode,
    /// Played to the other side while one side holds; None: no music on hold.
    pub music_on_hold: Option<Audio>,
    /// Where recordings go (`<dir>/YYYY/MM/DD/<call id>.wav`); None: recording disabled.
    pub recordings_dir: Option<PathBuf>,
    /// Record the call from answer (policy "all", or the route's `record`).
    pub record: bool,
    /// Variables the route set (IVR, dialplan), stored with nothing else for now.
    pub variables: BTreeMap<String, String>,
}
