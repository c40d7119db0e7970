//! SIP messages: requests, responses, headers, URIs, parsing, serialization, stream framing.
//!
//! Pure: no I/O, no clock. Parsing is zero-copy over [`bytes::Bytes`]: header values and bodies
//! are slices of the received buffer, typed headers are parsed on access.
//!
//! A server parses, validates, then processes; parse and validation errors say how to react:
//!
//! ```
//! use bytes::Bytes;
//! use sip_core::message::{Message, ParseReaction, Response, StatusCode};
//!
//! let wire = Bytes::from_static(
//!     b"OPTIONS sip:switch.example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9;rport\r\n\
//! From: <sip:1000@switch.example.com>;tag=9fxced76sl\r\n\
//! To: <sip:switch.example.com>\r\n\
//! Call-ID: 3848276298220188511@192.0.2.1\r\n\
//! CSeq: 1 OPTIONS\r\n\
//! Max-Forwards: 70\r\n\
//! Content-Length: 0\r\n\r\n",
//! );
//! let Ok(Message::Request(request)) = Message::parse(wire) else { unreachable!() };
//! match request.validate() {
//!     Ok(()) => {
//!         assert_eq!(request.headers().top_via().unwrap().branch(), Some("z9hG4bK74bf9"));
//!         let mut ok = Response::for_request(&request, StatusCode::OK);
//!         ok.set_to_tag("a6c85cf");
//!         let _bytes = ok.encode();
//!     }
//!     Err(e) => match e.reaction() {
//!         ParseReaction::Respond(_) => { let _reply = e.error_response(); }
//!         ParseReaction::Drop => {}
//!     },
//! }
//! ```

mod contact;
mod cseq;
mod encode;
mod error;
mod framer;
mod header_name;
mod headers;
mod host;
mod method;
mod name_addr;
mod params;
mod parse;
mod request;
mod response;
mod short_text;
mod sip_message;
mod sip_uri;
mod status;
mod syntax;
mod tel_uri;
mod typed_headers;
mod uri;
mod validate;
mod via;

pub use contact::{Contact, ContactList};
pub use cseq::CSeq;
pub use error::{ParseError, ParseErrorKind, ParseReaction};
pub use framer::{FramingError, StreamFramer};
pub use header_name::{ExtensionName, HeaderName};
pub use headers::{HeaderValue, Headers};
pub use host::Host;
pub use method::Method;
pub use name_addr::NameAddr;
pub use params::{Param, Params};
pub use request::Request;
pub use response::Response;
pub use sip_message::Message;
pub use status::StatusCode;
pub use uri::{AbsoluteUri, SipUri, TelUri, Uri};
pub use via::{BRANCH_MAGIC_COOKIE, Rport, Via};
