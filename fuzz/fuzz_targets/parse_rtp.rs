//! Fuzzes the RTP and RTCP parsers the media relay runs on every packet, and the receive
//! statistics fed from what parsed. Run: `cargo +nightly fuzz run parse_rtp`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use media_core::rtcp::CompoundPacket;
use media_core::rtp::{PacketKind, RtpPacket, classify};
use media_core::seq::ReceiveStats;

fuzz_target!(|data: &[u8]| {
    match classify(data) {
        PacketKind::Rtp | PacketKind::Other => {
            if let Ok(packet) = RtpPacket::parse(data) {
                let _ = (packet.csrcs().count(), packet.extension(), packet.payload().len());
                let mut stats = ReceiveStats::default();
                let _ = stats.record(
                    packet.sequence(),
                    packet.timestamp(),
                    packet.timestamp(),
                    data.len(),
                );
                let _ = stats.take_interval();
            }
        }
        PacketKind::Rtcp => {
            for packet in CompoundPacket::new(data) {
                let _ = packet;
            }
            let _ = CompoundPacket::validate(data);
        }
    }
});
