//! The `LocationStore` contract suite: one async check per rule, generic over
//! `&dyn LocationStore`, instantiated per backend with [`location_store_contract!`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use super::{
    Aor, BindingFilter, ClusterError, ContactChanges, ContactUpdate, ContactUri, Flow,
    FlowTransport, LocationStore, QValue, RegisterChange, UnixMillis,
};

/// Expands to one `#[tokio::test]` per contract check, each on a fresh, empty store from
/// `$factory` (an `async fn() -> Arc<dyn LocationStore>`; a Redis backend's factory can connect
/// there and hand out a store with its own key prefix).
macro_rules! location_store_contract {
    ($factory:path) => {
        $crate::cluster::contract::location_store_contract!(@tests $factory;
            register_then_lookup_returns_the_binding,
            refresh_with_higher_cseq_extends_expiry,
            same_call_id_with_stale_cseq_is_refused_and_changes_nothing,
            new_call_id_replaces_binding_whatever_its_cseq,
            expires_zero_removes_only_that_contact,
            wildcard_removes_every_binding,
            wildcard_with_stale_cseq_from_same_call_id_is_refused,
            several_contacts_keep_order_and_q_values,
            equivalent_uris_name_the_same_binding,
            same_instance_and_reg_id_replace_binding_from_new_flow,
            going_over_max_contacts_refuses_the_whole_request,
            expired_bindings_are_invisible_and_swept,
            expired_bindings_neither_count_nor_block_order,
            list_filters_by_aor_domain_and_limit,
            concurrent_registrations_all_land,
        );
    };
    (@tests $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store: std::sync::Arc<dyn $crate::cluster::LocationStore> = $factory().await;
                $crate::cluster::contract::$name(&*store).await;
            }
        )*
    };
}
pub(crate) use location_store_contract;

const T0: UnixMillis = UnixMillis(1_700_000_000_000);

fn aor(user: &str) -> Aor {
    Aor::new(user, "example.com")
}

fn flow(port: u16) -> Flow {
    Flow {
        transport: FlowTransport::Udp,
        remote: SocketAddr::from(([192, 0, 2, 10], port)),
        local: SocketAddr::from(([127, 0, 0, 1], 5060)),
    }
}

fn contact(uri: &str, expires_secs: u32) -> ContactUpdate {
    ContactUpdate {
        contact: ContactUri::parse(uri).unwrap(),
        expires_secs,
        q: None,
        instance: None,
        reg_id: None,
    }
}

fn change(call_id: &str, cseq: u32, contacts: Vec<ContactUpdate>) -> RegisterChange {
    RegisterChange {
        call_id: call_id.to_owned(),
        cseq,
        flow: flow(5070),
        user_agent: Some("contract-phone/1.0".to_owned()),
        contacts: ContactChanges::Update(contacts),
        max_contacts: None,
    }
}

fn at(secs: u64) -> UnixMillis {
    UnixMillis(T0.0 + secs * 1000)
}

pub(crate) async fn register_then_lookup_returns_the_binding(store: &dyn LocationStore) {
    let a = aor("1000");
    let out = store
        .apply(
            &a,
            change("c1", 1, vec![contact("sip:1000@192.0.2.10:5070", 3600)]),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    let got = store.bindings(&a, at(10)).await.unwrap();
    assert_eq!(got.len(), 1);
    let b = &got[0];
    assert_eq!(b.aor, a);
    assert_eq!(b.contact.as_str(), "sip:1000@192.0.2.10:5070");
    assert_eq!(b.expires_at, at(3600));
    assert_eq!(b.expires_in(at(10)), 3590);
    assert_eq!(b.call_id, "c1");
    assert_eq!(b.cseq, 1);
    assert_eq!(b.flow, flow(5070));
    assert_eq!(b.user_agent.as_deref(), Some("contract-phone/1.0"));
    assert!(
        store
            .bindings(&aor("1001"), at(10))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn refresh_with_higher_cseq_extends_expiry(store: &dyn LocationStore) {
    let a = aor("1000");
    let uri = "sip:1000@192.0.2.10:5070";
    store
        .apply(&a, change("c1", 1, vec![contact(uri, 60)]), T0)
        .await
        .unwrap();
    let out = store
        .apply(&a, change("c1", 2, vec![contact(uri, 120)]), at(50))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].expires_at, at(170));
    assert_eq!(out[0].cseq, 2);
    assert_eq!(store.bindings(&a, at(100)).await.unwrap().len(), 1);
}

pub(crate) async fn same_call_id_with_stale_cseq_is_refused_and_changes_nothing(
    store: &dyn LocationStore,
) {
    let a = aor("1000");
    let uri = "sip:1000@192.0.2.10:5070";
    store
        .apply(&a, change("c1", 5, vec![contact(uri, 60)]), T0)
        .await
        .unwrap();
    for cseq in [5, 4] {
        let err = store
            .apply(
                &a,
                change(
                    "c1",
                    cseq,
                    vec![contact("sip:new@192.0.2.11", 60), contact(uri, 0)],
                ),
                at(1),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ClusterError::OutOfOrder {
                stored: 5,
                received: cseq
            }
        );
    }
    let got = store.bindings(&a, at(1)).await.unwrap();
    assert_eq!(got.len(), 1, "a refused request must leave nothing behind");
    assert_eq!(got[0].contact.as_str(), uri);
    assert_eq!(got[0].expires_at, at(60));
}

pub(crate) async fn new_call_id_replaces_binding_whatever_its_cseq(store: &dyn LocationStore) {
    let a = aor("1000");
    let uri = "sip:1000@192.0.2.10:5070";
    store
        .apply(&a, change("c1", 90, vec![contact(uri, 60)]), T0)
        .await
        .unwrap();
    let out = store
        .apply(&a, change("c2", 1, vec![contact(uri, 300)]), at(1))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].call_id, "c2");
    assert_eq!(out[0].cseq, 1);
    assert_eq!(out[0].expires_at, at(301));
}

pub(crate) async fn expires_zero_removes_only_that_contact(store: &dyn LocationStore) {
    let a = aor("1000");
    store
        .apply(
            &a,
            change(
                "c1",
                1,
                vec![
                    contact("sip:a@192.0.2.10", 60),
                    contact("sip:b@192.0.2.10", 60),
                ],
            ),
            T0,
        )
        .await
        .unwrap();
    let out = store
        .apply(
            &a,
            change("c1", 2, vec![contact("sip:a@192.0.2.10", 0)]),
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].contact.as_str(), "sip:b@192.0.2.10");
    // Removing a contact that is not bound is not an error.
    let out = store
        .apply(
            &a,
            change("c1", 3, vec![contact("sip:zz@192.0.2.10", 0)]),
            at(2),
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
}

pub(crate) async fn wildcard_removes_every_binding(store: &dyn LocationStore) {
    let a = aor("1000");
    store
        .apply(
            &a,
            change(
                "c1",
                1,
                vec![
                    contact("sip:a@192.0.2.10", 60),
                    contact("sip:b@192.0.2.10", 60),
                ],
            ),
            T0,
        )
        .await
        .unwrap();
    store
        .apply(
            &a,
            change("c9", 1, vec![contact("sip:c@192.0.2.12", 60)]),
            T0,
        )
        .await
        .unwrap();
    let mut wildcard = change("c1", 2, Vec::new());
    wildcard.contacts = ContactChanges::RemoveAll;
    let out = store.apply(&a, wildcard, at(1)).await.unwrap();
    assert!(out.is_empty());
    assert!(store.bindings(&a, at(1)).await.unwrap().is_empty());
}

pub(crate) async fn wildcard_with_stale_cseq_from_same_call_id_is_refused(
    store: &dyn LocationStore,
) {
    let a = aor("1000");
    store
        .apply(
            &a,
            change("c1", 7, vec![contact("sip:a@192.0.2.10", 60)]),
            T0,
        )
        .await
        .unwrap();
    let mut wildcard = change("c1", 7, Vec::new());
    wildcard.contacts = ContactChanges::RemoveAll;
    let err = store.apply(&a, wildcard, at(1)).await.unwrap_err();
    assert_eq!(
        err,
        ClusterError::OutOfOrder {
            stored: 7,
            received: 7
        }
    );
    assert_eq!(store.bindings(&a, at(1)).await.unwrap().len(), 1);
}

pub(crate) async fn several_contacts_keep_order_and_q_values(store: &dyn LocationStore) {
    let a = aor("1000");
    let mut first = contact("sip:desk@192.0.2.10", 60);
    first.q = QValue::parse("0.7");
    let mut second = contact("sip:mobile@192.0.2.20", 60);
    second.q = QValue::parse("0.3");
    let third = contact("sip:soft@192.0.2.30", 60);
    store
        .apply(&a, change("c1", 1, vec![first, second, third]), T0)
        .await
        .unwrap();
    let got = store.bindings(&a, at(1)).await.unwrap();
    let uris: Vec<&str> = got.iter().map(|b| b.contact.as_str()).collect();
    assert_eq!(
        uris,
        [
            "sip:desk@192.0.2.10",
            "sip:mobile@192.0.2.20",
            "sip:soft@192.0.2.30"
        ]
    );
    assert_eq!(got[0].q, QValue::parse("0.7"));
    assert_eq!(got[1].q, QValue::parse("0.3"));
    assert_eq!(got[2].q, None);
}

pub(crate) async fn equivalent_uris_name_the_same_binding(store: &dyn LocationStore) {
    let a = aor("1000");
    store
        .apply(
            &a,
            change(
                "c1",
                1,
                vec![contact("sip:1000@PHONE.example.com;transport=udp", 60)],
            ),
            T0,
        )
        .await
        .unwrap();
    let out = store
        .apply(
            &a,
            change(
                "c1",
                2,
                vec![contact("sip:1000@phone.example.com;transport=UDP", 90)],
            ),
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 1, "equivalent URIs must refresh, not add");
    // The stored text is what the phone sent last.
    assert_eq!(
        out[0].contact.as_str(),
        "sip:1000@phone.example.com;transport=UDP"
    );
    let out = store
        .apply(
            &a,
            change(
                "c1",
                3,
                vec![contact("sip:1001@phone.example.com;transport=udp", 60)],
            ),
            at(2),
        )
        .await
        .unwrap();
    assert_eq!(out.len(), 2, "a different user part is a different contact");
}

pub(crate) async fn same_instance_and_reg_id_replace_binding_from_new_flow(
    store: &dyn LocationStore,
) {
    let a = aor("1000");
    let instance = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"".to_owned();
    let mut old = contact("sip:1000@192.0.2.10:5070", 60);
    old.instance = Some(instance.clone());
    old.reg_id = Some(1);
    store
        .apply(&a, change("c1", 1, vec![old]), T0)
        .await
        .unwrap();
    let mut new = contact("sip:1000@192.0.2.10:6080", 60);
    new.instance = Some(instance.clone());
    new.reg_id = Some(1);
    let out = store
        .apply(&a, change("c2", 1, vec![new]), at(1))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].contact.as_str(), "sip:1000@192.0.2.10:6080");
    let mut other_flow = contact("sip:1000@192.0.2.10:7090", 60);
    other_flow.instance = Some(instance);
    other_flow.reg_id = Some(2);
    let out = store
        .apply(&a, change("c3", 1, vec![other_flow]), at(2))
        .await
        .unwrap();
    assert_eq!(
        out.len(),
        2,
        "another reg-id is another flow of the same device"
    );
}

pub(crate) async fn going_over_max_contacts_refuses_the_whole_request(store: &dyn LocationStore) {
    let a = aor("1000");
    let mut first = change(
        "c1",
        1,
        vec![
            contact("sip:a@192.0.2.10", 60),
            contact("sip:b@192.0.2.10", 60),
        ],
    );
    first.max_contacts = Some(2);
    store.apply(&a, first, T0).await.unwrap();
    let mut third = change("c2", 1, vec![contact("sip:c@192.0.2.10", 60)]);
    third.max_contacts = Some(2);
    let err = store.apply(&a, third, at(1)).await.unwrap_err();
    assert_eq!(err, ClusterError::TooManyContacts { max: 2 });
    assert_eq!(store.bindings(&a, at(1)).await.unwrap().len(), 2);
    // Swapping one contact for another in a single request stays within the limit.
    let mut swap = change(
        "c1",
        2,
        vec![
            contact("sip:a@192.0.2.10", 0),
            contact("sip:c@192.0.2.10", 60),
        ],
    );
    swap.max_contacts = Some(2);
    let out = store.apply(&a, swap, at(2)).await.unwrap();
    let uris: Vec<&str> = out.iter().map(|b| b.contact.as_str()).collect();
    assert_eq!(uris, ["sip:b@192.0.2.10", "sip:c@192.0.2.10"]);
}

pub(crate) async fn expired_bindings_are_invisible_and_swept(store: &dyn LocationStore) {
    store
        .apply(
            &aor("1000"),
            change("c1", 1, vec![contact("sip:a@192.0.2.10", 60)]),
            T0,
        )
        .await
        .unwrap();
    store
        .apply(
            &aor("1000"),
            change("c1", 2, vec![contact("sip:b@192.0.2.10", 600)]),
            T0,
        )
        .await
        .unwrap();
    store
        .apply(
            &aor("1001"),
            change("c2", 1, vec![contact("sip:c@192.0.2.10", 30)]),
            T0,
        )
        .await
        .unwrap();
    assert!(
        store
            .bindings(&aor("1001"), at(30))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.bindings(&aor("1000"), at(60)).await.unwrap().len(), 1);
    assert_eq!(
        store
            .list(&BindingFilter::default(), at(61))
            .await
            .unwrap()
            .len(),
        1
    );
    let swept = store.sweep_expired(at(61)).await.unwrap();
    let mut swept: Vec<&str> = swept.iter().map(|b| b.contact.as_str()).collect();
    swept.sort_unstable();
    assert_eq!(swept, ["sip:a@192.0.2.10", "sip:c@192.0.2.10"]);
    assert!(store.sweep_expired(at(61)).await.unwrap().is_empty());
    assert_eq!(store.bindings(&aor("1000"), at(61)).await.unwrap().len(), 1);
}

pub(crate) async fn expired_bindings_neither_count_nor_block_order(store: &dyn LocationStore) {
    let a = aor("1000");
    let mut first = change("c1", 9, vec![contact("sip:a@192.0.2.10", 60)]);
    first.max_contacts = Some(1);
    store.apply(&a, first, T0).await.unwrap();
    // After expiry the old binding neither fills the only slot nor pins CSeq 9.
    let mut again = change("c1", 3, vec![contact("sip:a@192.0.2.10", 60)]);
    again.max_contacts = Some(1);
    let out = store.apply(&a, again, at(60)).await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].cseq, 3);
    let mut other = change("c2", 1, vec![contact("sip:b@192.0.2.10", 60)]);
    other.max_contacts = Some(1);
    assert!(store.apply(&a, other, at(61)).await.is_err());
    let mut later = change("c2", 2, vec![contact("sip:b@192.0.2.10", 60)]);
    later.max_contacts = Some(1);
    assert!(store.apply(&a, later, at(120)).await.is_ok());
}

pub(crate) async fn list_filters_by_aor_domain_and_limit(store: &dyn LocationStore) {
    let other = Aor::new("1000", "other.example");
    store
        .apply(
            &aor("1001"),
            change("c1", 1, vec![contact("sip:a@192.0.2.10", 60)]),
            T0,
        )
        .await
        .unwrap();
    store
        .apply(
            &aor("1000"),
            change(
                "c2",
                1,
                vec![
                    contact("sip:b@192.0.2.10", 60),
                    contact("sip:c@192.0.2.10", 60),
                ],
            ),
            T0,
        )
        .await
        .unwrap();
    store
        .apply(
            &other,
            change("c3", 1, vec![contact("sip:d@192.0.2.10", 60)]),
            T0,
        )
        .await
        .unwrap();

    let all = store.list(&BindingFilter::default(), at(1)).await.unwrap();
    let aors: Vec<&str> = all.iter().map(|b| b.aor.as_str()).collect();
    assert_eq!(
        aors,
        [
            "1000@example.com",
            "1000@example.com",
            "1000@other.example",
            "1001@example.com"
        ]
    );

    let domain = BindingFilter {
        domain: Some("EXAMPLE.com".to_owned()),
        ..BindingFilter::default()
    };
    assert_eq!(store.list(&domain, at(1)).await.unwrap().len(), 3);

    let one = BindingFilter {
        aor: Some(other),
        ..BindingFilter::default()
    };
    let got = store.list(&one, at(1)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].contact.as_str(), "sip:d@192.0.2.10");

    let limited = BindingFilter {
        limit: Some(2),
        ..BindingFilter::default()
    };
    assert_eq!(store.list(&limited, at(1)).await.unwrap().len(), 2);
}

pub(crate) async fn concurrent_registrations_all_land(store: &dyn LocationStore) {
    let a = aor("1000");
    let updates = (0..32u16).map(|i| {
        let a = a.clone();
        async move {
            let uri = format!("sip:dev{i}@192.0.2.10:{}", 5000 + i);
            store
                .apply(&a, change(&format!("c{i}"), 1, vec![contact(&uri, 60)]), T0)
                .await
        }
    });
    for result in futures_join_all(updates).await {
        result.unwrap();
    }
    assert_eq!(store.bindings(&a, at(1)).await.unwrap().len(), 32);
}

/// Drives every future concurrently on the current task (interleaving their awaits).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.unwrap()).collect()
}
