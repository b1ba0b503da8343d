//! Packages kept in the data dir for download: `packages/<id>/` (the tree),
//! `packages/<id>.tar` and `packages/<id>.json` (owner tenant and expiry).
//! Invariant: a package id is derived from its manifest, so the same package
//! always has the same id; files are written under a temporary name and
//! renamed, so a download never sees half a package.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::build::Built;
use super::tree::{TreeError, write_dir};
use crate::audit::digest;

/// How long a download link works.
pub const DOWNLOAD_TTL_SECS: i64 = 24 * 60 * 60;

/// The `packages/` folder of a data dir.
#[derive(Debug, Clone)]
pub struct PackageFiles {
    root: PathBuf,
}

/// What is known about a stored package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPackage {
    /// `pkg_` and 32 hex digits of the manifest's digest.
    pub id: String,
    /// The tenant whose principals may download it.
    pub tenant: String,
    /// `sha256:` of manifest.json.
    pub manifest_sha256: String,
    /// Size of the `.tar` in bytes.
    pub size: u64,
    /// After this (RFC 3339 UTC) the download is refused and the files swept.
    pub expires_at: String,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io { path: path.display().to_string(), source }
}

/// Whether `id` has the form of a package id (so it can name a file).
pub fn valid_id(id: &str) -> bool {
    id.len() == 36
        && id.starts_with("pkg_")
        && id[4..].bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl PackageFiles {
    /// The packages folder of the data dir `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("packages") }
    }

    /// The id of a built package.
    pub fn id_of(built: &Built) -> String {
        let manifest = built.tree.get(super::paths::MANIFEST).map(Vec::as_slice).unwrap_or_default();
        let d = digest(manifest);
        format!("pkg_{}", d.trim_start_matches(crate::audit::DIGEST_PREFIX).get(..32).unwrap_or_default())
    }

    /// The archive of package `id`.
    pub fn tar_path(&self, id: &str) -> PathBuf {
        self.root.join(format!("{id}.tar"))
    }

    /// Keeps `built` for `tenant` until `expires_at` (a second export of the
    /// same package only moves the expiry).
    pub fn keep(&self, built: &Built, tenant: &str, expires_at: &str) -> Result<StoredPackage, TreeError> {
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let id = Self::id_of(built);
        let dir = self.root.join(&id);
        if !dir.exists() {
            let tmp = self.root.join(format!(".{id}.{}", crate::audit::new_request_id()));
            write_dir(&built.tree, &tmp)?;
            if let Err(e) = std::fs::rename(&tmp, &dir) {
                let _ = std::fs::remove_dir_all(&tmp);
                if !dir.exists() {
                    return Err(io(&dir)(e));
                }
            }
        }
        self.replace(&self.tar_path(&id), &built.tar)?;
        let manifest = built.tree.get(super::paths::MANIFEST).map(Vec::as_slice).unwrap_or_default();
        let meta = StoredPackage {
            id: id.clone(),
            tenant: tenant.to_owned(),
            manifest_sha256: digest(manifest),
            size: built.tar.len() as u64,
            expires_at: expires_at.to_owned(),
        };
        let text = serde_json::to_vec(&meta).map_err(|e| TreeError::Unexpected(e.to_string()))?;
        self.replace(&self.root.join(format!("{id}.json")), &text)?;
        Ok(meta)
    }

    fn replace(&self, path: &Path, bytes: &[u8]) -> Result<(), TreeError> {
        let tmp = self.root.join(format!(".tmp.{}", crate::audit::new_request_id()));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    }

    /// What is known about package `id` (None: no such package, or a malformed id).
    pub fn get(&self, id: &str) -> Option<StoredPackage> {
        if !valid_id(id) {
            return None;
        }
        let text = std::fs::read(self.root.join(format!("{id}.json"))).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Removes every package whose expiry is before `now` (best effort).
    pub fn sweep(&self, now: &str) {
        self.remove_where(|p| p.expires_at.as_str() < now);
    }

    /// Removes every package of `tenant` (it was deleted; best effort).
    pub fn remove_tenant(&self, tenant: &str) {
        self.remove_where(|p| p.tenant == tenant);
    }

    fn remove_where(&self, doomed: impl Fn(&StoredPackage) -> bool) {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else { continue };
            if self.get(id).is_some_and(|p| doomed(&p)) {
                let _ = std::fs::remove_file(self.tar_path(id));
                let _ = std::fs::remove_dir_all(self.root.join(id));
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}
