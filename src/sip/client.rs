//! The switch's own non-INVITE requests (OPTIONS probes, outbound REGISTER): one client
//! transaction each, its responses routed back by Call-ID.
