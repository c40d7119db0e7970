//! Sans-IO SIP: messages, URIs, headers, transactions and digest authentication.
//!
//! Pure: no tokio, no sockets, no clock. Every time-dependent API takes `now` as an argument.
//! Run-loop invariant for drivers: after any `handle_*` input, drain `poll_transmit` and
//! `poll_event`, then re-arm the timer from `poll_timeout`.

pub mod auth;
pub mod dialog;
pub mod message;
pub mod sdp;
pub mod transaction;
