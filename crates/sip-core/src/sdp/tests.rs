//! Tests for SDP parsing, serialization, relay edits, offer/answer and hold detection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;

use super::*;

const PHONE_OFFER: &str = "v=0\r\n\
o=alice 3724 3725 IN IP4 192.168.1.20\r\n\
s=Talk\r\n\
c=IN IP4 192.168.1.20\r\n\
b=AS:380\r\n\
t=0 0\r\n\
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics\r\n\
m=audio 7078 RTP/AVP 96 0 8 101 97\r\n\
a=rtpmap:96 opus/48000/2\r\n\
a=fmtp:96 useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=rtpmap:97 telephone-event/48000\r\n\
a=ptime:20\r\n\
a=maxptime:40\r\n\
a=rtcp:7079\r\n\
a=rtcp-mux\r\n\
a=mid:audio\r\n\
a=sendrecv\r\n";

fn ipv6_body(name: &str) -> String {
    let path = format!(
        "{}/../../tests/data/rfc5118/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(path).unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").unwrap();
    body.to_owned()
}

fn options(ports: Vec<u16>) -> AnswerOptions {
    AnswerOptions {
        origin: Origin {
            username: "switchyard".into(),
            session_id: "1".into(),
            session_version: 1,
            addr_type: AddrType::Ip4,
            address: "203.0.113.5".into(),
        },
        connection: Connection::from_ip(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5))),
        ports,
        media: "audio".into(),
        codecs: vec![Codec::new("PCMA", 8000), Codec::new("PCMU", 8000)],
        order: CodecOrder::Offerer,
        telephone_event: true,
        rtcp_mux: true,
        direction: Direction::SendRecv,
    }
}

fn offer_with_direction(direction: &str) -> SessionDescription {
    SessionDescription::parse(&format!(
        "v=0\r\no=a 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\na={direction}\r\n"
    ))
    .unwrap()
}

#[test]
fn phone_offer_parses_codecs_attributes_and_direction() {
    let sdp = SessionDescription::parse(PHONE_OFFER).unwrap();
    assert_eq!(sdp.origin.session_version, 3725);
    assert_eq!(sdp.bandwidths[0].value, 380);
    assert!(
        sdp.attribute("rtcp-xr")
            .unwrap()
            .starts_with("rcvr-rtt=all:10000 ")
    );
    let m = &sdp.media[0];
    assert_eq!(m.port, 7078);
    assert_eq!(m.formats, ["96", "0", "8", "101", "97"]);
    let opus = m.rtpmap(96).unwrap();
    assert_eq!((opus.encoding.as_str(), opus.clock_rate), ("opus", 48000));
    assert_eq!(opus.channels, Some(2));
    assert_eq!(m.rtpmap(0).unwrap().encoding, "PCMU");
    assert_eq!(m.fmtp(101), Some("0-16"));
    assert_eq!((m.ptime(), m.maxptime()), (Some(20), Some(40)));
    assert_eq!(m.rtcp().unwrap().port, 7079);
    assert!(m.rtcp_mux());
    assert_eq!(m.mid(), Some("audio"));
    assert_eq!(m.direction(&sdp), Direction::SendRecv);
    assert!(!sdp.is_on_hold());
}

#[test]
fn serialization_writes_crlf_in_canonical_order_and_round_trips() {
    let sdp = SessionDescription::parse(PHONE_OFFER).unwrap();
    assert_eq!(sdp.serialize(), PHONE_OFFER);
    assert_eq!(SessionDescription::parse(&sdp.serialize()).unwrap(), sdp);
}

#[test]
fn bare_lf_input_is_accepted_and_serialized_with_crlf() {
    let lf = PHONE_OFFER.replace("\r\n", "\n");
    let sdp = SessionDescription::parse(&lf).unwrap();
    assert_eq!(sdp.serialize(), PHONE_OFFER);
}

#[test]
fn out_of_order_session_lines_are_written_canonically() {
    let sdp = SessionDescription::parse(
        "v=0\no=- 1 1 IN IP4 h.example\ns=x\nt=0 0\na=tool:x\nc=IN IP4 10.0.0.1\nb=CT:64\n\
         m=audio 5 RTP/AVP 0\n",
    )
    .unwrap();
    assert_eq!(
        sdp.serialize(),
        "v=0\r\no=- 1 1 IN IP4 h.example\r\ns=x\r\nc=IN IP4 10.0.0.1\r\nb=CT:64\r\nt=0 0\r\n\
         a=tool:x\r\nm=audio 5 RTP/AVP 0\r\n"
    );
}

#[test]
fn rfc5118_ipv6_in_sdp_body_parses() {
    let sdp = SessionDescription::parse(&ipv6_body("ipv6-in-sdp")).unwrap();
    assert_eq!(sdp.origin.addr_type, AddrType::Ip6);
    let c = sdp.connection.as_ref().unwrap();
    assert_eq!(c.ip(), Some("2001:db8::20".parse().unwrap()));
    assert_eq!(sdp.media.len(), 2);
    assert_eq!(sdp.media[1].rtpmap(107).unwrap().clock_rate, 90000);
    assert_eq!(SessionDescription::parse(&sdp.serialize()).unwrap(), sdp);
}

#[test]
fn rfc5118_mixed_ip_versions_per_media_parse() {
    let sdp = SessionDescription::parse(&ipv6_body("mult-ip-in-sdp")).unwrap();
    assert!(sdp.connection.is_none());
    assert_eq!(sdp.session_name, "");
    assert_eq!(sdp.media[0].connections[0].addr_type, AddrType::Ip4);
    let video = sdp.media[1].effective_connection(&sdp).unwrap();
    assert_eq!(video.ip(), Some("2001:db8::1".parse().unwrap()));
    assert_eq!(SessionDescription::parse(&sdp.serialize()).unwrap(), sdp);
}

#[test]
fn multicast_connection_keeps_ttl_and_count() {
    let sdp = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 224.2.1.1/127/3\r\nt=0 0\r\n\
         m=video 5000/2 RTP/AVP 31\r\n",
    )
    .unwrap();
    let c = sdp.connection.as_ref().unwrap();
    assert_eq!((c.ttl, c.count), (Some(127), Some(3)));
    assert_eq!(sdp.media[0].port_count, Some(2));
    assert_eq!(SessionDescription::parse(&sdp.serialize()).unwrap(), sdp);
}

#[test]
fn malformed_mandatory_lines_are_rejected_with_typed_errors() {
    let base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n";
    let cases: [(String, SdpError); 11] = [
        (String::new(), SdpError::Empty),
        ("o=- 1 1 IN IP4 a\r\n".into(), SdpError::MissingVersion),
        ("v=1\r\n".into(), SdpError::UnsupportedVersion("1".into())),
        ("v=0\r\ns=-\r\n".into(), SdpError::MissingOrigin),
        (
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nt=0 0\r\n".into(),
            SdpError::MissingSessionName,
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\n".into(),
            SdpError::MissingTiming,
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 ::1\r\nt=0 0\r\n".into(),
            SdpError::Malformed {
                line: 4,
                what: "c=",
            },
        ),
        (
            "v=0\r\no=- x 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n".into(),
            SdpError::Malformed {
                line: 2,
                what: "o=",
            },
        ),
        (
            format!("{base}m=audio port RTP/AVP 0\r\n"),
            SdpError::Malformed {
                line: 6,
                what: "m=",
            },
        ),
        (
            format!("{base}m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 opus\r\n"),
            SdpError::Malformed {
                line: 7,
                what: "rtpmap",
            },
        ),
        (
            format!("{base}y=0123456789\r\n"),
            SdpError::UnknownLineType { line: 6, kind: 'y' },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            SessionDescription::parse(&input),
            Err(expected),
            "{input:?}"
        );
    }
}

#[test]
fn active_media_without_any_connection_is_rejected() {
    let err = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
    );
    assert_eq!(err, Err(SdpError::MissingConnection { index: 0 }));
}

#[test]
fn relay_edits_rewrite_addresses_ports_rtcp_and_version() {
    let mut sdp = SessionDescription::parse(PHONE_OFFER).unwrap();
    let relay = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5));
    sdp.set_connection_address(relay);
    sdp.set_origin_address(relay);
    sdp.set_media_port(0, 30000).unwrap();
    sdp.set_rtcp(
        0,
        Some(Rtcp {
            port: 30001,
            connection: Some(Connection::from_ip(relay)),
        }),
    )
    .unwrap();
    sdp.bump_version();
    let text = sdp.serialize();
    assert!(text.contains("o=alice 3724 3726 IN IP4 203.0.113.5\r\n"));
    assert!(text.contains("c=IN IP4 203.0.113.5\r\n"));
    assert!(text.contains("m=audio 30000 RTP/AVP"));
    assert!(text.contains("a=rtcp:30001 IN IP4 203.0.113.5\r\na=rtcp-mux\r\n"));
    assert_eq!(sdp.set_media_port(1, 1), Err(SdpError::NoSuchMedia(1)));
    sdp.set_rtcp(0, None).unwrap();
    assert!(sdp.media[0].rtcp().is_none());
}

#[test]
fn media_level_connections_are_rewritten_too() {
    let mut sdp = SessionDescription::parse(&ipv6_body("mult-ip-in-sdp")).unwrap();
    sdp.set_connection_address("2001:db8::99".parse().unwrap());
    for m in &sdp.media {
        assert_eq!(m.connections[0].address, "2001:db8::99");
        assert_eq!(m.connections[0].addr_type, AddrType::Ip6);
    }
}

#[test]
fn answer_keeps_offerer_codec_order_and_telephone_event_at_matching_rate() {
    let offer = SessionDescription::parse(PHONE_OFFER).unwrap();
    let answer = build_answer(&offer, &options(vec![40000])).unwrap();
    let m = &answer.media[0];
    assert_eq!(m.port, 40000);
    assert_eq!(m.formats, ["0", "8", "101"]);
    assert_eq!(m.fmtp(101), Some("0-16"));
    assert!(m.rtcp_mux());
    assert_eq!(m.mid(), Some("audio"));
    assert_eq!(m.direction(&answer), Direction::SendRecv);
    assert_eq!(answer.timings[0].start, 0);
    assert_eq!(
        SessionDescription::parse(&answer.serialize()).unwrap(),
        answer
    );
}

#[test]
fn answer_can_follow_our_codec_order_instead() {
    let offer = SessionDescription::parse(PHONE_OFFER).unwrap();
    let mut opts = options(vec![40000]);
    opts.order = CodecOrder::Ours;
    let answer = build_answer(&offer, &opts).unwrap();
    assert_eq!(answer.media[0].formats, ["8", "0", "101"]);
}

#[test]
fn dynamic_payload_types_keep_the_offer_numbering() {
    let offer = SessionDescription::parse(PHONE_OFFER).unwrap();
    let mut opts = options(vec![40000]);
    opts.codecs = vec![Codec {
        encoding: "OPUS".into(),
        clock_rate: 48000,
        channels: Some(2),
    }];
    let answer = build_answer(&offer, &opts).unwrap();
    let m = &answer.media[0];
    assert_eq!(m.formats, ["96", "97"]);
    assert_eq!(m.fmtp(96), Some("useinbandfec=1"));
}

#[test]
fn rtcp_mux_is_answered_only_when_offered_and_supported() {
    let offer = SessionDescription::parse(PHONE_OFFER).unwrap();
    let mut opts = options(vec![40000]);
    opts.rtcp_mux = false;
    assert!(!build_answer(&offer, &opts).unwrap().media[0].rtcp_mux());
    let plain = offer_with_direction("sendrecv");
    assert!(!build_answer(&plain, &options(vec![1])).unwrap().media[0].rtcp_mux());
}

#[test]
fn no_common_codec_is_an_error_for_a_488() {
    let offer = SessionDescription::parse(PHONE_OFFER).unwrap();
    let mut opts = options(vec![40000]);
    opts.codecs = vec![Codec::new("G729", 8000)];
    assert_eq!(build_answer(&offer, &opts), Err(AnswerError::NoCommonCodec));
}

#[test]
fn unsupported_streams_are_rejected_with_port_zero_in_place() {
    let offer = SessionDescription::parse(&ipv6_body("ipv6-in-sdp")).unwrap();
    let mut opts = options(vec![40000, 40002]);
    opts.codecs = vec![Codec::new("G726-32", 8000)];
    let answer = build_answer(&offer, &opts).unwrap();
    assert_eq!(answer.media.len(), 2);
    assert_eq!((answer.media[0].port, answer.media[1].port), (40000, 0));
    assert_eq!(answer.media[1].media, "video");
    assert_eq!(answer.media[1].formats, ["107"]);
    assert!(
        SessionDescription::parse(&answer.serialize())
            .unwrap()
            .media[1]
            .is_rejected()
    );
}

#[test]
fn answer_direction_follows_rfc3264_rules() {
    let cases = [
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
        ("sendrecv", Direction::SendRecv),
    ];
    for (offered, expected) in cases {
        let answer = build_answer(&offer_with_direction(offered), &options(vec![1])).unwrap();
        assert_eq!(answer.media[0].direction(&answer), expected, "{offered}");
    }
    assert_eq!(
        answer_direction(Direction::SendRecv, Direction::SendOnly),
        Direction::SendOnly
    );
    assert_eq!(
        answer_direction(Direction::SendOnly, Direction::SendOnly),
        Direction::Inactive
    );
}

#[test]
fn media_direction_overrides_session_direction() {
    let sdp = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
         m=audio 4000 RTP/AVP 0\r\na=recvonly\r\nm=audio 4002 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert_eq!(sdp.media[0].direction(&sdp), Direction::RecvOnly);
    assert_eq!(sdp.media[1].direction(&sdp), Direction::SendOnly);
}

#[test]
fn hold_is_detected_from_direction_or_legacy_zero_address() {
    assert!(offer_with_direction("sendonly").is_on_hold());
    assert!(offer_with_direction("inactive").is_on_hold());
    assert!(!offer_with_direction("recvonly").is_on_hold());
    assert!(!offer_with_direction("sendrecv").is_on_hold());
    let legacy = SessionDescription::parse(
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    assert!(legacy.is_on_hold());
    let mut unhold = offer_with_direction("sendonly");
    unhold.media[0].set_direction(Direction::SendRecv);
    assert!(!unhold.is_on_hold());
}

fn arb_sdp() -> impl Strategy<Value = SessionDescription> {
    let token = "[a-z][a-z0-9-]{0,8}";
    let attr = (token, proptest::option::of("[ -~]{0,12}"))
        .prop_map(|(n, v)| Attribute { name: n, value: v });
    let media = (
        "(audio|video)",
        any::<u16>(),
        proptest::collection::vec("[0-9]{1,3}", 1..4),
        proptest::collection::vec(attr.clone(), 0..4),
    )
        .prop_map(|(media, port, formats, attributes)| MediaDescription {
            media,
            port,
            port_count: None,
            proto: "RTP/AVP".into(),
            formats,
            info: None,
            connections: vec![Connection::from_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))],
            bandwidths: Vec::new(),
            key: None,
            attributes,
        });
    (
        any::<u64>(),
        "[ -~]{0,16}",
        any::<Ipv4Addr>(),
        proptest::collection::vec(attr, 0..4),
        proptest::collection::vec(media, 0..3),
    )
        .prop_map(
            |(version, name, ip, attributes, media)| SessionDescription {
                origin: Origin {
                    username: "u".into(),
                    session_id: "42".into(),
                    session_version: version,
                    addr_type: AddrType::Ip4,
                    address: ip.to_string(),
                },
                session_name: name,
                info: None,
                uri: None,
                emails: Vec::new(),
                phones: Vec::new(),
                connection: Some(Connection::from_ip(IpAddr::V4(ip))),
                bandwidths: Vec::new(),
                timings: vec![Timing {
                    start: 0,
                    stop: 0,
                    repeats: Vec::new(),
                }],
                zone: None,
                key: None,
                attributes,
                media,
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_the_parser(input in "\\PC{0,400}") {
        let _ = SessionDescription::parse(&input);
    }

    #[test]
    fn arbitrary_sdp_like_lines_never_panic_the_parser(
        lines in proptest::collection::vec("[vosctmab]=[ -~]{0,30}", 0..12)
    ) {
        if let Ok(offer) = SessionDescription::parse(&lines.join("\r\n")) {
            let _ = offer.is_on_hold();
            let ports = vec![4000; offer.media.len()];
            if let Ok(answer) = build_answer(&offer, &options(ports)) {
                prop_assert_eq!(answer.media.len(), offer.media.len());
                prop_assert!(SessionDescription::parse(&answer.serialize()).is_ok());
            }
        }
    }

    #[test]
    fn serialized_descriptions_parse_back_equal(sdp in arb_sdp()) {
        let text = sdp.serialize();
        let parsed = SessionDescription::parse(&text);
        // rtpmap/rtcp values from the generator may be malformed; the parser rejects those.
        if sdp.media.iter().flat_map(|m| &m.attributes).all(|a| a.name != "rtpmap" && a.name != "rtcp") {
            prop_assert_eq!(parsed.unwrap(), sdp);
        }
    }
}

#[test]
fn telephone_event_alone_is_not_a_common_codec() {
    let offer = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n",
    )
    .unwrap();
    let mut opts = options(vec![40000]);
    opts.codecs.push(Codec::new("telephone-event", 8000));
    assert_eq!(build_answer(&offer, &opts), Err(AnswerError::NoCommonCodec));
}

#[test]
fn telephone_event_is_dropped_when_told_not_to_keep_it() {
    let offer = SessionDescription::parse(PHONE_OFFER).unwrap();
    let mut opts = options(vec![40000]);
    opts.telephone_event = false;
    assert_eq!(
        build_answer(&offer, &opts).unwrap().media[0].formats,
        ["0", "8"]
    );
}

#[test]
fn non_utf8_body_is_rejected() {
    assert_eq!(
        SessionDescription::parse_bytes(b"v=0\r\ns=\xff\r\n"),
        Err(SdpError::NotUtf8)
    );
}
