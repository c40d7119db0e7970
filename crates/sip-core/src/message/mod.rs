//! SIP messages: requests, responses, headers, URIs, parsing, serialization, stream framing.
