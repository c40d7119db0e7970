//! Voice notifications: agentless outbound calls that play prompts, optionally collect a
//! confirmation digit, retry per policy inside a calling window, and report the outcome.
//!
//! Requests are validated ([`spec`]) and stored (`store::notifications`); the scheduler
//! ([`service`]) starts due attempts within the calling window ([`window`]), the concurrency
//! limit and the per-caller-ID rate ([`limiter`]), through the [`Dialer`] the switchboard
//! implements (this module never imports `switchboard`). Each attempt's call runs the
//! [`NotificationApp`] once answered; its result and the retry policy ([`retry`]) decide
//! what follows.

pub mod app;
pub mod limiter;
pub mod retry;
pub mod service;
pub mod spec;
pub mod window;

pub use app::NotificationApp;
pub use retry::{AttemptResult, RetryPolicy};
pub use service::{
    AttemptRequest, DialRefusal, Dialer, NotifyError, NotifyHandle, NotifyService, NotifySettings,
};
pub use spec::{Invalid, NotificationSpec};
