//! RFC 3261 §10.3 binding rules: expiry bounds, several contacts, q, ordering, wildcard,
//! queries, expiry and limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[tokio::test]
async fn authenticated_register_binds_contact_and_lists_it_with_expiry_and_date() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let response = phone.register(&rig, CONTACT_A, 0).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        contacts_of(&response),
        ["<sip:1000@192.0.2.10:5070>;expires=3600"]
    );
    assert!(
        header(&response, HeaderName::Date)
            .unwrap()
            .ends_with(" GMT")
    );
    assert!(header(&response, HeaderName::To).unwrap().contains(";tag="));
    assert_eq!(rig.bindings("1000", 1).await, ["sip:1000@192.0.2.10:5070"]);
    let stored = rig
        .store
        .bindings(&Aor::new("1000", "example.com"), UnixMillis(T0_MS))
        .await
        .unwrap();
    assert_eq!(stored[0].flow.remote, phone.source);
    assert_eq!(stored[0].user_agent.as_deref(), Some("test-phone/1.0"));
}

#[tokio::test]
async fn expiry_below_minimum_gets_423_with_min_expires() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let response = phone
        .register(
            &rig,
            "Contact: <sip:1000@192.0.2.10:5070>;expires=30\r\n",
            0,
        )
        .await;
    assert_eq!(response.status(), StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(
        header(&response, HeaderName::MinExpires).as_deref(),
        Some("60")
    );
    assert!(rig.bindings("1000", 0).await.is_empty());
    let response = phone
        .register(&rig, &format!("{CONTACT_A}Expires: 59\r\n"), 0)
        .await;
    assert_eq!(response.status(), StatusCode::INTERVAL_TOO_BRIEF);
}

#[tokio::test]
async fn contact_expires_wins_over_header_and_long_expiry_is_lowered_to_maximum() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let response = phone
        .register(
            &rig,
            "Contact: <sip:a@192.0.2.10>;expires=120, <sip:b@192.0.2.10>\r\n\
             Contact: <sip:c@192.0.2.10>;expires=99999\r\nExpires: 300\r\n",
            0,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        contacts_of(&response),
        [
            "<sip:a@192.0.2.10>;expires=120",
            "<sip:b@192.0.2.10>;expires=300",
            "<sip:c@192.0.2.10>;expires=7200",
        ]
    );
}

#[tokio::test]
async fn several_contacts_are_bound_with_their_q_values_echoed() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let response = phone
        .register(
            &rig,
            "Contact: <sip:desk@192.0.2.10>;q=0.9, <sip:mobile@192.0.2.20>;q=0.25\r\n",
            0,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        contacts_of(&response),
        [
            "<sip:desk@192.0.2.10>;expires=3600;q=0.9",
            "<sip:mobile@192.0.2.20>;expires=3600;q=0.25",
        ]
    );
    let bad_q = phone
        .register(&rig, "Contact: <sip:x@192.0.2.10>;q=1.5\r\n", 1)
        .await;
    assert_eq!(bad_q.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn register_without_contact_is_a_query_listing_remaining_lifetimes() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.register(&rig, CONTACT_A, 0).await;
    let response = phone.register(&rig, "", 600).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        contacts_of(&response),
        ["<sip:1000@192.0.2.10:5070>;expires=3000"]
    );
    assert_eq!(rig.bindings("1000", 601).await.len(), 1);
}

#[tokio::test]
async fn refresh_with_higher_cseq_extends_the_binding() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.register(&rig, CONTACT_A, 0).await;
    let response = phone.register(&rig, CONTACT_A, 3000).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        contacts_of(&response),
        ["<sip:1000@192.0.2.10:5070>;expires=3600"]
    );
    assert_eq!(rig.bindings("1000", 4000).await.len(), 1);
}

#[tokio::test]
async fn same_call_id_with_old_cseq_gets_500_and_changes_nothing() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.register(&rig, CONTACT_A, 0).await;
    // Replay an older CSeq with fresh credentials: out of order per RFC 3261 §10.3 step 7.
    let challenge = rig
        .send(&phone.request(CONTACT_A, None), phone.source, 1)
        .await;
    phone.nc = 0;
    let credentials = phone.answer(&challenge);
    phone.cseq = 0;
    let old = phone.request(
        "Contact: <sip:1000@192.0.2.10:5070>;expires=0\r\n",
        Some(&credentials),
    );
    let response = rig.send(&old, phone.source, 1).await;
    assert_eq!(response.status(), StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(rig.bindings("1000", 2).await.len(), 1);
}

#[tokio::test]
async fn new_call_id_replaces_binding_even_with_lower_cseq() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.cseq = 100;
    phone.register(&rig, CONTACT_A, 0).await;
    let mut rebooted = Phone::new("1000", "pw-1000");
    rebooted.call_id = "after-reboot".to_owned();
    let response = rebooted
        .register(
            &rig,
            "Contact: <sip:1000@192.0.2.10:5070>;expires=120\r\n",
            5,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        contacts_of(&response),
        ["<sip:1000@192.0.2.10:5070>;expires=120"]
    );
}

#[tokio::test]
async fn expires_zero_unregisters_just_that_contact() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone
        .register(
            &rig,
            "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>\r\n",
            0,
        )
        .await;
    let response = phone
        .register(&rig, "Contact: <sip:a@192.0.2.10>;expires=0\r\n", 1)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(contacts_of(&response), ["<sip:b@192.0.2.10>;expires=3599"]);
}

#[tokio::test]
async fn wildcard_with_expires_zero_removes_every_binding() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone
        .register(
            &rig,
            "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>\r\n",
            0,
        )
        .await;
    let response = phone
        .register(&rig, "Contact: *\r\nExpires: 0\r\n", 1)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(contacts_of(&response).is_empty());
    assert!(rig.bindings("1000", 1).await.is_empty());
}

#[tokio::test]
async fn wildcard_without_expires_zero_or_beside_addresses_gets_400() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.register(&rig, CONTACT_A, 0).await;
    for extra in [
        "Contact: *\r\n",
        "Contact: *\r\nExpires: 60\r\n",
        "Contact: *\r\nContact: <sip:a@192.0.2.10>\r\nExpires: 0\r\n",
    ] {
        let response = phone.register(&rig, extra, 1).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "for {extra:?}");
    }
    assert_eq!(rig.bindings("1000", 1).await.len(), 1);
}

#[tokio::test]
async fn bindings_lapse_at_expiry_and_the_sweep_reclaims_them() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone
        .register(&rig, "Contact: <sip:a@192.0.2.10>;expires=60\r\n", 0)
        .await;
    assert_eq!(rig.bindings("1000", 59).await.len(), 1);
    assert!(rig.bindings("1000", 60).await.is_empty());
    let query = phone.register(&rig, "", 61).await;
    assert!(contacts_of(&query).is_empty());
    let swept = rig
        .store
        .sweep_expired(UnixMillis(T0_MS + 61_000))
        .await
        .unwrap();
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].contact.as_str(), "sip:a@192.0.2.10");
}

#[tokio::test]
async fn going_over_max_contacts_gets_503() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let response = phone
        .register(
            &rig,
            "Contact: <sip:a@192.0.2.10>, <sip:b@192.0.2.10>, <sip:c@192.0.2.10>, <sip:d@192.0.2.10>\r\n",
            0,
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(rig.bindings("1000", 0).await.is_empty());
}

#[tokio::test]
async fn request_uri_of_another_domain_gets_404_without_challenge() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.request_uri = "sip:elsewhere.example".to_owned();
    let response = rig
        .send(&phone.request(CONTACT_A, None), phone.source, 0)
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn register_to_the_switch_address_binds_the_profile_domain_aor() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    phone.request_uri = "sip:127.0.0.1:5060".to_owned();
    let response = phone.register(&rig, CONTACT_A, 0).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(rig.bindings("1000", 0).await.len(), 1);
}

#[tokio::test]
async fn non_sip_contact_gets_400() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let response = phone
        .register(&rig, "Contact: <mailto:user@example.com>\r\n", 0)
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn required_extension_gets_420_naming_it_unsupported() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let req = phone.request(&format!("{CONTACT_A}Require: gruu, outbound\r\n"), None);
    let response = rig.send(&req, phone.source, 0).await;
    assert_eq!(response.status(), StatusCode::BAD_EXTENSION);
    assert_eq!(
        header(&response, HeaderName::Unsupported).as_deref(),
        Some("gruu, outbound")
    );
}

#[tokio::test]
async fn instance_and_reg_id_are_echoed_and_a_new_flow_replaces_the_old() {
    let rig = Rig::new();
    let mut phone = Phone::new("1000", "pw-1000");
    let instance = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
    let response = phone
        .register(
            &rig,
            &format!("Contact: <sip:1000@192.0.2.10:5070>;+sip.instance={instance};reg-id=1\r\n"),
            0,
        )
        .await;
    assert_eq!(
        contacts_of(&response),
        [format!(
            "<sip:1000@192.0.2.10:5070>;expires=3600;+sip.instance={instance};reg-id=1"
        )]
    );
    let mut moved = Phone::new("1000", "pw-1000").from("192.0.2.10:6000");
    moved.call_id = "new-flow".to_owned();
    let response = moved
        .register(
            &rig,
            &format!("Contact: <sip:1000@192.0.2.10:6000>;+sip.instance={instance};reg-id=1\r\n"),
            1,
        )
        .await;
    assert_eq!(contacts_of(&response).len(), 1);
    assert_eq!(rig.bindings("1000", 1).await, ["sip:1000@192.0.2.10:6000"]);
}
