//! API key format: `tg_<key_id>_<secret>`.
//!
//! Invariant: the secret has 256 bits of entropy and leaves this module only
//! inside the one string shown to the user at issue; what is kept is its
//! SHA-256 digest, compared in constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::KeyId;

/// A freshly issued key: the full token (shown once) and what the store keeps.
pub struct IssuedKey {
    pub key_id: KeyId,
    /// `tg_<key_id>_<secret>`: shown once, never stored.
    pub token: String,
    pub secret_digest: Vec<u8>,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// Make a new key.
pub fn generate() -> IssuedKey {
    let mut id = [0u8; 8];
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut id);
    rand::rng().fill_bytes(&mut secret);
    let key_id = KeyId(format!("k{}", hex::encode(id)));
    let secret = hex::encode(secret);
    IssuedKey { token: format!("tg_{}_{}", key_id.0, secret), secret_digest: digest(&secret), key_id }
}

/// Split a presented token into key id and secret; `None` if it is not one of ours.
pub fn parse(token: &str) -> Option<(KeyId, &str)> {
    let rest = token.strip_prefix("tg_")?;
    let (id, secret) = rest.split_once('_')?;
    let well_formed = id.len() == 17
        && id.starts_with('k')
        && id[1..].bytes().all(|b| b.is_ascii_hexdigit())
        && secret.len() == 64
        && secret.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| (KeyId(id.to_owned()), secret))
}

/// Digest of a secret, as stored.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `secret` matches a stored digest, in constant time.
pub fn matches(secret: &str, stored: &[u8]) -> bool {
    digest(secret).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_parse_back_and_match_only_their_digest() {
        let a = generate();
        let b = generate();
        let (id, secret) = parse(&a.token).expect("parses");
        assert_eq!(id, a.key_id);
        assert!(matches(secret, &a.secret_digest));
        assert!(!matches(secret, &b.secret_digest));
    }

    #[test]
    fn malformed_tokens_are_not_ours() {
        let good = generate().token;
        for bad in [
            "",
            "tg_",
            "Bearer x",
            &good[..good.len() - 1],
            &good.replace("tg_", "tk_"),
            &format!("{good}0"),
            "tg_kzzzzzzzzzzzzzzzz_00",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
