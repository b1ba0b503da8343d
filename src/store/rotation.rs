//! `tollgate audit rotate-key`: replace the audit signing key offline.
//!
//! Order (each step is safe to crash after; running the command again
//! finishes the job):
//! 1. hold the data dir exclusively (refused while a server runs);
//! 2. append an `audit.rotate_key` record to the `_system` chain (its
//!    result digest binds the old and new fingerprints), then close the
//!    store, which signs every chain's unsigned tail with the OLD key;
//! 3. check that every chain's head is covered by a checkpoint, else stop
//!    without switching (no record is left signed by nobody);
//! 4. add the old PUBLIC key to the keyring (`audit-keyring/`);
//! 5. write the new key to `audit-signing.key.new` (0600) and rename it
//!    over `audit-signing.key`, so the key file is always one whole key.
//!
//! Invariant: the old private key is never copied; after step 5 the only
//! trace of it is the keyring's public half.

use std::path::Path;

use serde_json::json;

use super::datadir::DataDir;
use super::{Store, StoreError, StoreOptions, audit_log, keyring, lock};
use crate::audit::{Decision, PublicKey, RecordDraft, SYSTEM_CHAIN, SigningKey, digest_json};
use crate::clock::Clock;

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The retired key (now in the keyring).
    pub old: PublicKey,
    /// The new current key.
    pub new: PublicKey,
    /// Every chain and the seq its final old-key checkpoint covers.
    pub sealed: Vec<(String, u64)>,
}

/// The temporary name the new key is written under before the rename.
fn temp_key_path(dir: &DataDir) -> std::path::PathBuf {
    let mut p = dir.signing_key().into_os_string();
    p.push(".new");
    p.into()
}

/// Rotates the signing key of the data dir at `root`; see the module doc.
pub fn rotate(root: &Path, clock: Clock) -> Result<Rotated, StoreError> {
    let dir = DataDir::new(root);
    dir.require_initialized()?;
    let _lock = lock::acquire_exclusive(root).map_err(|e| match e {
        StoreError::Unavailable(_) => StoreError::Unavailable(format!(
            "a tollgate server is running on {}; stop it before rotating the signing key \
             (the running server signs with the key it loaded)",
            root.display()
        )),
        other => other,
    })?;
    let old = SigningKey::load(&dir.signing_key())?.public_key();
    let new = SigningKey::generate()?;
    let new_public = new.public_key();

    let store = Store::open(root, clock.clone(), StoreOptions::default())?;
    let result = json!({"old_fingerprint": old.fingerprint(), "new_fingerprint": new_public.fingerprint()});
    let at = clock.now_rfc3339();
    let appended = store.write_blocking(move |w| {
        let draft = RecordDraft {
            ts: at,
            request_id: crate::audit::new_request_id(),
            principal: "local".into(),
            tenant: SYSTEM_CHAIN.into(),
            tool: Some("audit.rotate_key".into()),
            version: None,
            decision: Decision::Allow,
            reason: None,
            args_digest: None,
            result_digest: digest_json(&result).ok(),
            usage: serde_json::Map::new(),
            transport: "cli".into(),
            aggregate: None,
        };
        audit_log::append(w, SYSTEM_CHAIN, draft).map(|_| ())
    });
    // Closing the store signs every unsigned tail with the old key.
    store.shutdown();
    drop(store);
    appended?;

    let sealed = check_sealed(&dir, &old)?;
    keyring::retire(&dir, &old, &clock.now_rfc3339())?;

    let temp = temp_key_path(&dir);
    // A leftover from an interrupted rotation holds a key nothing ever used.
    match std::fs::remove_file(&temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    new.write_new(&temp)?;
    std::fs::rename(&temp, dir.signing_key())?;
    keyring::sync_dir(root)?;
    Ok(Rotated { old, new: new_public, sealed })
}

/// Every chain's head is signed by a checkpoint; the last one by `old`.
fn check_sealed(dir: &DataDir, old: &PublicKey) -> Result<Vec<(String, u64)>, StoreError> {
    let conn = super::open_read_only(&dir.db())?;
    let mut sealed = Vec::new();
    for chain in audit_log::chains(&conn)? {
        let Some((head, _)) = audit_log::head(&conn, &chain)? else { continue };
        let newest = audit_log::checkpoint_rows(&conn, &chain)?
            .iter()
            .filter_map(|t| serde_json::from_str::<crate::audit::Checkpoint>(t).ok())
            .max_by_key(|c| c.seq);
        match newest {
            Some(cp) if cp.seq == head && cp.key_id == old.key_id() => sealed.push((chain, head)),
            _ => {
                return Err(StoreError::Audit(format!(
                    "chain {chain} is not signed through its last record (seq {head}) by the current key; \
                     the key was NOT rotated. Check the logs and run rotate-key again"
                )));
            }
        }
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_seals_every_chain_with_the_old_key_and_keeps_its_public_half() {
        let root = std::env::temp_dir().join(format!("tollgate-rotate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        crate::store::datadir::init(&root, Clock::system()).unwrap();
        let dir = DataDir::new(&root);
        let before = std::fs::read(dir.signing_key()).unwrap();
        let before_text = before.clone();
        let rotated = rotate(&root, Clock::system()).unwrap();
        assert_ne!(rotated.old, rotated.new);
        assert_ne!(std::fs::read(dir.signing_key()).unwrap(), before);
        assert!(!temp_key_path(&dir).exists());
        let current = SigningKey::load(&dir.signing_key()).unwrap();
        assert_eq!(current.public_key(), rotated.new);
        let retired: Vec<PublicKey> = keyring::load(&dir).unwrap().into_iter().map(|r| r.key).collect();
        assert_eq!(retired, vec![rotated.old]);
        // No private key material in the keyring.
        let text = std::fs::read_to_string(dir.keyring().join(format!("{}.json", rotated.old.key_id()))).unwrap();
        let seed = String::from_utf8(before_text).unwrap().lines().nth(1).unwrap().to_owned();
        assert!(!text.contains(&seed));
        assert!(rotated.sealed.iter().any(|(c, seq)| c == SYSTEM_CHAIN && *seq == 2), "{:?}", rotated.sealed);

        // The chain verifies with both keys, and not with the new key alone.
        let conn = crate::store::open_read_only(&dir.db()).unwrap();
        let both = keyring::trusted_keys(&dir, &current).unwrap();
        assert!(audit_log::verify_stored(&conn, SYSTEM_CHAIN, &both).unwrap().is_ok());
        let only_new = audit_log::verify_stored(&conn, SYSTEM_CHAIN, &[rotated.new]).unwrap().unwrap_err();
        assert_eq!(only_new.code(), "untrusted_key");

        // A second rotation retires the second key too.
        let again = rotate(&root, Clock::system()).unwrap();
        assert_eq!(again.old, rotated.new);
        assert_eq!(keyring::load(&dir).unwrap().len(), 2);
    }

    #[test]
    fn rotation_is_refused_while_a_server_holds_the_data_dir() {
        let root = std::env::temp_dir().join(format!("tollgate-rotate-busy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        crate::store::datadir::init(&root, Clock::system()).unwrap();
        let before = std::fs::read(DataDir::new(&root).signing_key()).unwrap();
        let held = lock::acquire_shared(&root).unwrap();
        let err = rotate(&root, Clock::system()).unwrap_err();
        assert!(err.to_string().contains("stop it before rotating"), "{err}");
        drop(held);
        assert_eq!(std::fs::read(DataDir::new(&root).signing_key()).unwrap(), before);
    }
}
