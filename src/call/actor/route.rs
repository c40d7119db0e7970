//! Where a call goes: the route's decision (dial, reject, run an app) and the stages a route
//! hands out one by one.

use crate::call::app::CallApp;
use crate::call::cause::HangupCause;
use crate::call::machine::{BranchOutcome, Stage, StageOutcome};

/// Where a call goes, stage by stage (sequential ringing, trunk failover). The actor holds it
/// until the call ends, so what it holds (a trunk's call slot) is released with the call.
pub trait CallRoute: Send + 'static {
    /// The next stage to ring: `previous` is the stage that just failed in a way that may go
    /// on (None: the first stage). None: nothing more to try; the caller gets the best failure
    /// so far (or, before any stage, 480).
    fn next_stage(&mut self, previous: Option<&StageOutcome>) -> Option<Stage>;

    /// The branch described by `outcome` answered the call.
    fn answered(&mut self, outcome: &BranchOutcome) {
        let _ = outcome;
    }

    /// The route asks for the call to be recorded from answer (a dialplan rule's `record`).
    fn record(&self) -> bool {
        false
    }
}

/// A fixed list of stages, tried in order.
#[derive(Debug, Default)]
pub struct FixedStages(pub std::collections::VecDeque<Stage>);

impl CallRoute for FixedStages {
    fn next_stage(&mut self, _previous: Option<&StageOutcome>) -> Option<Stage> {
        self.0.pop_front()
    }
}

/// What the route future decides for a call.
pub enum RouteDecision {
    /// Ring the route's stages.
    Dial(Box<dyn CallRoute>),
    /// Refuse the call with this cause (the caller gets its SIP status).
    Reject(HangupCause),
    /// Answer the call in the switch and run this media application (IVR, notification).
    App(Box<dyn CallApp>),
}

impl std::fmt::Debug for RouteDecision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteDecision::Dial(_) => f.write_str("Dial"),
            RouteDecision::Reject(cause) => f.debug_tuple("Reject").field(cause).finish(),
            RouteDecision::App(_) => f.write_str("App"),
        }
    }
}
