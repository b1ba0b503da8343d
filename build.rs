//! Embeds the committed `schemas/` in the binary, so a running server can
//! tell its operator whether its tools still publish exactly what was
//! committed (the `schemas_match` release gate of `admin.overview`).
//!
//! Invariant: the embedded list is the `schemas/` tree this binary was built
//! from, file for file (cargo reruns this when any of it changes).

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=schemas");
    let mut files = Vec::new();
    collect(Path::new("schemas"), "", &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for (name, text) in &files {
        // `{:?}` writes a valid Rust string literal for any text.
        let _ = writeln!(out, "    ({name:?}, {text:?}),");
    }
    out.push_str("]\n");
    let Some(dir) = std::env::var_os("OUT_DIR") else {
        println!("cargo:warning=OUT_DIR is not set; cannot embed schemas/");
        std::process::exit(1);
    };
    if let Err(e) = std::fs::write(Path::new(&dir).join("committed_schemas.rs"), out) {
        println!("cargo:warning=cannot write the embedded schemas: {e}");
        std::process::exit(1);
    }
}

/// Every `*.json` below `dir`, keyed by its path below `schemas/` (`multi-tenant/whoami.v1.json`).
fn collect(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
        if path.is_dir() && prefix.is_empty() {
            collect(&path, &format!("{name}/"), out);
        } else if path.extension().is_some_and(|e| e == "json")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            out.push((format!("{prefix}{name}"), text));
        }
    }
}
