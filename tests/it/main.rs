//! Integration tests against the real `switchyard` binary and real peers.
