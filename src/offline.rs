//! Offline audit commands: `tollgate audit verify` and `tollgate audit pubkey`.
//!
//! Invariants: they only read (a read-only connection; the server may be
//! running); trust comes from a pinned key (`--pubkey` or `--fingerprint`),
//! or, when none is given, from the data dir's own key file, which the report
//! says; the first bad record is named.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::audit::{PublicKey, SigningKey, describe};
use crate::cli::CliError;
use crate::identity::TenantId;
use crate::store::{StoreError, audit_log, datadir::DataDir};

/// How the verifier decides which signing key to trust.
pub enum Pin {
    /// `--pubkey HEX`.
    PublicKey(String),
    /// `--fingerprint sha256:HEX`: the data dir's key must have it.
    Fingerprint(String),
    /// Nothing pinned: trust the data dir's key file.
    DataDirKey,
}

/// A missing or uninitialized data dir is a usage error (exit 2), not an invalid log.
fn require(dir: &Path) -> Result<DataDir, CliError> {
    let files = DataDir::new(dir);
    files.require_initialized().map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(files)
}

fn data_dir_key(dir: &Path) -> Result<PublicKey, CliError> {
    let files = require(dir)?;
    let key = SigningKey::load(&files.signing_key()).map_err(|e| CliError::Invalid(format!("signing key: {e}")))?;
    Ok(key.public_key())
}

fn trusted_key(dir: &Path, pin: &Pin) -> Result<(PublicKey, String), CliError> {
    match pin {
        Pin::PublicKey(hex) => {
            let key = PublicKey::from_hex(hex).map_err(|e| CliError::Usage(format!("--pubkey: {e}")))?;
            Ok((key, "pinned --pubkey".into()))
        }
        Pin::Fingerprint(f) => {
            let well_formed =
                f.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if !well_formed {
                return Err(CliError::Usage(format!(
                    "--fingerprint {f:?} is not a fingerprint; pass sha256:<64 hex> as `tollgate audit pubkey` prints it"
                )));
            }
            let key = data_dir_key(dir)?;
            if !key.matches_pin(f) {
                return Err(CliError::Invalid(format!(
                    "the data dir's signing key has fingerprint {}, not the pinned {f}: the key was replaced",
                    key.fingerprint()
                )));
            }
            Ok((key, "pinned --fingerprint".into()))
        }
        Pin::DataDirKey => {
            Ok((data_dir_key(dir)?, "the data dir's own key (pin one with --pubkey or --fingerprint)".into()))
        }
    }
}

fn read_only(dir: &Path) -> Result<Connection, CliError> {
    let files = require(dir)?;
    let conn = Connection::open_with_flags(files.db(), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| CliError::Store(StoreError::from(e)))?;
    Ok(conn)
}

/// `tollgate audit verify --data-dir DIR [--tenant T] [--pubkey K | --fingerprint F]`.
pub fn audit_verify(dir: Option<PathBuf>, tenant: Option<String>, pin: Pin) -> Result<(), CliError> {
    let dir = dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    let (key, trust) = trusted_key(&dir, &pin)?;
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
    println!("trusting {} ({})", key.fingerprint(), trust);
    let mut bad = None;
    for chain in &chains {
        match audit_log::verify_stored(&conn, chain, std::slice::from_ref(&key))? {
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

/// `tollgate audit pubkey --data-dir DIR`.
pub fn audit_pubkey(dir: Option<PathBuf>) -> Result<(), CliError> {
    let dir = dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    println!("{}", describe(&data_dir_key(&dir)?));
    Ok(())
}
