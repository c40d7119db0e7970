//! Parse time of a typical INVITE (with SDP), a REGISTER with Authorization and a 200 OK, for
//! sip-core and two peers on the same bytes in the same run:
//!
//! - `sip-core`: `Message::parse` over `Bytes` (zero-copy), then the typed top Via (branch),
//!   From and To (tags), Call-ID and CSeq.
//! - `rsip` 0.4: `SipMessage::try_from(Bytes)` (tokenizes into owned `String` headers), then
//!   `.typed()` on the same five headers.
//! - `ezk-sip-types` 0.6: its pull parser splits lines, `MessageLine`/`Line` parse the start line
//!   and each header into `Headers`, then the same five typed headers via `get_named`/`get`.
//!
//! Every peer returns the same lengths and CSeq number (checked by the crate's unit tests), so
//! the timings compare equal work. A fourth line, `sip-core-untyped`, times `Message::parse`
//! alone to show how the time splits between the wire parse and the typed accessors.
//!
//! Run: `cargo bench -p sip-parse-bench --bench parse` (criterion options after `--`).

// `criterion_group!` generates a public function without documentation.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};
use sip_parse_bench::{ezk_peer, rsip_peer, samples, sip_core_peer};

fn parse(c: &mut Criterion) {
    for (name, sample) in samples::ALL {
        let bytes = Bytes::from_static(sample);
        // A peer that cannot parse a sample would time an early error, not a parse.
        assert!(
            sip_core_peer::parse(bytes.clone()).is_some(),
            "sip-core: {name}"
        );
        assert!(rsip_peer::parse(bytes.clone()).is_some(), "rsip: {name}");
        assert!(ezk_peer::parse(bytes.clone()).is_some(), "ezk: {name}");

        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.throughput(Throughput::Bytes(sample.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter("sip-core"), &bytes, |b, m| {
            b.iter(|| sip_core_peer::parse(black_box(m.clone())))
        });
        group.bench_with_input(BenchmarkId::from_parameter("rsip-0.4"), &bytes, |b, m| {
            b.iter(|| rsip_peer::parse(black_box(m.clone())))
        });
        group.bench_with_input(
            BenchmarkId::from_parameter("ezk-sip-types-0.6"),
            &bytes,
            |b, m| b.iter(|| ezk_peer::parse(black_box(m.clone()))),
        );
        // Diagnostic only: sip-core's wire parse without the typed headers.
        group.bench_with_input(
            BenchmarkId::from_parameter("sip-core-untyped"),
            &bytes,
            |b, m| b.iter(|| sip_core_peer::parse_untyped(black_box(m.clone()))),
        );
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
