//! The route set of a dialog (RFC 3261 §12.1.1, §12.1.2) and the Request-URI / Route
//! headers it implies for in-dialog requests (§12.2.1.1).

use crate::message::{NameAddr, Uri};

/// Ordered list of proxies an in-dialog request traverses, first hop first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteSet(Vec<NameAddr>);

/// Where an in-dialog request goes: its Request-URI and Route header values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    pub(crate) request_uri: Uri,
    pub(crate) route: Vec<NameAddr>,
}

impl RouteSet {
    /// UAS side (RFC 3261 §12.1.1): Record-Route values of the request, in order.
    pub fn from_request_record_route(record_route: Vec<NameAddr>) -> RouteSet {
        RouteSet(record_route.into_iter().map(strip_params).collect())
    }

    /// UAC side (RFC 3261 §12.1.2): Record-Route values of the response, reversed.
    pub fn from_response_record_route(record_route: Vec<NameAddr>) -> RouteSet {
        RouteSet(record_route.into_iter().rev().map(strip_params).collect())
    }

    /// The routes, first hop first.
    pub fn routes(&self) -> &[NameAddr] {
        &self.0
    }

    /// True when requests go straight to the remote target.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// RFC 3261 §12.2.1.1: Request-URI and Route for a request to `remote_target`.
    pub(crate) fn destination(&self, remote_target: &Uri) -> Destination {
        let Some(first) = self.0.first() else {
            return Destination {
                request_uri: remote_target.clone(),
                route: Vec::new(),
            };
        };
        let loose = first.uri.as_sip().is_some_and(|u| u.is_loose_route());
        if loose {
            return Destination {
                request_uri: remote_target.clone(),
                route: self.0.clone(),
            };
        }
        // Strict routing: the first route becomes the Request-URI, the remaining routes follow,
        // and the remote target goes last.
        let mut route: Vec<NameAddr> = self.0[1..].to_vec();
        route.push(NameAddr::new(remote_target.clone()));
        Destination {
            request_uri: strip_uri_headers(first.uri.clone()),
            route,
        }
    }
}

/// Keeps the address and its URI parameters (such as `lr`); drops display name and header
/// parameters, which do not belong in Route.
fn strip_params(addr: NameAddr) -> NameAddr {
    NameAddr::new(addr.uri)
}

/// RFC 3261 §12.2.1.1: parameters not allowed in a Request-URI are stripped; URI headers are
/// the ones a SIP Request-URI must not carry (§19.1.5).
fn strip_uri_headers(uri: Uri) -> Uri {
    match uri {
        Uri::Sip(mut sip) => {
            sip.clear_headers();
            Uri::Sip(sip)
        }
        other => other,
    }
}
