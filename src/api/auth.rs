//! Bearer-token authentication: `Authorization: Bearer <token>`; the token's SHA-256 is looked
//! up among the configured hashes (compared in constant time). Handlers take a [`Caller`] and
//! call [`Caller::require`] with the least role allowed.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;
use crate::config::api::{ApiToken, Role};

/// The authenticated client of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's configured name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

impl Caller {
    /// `Ok` when the caller's role is `least` or above; 403 otherwise.
    pub fn require(&self, least: Role) -> Result<(), ApiError> {
        if self.role >= least {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role {} may not do this (needs {} or above)",
                self.role.as_str(),
                least.as_str()
            )))
        }
    }
}

/// The token among `tokens` whose hash is the SHA-256 of `presented`.
pub fn authenticate<'a>(tokens: &'a [ApiToken], presented: &str) -> Option<&'a ApiToken> {
    let hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    // Every token is compared, whole, so timing says nothing about which matched.
    let mut found = None;
    for token in tokens {
        let diff = token
            .sha256
            .iter()
            .zip(hash.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 {
            found = Some(token);
        }
    }
    found
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer token"))?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::unauthorized(
                "expected Authorization: Bearer <token>",
            ));
        }
        let token = authenticate(&state.config.tokens, token.trim())
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        Ok(Caller {
            name: token.name.clone(),
            role: token.role,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn token(name: &str, role: Role, text: &str) -> ApiToken {
        ApiToken {
            name: name.into(),
            role,
            sha256: Sha256::digest(text.as_bytes()).into(),
        }
    }

    #[test]
    fn a_token_is_found_by_the_hash_of_its_text_only() {
        let tokens = [
            token("a", Role::Admin, "secret-a"),
            token("r", Role::Readonly, "secret-r"),
        ];
        assert_eq!(authenticate(&tokens, "secret-r").unwrap().name, "r");
        assert!(authenticate(&tokens, "secret-x").is_none());
        assert!(authenticate(&tokens, "").is_none());
    }

    #[test]
    fn each_role_may_do_what_the_roles_below_it_may() {
        let supervisor = Caller {
            name: "s".into(),
            role: Role::Supervisor,
        };
        assert!(supervisor.require(Role::Agent).is_ok());
        assert!(supervisor.require(Role::Supervisor).is_ok());
        let denied = supervisor.require(Role::Admin).unwrap_err();
        assert_eq!(denied.status, axum::http::StatusCode::FORBIDDEN);
    }
}
