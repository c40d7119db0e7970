//! Sans-IO media: RTP/RTCP packets, sequence and timestamp arithmetic, G.711 codecs, RFC 4733
//! telephone events, in-band DTMF detection, tones, resampling and WAV files.
//!
//! Pure: no tokio, no sockets, no clock. Packets are parsed from and written to byte slices;
//! anything time-dependent takes `now` as an argument.

pub mod dtmf_detect;
pub mod g711;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod seq;
pub mod telephone_event;
pub mod tone;
pub mod wav;
