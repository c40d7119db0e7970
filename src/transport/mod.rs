//! Tokio UDP/TCP I/O only: listeners, connections, datagrams in and out.
