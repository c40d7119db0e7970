//! Registrar behaviour SIPp cannot express, driven by the test phone: several contacts, the `*`
//! wildcard, minimum expiry, expiry over time, Call-ID/CSeq ordering, and no user enumeration.

use std::time::{Duration, Instant};

use crate::harness::{Profile, Switch, password_of};
use crate::phone::{Phone, contacts_of};

fn status(response: &sip_core::message::Response) -> u16 {
    response.status().as_u16()
}

#[test]
fn several_contacts_on_one_aor_are_all_listed_with_their_expiry() {
    let switch = Switch::start();
    let mut desk = Phone::new(&switch, "1000", &password_of(1000));
    let ok = desk.register(
        &[
            "<sip:1000@192.0.2.1:5060>;expires=300, <sip:1000@192.0.2.2:5060>;expires=400",
            "<sip:1000@192.0.2.3:5060>",
        ],
        Some(500),
    );
    assert_eq!(status(&ok), 200, "{ok:?}");
    let mut bound = contacts_of(&ok);
    bound.sort();
    assert_eq!(
        bound,
        vec![
            ("sip:1000@192.0.2.1:5060".to_owned(), Some(300)),
            ("sip:1000@192.0.2.2:5060".to_owned(), Some(400)),
            ("sip:1000@192.0.2.3:5060".to_owned(), Some(500)),
        ],
        "each contact keeps its own expiry; Expires applies where the contact has none"
    );

    // A second device of the same user (its own Call-ID) adds to the set.
    let mut mobile = Phone::new(&switch, "1000", &password_of(1000));
    let ok = mobile.register(&["<sip:1000@198.51.100.7:5060>"], None);
    assert_eq!(status(&ok), 200);
    let listed: Vec<String> = contacts_of(&ok).into_iter().map(|(uri, _)| uri).collect();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(listed.contains(&"sip:1000@198.51.100.7:5060".to_owned()));
    assert!(listed.contains(&"sip:1000@192.0.2.1:5060".to_owned()));
}

#[test]
fn wildcard_with_expires_zero_removes_every_binding() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1001", &password_of(1001));
    let ok = phone.register(
        &["<sip:1001@192.0.2.1:5060>", "<sip:1001@192.0.2.2:5060>"],
        Some(300),
    );
    assert_eq!(contacts_of(&ok).len(), 2);

    let cleared = phone.register(&["*"], Some(0));
    assert_eq!(status(&cleared), 200);
    assert!(
        contacts_of(&cleared).is_empty(),
        "the 200 to `*` lists no binding"
    );
    assert!(phone.bindings().is_empty(), "a later query finds none");
}

#[test]
fn wildcard_without_expires_zero_is_refused_with_400() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1001", &password_of(1001));
    phone.register(&["<sip:1001@192.0.2.1:5060>"], Some(300));
    // RFC 3261 §10.3 step 6: `*` is only valid with Expires: 0.
    let refused = phone.register(&["*"], Some(300));
    assert_eq!(status(&refused), 400);
    assert_eq!(phone.bindings().len(), 1, "the binding is untouched");
}

#[test]
fn expiry_below_the_minimum_gets_423_with_min_expires() {
    let profile = Profile {
        min_expires: 60,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut phone = Phone::new(&switch, "1002", &password_of(1002));
    let brief = phone.register(&["<sip:1002@192.0.2.1:5060>"], Some(10));
    assert_eq!(status(&brief), 423);
    assert_eq!(brief.headers().min_expires(), Some(60));
    assert!(phone.bindings().is_empty(), "nothing was bound");

    // Following the 423's advice works.
    let ok = phone.register(&["<sip:1002@192.0.2.1:5060>"], Some(60));
    assert_eq!(status(&ok), 200);
}

#[test]
fn expiry_above_the_maximum_is_lowered_to_the_maximum() {
    let profile = Profile {
        max_expires: 3600,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut phone = Phone::new(&switch, "1002", &password_of(1002));
    let ok = phone.register(&["<sip:1002@192.0.2.1:5060>"], Some(86_400));
    assert_eq!(status(&ok), 200);
    assert_eq!(
        contacts_of(&ok),
        vec![("sip:1002@192.0.2.1:5060".to_owned(), Some(3600))]
    );
}

#[test]
fn a_binding_is_gone_once_it_expires() {
    let profile = Profile {
        min_expires: 1,
        default_expires: 2,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut phone = Phone::new(&switch, "1003", &password_of(1003));
    let ok = phone.register(&["<sip:1003@192.0.2.1:5060>"], Some(2));
    assert_eq!(contacts_of(&ok).len(), 1);

    let registered = Instant::now();
    let deadline = registered + Duration::from_secs(20);
    loop {
        let bindings = phone.bindings();
        if bindings.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "binding still listed {:?} after registering for 2 s: {bindings:?}",
            registered.elapsed()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        registered.elapsed() >= Duration::from_secs(1),
        "the binding lived until about its expiry, not less"
    );
}

#[test]
fn registrations_follow_call_id_and_cseq_order() {
    let switch = Switch::start();
    let mut phone = Phone::new(&switch, "1004", &password_of(1004));
    phone.set_cseq(10);
    let ok = phone.register(&["<sip:1004@192.0.2.1:5060>"], Some(300));
    assert_eq!(status(&ok), 200);

    // A refresh with a higher CSeq on the same Call-ID updates the binding.
    phone.set_cseq(20);
    let refreshed = phone.register(&["<sip:1004@192.0.2.1:5060>"], Some(600));
    assert_eq!(
        contacts_of(&refreshed),
        vec![("sip:1004@192.0.2.1:5060".to_owned(), Some(600))]
    );

    // RFC 3261 §10.3 step 7: same Call-ID, lower CSeq: the update is aborted.
    phone.set_cseq(5);
    let stale = phone.register(&["<sip:1004@192.0.2.1:5060>"], Some(0));
    assert!(
        status(&stale) >= 400,
        "an out-of-order REGISTER must fail, got {}",
        status(&stale)
    );
    phone.set_cseq(100);
    assert_eq!(
        phone.bindings().len(),
        1,
        "the out-of-order removal did not apply"
    );

    // A different Call-ID is another UA instance: any CSeq is accepted (RFC 3261 §10.3 step 7).
    phone.new_call_id("another-instance@127.0.0.1");
    let removed = phone.register(&["<sip:1004@192.0.2.1:5060>"], Some(0));
    assert_eq!(status(&removed), 200);
    assert!(contacts_of(&removed).is_empty());
}

#[test]
fn an_unknown_user_is_indistinguishable_from_a_wrong_password() {
    let profile = Profile {
        max_failures: 50,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut known = Phone::new(&switch, "1000", "wrong-password");
    let mut unknown = Phone::new(&switch, "7777", "wrong-password");

    let known_challenge = known.register_once(&["<sip:1000@192.0.2.1>"], None, None);
    let unknown_challenge = unknown.register_once(&["<sip:7777@192.0.2.1>"], None, None);
    assert_eq!(status(&known_challenge), 401);
    assert_eq!(shape(&known_challenge), shape(&unknown_challenge));

    let known_final = known.register_once(&["<sip:1000@192.0.2.1>"], None, Some(&known_challenge));
    let unknown_final =
        unknown.register_once(&["<sip:7777@192.0.2.1>"], None, Some(&unknown_challenge));
    assert_eq!(status(&known_final), 403);
    assert_eq!(shape(&known_final), shape(&unknown_final));
}

/// What an observer can compare between two responses: status, reason, header names in order,
/// and the challenge parameters other than the per-request nonce.
fn shape(response: &sip_core::message::Response) -> (u16, String, Vec<String>, Vec<String>) {
    let names = response
        .headers()
        .iter()
        .map(|(name, _)| name.as_str().to_ascii_lowercase())
        .collect();
    let challenges = response
        .headers()
        .www_authenticate()
        .map(|v| {
            let text = v.to_string_lossy();
            text.split(',')
                .map(str::trim)
                .filter(|p| !p.starts_with("nonce=") && !p.starts_with("Digest nonce="))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    (
        status(response),
        response.reason().to_owned(),
        names,
        challenges,
    )
}

#[test]
fn repeated_failures_for_one_user_ban_that_user_from_any_source() {
    let profile = Profile {
        max_failures: 3,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut guesser = Phone::new(&switch, "1000", "guess");
    for _ in 0..3 {
        assert_eq!(
            status(&guesser.register(&["<sip:1000@192.0.2.1>"], None)),
            403
        );
    }
    // The real owner of 1000, from another address, is refused while the ban lasts...
    let mut owner = Phone::from_source(&switch, [127, 0, 0, 2], "1000", &password_of(1000));
    assert_eq!(
        status(&owner.register(&["<sip:1000@192.0.2.2>"], None)),
        403
    );
    // ...while another user from that address is not: the ban is on the user, not the address.
    let mut colleague = Phone::from_source(&switch, [127, 0, 0, 2], "1001", &password_of(1001));
    assert_eq!(
        status(&colleague.register(&["<sip:1001@192.0.2.3>"], None)),
        200
    );
    // And the guessing address is banned for every user.
    let mut other = Phone::new(&switch, "1002", &password_of(1002));
    assert_eq!(
        status(&other.register(&["<sip:1002@192.0.2.4>"], None)),
        403
    );
}

#[test]
fn sha_256_is_used_when_the_profile_prefers_it() {
    let profile = Profile {
        algorithms: vec!["SHA-256", "MD5"],
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    let mut phone = Phone::new(&switch, "1000", &password_of(1000));
    let challenge = phone.register_once(&["<sip:1000@192.0.2.1>"], None, None);
    let offered: Vec<String> = challenge
        .headers()
        .www_authenticate()
        .map(|v| v.to_string_lossy())
        .collect();
    assert_eq!(offered.len(), 2, "one challenge per algorithm: {offered:?}");
    assert!(
        offered[0].contains("SHA-256") && offered[1].contains("MD5"),
        "RFC 8760 §2.3: preferred first: {offered:?}"
    );
    // The phone answers the first challenge, i.e. with SHA-256.
    let ok = phone.register_once(&["<sip:1000@192.0.2.1>"], None, Some(&challenge));
    assert_eq!(status(&ok), 200);
}
