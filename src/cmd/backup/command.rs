//! `tollgate backup` and `tollgate restore` as commands: run them and tell
//! the operator what was written, what was verified and what to pin.

use std::path::PathBuf;

use super::archive::{BackupArgs, backup as write_backup};
use super::restore::{RestoreArgs, restore as run_restore};
use crate::clock::Clock;
use crate::cmd::CliError;

/// `tollgate backup --data-dir DIR --out FILE [--include-signing-key --passphrase-env VAR]`.
pub fn backup(data_dir: Option<PathBuf>, out: PathBuf, passphrase_env: Option<String>) -> Result<(), CliError> {
    let data_dir =
        data_dir.ok_or_else(|| CliError::Usage("no data dir: pass --data-dir DIR or set TOLLGATE_DATA_DIR".into()))?;
    let args = BackupArgs { data_dir, out: out.clone(), signing_key_passphrase_env: passphrase_env };
    let manifest = write_backup(args, &Clock::system().now_rfc3339())?;
    let chains = manifest["chains"].as_array().map(Vec::len).unwrap_or(0);
    let records: u64 = manifest["chains"].as_array().into_iter().flatten().filter_map(|c| c["seq"].as_u64()).sum();
    println!("backup written to {} (mode 0600)", out.display());
    println!("  {chains} chains, {records} audit records, as of {}", manifest["created_at"].as_str().unwrap_or(""));
    println!(
        "  signing key: {}",
        if manifest["signing_key"] == "sealed" {
            "included, sealed under the passphrase"
        } else {
            "left out (a restore makes a new one; the old public key keeps verifying)"
        }
    );
    println!("  pin it when restoring: --fingerprint {}", manifest["fingerprint"].as_str().unwrap_or(""));
    Ok(())
}

/// `tollgate restore FILE --data-dir NEW`.
pub fn restore(args: RestoreArgs) -> Result<(), CliError> {
    let restored = run_restore(&args, &Clock::system().now_rfc3339())?;
    println!("restored {} into {}", args.file.display(), args.data_dir.display());
    let signer = restored.manifest["fingerprint"].as_str().unwrap_or("");
    match &args.fingerprint {
        Some(_) => println!("manifest signed by the pinned key {signer}"),
        None => println!("manifest signed by {signer}, the backup's own key (pin it with --fingerprint)"),
    }
    for (chain, records) in &restored.chains {
        println!("ok      {chain}: {records} records verify");
    }
    if restored.kept_signing_key {
        println!("signing key: the backup's own (opened with the passphrase)");
    } else {
        println!(
            "signing key: NEW (the backup left the old one out); the old public key {} is in the keyring",
            restored.manifest["fingerprint"].as_str().unwrap_or("")
        );
        println!("  pin both keys for packages that span the restore");
    }
    println!("next: tollgate serve --data-dir {}", args.data_dir.display());
    Ok(())
}
