//! Integration tests against the real `switchyard` binary and real peers: each test starts the
//! binary on a free 127.0.0.1 port with its own profile and drives it with SIPp (scenarios in
//! tests/sipp/) or with the small Rust test phone. SIPp must be installed: `scripts/test`
//! installs it (Debian package `sip-tester`); without it the SIPp tests fail, they never skip.
//! The call tests play RTP with SIPp's `play_pcap_audio`, which sends from a raw socket: run
//! them as root or give SIPp the capability (`setcap cap_net_raw+ep "$(command -v sipp)"`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod api_conformance;
mod call_peers;
mod calls;
mod cdr;
mod ctl;
mod events;
mod harness;
mod http;
mod ivr;
mod lifecycle;
mod metrics;
mod moh;
mod notifications;
mod originate;
mod pcap;
mod phone;
mod postgres;
mod protocol;
mod recording;
mod registrar;
mod reload;
mod rtp_peer;
mod scenarios;
mod sipp;
mod sipp_flows;
mod sipp_peer;
mod trunk_edge;
mod trunk_peers;
mod trunk_scenarios;
mod trunks;
mod webhook_receiver;
mod webhooks;
