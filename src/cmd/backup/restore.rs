//! `tollgate restore FILE --data-dir NEW`: a backup made into a data dir that
//! verifies and serves.
//!
//! Order: refuse a live or non-empty target; unpack into a private scratch
//! dir beside it; check the manifest's signature (against `--fingerprint`
//! when pinned), every file's digest, and that the snapshot's chain heads are
//! the manifest's; put the signing key in place (the sealed one, opened with
//! the passphrase — or, when the backup left it out, a NEW key, with the old
//! public key retired into the keyring so every old checkpoint still
//! verifies); verify every chain; only then rename the scratch dir to NEW.
//!
//! Invariant: NEW either does not change or ends up a whole, verified data
//! dir; a failed restore leaves nothing behind.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::archive::{FORMAT, MANIFEST, SEALED_KEY, sha256_file, signed_bytes};
use super::seal;
use crate::audit::{PublicKey, SigningKey};
use crate::cmd::CliError;
use crate::store::backup::chain_heads;
use crate::store::datadir::DataDir;
use crate::store::{audit_log, keyring};

/// `tollgate restore`'s request.
pub struct RestoreArgs {
    pub file: PathBuf,
    pub data_dir: PathBuf,
    /// Read the sealed signing key's passphrase from this variable.
    pub passphrase_env: Option<String>,
    /// Trust the backup only if its key has this fingerprint.
    pub fingerprint: Option<String>,
}

/// What a restore did.
pub struct Restored {
    pub manifest: Value,
    /// `true`: the backup's own key; `false`: a new key (the old one is retired into the keyring).
    pub kept_signing_key: bool,
    /// Every chain and its record count, verified.
    pub chains: Vec<(String, u64)>,
}

fn invalid(m: impl Into<String>) -> CliError {
    CliError::Invalid(format!("the backup is not usable: {}", m.into()))
}

/// Refuse a live or non-empty dir.
fn check_target(dir: &Path) -> Result<(), CliError> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(CliError::Usage(format!("{} exists and is not a directory", dir.display())));
    }
    let lock = dir.join("tollgate.lock");
    if lock.is_file() {
        let file = std::fs::OpenOptions::new().write(true).open(&lock)?;
        if let Err(std::fs::TryLockError::WouldBlock) = file.try_lock() {
            return Err(CliError::Usage(format!(
                "a tollgate server is running on {}; restore into a new, empty directory",
                dir.display()
            )));
        }
    }
    if std::fs::read_dir(dir)?.next().is_some() {
        return Err(CliError::Usage(format!(
            "{} is not empty; restore into a new, empty directory (nothing was changed)",
            dir.display()
        )));
    }
    Ok(())
}

struct Scratch(Option<PathBuf>);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Restore `args.file` into `args.data_dir`.
pub fn restore(args: &RestoreArgs, now: &str) -> Result<Restored, CliError> {
    check_target(&args.data_dir)?;
    let passphrase = match &args.passphrase_env {
        None => None,
        Some(var) => Some(std::env::var(var).ok().filter(|p| !p.is_empty()).ok_or_else(|| {
            CliError::Usage(format!("--passphrase-env {var}: the environment variable {var} is not set"))
        })?),
    };
    let name = args.data_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let scratch_path = args.data_dir.with_file_name(format!(".{name}.restoring"));
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(false);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&scratch_path).map_err(|e| {
        CliError::Usage(format!("cannot create {} (another restore under way?): {e}", scratch_path.display()))
    })?;
    let mut scratch = Scratch(Some(scratch_path.clone()));

    let file = std::fs::File::open(&args.file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries().map_err(|e| invalid(format!("not a tar: {e}")))? {
        let mut entry = entry.map_err(|e| invalid(format!("not a tar: {e}")))?;
        if !entry.header().entry_type().is_file() {
            return Err(invalid("it holds something other than regular files"));
        }
        // `unpack_in` refuses absolute paths and `..`.
        if !entry.unpack_in(&scratch_path).map_err(|e| invalid(e.to_string()))? {
            return Err(invalid("a path in it points outside the data dir"));
        }
    }

    let manifest_text = std::fs::read_to_string(scratch_path.join(MANIFEST)).map_err(|_| invalid("no backup.json"))?;
    let manifest: Value = serde_json::from_str(&manifest_text).map_err(|e| invalid(format!("backup.json: {e}")))?;
    if manifest["format"] != FORMAT || manifest["version"] != 1 {
        return Err(invalid("backup.json is not a version 1 tollgate backup manifest"));
    }
    let public = check_signature(&manifest, args.fingerprint.as_deref())?;
    check_files(&scratch_path, &manifest)?;
    std::fs::remove_file(scratch_path.join(MANIFEST))?;

    // The snapshot's chain heads must be exactly the manifest's.
    let heads = chain_heads(&scratch_path.join("tollgate.db"))?;
    let found: Vec<Value> = heads.iter().map(|h| json!({"chain": h.chain, "seq": h.seq, "hash": h.hash})).collect();
    if manifest["chains"].as_array() != Some(&found) {
        return Err(invalid("the database's chain heads differ from the manifest's"));
    }

    let files = DataDir::new(&scratch_path);
    let sealed_path = scratch_path.join(SEALED_KEY);
    let kept = if sealed_path.is_file() {
        let Some(passphrase) = &passphrase else {
            return Err(CliError::Usage(
                "this backup holds the signing key sealed under a passphrase: give --passphrase-env VAR".into(),
            ));
        };
        let sealed: Value = serde_json::from_str(&std::fs::read_to_string(&sealed_path)?)
            .map_err(|e| invalid(format!("{SEALED_KEY}: {e}")))?;
        let mut secret =
            seal::open(&sealed, passphrase, &public.fingerprint()).map_err(|e| CliError::Invalid(e.to_string()))?;
        let written = write_private(&files.signing_key(), &secret);
        secret.fill(0);
        written?;
        std::fs::remove_file(&sealed_path)?;
        let key = SigningKey::load(&files.signing_key()).map_err(|e| invalid(format!("sealed key: {e}")))?;
        if key.public_key() != public {
            return Err(invalid("the sealed signing key is not the key that signed the manifest"));
        }
        true
    } else {
        if passphrase.is_some() {
            return Err(CliError::Usage("this backup holds no signing key; drop --passphrase-env".into()));
        }
        // The old key's private half is gone: a new key signs from now on, and
        // the old public key stays trusted for what it signed.
        keyring::retire(&files, &public, now)?;
        SigningKey::generate()
            .and_then(|k| k.write_new(&files.signing_key()))
            .map_err(|e| CliError::Failed(format!("new signing key: {e}")))?;
        false
    };

    let key = SigningKey::load(&files.signing_key()).map_err(|e| CliError::Failed(e.to_string()))?;
    let trusted = keyring::trusted_keys(&files, &key)?;
    let conn = crate::store::open_read_only(&files.db())?;
    let mut chains = Vec::new();
    for head in &heads {
        match audit_log::verify_stored(&conn, &head.chain, &trusted)? {
            Ok(report) if report.last_seq == head.seq && report.last_hash == head.hash => {
                chains.push((head.chain.clone(), report.records));
            }
            Ok(_) => return Err(invalid(format!("chain {} does not end where the manifest says", head.chain))),
            Err(problem) => return Err(invalid(format!("chain {}: {problem}", head.chain))),
        }
    }
    drop(conn);

    private_modes(&scratch_path)?;
    if args.data_dir.exists() {
        std::fs::remove_dir(&args.data_dir)?;
    }
    std::fs::rename(&scratch_path, &args.data_dir)?;
    scratch.0 = None;
    Ok(Restored { manifest, kept_signing_key: kept, chains })
}

fn check_signature(manifest: &Value, pin: Option<&str>) -> Result<PublicKey, CliError> {
    let public = manifest["public_key"]
        .as_str()
        .and_then(|h| PublicKey::from_hex(h).ok())
        .ok_or_else(|| invalid("backup.json has no valid public_key"))?;
    if let Some(pin) = pin
        && !public.matches_pin(pin)
    {
        return Err(invalid(format!("it was signed by {}, not the pinned {pin}", public.fingerprint())));
    }
    let signature = manifest["signature"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| ed25519_dalek::Signature::from_bytes(&b))
        .ok_or_else(|| invalid("backup.json has no valid signature"))?;
    public
        .verify(signed_bytes(manifest)?.as_bytes(), &signature)
        .map_err(|_| invalid("the manifest's signature does not verify"))?;
    Ok(public)
}

/// Every listed file is present with its digest and size, and nothing else is.
fn check_files(root: &Path, manifest: &Value) -> Result<(), CliError> {
    let listed = manifest["files"].as_array().ok_or_else(|| invalid("backup.json lists no files"))?;
    let mut names = std::collections::BTreeSet::new();
    for f in listed {
        let (Some(path), Some(sha), Some(size)) = (f["path"].as_str(), f["sha256"].as_str(), f["size"].as_u64()) else {
            return Err(invalid("a file entry lacks path, sha256 or size"));
        };
        let on_disk = root.join(path);
        let (found_sha, found_size) = sha256_file(&on_disk).map_err(|_| invalid(format!("{path} is missing")))?;
        if found_sha != sha || found_size != size {
            return Err(invalid(format!("{path} differs from the manifest (altered or truncated)")));
        }
        names.insert(path.to_owned());
    }
    if !names.contains("tollgate.db") {
        return Err(invalid("it holds no tollgate.db"));
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let path = entry.path();
            let rel = path.strip_prefix(root).map(|p| p.to_string_lossy().replace('\\', "/")).unwrap_or_default();
            if rel != MANIFEST && !names.contains(&rel) {
                return Err(invalid(format!("{rel} is not in the manifest")));
            }
        }
    }
    Ok(())
}

/// Everything restored is the owner's only: files 0600, dirs 0700 (as `init` and the server make them).
fn private_modes(root: &Path) -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_dir() {
                    stack.push(entry.path());
                } else {
                    std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
                }
            }
        }
    }
    let _ = root;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
