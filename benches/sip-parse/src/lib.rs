//! Bench-only crate: see benches/parse.rs.
