//! The B2BUA: one actor task per call owning a sans-IO call machine, its legs and the media
//! bridge between them. Knows nothing of routing, queues, IVR or HTTP: the caller of
//! [`machine::CallMachine::dial`] says where to ring.

pub mod actor;
pub mod app;
pub mod cause;
pub mod lifecycle;
pub mod machine;
pub mod record;
pub mod registry;

pub use cause::HangupCause;
pub use machine::{
    BranchCredentials, BranchIdentity, BranchOutcome, CallEvent, CallMachine, CallSettings,
    CallSetup, Destination, MediaPlan, Stage, StageOutcome, Target, Transmit,
};
pub use record::{
    CallId, CallRecord, Hangup, HangupSide, LegRecord, LegSide, MediaCounters, RecordingInfo,
};
