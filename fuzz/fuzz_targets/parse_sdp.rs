//! Fuzzes the SDP parser, the serializer round trip and answer generation on offers from the
//! wire. Run: `cargo +nightly fuzz run parse_sdp`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::sdp::{
    AddrType, AnswerOptions, Codec, CodecOrder, Connection, Direction, Origin, SessionDescription,
    build_answer,
};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse_bytes(data) else {
        return;
    };
    // Whatever parsed must print and parse back to the same description.
    let printed = sdp.serialize();
    assert_eq!(
        SessionDescription::parse(&printed).as_ref(),
        Ok(&sdp),
        "{printed}"
    );
    let _ = sdp.is_on_hold();
    let options = AnswerOptions {
        origin: Origin {
            username: "-".into(),
            session_id: "1".into(),
            session_version: 1,
            addr_type: AddrType::Ip4,
            address: "127.0.0.1".into(),
        },
        connection: Connection::from_ip([127, 0, 0, 1].into()),
        ports: vec![4000; sdp.media.len()],
        media: "audio".into(),
        codecs: vec![Codec::new("PCMU", 8000), Codec::new("PCMA", 8000)],
        order: CodecOrder::Offerer,
        telephone_event: true,
        rtcp_mux: true,
        direction: Direction::SendRecv,
    };
    if let Ok(answer) = build_answer(&sdp, &options) {
        assert!(SessionDescription::parse(&answer.serialize()).is_ok());
    }
});
