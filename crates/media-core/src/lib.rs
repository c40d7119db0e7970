//! Sans-IO media: RTP/RTCP packets, sequence and timestamp arithmetic, G.711 codecs and RFC 4733
//! telephone events.
//!
//! Pure: no tokio, no sockets, no clock. Packets are parsed from and written to byte slices;
//! anything time-dependent takes `now` as an argument.

pub mod g711;
pub mod rtcp;
pub mod rtp;
pub mod seq;
pub mod telephone_event;
