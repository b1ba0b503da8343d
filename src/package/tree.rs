//! A package as bytes in memory: path → content, sorted; and its two
//! on-disk forms, a directory and a deterministic ustar archive.
//! Invariant: the tar holds the entries in path order with fixed owners,
//! modes and mtimes, so equal trees give byte-identical archives.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

/// Paths (relative, `/`-separated) to file contents, in sorted order.
pub type Tree = BTreeMap<String, Vec<u8>>;

/// Largest archive or directory `read_*` accepts (a package of a very long
/// chain is well below this; anything larger is refused, not buffered).
pub const MAX_PACKAGE_BYTES: u64 = 1 << 30;

/// Why a package could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// File system failure.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The archive or directory holds something a package never does.
    #[error("{0}")]
    Unexpected(String),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io { path: path.display().to_string(), source }
}

/// A path a package may hold: relative, `/`-separated, no `.`/`..`, no
/// leading `/`, only `[A-Za-z0-9_.-]` in each part.
pub fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        })
}

/// Writes `tree` under `dir` (created; must not exist yet, so a package is
/// never merged into another).
pub fn write_dir(tree: &Tree, dir: &Path) -> Result<(), TreeError> {
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new("."))).map_err(io(dir))?;
    std::fs::create_dir(dir).map_err(io(dir))?;
    for (path, bytes) in tree {
        if !safe_path(path) {
            return Err(TreeError::Unexpected(format!("refusing to write unsafe path {path:?}")));
        }
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&target, bytes).map_err(io(&target))?;
    }
    Ok(())
}

/// Reads every regular file under `dir`. Symlinks and other special files
/// are refused (a package holds only regular files).
pub fn read_dir(dir: &Path) -> Result<Tree, TreeError> {
    let mut tree = Tree::new();
    let mut total = 0u64;
    walk(dir, "", &mut tree, &mut total)?;
    Ok(tree)
}

fn walk(dir: &Path, prefix: &str, tree: &mut Tree, total: &mut u64) -> Result<(), TreeError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let kind = entry.file_type().map_err(io(&entry.path()))?;
        if kind.is_dir() {
            walk(&entry.path(), &rel, tree, total)?;
        } else if kind.is_file() {
            let bytes = std::fs::read(entry.path()).map_err(io(&entry.path()))?;
            *total += bytes.len() as u64;
            if *total > MAX_PACKAGE_BYTES {
                return Err(TreeError::Unexpected("the package is larger than 1 GiB".into()));
            }
            tree.insert(rel, bytes);
        } else {
            return Err(TreeError::Unexpected(format!("{rel} is not a regular file or directory")));
        }
    }
    Ok(())
}

/// The ustar archive of `tree`: a directory entry before the files of each
/// directory, everything in path order, owner 0:0, modes 0755/0644 and
/// `mtime` for every entry.
pub fn to_tar(tree: &Tree, mtime: u64) -> Result<Vec<u8>, TreeError> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs_done = std::collections::BTreeSet::new();
    let err = |e: std::io::Error| TreeError::Io { path: "<tar>".into(), source: e };
    for (path, bytes) in tree {
        let mut parts: Vec<&str> = path.split('/').collect();
        parts.pop();
        let mut dir = String::new();
        for part in parts {
            dir.push_str(part);
            dir.push('/');
            if dirs_done.insert(dir.clone()) {
                let mut header = header(tar::EntryType::Directory, 0o755, 0, mtime);
                builder.append_data(&mut header, &dir, std::io::empty()).map_err(err)?;
            }
        }
        let mut header = header(tar::EntryType::Regular, 0o644, bytes.len() as u64, mtime);
        builder.append_data(&mut header, path, bytes.as_slice()).map_err(err)?;
    }
    builder.into_inner().map_err(err)
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

/// Reads a package archive: regular files and directories only, safe paths,
/// no duplicates.
pub fn from_tar(bytes: &[u8]) -> Result<Tree, TreeError> {
    let mut archive = tar::Archive::new(bytes);
    let mut tree = Tree::new();
    let err = |e: std::io::Error| TreeError::Unexpected(format!("not a readable tar archive: {e}"));
    for entry in archive.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let path = entry.path().map_err(err)?.to_string_lossy().trim_end_matches('/').to_owned();
        match entry.header().entry_type() {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular => {}
            other => return Err(TreeError::Unexpected(format!("{path}: unexpected tar entry type {other:?}"))),
        }
        if !safe_path(&path) {
            return Err(TreeError::Unexpected(format!("unsafe path in archive: {path:?}")));
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(err)?;
        if tree.insert(path.clone(), content).is_some() {
            return Err(TreeError::Unexpected(format!("{path} appears twice in the archive")));
        }
    }
    Ok(tree)
}

/// Reads a package from a directory or a `.tar` file.
pub fn read_any(path: &Path) -> Result<Tree, TreeError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    if meta.is_dir() {
        return read_dir(path);
    }
    if meta.len() > MAX_PACKAGE_BYTES {
        return Err(TreeError::Unexpected("the archive is larger than 1 GiB".into()));
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    from_tar(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tree {
        let mut t = Tree::new();
        t.insert("manifest.json".into(), b"{}\n".to_vec());
        t.insert("audit/records.jsonl".into(), b"a\nb\n".to_vec());
        t.insert("reports/summary.html".into(), b"<html></html>".to_vec());
        t
    }

    #[test]
    fn tar_round_trips_and_is_byte_identical() {
        let a = to_tar(&sample(), 1_700_000_000).unwrap();
        let b = to_tar(&sample(), 1_700_000_000).unwrap();
        assert_eq!(a, b);
        assert_eq!(from_tar(&a).unwrap(), sample());
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for p in ["../x", "/etc/passwd", "a//b", "a/./b", "a b", ""] {
            assert!(!safe_path(p), "{p}");
        }
        assert!(safe_path("audit/records.jsonl"));
    }

    #[test]
    fn directory_round_trips() {
        let dir = std::env::temp_dir().join(format!("tollgate-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_dir(&sample(), &dir).unwrap();
        assert_eq!(read_dir(&dir).unwrap(), sample());
        assert!(write_dir(&sample(), &dir).is_err(), "never writes into an existing package");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
