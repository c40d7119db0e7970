//! Integration tests against the real `switchyard` binary and real peers: each test starts the
//! binary on a free 127.0.0.1 port with its own profile and drives it with SIPp (scenarios in
//! tests/sipp/) or with the small Rust test phone. SIPp must be installed: `scripts/test`
//! installs it (Debian package `sip-tester`); without it the SIPp tests fail, they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;
mod lifecycle;
mod phone;
mod protocol;
mod registrar;
mod sipp;
mod sipp_flows;
