//! SIP driver: runs sip-core over the transport; registrar, authentication, OPTIONS.
