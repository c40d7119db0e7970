//! `ctl token`: a new random API token, made locally. The switch stores only the token's
//! SHA-256 (`[[api.token]]` in api.toml), so the token text is shown once, here.

use std::fmt::Write as _;

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of generated tokens, so secret scanners and people recognise them.
const PREFIX: &str = "syt_";
/// Random bytes in a token (256 bits).
const RANDOM_BYTES: usize = 32;

/// A freshly generated token and its `api.toml` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedToken {
    /// The token text, for the client's `Authorization: Bearer`.
    pub token: String,
    /// The entry's name.
    pub name: String,
    /// The entry's role.
    pub role: String,
    /// Lowercase hex SHA-256 of the token text.
    pub sha256: String,
}

impl GeneratedToken {
    /// The `[[api.token]]` block to paste into api.toml.
    pub fn toml_block(&self) -> String {
        format!(
            "[[api.token]]\nname = {}\nrole = {}\nsha256 = \"{}\"\n",
            toml_string(&self.name),
            toml_string(&self.role),
            self.sha256
        )
    }
}

/// A new random token for `role`, named `name` (default `<role>-<8 hex digits>`).
pub fn generate_token(role: &str, name: Option<&str>) -> GeneratedToken {
    let mut random = [0u8; RANDOM_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let token = format!("{PREFIX}{}", hex(&random));
    let sha256 = hex(&Sha256::digest(token.as_bytes()));
    let name = name.map_or_else(|| format!("{role}-{}", &sha256[..8]), str::to_owned);
    GeneratedToken {
        token,
        name,
        role: role.to_owned(),
        sha256,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `text` as a TOML basic string, quotes and control characters escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::api::Role;

    #[test]
    fn the_printed_hash_is_the_sha256_of_the_token_text() {
        let generated = generate_token("supervisor", Some("crm"));
        assert!(generated.token.starts_with(PREFIX));
        assert_eq!(generated.token.len(), PREFIX.len() + 2 * RANDOM_BYTES);
        let expected = hex(&Sha256::digest(generated.token.as_bytes()));
        assert_eq!(generated.sha256, expected);
        assert_ne!(generate_token("admin", None).token, generated.token);
    }

    #[test]
    fn the_toml_block_is_accepted_by_the_api_config_parser() {
        let generated = generate_token("agent", Some("desk \"7\""));
        let dir = tempfile::tempdir().unwrap();
        let text = format!("[api]\n{}", generated.toml_block());
        std::fs::write(dir.path().join(crate::config::api::API_FILE), text).unwrap();
        let mut errors = Vec::new();
        let config = crate::config::api::load_api(dir.path(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(config.tokens.len(), 1);
        assert_eq!(config.tokens[0].name, "desk \"7\"");
        assert_eq!(config.tokens[0].role, Role::Agent);
        assert_eq!(
            crate::api::auth::authenticate(&config.tokens, &generated.token)
                .map(|t| t.name.as_str()),
            Some("desk \"7\"")
        );
    }

    #[test]
    fn a_default_name_says_the_role() {
        let generated = generate_token("readonly", None);
        assert!(generated.name.starts_with("readonly-"));
        assert_eq!(generated.name.len(), "readonly-".len() + 8);
    }
}
