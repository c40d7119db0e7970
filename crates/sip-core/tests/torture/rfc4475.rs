//! RFC 4475 torture messages: verdicts per file and the notable content of accepted ones.

use bytes::Bytes;
use sip_core::message::{Host, Message, Method, Rport, StatusCode, Uri};

use super::Outcome::{Accept, Drop, Respond};
use super::{Outcome, data_dir, rfc4475, rfc5118, server_outcome};

/// Our verdict per RFC 4475 file (see VERDICTS.md for the reasoning).
pub(crate) const RFC4475_VERDICTS: &[(&str, Outcome)] = &[
    ("wsinv.dat", Accept),
    ("intmeth.dat", Accept),
    ("esc01.dat", Accept),
    ("escnull.dat", Accept),
    ("esc02.dat", Accept),
    ("lwsdisp.dat", Accept),
    ("longreq.dat", Accept),
    ("dblreq.dat", Accept),
    ("semiuri.dat", Accept),
    ("transports.dat", Accept),
    ("mpart01.dat", Accept),
    ("unreason.dat", Accept),
    ("noreason.dat", Accept),
    ("badinv01.dat", Respond(400)),
    ("clerr.dat", Respond(400)),
    ("ncl.dat", Respond(400)),
    ("scalar02.dat", Respond(400)),
    ("scalarlg.dat", Drop),
    ("quotbal.dat", Respond(400)),
    ("ltgtruri.dat", Respond(400)),
    ("lwsruri.dat", Respond(400)),
    ("lwsstart.dat", Respond(400)),
    ("trws.dat", Respond(400)),
    ("escruri.dat", Respond(400)),
    ("baddate.dat", Accept),
    ("regbadct.dat", Respond(400)),
    ("badaspec.dat", Respond(400)),
    ("baddn.dat", Respond(400)),
    ("badvers.dat", Respond(505)),
    ("mismatch01.dat", Respond(400)),
    ("mismatch02.dat", Respond(400)),
    ("bigcode.dat", Drop),
    ("badbranch.dat", Accept),
    ("insuf.dat", Respond(400)),
    ("unkscm.dat", Respond(416)),
    ("novelsc.dat", Respond(416)),
    ("unksm2.dat", Accept),
    ("bext01.dat", Accept),
    ("invut.dat", Accept),
    ("regaut01.dat", Accept),
    ("multi01.dat", Respond(400)),
    ("mcl01.dat", Respond(400)),
    ("bcast.dat", Accept),
    ("zeromf.dat", Accept),
    ("cparam01.dat", Accept),
    ("cparam02.dat", Accept),
    ("regescrt.dat", Accept),
    ("sdp01.dat", Accept),
    ("inv2543.dat", Accept),
    ("test.dat", Drop),
];

/// REJECT files where the RFC allows a liberal element to accept and we do.
const LIBERAL_ACCEPTS: &[&str] = &["baddate.dat"];

struct IndexRow {
    file: String,
    parser_must: String,
}

fn rfc4475_index() -> Vec<IndexRow> {
    let text = String::from_utf8(rfc4475("index.tsv").to_vec()).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            IndexRow {
                file: cols[0].to_owned(),
                parser_must: cols[4].to_owned(),
            }
        })
        .collect()
}

fn verdict(file: &str) -> Outcome {
    RFC4475_VERDICTS
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, o)| *o)
        .unwrap_or_else(|| panic!("{file} has no verdict"))
}

#[test]
fn every_rfc4475_file_gets_its_documented_verdict() {
    let index = rfc4475_index();
    assert_eq!(index.len(), 50);
    assert_eq!(RFC4475_VERDICTS.len(), index.len());
    let mut wrong = Vec::new();
    for row in &index {
        let got = server_outcome(rfc4475(&row.file));
        if got != verdict(&row.file) {
            wrong.push(format!(
                "{}: got {got:?}, want {:?}",
                row.file,
                verdict(&row.file)
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn verdicts_agree_with_the_rfc4475_index() {
    for row in rfc4475_index() {
        let ours = verdict(&row.file);
        let must = row.parser_must.as_str();
        if must.starts_with("ACCEPT") {
            // The parser must accept; the server may still answer with an error status.
            assert!(
                Message::parse(rfc4475(&row.file)).is_ok(),
                "{} must parse",
                row.file
            );
            if must == "ACCEPT" {
                assert_eq!(ours, Accept, "{} must be accepted", row.file);
            }
        } else if must.starts_with("REJECT (parse ok") {
            assert!(Message::parse(rfc4475(&row.file)).is_ok(), "{}", row.file);
            assert_ne!(ours, Accept, "{}", row.file);
        } else if must.contains("liberal accept allowed")
            && LIBERAL_ACCEPTS.contains(&row.file.as_str())
        {
            assert_eq!(ours, Accept, "{}", row.file);
        } else {
            assert!(must.starts_with("REJECT"), "{}: {must}", row.file);
            assert_ne!(ours, Accept, "{} must be rejected", row.file);
        }
    }
}

#[test]
fn rejected_requests_get_an_error_response_that_echoes_via_and_cseq() {
    for (file, outcome) in RFC4475_VERDICTS {
        let Respond(code) = outcome else { continue };
        let err = match Message::parse(rfc4475(file)) {
            Err(e) => e,
            Ok(Message::Request(r)) => r.validate().unwrap_err(),
            Ok(Message::Response(_)) => panic!("{file}: responses are never answered"),
        };
        let mut resp = err
            .error_response()
            .unwrap_or_else(|| panic!("{file}: no response"));
        assert_eq!(resp.status().as_u16(), *code, "{file}");
        resp.set_to_tag("srv1");
        let req = err.partial_request().unwrap();
        assert_eq!(
            resp.headers()
                .get_all(sip_core::message::HeaderName::Via)
                .count(),
            req.headers()
                .get_all(sip_core::message::HeaderName::Via)
                .count(),
            "{file}"
        );
        let wire = resp.encode();
        let back = Message::parse(wire).unwrap();
        assert_eq!(back.as_response().unwrap().status().as_u16(), *code);
        assert!(
            back.headers().cseq().is_ok() || file == &"scalar02.dat",
            "{file}"
        );
    }
}

#[test]
fn accepted_messages_survive_encode_and_reparse() {
    let files = RFC4475_VERDICTS
        .iter()
        .filter(|(_, o)| *o == Accept)
        .map(|(f, _)| rfc4475(f))
        .chain(
            super::rfc5118::RFC5118_VERDICTS
                .iter()
                .filter(|(_, o)| *o == Accept)
                .map(|(f, _)| rfc5118(f)),
        );
    for bytes in files {
        let first = Message::parse(bytes).unwrap();
        let second = Message::parse(first.encode()).unwrap();
        assert_eq!(first.body(), second.body());
        let third = Message::parse(second.encode()).unwrap();
        assert_eq!(second, third);
        // Everything but the recomputed Content-Length is kept as parsed.
        let strip = |m: &Message| {
            m.headers()
                .iter()
                .filter(|(n, _)| **n != sip_core::message::HeaderName::ContentLength)
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&first), strip(&second));
    }
}

fn request(file: &str) -> sip_core::message::Request {
    match Message::parse(rfc4475(file)).unwrap() {
        Message::Request(r) => r,
        Message::Response(_) => panic!("{file} is a response"),
    }
}

#[test]
fn wsinv_folded_and_compact_headers_are_read() {
    let r = request("wsinv.dat");
    let h = r.headers();
    let vias = h.via().unwrap();
    let summary: Vec<(String, String, Option<&str>)> = vias
        .iter()
        .map(|v| (v.transport().to_owned(), v.host().to_string(), v.branch()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("UDP".into(), "192.0.2.2".into(), Some("390skdjuw")),
            (
                "TCP".into(),
                "spindle.example.com".into(),
                Some("z9hG4bK9ikj8")
            ),
            ("UDP".into(), "192.168.255.111".into(), Some("z9hG4bK30239")),
        ]
    );
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    let from = h.from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.max_forwards().unwrap(), Some(68));
    let cseq = h.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    assert_eq!(h.call_id().unwrap(), "wsinv.ndaksdj@192.0.2.1");
    let other = sip_core::message::HeaderName::parse("NewFangledHeader").unwrap();
    assert_eq!(
        h.get(other).unwrap().as_bytes(),
        b"newfangled value continued newfangled value"
    );
    let contacts = h.contact().unwrap();
    let c = &contacts.contacts()[0];
    assert_eq!(c.display_name(), Some("Quoted string \"\""));
    assert_eq!(c.q_millis(), Some(330));
    assert_eq!(c.params().value("newparam"), Some("newvalue"));
    assert!(c.params().contains("secondparam"));
    assert_eq!(h.route().unwrap().len(), 1);
    assert_eq!(h.content_type(), Some("application/sdp"));
    assert_eq!(r.body().len(), 150);
    assert_eq!(h.content_length().unwrap(), Some(150));
    r.validate().unwrap();
}

#[test]
fn intmeth_exotic_tokens_are_kept_verbatim() {
    let r = request("intmeth.dat");
    let m = "!interesting-Method0123456789_*+`.%indeed'~";
    assert_eq!(r.method(), &Method::Extension(m.into()));
    assert_eq!(
        r.headers().cseq().unwrap().method,
        Method::Extension(m.into())
    );
    let to = r.headers().to().unwrap();
    assert_eq!(to.display_name.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    let uri = r.uri().as_sip().unwrap();
    assert_eq!(
        uri.user(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        uri.password(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let from = r.headers().from().unwrap();
    assert_eq!(
        from.display_name.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        r.headers().top_via().unwrap().branch(),
        Some("z9hG4bK-.!%66*_+`'~")
    );
}

#[test]
fn esc01_escapes_compare_unescaped() {
    let r = request("esc01.dat");
    let ruri = r.uri().as_sip().unwrap();
    assert_eq!(ruri.user_unescaped().unwrap(), b"sips:user@example.com");
    assert_eq!(ruri.host(), &Host::Domain("example.net".into()));
    let to = r.headers().to().unwrap();
    assert!(
        to.uri
            .equivalent(&Uri::parse("sip:user@example.com").unwrap())
    );
    let from = r.headers().from().unwrap();
    assert_eq!(
        from.uri.as_sip().unwrap().user_unescaped().unwrap(),
        b"I have spaces"
    );
    let contacts = r.headers().contact().unwrap();
    let curi = contacts.contacts()[0].uri().as_sip().unwrap();
    assert!(curi.params().contains("lr"));
    assert_eq!(curi.params().value("name"), Some("v%61lue%25%34%31"));
    assert!(
        curi.equivalent(
            &sip_core::message::SipUri::parse("sip:caller@host5.example.net;lr;name=value%2541")
                .unwrap()
        )
    );
}

#[test]
fn escnull_registers_two_distinct_contacts() {
    let r = request("escnull.dat");
    let contacts = r.headers().contact().unwrap();
    let users: Vec<Vec<u8>> = contacts
        .contacts()
        .iter()
        .map(|c| c.uri().as_sip().unwrap().user_unescaped().unwrap())
        .collect();
    assert_eq!(users, vec![vec![0u8], vec![0u8, 0u8]]);
    let to = r.headers().to().unwrap();
    let aor = to.uri.as_sip().unwrap();
    assert_eq!(aor.user_unescaped().unwrap(), b"null-\0-null");
    assert_eq!(aor.address_of_record(), "sip:null-%00-null@example.com");
}

#[test]
fn esc02_percent_in_tokens_is_not_an_escape() {
    let r = request("esc02.dat");
    assert_eq!(r.method(), &Method::Extension("RE%47IST%45R".into()));
    assert_eq!(
        r.headers().to().unwrap().display_name.as_deref(),
        Some("%Z%45")
    );
    // `C%6Fntact` is an unknown header, not Contact.
    assert_eq!(r.headers().contact().unwrap().contacts().len(), 2);
}

#[test]
fn lwsdisp_display_name_without_space_before_bracket_is_read() {
    let r = request("lwsdisp.dat");
    assert_eq!(
        r.headers().from().unwrap().display_name.as_deref(),
        Some("caller")
    );
}

#[test]
fn longreq_long_values_and_many_vias_are_read() {
    let raw = rfc4475("longreq.dat");
    let via_lines = raw
        .split(|&b| b == b'\n')
        .filter(|l| {
            let name = l
                .split(|&b| b == b':')
                .next()
                .unwrap()
                .trim_ascii()
                .to_ascii_lowercase();
            l.contains(&b':') && (name == b"via" || name == b"v")
        })
        .count();
    let r = request("longreq.dat");
    assert!(via_lines > 30);
    assert_eq!(r.headers().via().unwrap().len(), via_lines);
    assert!(r.headers().call_id().unwrap().len() > 100);
    assert!(
        r.headers()
            .to()
            .unwrap()
            .display_name
            .unwrap()
            .contains("extremeextreme")
    );
}

#[test]
fn dblreq_trailing_octets_past_content_length_are_ignored() {
    let r = request("dblreq.dat");
    assert_eq!(r.method(), &Method::Register);
    assert!(r.body().is_empty());
    assert!(!r.encode().windows(6).any(|w| w == b"INVITE"));
}

#[test]
fn semiuri_user_part_keeps_its_semicolon() {
    let r = request("semiuri.dat");
    let u = r.uri().as_sip().unwrap();
    assert_eq!(u.user(), Some("user;par=u%40example.net"));
    assert_eq!(u.host(), &Host::Domain("example.com".into()));
    assert!(u.params().is_empty());
}

#[test]
fn transports_all_via_transports_are_kept() {
    let r = request("transports.dat");
    let t: Vec<String> = r
        .headers()
        .via()
        .unwrap()
        .iter()
        .map(|v| v.transport().to_owned())
        .collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
}

#[test]
fn mpart01_binary_body_is_framed_by_content_length() {
    let r = request("mpart01.dat");
    let len = r.headers().content_length().unwrap().unwrap();
    assert_eq!(r.body().len(), len);
    assert!(r.body().contains(&0));
    assert_eq!(r.headers().top_via().unwrap().rport(), Rport::Requested);
}

#[test]
fn unusual_and_empty_reason_phrases_are_accepted() {
    let Message::Response(r) = Message::parse(rfc4475("unreason.dat")).unwrap() else {
        panic!("unreason is a response")
    };
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.reason().starts_with("= 2**3 * 5**2 "));
    assert!(!r.reason().is_ascii());
    let Message::Response(n) = Message::parse(rfc4475("noreason.dat")).unwrap() else {
        panic!("noreason is a response")
    };
    assert_eq!(n.status(), StatusCode::TRYING);
    assert_eq!(n.reason(), "");
}

#[test]
fn badbranch_bare_magic_cookie_falls_back_to_rfc2543_matching() {
    let r = request("badbranch.dat");
    let v = r.headers().top_via().unwrap();
    assert_eq!(v.branch(), Some("z9hG4bK"));
    assert!(!v.is_rfc3261_branch());
}

#[test]
fn contact_parameters_and_uri_parameters_are_distinguished() {
    let c1 = request("cparam01.dat").headers().contact().unwrap();
    let c = &c1.contacts()[0];
    assert!(c.params().contains("unknownparam"));
    assert!(c.uri().as_sip().unwrap().params().is_empty());
    let c2 = request("cparam02.dat").headers().contact().unwrap();
    let c = &c2.contacts()[0];
    assert!(c.params().is_empty());
    assert!(c.uri().as_sip().unwrap().params().contains("unknownparam"));
}

#[test]
fn regescrt_contact_keeps_its_escaped_route_header() {
    let list = request("regescrt.dat").headers().contact().unwrap();
    let uri = list.contacts()[0].uri().as_sip().unwrap();
    assert_eq!(
        uri.headers(),
        &[("Route".to_owned(), "%3Csip:sip.example.com%3E".to_owned())]
    );
    assert_eq!(
        uri.to_string(),
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
}

#[test]
fn inv2543_old_style_request_is_accepted() {
    let r = request("inv2543.dat");
    assert_eq!(r.headers().top_via().unwrap().branch(), None);
    assert_eq!(r.headers().from().unwrap().tag(), None);
    assert_eq!(r.headers().max_forwards().unwrap(), None);
    assert_eq!(r.headers().content_length().unwrap(), None);
    assert!(r.body().starts_with(b"v=0"));
}

#[test]
fn unksm2_unknown_schemes_in_headers_are_opaque() {
    let r = request("unksm2.dat");
    assert_eq!(r.headers().to().unwrap().uri.scheme(), "isbn");
    assert_eq!(r.headers().from().unwrap().uri.scheme(), "http");
    let c = r.headers().contact().unwrap();
    assert_eq!(c.contacts()[0].uri().scheme(), "name");
}

#[test]
fn bcast_second_via_is_the_broadcast_address() {
    let m = Message::parse(rfc4475("bcast.dat")).unwrap();
    let vias = m.headers().via().unwrap();
    assert_eq!(
        vias[1].host(),
        &Host::Ipv4("255.255.255.255".parse().unwrap())
    );
}

#[test]
fn zeromf_max_forwards_zero_is_read() {
    assert_eq!(
        request("zeromf.dat").headers().max_forwards().unwrap(),
        Some(0)
    );
}

#[test]
fn scalar02_overlarge_scalars_do_not_overflow() {
    let r = request("scalar02.dat");
    assert!(r.headers().cseq().is_err());
    assert_eq!(r.headers().expires(), None);
    assert_eq!(r.headers().max_forwards().unwrap(), Some(300));
    let c = r.headers().contact().unwrap();
    assert_eq!(c.contacts()[0].expires(), None);
}

#[test]
fn multi01_duplicate_single_value_headers_are_refused() {
    let err = request("multi01.dat").validate().unwrap_err();
    assert!(matches!(
        err.kind(),
        sip_core::message::ParseErrorKind::DuplicateHeader(_)
    ));
}

#[test]
fn rfc4475_variants_do_not_panic() {
    let dir = data_dir().join("rfc4475/variants");
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = Bytes::from(std::fs::read(entry.unwrap().path()).unwrap());
        // No empty line ends the header section: malformed, answered from what was readable.
        assert_eq!(server_outcome(bytes), Respond(400));
    }
}
