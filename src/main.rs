//! Thin CLI entry point.
fn main() {}
