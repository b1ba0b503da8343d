//! `tollgate backup`: one file holding a consistent snapshot of a data dir,
//! taken while its server runs.
//!
//! Layout (a tar): `tollgate.db` (the snapshot), `tollgate.toml`,
//! `audit-keyring/*.json`, `packages/…`, optionally
//! `audit-signing.key.sealed`, and last `backup.json`, the manifest: every
//! file with its SHA-256 and size, every chain's head in the snapshot, the
//! signing public key, and an Ed25519 signature over the rest.
//!
//! Invariants: the file is created 0600 and appears only whole (written
//! beside it, then renamed); the private signing key is left out unless
//! asked for, and then only sealed under a passphrase ([`super::seal`]);
//! nothing in it is newer than the snapshot's instant except what the
//! manifest lists.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::seal;
use crate::audit::{SigningKey, canonical_json};
use crate::cmd::CliError;
use crate::store::backup::{chain_heads, schema_version, snapshot};
use crate::store::datadir::DataDir;

/// The manifest's name inside the archive.
pub const MANIFEST: &str = "backup.json";
/// The sealed signing key's name inside the archive.
pub const SEALED_KEY: &str = "audit-signing.key.sealed";
/// The manifest's `format`.
pub const FORMAT: &str = "tollgate-backup";

/// `tollgate backup`'s request.
pub struct BackupArgs {
    pub data_dir: PathBuf,
    pub out: PathBuf,
    /// `--include-signing-key` with the passphrase read from this variable.
    pub signing_key_passphrase_env: Option<String>,
}

/// A private scratch dir beside the output, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(out: &Path) -> Result<Self, CliError> {
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into());
        let path = out.with_file_name(format!(".{name}.partial.d"));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).map_err(|e| {
            CliError::Usage(format!("cannot create {} (a backup already under way?): {e}", path.display()))
        })?;
        Ok(Self(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn sha256_file(path: &Path) -> Result<(String, u64), CliError> {
    use sha2::Digest as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), size))
}

/// The files under `root/rel` (recursively), as relative paths, sorted.
fn files_under(root: &Path, rel: &str) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    let base = root.join(rel);
    if !base.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![base];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let path = entry.path();
                let relative = path.strip_prefix(root).map_err(|e| CliError::Failed(e.to_string()))?;
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The canonical bytes the manifest's signature covers: the manifest without `signature`.
pub(super) fn signed_bytes(manifest: &Value) -> Result<String, CliError> {
    let mut unsigned = manifest.clone();
    if let Some(m) = unsigned.as_object_mut() {
        m.remove("signature");
    }
    canonical_json(&unsigned).map_err(|e| CliError::Failed(format!("manifest: {e}")))
}

/// `tollgate backup --data-dir DIR --out FILE [--include-signing-key]`.
pub fn backup(args: BackupArgs, now: &str) -> Result<Value, CliError> {
    let files = DataDir::new(&args.data_dir);
    files.require_initialized().map_err(|e| CliError::Usage(e.to_string()))?;
    if args.out.exists() {
        return Err(CliError::Usage(format!(
            "{} already exists; a backup never overwrites a file",
            args.out.display()
        )));
    }
    let passphrase = match &args.signing_key_passphrase_env {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(p) if !p.is_empty() => Some(p),
            _ => {
                return Err(CliError::Usage(format!(
                    "--include-signing-key needs a passphrase in ${var} (--passphrase-env {var}); it is not set"
                )));
            }
        },
    };
    let key = SigningKey::load(&files.signing_key()).map_err(|e| CliError::Failed(format!("signing key: {e}")))?;
    let public = key.public_key();
    let scratch = Scratch::new(&args.out)?;

    // Packages first: nothing in the backup is newer than the snapshot that follows.
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for rel in files_under(&args.data_dir, "packages")? {
        let to = scratch.0.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // A package removed (expired) while we copy is simply not in the backup.
        if std::fs::copy(args.data_dir.join(&rel), &to).is_ok() {
            entries.push((rel, to));
        }
    }
    let db = scratch.0.join("tollgate.db");
    snapshot(&files.db(), &db)?;
    entries.insert(0, ("tollgate.db".into(), db.clone()));
    if files.config().is_file() {
        entries.push(("tollgate.toml".into(), files.config()));
    }
    for rel in files_under(&args.data_dir, "audit-keyring")? {
        entries.push((rel.clone(), args.data_dir.join(rel)));
    }
    if let Some(passphrase) = &passphrase {
        let mut secret = std::fs::read(files.signing_key())?;
        let sealed = seal::seal(&secret, passphrase, &public.fingerprint());
        secret.fill(0);
        let sealed = sealed.map_err(|e| CliError::Usage(e.to_string()))?;
        let path = scratch.0.join(SEALED_KEY);
        std::fs::write(&path, format!("{sealed}\n"))?;
        entries.push((SEALED_KEY.into(), path));
    }

    let heads = chain_heads(&db)?;
    let mut listed = Vec::new();
    for (name, path) in &entries {
        let (sha256, size) = sha256_file(path)?;
        listed.push(json!({ "path": name, "sha256": sha256, "size": size }));
    }
    let mut manifest = json!({
        "format": FORMAT,
        "version": 1,
        "created_at": now,
        "tollgate": env!("CARGO_PKG_VERSION"),
        "schema_version": schema_version(&db)?,
        "chains": heads.iter().map(|h| json!({"chain": h.chain, "seq": h.seq, "hash": h.hash})).collect::<Vec<_>>(),
        "files": listed,
        "public_key": public.to_hex(),
        "fingerprint": public.fingerprint(),
        "signing_key": if passphrase.is_some() { "sealed" } else { "left_out" },
    });
    let signature = key.sign(signed_bytes(&manifest)?.as_bytes());
    manifest["signature"] = json!(hex::encode(signature.to_bytes()));
    let manifest_path = scratch.0.join(MANIFEST);
    std::fs::write(&manifest_path, format!("{}\n", serde_json::to_string_pretty(&manifest).unwrap_or_default()))?;
    entries.push((MANIFEST.into(), manifest_path));

    write_archive(&args.out, &entries)?;
    Ok(manifest)
}

/// Write the tar to `OUT.partial` (0600), sync it, and rename it to `OUT`.
fn write_archive(out: &Path, entries: &[(String, PathBuf)]) -> Result<(), CliError> {
    let partial = out.with_file_name(format!(
        "{}.partial",
        out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "backup".into())
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file =
        options.open(&partial).map_err(|e| CliError::Usage(format!("cannot create {}: {e}", partial.display())))?;
    let written = (|| -> Result<(), CliError> {
        let mut tar = tar::Builder::new(file);
        tar.mode(tar::HeaderMode::Deterministic);
        for (name, path) in entries {
            tar.append_path_with_name(path, name)?;
        }
        let mut file = tar.into_inner()?;
        file.flush()?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, out)?;
    Ok(())
}
