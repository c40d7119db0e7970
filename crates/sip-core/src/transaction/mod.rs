//! RFC 3261 §17 transactions: client and server, INVITE and non-INVITE, as sans-IO state machines.
