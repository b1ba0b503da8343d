//! The signing key sealed under a passphrase, for `tollgate backup
//! --include-signing-key`: Argon2id derives a key from the passphrase and a
//! random salt; XChaCha20-Poly1305 encrypts the key file, bound to the key's
//! public fingerprint as associated data.
//!
//! Invariants: the plaintext key never touches the backup; a wrong
//! passphrase, a changed byte or a sealed key moved under another public key
//! fails to open (the AEAD tag), and nothing partial is returned.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use serde_json::{Value, json};

/// Argon2id cost: 19 MiB, 2 passes, 1 lane (OWASP's minimum for Argon2id).
const M_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE: usize = 12;

/// Why a sealed key could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the passphrase must be at least {MIN_PASSPHRASE} characters")]
    WeakPassphrase,
    #[error("the sealed signing key is not in a format this tollgate reads: {0}")]
    Format(String),
    #[error("the sealed signing key does not open: wrong passphrase, or the backup was altered")]
    DoesNotOpen,
    #[error("key derivation: {0}")]
    Kdf(String),
}

fn derive(passphrase: &str, salt: &[u8], m: u32, t: u32, p: u32) -> Result<[u8; 32], SealError> {
    let params = Params::new(m, t, p, Some(32)).map_err(|e| SealError::Kdf(e.to_string()))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|e| SealError::Kdf(e.to_string()))?;
    Ok(key)
}

/// Seal `secret` (the key file's bytes) under `passphrase`, bound to `fingerprint`.
pub fn seal(secret: &[u8], passphrase: &str, fingerprint: &str) -> Result<Value, SealError> {
    if passphrase.chars().count() < MIN_PASSPHRASE {
        return Err(SealError::WeakPassphrase);
    }
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut nonce);
    let mut key = derive(passphrase, &salt, M_KIB, T_COST, P_COST)?;
    let cipher = XChaCha20Poly1305::new((&key).into());
    key.fill(0);
    let ciphertext = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: fingerprint.as_bytes() })
        .map_err(|_| SealError::Kdf("encryption failed".into()))?;
    Ok(json!({
        "format": "tollgate-sealed-signing-key",
        "version": 1,
        "kdf": {"name": "argon2id", "m_kib": M_KIB, "t": T_COST, "p": P_COST, "salt": hex::encode(salt)},
        "cipher": "xchacha20poly1305",
        "aad": "public key fingerprint",
        "fingerprint": fingerprint,
        "nonce": hex::encode(nonce),
        "ciphertext": hex::encode(ciphertext),
    }))
}

/// Open a sealed key with `passphrase`; it must be bound to `fingerprint`.
pub fn open(sealed: &Value, passphrase: &str, fingerprint: &str) -> Result<Vec<u8>, SealError> {
    let text = |v: &Value, name: &str| {
        v.get(name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| SealError::Format(format!("no {name}")))
    };
    let number = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| SealError::Format(format!("no {name}")))
    };
    let bytes = |hex_text: String, name: &str| {
        hex::decode(hex_text).map_err(|_| SealError::Format(format!("{name} is not hex")))
    };
    if sealed.get("version").and_then(Value::as_u64) != Some(1) || text(sealed, "cipher")? != "xchacha20poly1305" {
        return Err(SealError::Format("expected version 1, xchacha20poly1305".into()));
    }
    let kdf = sealed.get("kdf").ok_or_else(|| SealError::Format("no kdf".into()))?;
    if text(kdf, "name")? != "argon2id" {
        return Err(SealError::Format("expected the argon2id KDF".into()));
    }
    let salt = bytes(text(kdf, "salt")?, "salt")?;
    let nonce = bytes(text(sealed, "nonce")?, "nonce")?;
    let ciphertext = bytes(text(sealed, "ciphertext")?, "ciphertext")?;
    if nonce.len() != 24 {
        return Err(SealError::Format("the nonce must be 24 bytes".into()));
    }
    let (m, t, p) = (number(kdf, "m_kib")?, number(kdf, "t")?, number(kdf, "p")?);
    // A hostile file must not make the restore allocate without bound.
    if m > 1024 * 1024 || t > 16 || p > 16 {
        return Err(SealError::Format("KDF cost out of range".into()));
    }
    let mut key = derive(passphrase, &salt, m, t, p)?;
    let cipher = XChaCha20Poly1305::new((&key).into());
    key.fill(0);
    cipher
        .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: fingerprint.as_bytes() })
        .map_err(|_| SealError::DoesNotOpen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_passphrase_and_fingerprint() {
        let secret = b"tollgate audit signing key v1\n00ff\n";
        let sealed = seal(secret, "correct horse battery", "sha256:aa").unwrap();
        assert!(!sealed.to_string().contains("00ff"), "no plaintext in the sealed form");
        assert_eq!(open(&sealed, "correct horse battery", "sha256:aa").unwrap(), secret);
        assert!(matches!(open(&sealed, "wrong horse battery!", "sha256:aa"), Err(SealError::DoesNotOpen)));
        assert!(matches!(open(&sealed, "correct horse battery", "sha256:bb"), Err(SealError::DoesNotOpen)));
        let mut altered = sealed.clone();
        let ct = altered["ciphertext"].as_str().unwrap().to_owned();
        let flipped = match ct.strip_prefix('0') {
            Some(rest) => format!("1{rest}"),
            None => format!("0{}", ct.get(1..).unwrap_or_default()),
        };
        altered["ciphertext"] = json!(flipped);
        assert!(matches!(open(&altered, "correct horse battery", "sha256:aa"), Err(SealError::DoesNotOpen)));
    }

    #[test]
    fn a_short_passphrase_is_refused() {
        assert!(matches!(seal(b"k", "short", "f"), Err(SealError::WeakPassphrase)));
    }

    #[test]
    fn two_seals_of_one_key_differ() {
        let a = seal(b"k", "long enough passphrase", "f").unwrap();
        let b = seal(b"k", "long enough passphrase", "f").unwrap();
        assert_ne!(a["ciphertext"], b["ciphertext"], "fresh salt and nonce each time");
    }
}
