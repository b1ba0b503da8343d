//! The audit keyring: the PUBLIC halves of signing keys retired by
//! `tollgate audit rotate-key`, so checkpoints they signed still verify.
//!
//! Layout: `DIR/audit-keyring/<key_id>.json`, one file per retired key, each
//! the canonical JSON of `{algorithm, fingerprint, key_id, public_key,
//! retired_at}` and a newline (docs/audit-package.md, "Key rotation").
//!
//! Invariants: append-only (a file is created once and never rewritten; a
//! second retirement of the same key is a no-op); no private key is ever
//! written here; a file whose key id, fingerprint or name disagrees with its
//! key is refused, so a corrupt keyring stops the server (fail closed) rather
//! than silently dropping trust.

use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use super::StoreError;
use super::datadir::DataDir;
use crate::audit::{PublicKey, SigningKey, canonical_json};

/// One retired key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredKey {
    /// Its public half.
    pub key: PublicKey,
    /// When it was retired (RFC 3339 UTC).
    pub retired_at: String,
}

fn corrupt(path: &Path, detail: &str) -> StoreError {
    StoreError::Audit(format!("keyring file {} is not a retired public key: {detail}", path.display()))
}

/// The canonical JSON text (with newline) of a keyring file.
fn file_text(key: &PublicKey, retired_at: &str) -> Result<String, StoreError> {
    let v = json!({
        "algorithm": "ed25519",
        "fingerprint": key.fingerprint(),
        "key_id": key.key_id(),
        "public_key": key.to_hex(),
        "retired_at": retired_at,
    });
    Ok(format!("{}\n", canonical_json(&v)?))
}

fn parse(path: &Path, bytes: &[u8]) -> Result<RetiredKey, StoreError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(path, &e.to_string()))?;
    let field = |name: &str| v.get(name).and_then(Value::as_str).ok_or_else(|| corrupt(path, &format!("no {name}")));
    if field("algorithm")? != "ed25519" {
        return Err(corrupt(path, "algorithm must be ed25519"));
    }
    let key = PublicKey::from_hex(field("public_key")?).map_err(|e| corrupt(path, &e.to_string()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if field("key_id")? != key.key_id() || stem != key.key_id() || field("fingerprint")? != key.fingerprint() {
        return Err(corrupt(path, "its key_id, fingerprint or file name does not match its public_key"));
    }
    let retired_at = field("retired_at")?.to_owned();
    if v.as_object().map_or(0, serde_json::Map::len) != 5 {
        return Err(corrupt(path, "unexpected fields"));
    }
    Ok(RetiredKey { key, retired_at })
}

/// Every retired key, sorted by key id; an absent keyring is empty.
pub fn load(dir: &DataDir) -> Result<Vec<RetiredKey>, StoreError> {
    let root = dir.keyring();
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::Io(format!("cannot read the keyring {}: {e}", root.display()))),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        keys.push(parse(&path, &bytes)?);
    }
    keys.sort_by_key(|k| k.key.key_id());
    Ok(keys)
}

/// Adds `key` to the keyring (create-new, synced). Retiring a key already
/// there keeps the first file untouched.
pub fn retire(dir: &DataDir, key: &PublicKey, retired_at: &str) -> Result<(), StoreError> {
    let root = dir.keyring();
    std::fs::create_dir_all(&root)?;
    let path = root.join(format!("{}.json", key.key_id()));
    let text = file_text(key, retired_at)?;
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = parse(&path, &std::fs::read(&path)?)?;
            return if existing.key == *key {
                Ok(())
            } else {
                Err(corrupt(&path, "another key already has this key id"))
            };
        }
        Err(e) => return Err(e.into()),
    };
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    sync_dir(&root)
}

/// Makes a rename or a new file in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// The keys a data dir trusts on its own (no pin): its current signing key
/// first, then every retired key. The keyring sits next to the key file and
/// is trusted exactly as much: whoever can replace one can replace the other.
pub fn trusted_keys(dir: &DataDir, current: &SigningKey) -> Result<Vec<PublicKey>, StoreError> {
    let current = current.public_key();
    let mut keys = vec![current];
    keys.extend(load(dir)?.into_iter().map(|r| r.key).filter(|k| *k != current));
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn test_key(seed: u8) -> SigningKey {
        SigningKey::from_seed([seed; 32])
    }

    fn temp(name: &str) -> DataDir {
        let root = std::env::temp_dir().join(format!("tollgate-keyring-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        DataDir::new(&root)
    }

    #[test]
    fn retire_is_append_only_and_load_returns_public_halves() {
        let dir = temp("append");
        assert!(load(&dir).unwrap().is_empty());
        let (a, b) = (test_key(1).public_key(), test_key(2).public_key());
        retire(&dir, &a, "2026-11-24T10:00:00Z").unwrap();
        retire(&dir, &b, "2026-11-25T10:00:00Z").unwrap();
        // A second retirement keeps the first file, time included.
        retire(&dir, &a, "2026-12-01T10:00:00Z").unwrap();
        let keys = load(&dir).unwrap();
        assert_eq!(keys.len(), 2);
        let first = keys.iter().find(|k| k.key == a).unwrap();
        assert_eq!(first.retired_at, "2026-11-24T10:00:00Z");
        let text = std::fs::read_to_string(dir.keyring().join(format!("{}.json", a.key_id()))).unwrap();
        assert!(text.contains(&a.to_hex()) && text.ends_with("}\n"), "{text}");
        let current = test_key(3);
        let trusted = trusted_keys(&dir, &current).unwrap();
        assert_eq!(trusted[0], current.public_key());
        assert_eq!(trusted.len(), 3);
    }

    #[test]
    fn a_tampered_keyring_file_is_refused() {
        let dir = temp("tampered");
        let (a, b) = (test_key(1).public_key(), test_key(2).public_key());
        retire(&dir, &a, "2026-11-24T10:00:00Z").unwrap();
        let path = dir.keyring().join(format!("{}.json", a.key_id()));
        // Swap in another key under the same name: the name no longer matches.
        std::fs::write(&path, file_text(&b, "2026-11-24T10:00:00Z").unwrap()).unwrap();
        assert!(load(&dir).is_err());
        std::fs::write(&path, "not json").unwrap();
        assert!(load(&dir).is_err());
    }
}
