//! Digest authentication (RFC 3261 §22, RFC 8760): challenges, credentials, stateless nonces.

/// Digest hash algorithm, RFC 8760 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), what most deployed phones support.
    Md5,
    /// `SHA-256` (RFC 8760).
    Sha256,
}

/// A user's stored secret: the plain password, or precomputed HA1 = H(user:realm:password).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The plain password.
    Password(String),
    /// Precomputed HA1 values in lower-case hex, per algorithm; a missing one means that
    /// algorithm cannot be verified for this user.
    Ha1 {
        /// HA1 with MD5.
        md5: Option<String>,
        /// HA1 with SHA-256.
        sha256: Option<String>,
    },
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets into logs.
        match self {
            Secret::Password(_) => f.write_str("Secret::Password(..)"),
            Secret::Ha1 { .. } => f.write_str("Secret::Ha1(..)"),
        }
    }
}
