//! `manifest.json`: what a package claims (tenant, range, files with their
//! digests, signing key) and the Ed25519 signature over that claim.
//! Invariant: the signature covers the RFC 8785 form of the manifest without
//! `signature`, so changing any byte of any listed file, or of the manifest,
//! is detected with the pinned key alone.

use ed25519_dalek::Signature;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::tree::Tree;
use crate::audit::{AuditError, PublicKey, SigningKey, canonical_json, digest};

/// The tenant a package is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantRef {
    /// Tenant id (`tn_…`), also the chain name.
    pub id: String,
    /// Its slug at export.
    pub slug: String,
}

/// The closed range of seqs the package covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqRange {
    /// First seq (1 for a whole chain).
    pub from_seq: u64,
    /// Last seq; the export checkpoint signs it.
    pub to_seq: u64,
}

/// The first record of the range and the hash it links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstRecord {
    /// Its seq (= `range.from_seq`).
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Its `prev`: GENESIS for seq 1, else the hash of the record before the range.
    pub prev: String,
}

/// The last record of the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastRecord {
    /// Its seq (= `range.to_seq`).
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// Its timestamp: the package's "as of" time.
    pub ts: String,
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative path.
    pub path: String,
    /// `sha256:<hex>` of its bytes.
    pub sha256: String,
    /// Its length in bytes.
    pub size: u64,
}

/// The signing public key, embedded for convenience only: a verifier trusts
/// it only when it matches a pinned key or fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRef {
    /// Always `ed25519`.
    pub algorithm: String,
    /// 64 lowercase hex digits.
    pub hex: String,
    /// `sha256:<hex>` of the raw key (what `tollgate audit pubkey` prints).
    pub fingerprint: String,
    /// First 16 hex digits of the fingerprint (named in checkpoints).
    pub key_id: String,
}

/// The manifest. JSON field names are the documented format
/// (docs/audit-package.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`super::FORMAT`].
    pub format: String,
    /// [`super::FORMAT_VERSION`].
    pub format_version: u64,
    /// The tenant.
    pub tenant: TenantRef,
    /// The chain (= tenant id).
    pub chain: String,
    /// The seqs covered.
    pub range: SeqRange,
    /// `to_seq - from_seq + 1`.
    pub record_count: u64,
    /// Checkpoints in `evidence/checkpoints.jsonl`.
    pub checkpoint_count: u64,
    /// The first record.
    pub first: FirstRecord,
    /// The last record.
    pub last: LastRecord,
    /// Every file but the manifest, sorted by path.
    pub files: Vec<FileEntry>,
    /// The key that signed this manifest (the exporter's current key).
    pub public_key: KeyRef,
    /// Format 2: every key whose checkpoints appear in the package (the
    /// manifest's signer included), sorted by key id. Absent in format 1,
    /// where `public_key` signed everything. Listing a key grants no trust:
    /// a verifier trusts a listed key only when it matches a pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_keys: Option<Vec<KeyRef>>,
    /// 128 hex digits: Ed25519 over [`Manifest::signing_payload`].
    pub signature: String,
}

impl Manifest {
    /// The file entries of `tree` (every file but `manifest.json`).
    pub fn entries(tree: &Tree) -> Vec<FileEntry> {
        tree.iter()
            .filter(|(p, _)| p.as_str() != super::paths::MANIFEST)
            .map(|(path, bytes)| FileEntry { path: path.clone(), sha256: digest(bytes), size: bytes.len() as u64 })
            .collect()
    }

    /// The embedded form of `key`'s public half.
    pub fn key_ref(key: &PublicKey) -> KeyRef {
        KeyRef { algorithm: "ed25519".into(), hex: key.to_hex(), fingerprint: key.fingerprint(), key_id: key.key_id() }
    }

    /// The keys the package lists: `public_keys` (format 2) or just
    /// `public_key` (format 1), each checked against its own hex.
    pub fn listed_keys(&self) -> Result<Vec<PublicKey>, String> {
        let refs = match &self.public_keys {
            Some(list) => list.clone(),
            None => vec![self.public_key.clone()],
        };
        let mut keys: Vec<PublicKey> = Vec::with_capacity(refs.len());
        for r in &refs {
            let key = PublicKey::from_hex(&r.hex).map_err(|e| format!("public_keys: {e}"))?;
            if r.algorithm != "ed25519"
                || r.hex != key.to_hex()
                || r.fingerprint != key.fingerprint()
                || r.key_id != key.key_id()
            {
                return Err(format!("public_keys: the entry for {} does not describe its own key", r.hex));
            }
            if keys.contains(&key) {
                return Err(format!("public_keys: {} is listed twice", r.key_id));
            }
            keys.push(key);
        }
        if !refs.contains(&self.public_key) {
            return Err("public_keys does not list the manifest's signing key".into());
        }
        Ok(keys)
    }

    /// The canonical bytes signed: the manifest without `signature`.
    pub fn signing_payload(&self) -> Result<String, AuditError> {
        let mut v = serde_json::to_value(self).map_err(AuditError::Canonical)?;
        if let Value::Object(map) = &mut v {
            map.remove("signature");
        }
        canonical_json(&v)
    }

    /// Signs the manifest in place with `key`.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), AuditError> {
        self.public_key = Self::key_ref(&key.public_key());
        let payload = self.signing_payload()?;
        self.signature = hex::encode(key.sign(payload.as_bytes()).to_bytes());
        Ok(())
    }

    /// Checks the signature against `key` (strict Ed25519).
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), String> {
        let mut raw = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut raw).map_err(|_| "signature is not 128 hex digits".to_owned())?;
        let payload = self.signing_payload().map_err(|e| e.to_string())?;
        key.verify(payload.as_bytes(), &Signature::from_bytes(&raw))
    }

    /// The manifest file's bytes: canonical JSON and a newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AuditError> {
        let v = serde_json::to_value(self).map_err(AuditError::Canonical)?;
        Ok(format!("{}\n", canonical_json(&v)?).into_bytes())
    }
}
