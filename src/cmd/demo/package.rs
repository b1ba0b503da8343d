//! The audit package step of `tollgate demo`: verify an exported package
//! with both verifiers against the pinned key, tamper with a copy, and show
//! both refusing it.
//! Invariant: the demo only reports what the verifiers actually said.

use std::path::Path;
use std::process::Command;

use crate::audit::SigningKey;
use crate::package::tree::{read_any, write_dir};
use crate::package::verify::{Trust, verify_tree};
use crate::store::datadir::DataDir;

/// The standalone Python verifier, shipped inside the binary for the demo.
const PYTHON_VERIFIER: &str = include_str!("../../../examples/verify_package.py");

/// Runs the Python verifier on `path`; `None` when no `python3` is available.
fn python(dir: &Path, path: &Path, fingerprint: &str) -> Option<(bool, String)> {
    let script = dir.join("verify_package.py");
    std::fs::write(&script, PYTHON_VERIFIER).ok()?;
    let out = Command::new("python3").arg(&script).arg(path).args(["--fingerprint", fingerprint]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_owned();
    Some((out.status.success(), text))
}

/// Verifies the package `id` kept in `data_dir`, then a tampered copy.
pub fn run(data_dir: &Path, id: &str) -> Result<Vec<String>, String> {
    let key = SigningKey::load(&DataDir::new(data_dir).signing_key()).map_err(|e| e.to_string())?.public_key();
    let fingerprint = key.fingerprint();
    let tar = crate::package::PackageFiles::new(data_dir).tar_path(id);
    let mut out = vec![format!("pinned key {fingerprint} (as `tollgate audit pubkey` prints it)")];
    let tree = read_any(&tar).map_err(|e| e.to_string())?;
    let report = verify_tree(&tree, &Trust::fingerprint(fingerprint.clone())).map_err(|p| p.to_string())?;
    out.push(format!(
        "tollgate audit verify {}: valid, records {} to {}, {} checkpoints, {} files",
        tar.display(),
        report.range.0,
        report.range.1,
        report.checkpoints,
        report.files
    ));
    let scratch = data_dir.join("demo-tamper");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    match python(&scratch, &tar, &fingerprint) {
        Some((true, line)) => out.push(format!("examples/verify_package.py: {line}")),
        Some((false, line)) => return Err(format!("the Python verifier refused the untouched package: {line}")),
        None => out.push("examples/verify_package.py: skipped (no python3 on PATH)".into()),
    }

    let mut tampered = tree.clone();
    let records = tampered.get(crate::package::paths::RECORDS).cloned().unwrap_or_default();
    let text = String::from_utf8_lossy(&records).replacen("\"decision\":\"deny\"", "\"decision\":\"allow\"", 1);
    tampered.insert(crate::package::paths::RECORDS.into(), text.into_bytes());
    let copy = scratch.join("tampered");
    write_dir(&tampered, &copy).map_err(|e| e.to_string())?;
    out.push("tampered copy: one denial in audit/records.jsonl rewritten as \"allow\"".into());
    match verify_tree(&tampered, &Trust::fingerprint(fingerprint.clone())) {
        Ok(_) => return Err("the tampered copy verified; that must never happen".into()),
        Err(p) => out.push(format!("tollgate audit verify: INVALID [{}] {p}", p.code())),
    }
    match python(&scratch, &copy, &fingerprint) {
        Some((false, line)) => out.push(format!("examples/verify_package.py: {line}")),
        Some((true, _)) => return Err("the Python verifier accepted the tampered copy".into()),
        None => {}
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(out)
}
