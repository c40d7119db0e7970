//! SDP (RFC 4566) parse and serialize, and RFC 3264 offer/answer helpers (in progress).
