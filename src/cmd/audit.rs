//! Offline audit commands: `tollgate audit verify`, `tollgate audit pubkey`
//! and `tollgate audit rotate-key`.
//!
//! Invariants: verify and pubkey only read (a read-only connection; the
//! server may be running); trust comes from pinned keys (`--pubkey` or
//! `--fingerprint`, each repeatable), or, when none is given, from the data
//! dir's own key file and keyring, which the report says; the first bad
//! record is named. rotate-key writes, so it needs the data dir exclusively.

use std::path::{Path, PathBuf};

use crate::audit::{PublicKey, SigningKey, describe};
use crate::cmd::CliError;
use crate::cmd::export::{check_fingerprint, parse_pubkeys};
use crate::identity::TenantId;
use crate::store::{StoreError, audit_log, datadir::DataDir, keyring};

/// How the verifier decides which signing keys to trust.
pub enum Pin {
    /// `--pubkey HEX` and `--fingerprint sha256:HEX`, each repeatable: the
    /// pinned keys, plus the data dir's keys (current or retired) whose
    /// fingerprint is pinned. Every fingerprint must name one of them.
    Pinned {
        /// `--pubkey` values.
        pubkeys: Vec<String>,
        /// `--fingerprint` values.
        fingerprints: Vec<String>,
    },
    /// Nothing pinned: trust the data dir's key file and its keyring.
    DataDirKey,
}

/// A missing or uninitialized data dir is a usage error (exit 2), not an invalid log.
fn require(dir: &Path) -> Result<DataDir, CliError> {
    let files = DataDir::new(dir);
    // A data dir whose database is PostgreSQL holds the signing key only.
    let on_postgres = crate::config::Config::load(&files.config()).is_ok_and(|c| c.database_url.is_some());
    let ready = if on_postgres { files.require_signing_key() } else { files.require_initialized() };
    ready.map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(files)
}

fn data_dir_key(dir: &Path) -> Result<PublicKey, CliError> {
    let files = require(dir)?;
    let key = SigningKey::load(&files.signing_key()).map_err(|e| CliError::Invalid(format!("signing key: {e}")))?;
    Ok(key.public_key())
}

/// The data dir's current key and then its retired keys.
fn data_dir_keys(dir: &Path) -> Result<Vec<PublicKey>, CliError> {
    let files = require(dir)?;
    let key = SigningKey::load(&files.signing_key()).map_err(|e| CliError::Invalid(format!("signing key: {e}")))?;
    keyring::trusted_keys(&files, &key).map_err(|e| CliError::Invalid(format!("keyring: {e}")))
}

fn trusted_keys(dir: &Path, pin: &Pin) -> Result<(Vec<PublicKey>, String), CliError> {
    match pin {
        Pin::Pinned { pubkeys, fingerprints } => {
            let mut keys = parse_pubkeys(pubkeys)?;
            fingerprints.iter().try_for_each(|f| check_fingerprint(f))?;
            if !fingerprints.is_empty() {
                let own = data_dir_keys(dir)?;
                for f in fingerprints {
                    let Some(key) = own.iter().find(|k| k.matches_pin(f)) else {
                        return Err(CliError::Invalid(format!(
                            "no signing key of the data dir (current {}, or retired in its keyring) has the pinned \
                             fingerprint {f}: the key was replaced",
                            own.first().map(PublicKey::fingerprint).unwrap_or_default()
                        )));
                    };
                    if !keys.contains(key) {
                        keys.push(*key);
                    }
                }
            }
            Ok((keys, "pinned".into()))
        }
        Pin::DataDirKey => {
            Ok((data_dir_keys(dir)?, "the data dir's own key and keyring (pin with --pubkey or --fingerprint)".into()))
        }
    }
}

fn read_only(dir: &Path) -> Result<crate::store::Db, CliError> {
    let config = crate::config::Config::load(&crate::store::datadir::DataDir::new(dir).config())?;
    if config.database_url.is_none() {
        require(dir)?;
    }
    crate::store::open_database(dir, config.database_url.as_ref()).map_err(CliError::Store)
}

/// `tollgate audit verify --data-dir DIR [--tenant T] [--pubkey K | --fingerprint F]`.
pub fn audit_verify(dir: Option<PathBuf>, tenant: Option<String>, pin: Pin) -> Result<(), CliError> {
    let dir = dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    let (keys, trust) = trusted_keys(&dir, &pin)?;
    let conn = read_only(&dir)?;
    let chains = match tenant {
        None => audit_log::chains(&conn)?,
        Some(t) if t == crate::audit::SYSTEM_CHAIN => vec![t],
        Some(t) => {
            let id = if t.starts_with("tn_") { t.clone() } else { TenantId::for_slug(&t).0 };
            // A deleted tenant's chain is kept (and sealed): it still verifies.
            if crate::store::tenants::get(&conn, &id)?.is_none()
                && crate::store::lifecycle::tombstone(&conn, &id)?.is_none()
            {
                return Err(CliError::Usage(format!("no tenant {t:?} in this data dir (give its id or its slug)")));
            }
            vec![id]
        }
    };
    let fingerprints: Vec<String> = keys.iter().map(PublicKey::fingerprint).collect();
    println!("trusting {} ({})", fingerprints.join(", "), trust);
    let mut bad = None;
    for chain in &chains {
        match audit_log::verify_stored(&conn, chain, &keys)? {
            Ok(report) => println!(
                "ok      {chain}: {} record{}, {} checkpoint{}, signed through seq {}{}",
                report.records,
                if report.records == 1 { "" } else { "s" },
                report.checkpoints,
                if report.checkpoints == 1 { "" } else { "s" },
                report.covered_seq,
                if report.covered_seq < report.last_seq { " (newer records not yet checkpointed)" } else { "" }
            ),
            Err(problem) => {
                println!("INVALID {chain}: {problem} [{}]", problem.code());
                bad.get_or_insert_with(|| format!("chain {chain}: {problem}"));
            }
        }
    }
    match bad {
        None => Ok(()),
        Some(first) => Err(CliError::Invalid(format!("audit log is invalid: {first}"))),
    }
}

/// `tollgate audit rotate-key --data-dir DIR`.
pub fn audit_rotate_key(dir: Option<PathBuf>) -> Result<(), CliError> {
    let dir = dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    require(&dir)?;
    let rotated = crate::store::rotation::rotate(&dir, crate::clock::Clock::system()).map_err(|e| match e {
        StoreError::Unavailable(m) => CliError::Failed(m),
        other => CliError::Store(other),
    })?;
    for (chain, seq) in &rotated.sealed {
        println!("sealed  {chain} through seq {seq} with the old key");
    }
    println!("old fingerprint: {} (kept in the keyring; its private key is gone)", rotated.old.fingerprint());
    println!("{}", describe(&rotated.new));
    println!(
        "pin both keys to verify packages that span the rotation: --fingerprint {} --fingerprint {}",
        rotated.old.fingerprint(),
        rotated.new.fingerprint()
    );
    Ok(())
}

/// `tollgate audit pubkey --data-dir DIR`.
pub fn audit_pubkey(dir: Option<PathBuf>) -> Result<(), CliError> {
    let dir = dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    println!("{}", describe(&data_dir_key(&dir)?));
    Ok(())
}
