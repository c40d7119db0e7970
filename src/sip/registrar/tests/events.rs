//! The registration events a phone's REGISTERs publish.

use std::sync::Arc;

use serde_json::Value;

use super::{Phone, Rig, profile};
use crate::sip::registrar::Registrar;
use crate::telemetry::events::{BusSettings, Event, EventBus, Subscription};

fn with_events() -> (Rig, EventBus) {
    let mut rig = Rig::new();
    let bus = EventBus::new(BusSettings::default());
    rig.registrar = Registrar::new(&profile(), Arc::clone(&rig.store), Arc::clone(&rig.guard))
        .with_events(bus.clone());
    (rig, bus)
}

/// `(type, contact, reason)` of every event published since `sub` began.
fn published(sub: &mut Subscription) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    while let Ok(event) = sub.live.try_recv() {
        out.push(summary(&event));
    }
    out
}

fn summary(event: &Event) -> (String, String, Option<String>) {
    (
        event.kind.as_str().to_owned(),
        event.data["contact"].as_str().unwrap().to_owned(),
        event.data["reason"].as_str().map(str::to_owned),
    )
}

fn added(contact: &str) -> (String, String, Option<String>) {
    ("registration.added".into(), contact.into(), None)
}

fn removed(contact: &str, reason: &str) -> (String, String, Option<String>) {
    (
        "registration.removed".into(),
        contact.into(),
        Some(reason.into()),
    )
}

#[tokio::test]
async fn a_new_binding_is_added_and_a_refresh_publishes_nothing() {
    let (rig, bus) = with_events();
    let mut sub = bus.subscribe(None);
    let mut phone = Phone::new("1000", "pw-1000");
    let contact = "Contact: <sip:1000@192.0.2.10:5070>;expires=600\r\n";
    phone.register(&rig, contact, 0).await;
    let events: Vec<Event> = std::iter::from_fn(|| sub.live.try_recv().ok())
        .map(|e| (*e).clone())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    let data: &Value = &events[0].data;
    assert_eq!(data["user"], "1000");
    assert_eq!(data["aor"], "1000@example.com");
    assert_eq!(data["profile"], "t");
    assert_eq!(data["source"], "192.0.2.10:5070");
    assert_eq!(data["transport"], "udp");
    assert_eq!(data["user_agent"], "test-phone/1.0");
    assert_eq!(data["expires_secs"], 600);
    assert_eq!(events[0].call_id, None);

    phone.register(&rig, contact, 30).await;
    assert!(published(&mut sub).is_empty(), "a refresh is no change");
}

#[tokio::test]
async fn unregistering_removes_with_the_reason() {
    let (rig, bus) = with_events();
    let mut sub = bus.subscribe(None);
    let mut phone = Phone::new("1000", "pw-1000");
    phone
        .register(
            &rig,
            "Contact: <sip:a@192.0.2.10>\r\nContact: <sip:b@192.0.2.10>\r\n",
            0,
        )
        .await;
    phone
        .register(&rig, "Contact: <sip:a@192.0.2.10>;expires=0\r\n", 1)
        .await;
    phone
        .register(&rig, "Contact: *\r\nExpires: 0\r\n", 2)
        .await;
    assert_eq!(
        published(&mut sub),
        [
            added("sip:a@192.0.2.10"),
            added("sip:b@192.0.2.10"),
            removed("sip:a@192.0.2.10", "unregistered"),
            removed("sip:b@192.0.2.10", "unregistered"),
        ]
    );
}

#[tokio::test]
async fn a_new_flow_of_the_same_instance_replaces_the_old_binding() {
    let (rig, bus) = with_events();
    let mut sub = bus.subscribe(None);
    let mut phone = Phone::new("1000", "pw-1000");
    let instance = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
    for port in [5070, 6000] {
        phone
            .register(
                &rig,
                &format!(
                    "Contact: <sip:1000@192.0.2.10:{port}>;+sip.instance={instance};reg-id=1\r\n"
                ),
                0,
            )
            .await;
    }
    assert_eq!(
        published(&mut sub),
        [
            added("sip:1000@192.0.2.10:5070"),
            removed("sip:1000@192.0.2.10:5070", "replaced"),
            added("sip:1000@192.0.2.10:6000"),
        ]
    );
}

#[tokio::test]
async fn a_binding_that_lapsed_before_the_next_register_is_removed_as_expired() {
    let (rig, bus) = with_events();
    let mut sub = bus.subscribe(None);
    let mut phone = Phone::new("1000", "pw-1000");
    let contact = "Contact: <sip:a@192.0.2.10>;expires=60\r\n";
    phone.register(&rig, contact, 0).await;
    // No sweep ran in between: the REGISTER itself drops the lapsed binding.
    phone.register(&rig, contact, 61).await;
    assert_eq!(
        published(&mut sub),
        [
            added("sip:a@192.0.2.10"),
            removed("sip:a@192.0.2.10", "expired"),
            added("sip:a@192.0.2.10"),
        ]
    );
}

#[tokio::test]
async fn a_refused_register_publishes_nothing() {
    let (rig, bus) = with_events();
    let mut sub = bus.subscribe(None);
    let mut phone = Phone::new("1000", "pw-1000");
    // max_contacts is 3 in the test profile: four contacts are refused whole.
    let contacts: String = (1..=4)
        .map(|n| format!("Contact: <sip:{n}@192.0.2.10>\r\n"))
        .collect();
    let response = phone.register(&rig, &contacts, 0).await;
    assert_eq!(response.status().as_u16(), 503);
    assert!(published(&mut sub).is_empty());
}
