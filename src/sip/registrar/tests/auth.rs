//! Authentication as a phone or an attacker sees it: challenges, failures that look alike,
//! bans, stale nonces, replays and identity checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[tokio::test]
async fn unauthenticated_register_is_challenged_with_each_algorithm_preferred_first() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let req = phone.request(CONTACT_A, None);
    let response = rig.send(&req, phone.source, 0).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<Challenge> = response
        .headers()
        .get_all(HeaderName::WwwAuthenticate)
        .map(|v| Challenge::parse(v.to_str().unwrap()).unwrap())
        .collect();
    let algorithms: Vec<String> = challenges
        .iter()
        .map(|c| c.algorithm().to_string())
        .collect();
    assert_eq!(algorithms, ["SHA-256", "MD5"]);
    assert!(
        challenges
            .iter()
            .all(|c| c.realm() == "example.com" && !c.is_stale())
    );
    assert!(header(&response, HeaderName::To).unwrap().contains(";tag="));
    assert!(rig.bindings("1000", 0).await.is_empty());
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let rig = Rig::new();
    let mut known = Phone::new("1000", "wrong").from("192.0.2.10:5070");
    let mut unknown = Phone::new("4242", "whatever").from("192.0.2.11:5070");
    let first_known = rig
        .send(&known.request(CONTACT_A, None), known.source, 0)
        .await;
    let first_unknown = rig
        .send(&unknown.request(CONTACT_A, None), unknown.source, 0)
        .await;
    assert_eq!(shape(&first_known), shape(&first_unknown));
    assert_eq!(first_known.status(), StatusCode::UNAUTHORIZED);

    let known_failure = known.register(&rig, CONTACT_A, 1).await;
    let unknown_failure = unknown.register(&rig, CONTACT_A, 1).await;
    assert_eq!(known_failure.status(), StatusCode::FORBIDDEN);
    assert_eq!(shape(&known_failure), shape(&unknown_failure));
}

#[tokio::test]
async fn source_is_banned_after_max_failures_even_with_the_right_password() {
    let rig = Rig::new();
    let mut attacker = Phone::new("1000", "guess").from("198.51.100.7:5060");
    for _ in 0..3 {
        assert_eq!(
            attacker.register(&rig, CONTACT_A, 1).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    // Banned: no challenge any more, and even right credentials are not looked at.
    let plain = rig
        .send(&attacker.request(CONTACT_A, None), attacker.source, 2)
        .await;
    assert_eq!(plain.status(), StatusCode::FORBIDDEN);
    attacker.password = "pw-1001".to_owned();
    attacker.user = "1001".to_owned();
    attacker.to_user = "1001".to_owned();
    assert_eq!(
        attacker.register(&rig, CONTACT_A, 3).await.status(),
        StatusCode::FORBIDDEN
    );
    // Other sources are unaffected.
    let mut other = Phone::new("1001", "pw-1001").from("192.0.2.50:5060");
    assert_eq!(
        other.register(&rig, CONTACT_A, 3).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn user_is_banned_after_failures_spread_over_sources() {
    let rig = Rig::new();
    for (i, source) in [
        "198.51.100.1:5060",
        "198.51.100.2:5060",
        "198.51.100.3:5060",
    ]
    .into_iter()
    .enumerate()
    {
        let mut attacker = Phone::new("1000", &format!("guess{i}")).from(source);
        assert_eq!(
            attacker.register(&rig, CONTACT_A, 1).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let mut owner = Phone::new("1000", "pw-1000").from("192.0.2.10:5070");
    assert_eq!(
        owner.register(&rig, CONTACT_A, 2).await.status(),
        StatusCode::FORBIDDEN
    );
    let mut neighbour = Phone::new("1001", "pw-1001").from("192.0.2.10:5070");
    assert_eq!(
        neighbour.register(&rig, CONTACT_A, 2).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn unknown_user_names_are_banned_like_known_ones() {
    let rig = Rig::new();
    for source in [
        "198.51.100.1:5060",
        "198.51.100.2:5060",
        "198.51.100.3:5060",
    ] {
        let mut attacker = Phone::new("4242", "guess").from(source);
        attacker.register(&rig, CONTACT_A, 1).await;
    }
    let mut probe = Phone::new("4242", "guess").from("198.51.100.9:5060");
    let first = rig
        .send(&probe.request(CONTACT_A, None), probe.source, 2)
        .await;
    assert_eq!(first.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ban_lapses_after_its_duration() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "wrong");
    for _ in 0..3 {
        phone.register(&rig, CONTACT_A, 0).await;
    }
    phone.password = "pw-1000".to_owned();
    assert_eq!(
        phone.register(&rig, CONTACT_A, 299).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        phone.register(&rig, CONTACT_A, 300).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn stale_nonce_with_right_password_is_rechallenged_with_stale_true() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let challenge = rig
        .send(&phone.request(CONTACT_A, None), phone.source, 0)
        .await;
    let credentials = phone.answer(&challenge);
    let late = phone.request(CONTACT_A, Some(&credentials));
    let response = rig.send(&late, phone.source, 301).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let fresh = Challenge::parse(&header(&response, HeaderName::WwwAuthenticate).unwrap()).unwrap();
    assert!(fresh.is_stale());
    phone.nc = 0;
    let credentials = phone.answer(&response);
    let retry = phone.request(CONTACT_A, Some(&credentials));
    assert_eq!(
        rig.send(&retry, phone.source, 302).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn stale_nonce_with_wrong_password_is_refused_not_rechallenged() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "wrong");
    let challenge = rig
        .send(&phone.request(CONTACT_A, None), phone.source, 0)
        .await;
    let credentials = phone.answer(&challenge);
    let late = phone.request(CONTACT_A, Some(&credentials));
    assert_eq!(
        rig.send(&late, phone.source, 301).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn replayed_nonce_count_is_rechallenged_and_next_count_accepted() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let challenge = rig
        .send(&phone.request(CONTACT_A, None), phone.source, 0)
        .await;
    let credentials = phone.answer(&challenge);
    let first = phone.request(CONTACT_A, Some(&credentials));
    assert_eq!(
        rig.send(&first, phone.source, 1).await.status(),
        StatusCode::OK
    );
    // The same nc again, even inside a new request: a replay.
    let replay = phone.request(CONTACT_A, Some(&credentials));
    let response = rig.send(&replay, phone.source, 2).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        Challenge::parse(&header(&response, HeaderName::WwwAuthenticate).unwrap())
            .unwrap()
            .is_stale()
    );
    // The next nc with the same nonce is fine.
    let credentials = phone.answer(&challenge);
    let next = phone.request(CONTACT_A, Some(&credentials));
    assert_eq!(
        rig.send(&next, phone.source, 3).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn forged_nonce_is_rechallenged_without_counting_a_failure() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let forged = "Digest username=\"1000\", realm=\"example.com\", nonce=\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\", uri=\"sip:example.com\", response=\"00000000000000000000000000000000\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\"";
    for i in 0..5 {
        let req = phone.request(CONTACT_A, Some(forged));
        let response = rig.send(&req, phone.source, i).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert!(rig.guard.bans().is_empty());
    assert_eq!(
        phone.register(&rig, CONTACT_A, 6).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn authenticated_user_cannot_register_someone_elses_aor() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.to_user = "1001".to_owned();
    let response = phone.register(&rig, CONTACT_A, 0).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(rig.bindings("1001", 0).await.is_empty());
    assert!(
        rig.guard.bans().is_empty(),
        "a mismatch is not a guessed password"
    );
}

#[tokio::test]
async fn proxy_challenges_use_407_and_proxy_authenticate() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let req = phone.request("", None);
    let source = phone.source.ip();
    let AuthDecision::Respond(response) =
        rig.guard
            .check(&req, source, ChallengeKind::Proxy, Some("1000"), rig.at(0))
    else {
        panic!("expected a challenge");
    };
    assert_eq!(response.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    assert_eq!(
        response
            .headers()
            .get_all(HeaderName::ProxyAuthenticate)
            .count(),
        2
    );
    assert!(
        response
            .headers()
            .get(HeaderName::WwwAuthenticate)
            .is_none()
    );
}

#[tokio::test]
async fn digest_uri_naming_another_resource_gets_400() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let challenge = rig
        .send(&phone.request(CONTACT_A, None), phone.source, 0)
        .await;
    phone.request_uri = "sip:other.example.com".to_owned();
    let credentials = phone.answer(&challenge);
    phone.request_uri = "sip:example.com".to_owned();
    let req = phone.request(CONTACT_A, Some(&credentials));
    assert_eq!(
        rig.send(&req, phone.source, 1).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert!(rig.bindings("1000", 1).await.is_empty());
}
