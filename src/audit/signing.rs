//! The server's Ed25519 audit signing key and the public key verifiers pin.
//! Invariant: the private seed only ever lives in a file created 0600 that is
//! refused once group or others can read it, and is never printed.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::Path;

use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use sha2::{Digest as _, Sha256};

use super::fields::DIGEST_PREFIX;
use super::{AuditError, digest};

/// First line of a key file; names the format and its version.
pub const KEY_FILE_HEADER: &str = "tollgate-audit-signing-key v1 ed25519";

/// Largest key file `load` reads; a real one is under 120 bytes.
const KEY_FILE_MAX_BYTES: u64 = 4096;

/// The server's private Ed25519 key for signing checkpoints.
///
/// Key file format (UTF-8 text, two lines, each ending in `\n`):
///
/// ```text
/// tollgate-audit-signing-key v1 ed25519
/// <64 lowercase hex digits: the 32-byte Ed25519 seed>
/// ```
///
/// `Debug` shows only the key id.
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, AuditError> {
        let mut seed = [0u8; 32];
        OsRng.try_fill_bytes(&mut seed).map_err(|e| AuditError::Entropy(e.to_string()))?;
        let key = Self::from_seed(seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key with this 32-byte seed (tests and fixtures; real keys come
    /// from [`SigningKey::generate`]).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey { inner: ed25519_dalek::SigningKey::from_bytes(&seed) }
    }

    /// Writes this key to a new file at `path`, mode 0600 on unix.
    ///
    /// Refuses to overwrite an existing file (of any kind), so a second
    /// `init` can never silently replace the key that pinned verifiers trust.
    /// A partly written file is removed.
    pub fn write_new(&self, path: &Path) -> Result<(), AuditError> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                AuditError::KeyFileExists { path: path.to_owned() }
            } else {
                AuditError::KeyFileIo { path: path.to_owned(), source }
            }
        })?;
        let mut text = format!("{KEY_FILE_HEADER}\n{}\n", hex::encode(self.inner.as_bytes()));
        let written = file.write_all(text.as_bytes()).and_then(|()| file.sync_all());
        wipe(&mut text);
        if let Err(source) = written {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(AuditError::KeyFileIo { path: path.to_owned(), source });
        }
        Ok(())
    }

    /// Reads a key file written by [`SigningKey::write_new`].
    ///
    /// On unix, refuses a file that group or others may read or write (the
    /// key may have leaked; the error says how to fix the mode) and anything
    /// that is not a regular file.
    pub fn load(path: &Path) -> Result<Self, AuditError> {
        let io = |source| AuditError::KeyFileIo { path: path.to_owned(), source };
        let format = |detail: &str| AuditError::KeyFileFormat { path: path.to_owned(), detail: detail.to_owned() };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(format("not a regular file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                return Err(AuditError::KeyFilePermissions { path: path.to_owned(), mode });
            }
        }
        let mut bytes = Vec::new();
        file.take(KEY_FILE_MAX_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
        let parsed = parse_key_file(&bytes).map_err(format);
        bytes.fill(0);
        parsed
    }

    /// The public half, for pinning and verification.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.inner.verifying_key())
    }

    /// Short id of the public key; see [`PublicKey::key_id`].
    pub fn key_id(&self) -> String {
        self.public_key().key_id()
    }

    /// A 32-byte key for another purpose, derived from this key's seed with
    /// HKDF-SHA256 and `label` as its info: keys for different labels are
    /// independent, and none reveals the seed or can sign.
    pub fn derive_key(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, self.inner.as_bytes());
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hk.expand(label.as_bytes(), &mut out);
        out
    }

    /// Signs `message` (the crate signs only canonical checkpoint payloads).
    pub(crate) fn sign(&self, message: &[u8]) -> Signature {
        self.inner.sign(message)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("key_id", &self.key_id()).finish_non_exhaustive()
    }
}

/// Parses the key file text; errors carry no key material.
fn parse_key_file(bytes: &[u8]) -> Result<SigningKey, &'static str> {
    if bytes.len() as u64 > KEY_FILE_MAX_BYTES {
        return Err("file is too large to be a key file");
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "file is not UTF-8 text")?;
    let mut lines = text.lines();
    if lines.next() != Some(KEY_FILE_HEADER) {
        return Err("first line must be `tollgate-audit-signing-key v1 ed25519`");
    }
    let seed_hex = lines.next().ok_or("the seed line is missing")?;
    if lines.next().is_some() {
        return Err("unexpected text after the seed line");
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(seed_hex, &mut seed).map_err(|_| "the seed line must be 64 hex digits")?;
    let key = SigningKey::from_seed(seed);
    seed.fill(0);
    Ok(key)
}

/// Best-effort overwrite of a string that held key material.
fn wipe(text: &mut String) {
    let mut bytes = std::mem::take(text).into_bytes();
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// An Ed25519 public key that verifies checkpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses 64 hex digits (either case) of a raw 32-byte Ed25519 public
    /// key. Refuses encodings that are not a curve point and weak
    /// (small-order) keys, which would verify forged signatures.
    pub fn from_hex(s: &str) -> Result<Self, AuditError> {
        let mut raw = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut raw)
            .map_err(|_| AuditError::InvalidPublicKey(format!("expected 64 hex digits, got {s:?}")))?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| AuditError::InvalidPublicKey(format!("{s} is not a curve point")))?;
        if key.is_weak() {
            return Err(AuditError::InvalidPublicKey(format!("{s} is a weak (small-order) key")));
        }
        Ok(PublicKey(key))
    }

    /// The raw key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    /// `sha256:<hex>` of the raw 32-byte key: what operators pin.
    pub fn fingerprint(&self) -> String {
        digest(self.0.as_bytes())
    }

    /// The first 16 hex digits of the fingerprint: names the key in
    /// checkpoints. An id only selects a key; trust comes from the pin.
    pub fn key_id(&self) -> String {
        let hash = Sha256::digest(self.0.as_bytes());
        hex::encode(hash.iter().take(8).copied().collect::<Vec<u8>>())
    }

    /// True when `pin` is this key's hex or its `sha256:` fingerprint
    /// (surrounding whitespace and letter case ignored). A bare key id is
    /// not accepted: 64 bits are too few to pin trust on.
    pub fn matches_pin(&self, pin: &str) -> bool {
        let pin = pin.trim().to_ascii_lowercase();
        if pin.starts_with(DIGEST_PREFIX) { pin == self.fingerprint() } else { pin == self.to_hex() }
    }

    /// Verifies `signature` over `message`, strictly (no malleable forms).
    pub(crate) fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), String> {
        self.0.verify_strict(message, signature).map_err(|e| e.to_string())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

/// What `tollgate audit pubkey` prints: two lines, `pubkey: <hex>` and
/// `fingerprint: sha256:<hex>`, without a trailing newline. Either value is
/// accepted by [`PublicKey::matches_pin`].
pub fn describe(key: &PublicKey) -> String {
    format!("pubkey: {}\nfingerprint: {}", key.to_hex(), key.fingerprint())
}

#[cfg(test)]
#[path = "signing_tests.rs"]
mod tests;
