//! Transaction keys: which transaction a request or response belongs to (RFC 3261 §17.1.3,
//! §17.2.3, including the RFC 2543 fallback).
//!
//! Pure: builds hashable values from messages; the driver owns the map.

use std::fmt;

use super::error::TransactionError;
use crate::message::{Method, Request, Response, Via};

/// Identifies a transaction in the driver's client or server table.
///
/// Client and server keys never compare equal, so one map could hold both; keeping two maps
/// is still clearer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey(Kind);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    /// RFC 3261 §17.1.3: branch of the top Via and the CSeq method.
    Client { branch: String, method: Method },
    /// RFC 3261 §17.2.3: branch, sent-by of the top Via and method (ACK counted as INVITE).
    Server {
        branch: String,
        sent_by: SentBy,
        method: Method,
    },
    /// RFC 3261 §17.2.3 fallback for a top Via without the `z9hG4bK` cookie.
    ///
    /// The To tag is left out: an INVITE and its retransmissions carry the same To, while the
    /// ACK for a non-2xx carries the tag the server added, so the server INVITE transaction
    /// compares that tag itself (see `ServerInviteTransaction::handle_request`).
    Rfc2543 {
        request_uri: String,
        from_tag: Option<String>,
        call_id: String,
        cseq: u32,
        top_via: String,
        method: Method,
    },
}

/// The sent-by of a Via (RFC 3261 §18.2.1): host compared case-insensitively, port as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SentBy {
    host: String,
    port: Option<u16>,
}

impl SentBy {
    fn of(via: &Via) -> Self {
        Self {
            host: via.host().to_string().to_ascii_lowercase(),
            port: via.port(),
        }
    }
}

impl TransactionKey {
    /// The server-transaction key of an incoming request (RFC 3261 §17.2.3).
    ///
    /// An ACK yields the key of the INVITE it acknowledges, so the ACK for a non-2xx final
    /// reaches that INVITE server transaction; the ACK for a 2xx carries a new branch and
    /// matches nothing. A CANCEL keeps its own method and gets its own transaction.
    pub fn for_request(request: &Request) -> Result<Self, TransactionError> {
        let method = match request.method() {
            Method::Ack => Method::Invite,
            other => other.clone(),
        };
        Self::server_key(request, &method)
    }

    /// The key of the INVITE server transaction a CANCEL refers to (RFC 3261 §9.2: same
    /// matching as for the CANCEL, with the method taken as INVITE).
    pub fn for_cancelled_invite(cancel: &Request) -> Result<Self, TransactionError> {
        Self::server_key(cancel, &Method::Invite)
    }

    /// The client-transaction key of an incoming response (RFC 3261 §17.1.3): branch of the
    /// top Via and the CSeq method.
    pub fn for_response(response: &Response) -> Result<Self, TransactionError> {
        let via = response.headers().top_via()?;
        let cseq = response.headers().cseq()?;
        Ok(Self(Kind::Client {
            branch: via.branch().unwrap_or_default().to_string(),
            method: cseq.method,
        }))
    }

    /// The client-transaction key of an outgoing request: what [`Self::for_response`] yields
    /// for its responses.
    pub fn for_client_request(request: &Request) -> Result<Self, TransactionError> {
        let via = request.headers().top_via()?;
        Ok(Self(Kind::Client {
            branch: via.branch().unwrap_or_default().to_string(),
            method: request.method().clone(),
        }))
    }

    /// True for a key built by the RFC 2543 fallback (top Via without `z9hG4bK`).
    pub fn is_rfc2543(&self) -> bool {
        matches!(self.0, Kind::Rfc2543 { .. })
    }

    fn server_key(request: &Request, method: &Method) -> Result<Self, TransactionError> {
        let headers = request.headers();
        let via = headers.top_via()?;
        let method = method.clone();
        if via.is_rfc3261_branch() {
            return Ok(Self(Kind::Server {
                branch: via.branch().unwrap_or_default().to_string(),
                sent_by: SentBy::of(&via),
                method,
            }));
        }
        // RFC 3261 §17.2.3: Request-URI, From tag, Call-ID, CSeq number and top Via.
        let sent_by = SentBy::of(&via);
        Ok(Self(Kind::Rfc2543 {
            request_uri: request.uri().to_string(),
            from_tag: headers.from()?.tag().map(str::to_string),
            call_id: headers.call_id()?.to_string(),
            cseq: headers.cseq()?.seq,
            top_via: format!(
                "{}/{}:{}/{}",
                via.transport().to_ascii_uppercase(),
                sent_by.host,
                sent_by.port.unwrap_or_default(),
                via.branch().unwrap_or_default()
            ),
            method,
        }))
    }
}

/// For logs and span fields: `branch/METHOD`, `branch/sent-by/METHOD`, or the RFC 2543 parts.
impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::Client { branch, method } => write!(f, "{branch}/{}", method.as_str()),
            Kind::Server {
                branch,
                sent_by,
                method,
            } => {
                write!(f, "{branch}/{}", sent_by.host)?;
                if let Some(port) = sent_by.port {
                    write!(f, ":{port}")?;
                }
                write!(f, "/{}", method.as_str())
            }
            Kind::Rfc2543 {
                request_uri,
                from_tag,
                call_id,
                cseq,
                top_via,
                method,
            } => write!(
                f,
                "rfc2543/{request_uri}/{}/{call_id}/{cseq}/{top_via}/{}",
                from_tag.as_deref().unwrap_or(""),
                method.as_str()
            ),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::message::HeaderName;
    use crate::transaction::fixtures::{invite, request, response_to};

    fn invite_text(via: &str, extra: &str) -> String {
        format!(
            "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: {via}
Max-Forwards: 70
To: Bob <sip:bob@biloxi.example.com>{extra}
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774
Call-ID: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
Content-Length: 0

"
        )
    }

    fn as_method(text: &str, method: &str) -> String {
        text.replacen("INVITE sip:", &format!("{method} sip:"), 1)
            .replace("314159 INVITE", &format!("314159 {method}"))
    }

    const VIA: &str = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds";
    const OLD_VIA: &str = "SIP/2.0/UDP pc33.atlanta.example.com:5060";

    fn key(text: &str) -> TransactionKey {
        TransactionKey::for_request(&request(text)).unwrap()
    }

    #[test]
    fn response_matches_the_client_transaction_by_branch_and_cseq_method() {
        let invite = invite();
        let client = TransactionKey::for_client_request(&invite).unwrap();
        let response = response_to(&invite, 180);
        assert_eq!(TransactionKey::for_response(&response).unwrap(), client);
        let cancel = request(&as_method(&invite_text(VIA, ""), "CANCEL"));
        let cancel_response = response_to(&cancel, 200);
        assert_ne!(
            TransactionKey::for_response(&cancel_response).unwrap(),
            client
        );
    }

    #[test]
    fn client_key_ignores_sent_by_but_not_branch() {
        let a = request(&invite_text(VIA, ""));
        let b = request(&invite_text(
            "SIP/2.0/UDP other.example.com;branch=z9hG4bK776asdhds",
            "",
        ));
        let c = request(&invite_text(
            "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKdifferent",
            "",
        ));
        let key = |r: &Request| TransactionKey::for_client_request(r).unwrap();
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }

    #[test]
    fn key_displays_its_parts_for_logs() {
        assert_eq!(
            key(&invite_text(VIA, "")).to_string(),
            "z9hG4bK776asdhds/pc33.atlanta.example.com:5060/INVITE"
        );
        let client = TransactionKey::for_client_request(&invite()).unwrap();
        assert_eq!(client.to_string(), "z9hG4bK776asdhds/INVITE");
    }

    #[test]
    fn retransmitted_request_matches_its_server_transaction() {
        assert_eq!(key(&invite_text(VIA, "")), key(&invite_text(VIA, "")));
    }

    #[test]
    fn ack_for_a_non_2xx_matches_the_invite_server_transaction() {
        let ack = as_method(&invite_text(VIA, ";tag=a6c85cf"), "ACK");
        assert_eq!(key(&ack), key(&invite_text(VIA, "")));
    }

    #[test]
    fn ack_for_a_2xx_with_a_new_branch_matches_nothing() {
        let via = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bKnew";
        let ack = as_method(&invite_text(via, ";tag=a6c85cf"), "ACK");
        assert_ne!(key(&ack), key(&invite_text(VIA, "")));
    }

    #[test]
    fn cancel_key_is_distinct_from_the_invite_key() {
        let cancel = as_method(&invite_text(VIA, ""), "CANCEL");
        assert_ne!(key(&cancel), key(&invite_text(VIA, "")));
        assert_eq!(
            TransactionKey::for_cancelled_invite(&request(&cancel)).unwrap(),
            key(&invite_text(VIA, ""))
        );
    }

    #[test]
    fn server_key_compares_sent_by_with_host_case_insensitive() {
        let other_host = "SIP/2.0/UDP evil.example.com:5060;branch=z9hG4bK776asdhds";
        let other_port = "SIP/2.0/UDP pc33.atlanta.example.com:5070;branch=z9hG4bK776asdhds";
        let upper = "SIP/2.0/UDP PC33.Atlanta.Example.COM:5060;branch=z9hG4bK776asdhds";
        let base = key(&invite_text(VIA, ""));
        assert_ne!(key(&invite_text(other_host, "")), base);
        assert_ne!(key(&invite_text(other_port, "")), base);
        assert_eq!(key(&invite_text(upper, "")), base);
        assert!(!base.is_rfc2543());
    }

    #[test]
    fn server_key_differs_by_method() {
        let bye = as_method(&invite_text(VIA, ";tag=x"), "BYE");
        assert_ne!(key(&bye), key(&invite_text(VIA, "")));
    }

    #[test]
    fn rfc2543_key_matches_retransmission_and_ack() {
        let invite = invite_text(OLD_VIA, "");
        let base = key(&invite);
        assert!(base.is_rfc2543());
        assert_eq!(key(&invite_text(OLD_VIA, "")), base);
        // The ACK carries the To tag of the response; the transaction checks it.
        let ack = as_method(&invite_text(OLD_VIA, ";tag=a6c85cf"), "ACK");
        assert_eq!(key(&ack), base);
        let cancel = as_method(&invite, "CANCEL");
        assert_ne!(key(&cancel), base);
        assert_eq!(
            TransactionKey::for_cancelled_invite(&request(&cancel)).unwrap(),
            base
        );
    }

    #[test]
    fn rfc2543_key_differs_by_call_id_cseq_from_tag_uri_and_via() {
        let invite = invite_text(OLD_VIA, "");
        let base = key(&invite);
        let variants = [
            invite.replace("a84b4c76e66710@", "other@"),
            invite.replace("CSeq: 314159", "CSeq: 314160"),
            invite.replace("tag=1928301774", "tag=999"),
            invite.replace("INVITE sip:bob@", "INVITE sip:carol@"),
            invite.replace(
                "pc33.atlanta.example.com:5060",
                "pc34.atlanta.example.com:5060",
            ),
            invite.replace("SIP/2.0/UDP", "SIP/2.0/TCP"),
        ];
        for variant in variants {
            assert_ne!(key(&variant), base, "{variant}");
        }
    }

    #[test]
    fn branch_without_the_magic_cookie_falls_back_to_rfc2543() {
        let via = "SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=1234";
        assert!(key(&invite_text(via, "")).is_rfc2543());
        assert_ne!(key(&invite_text(via, "")), key(&invite_text(OLD_VIA, "")));
    }

    #[test]
    fn a_message_without_via_has_no_key() {
        let mut invite = invite();
        invite.headers_mut().remove(HeaderName::Via);
        assert!(TransactionKey::for_request(&invite).is_err());
        assert!(TransactionKey::for_client_request(&invite).is_err());
    }
}
