//! Time of one full outbound route decision: `Trunks::route` on a `least_cost` group of five
//! trunks, each with a 100,000-prefix rate table (five longest-prefix lookups and the sort),
//! then the first `next_stage` (limits, health, the INVITE target with URI, identity and
//! credentials), then dropping the route (its call slot).
//!
//! Run: `cargo bench -p route-decision-bench` (target: <= 5 us per decision).

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use std::time::Instant;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use route_decision_bench::fixture;
use switchyard::call::actor::CallRoute;
use switchyard::trunk::CallerInfo;

fn route_decision(c: &mut Criterion) {
    let f = match fixture() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("route-decision fixture: {e:#}");
            std::process::exit(1);
        }
    };
    let caller = CallerInfo {
        number: "+15551230000".to_owned(),
        name: Some("Sales".to_owned()),
        privacy: false,
    };
    let mut i = 0usize;
    c.bench_function("route_decision/least_cost_5x100k", |b| {
        b.iter(|| {
            i = (i + 1) % f.numbers.len();
            let now = Instant::now();
            // The fixture's tests show every number gets a route and a first stage.
            let route = f
                .trunks
                .route("lcr", black_box(&f.numbers[i]), caller.clone(), now);
            black_box(route.map(|mut r| r.next_stage(None)))
        })
    });
}

criterion_group!(benches, route_decision);
criterion_main!(benches);
