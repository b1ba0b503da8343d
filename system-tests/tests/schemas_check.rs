//! `tollgate schemas --check` through the binary: it passes on the committed
//! schemas (`schemas/<edition>/<name>.v<N>.json`) and fails, naming the
//! broken rule, on an incompatible edit of either edition.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use system_tests::binary;

fn copy_schemas(to: &Path) {
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas"), to);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("schemas/") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, target).expect("copy");
        }
    }
}

/// Run the check on `dir`, then remove it (a scratch copy).
fn check(dir: &Path) -> (bool, String) {
    let out = Command::new(binary()).args(["schemas", "--check", "--dir"]).arg(dir).output().expect("run");
    let _ = std::fs::remove_dir_all(dir);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-schemas-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// A change to one schema document.
type Edit = fn(&mut Value);

fn edit(file: &Path, f: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("json");
    f(&mut doc);
    std::fs::write(file, serde_json::to_string_pretty(&doc).expect("encode")).expect("write");
}

#[test]
fn the_committed_schemas_pass_the_check() {
    let dir = scratch("ok");
    copy_schemas(&dir);
    let (ok, stderr) = check(&dir);
    assert!(ok, "{stderr}");
}

#[test]
fn an_incompatible_change_to_a_published_version_fails_naming_the_rule() {
    let cases: [(&str, Edit); 4] = [
        ("input_schema_changed", |d| {
            d["inputSchema"]["properties"]["verbose"] = serde_json::json!({"type": "boolean"})
        }),
        ("output_field_removed", |d| {
            if let Some(p) = d["outputSchema"]["properties"].as_object_mut() {
                p.insert("retired".into(), serde_json::json!({"type": "string"}));
            }
        }),
        ("output_field_changed", |d| d["outputSchema"]["properties"]["era"] = serde_json::json!({"type": "integer"})),
        ("output_schema_changed", |d| d["outputSchema"]["additionalProperties"] = serde_json::json!(false)),
    ];
    // Each edition's published version is held to the rules on its own.
    for edition in ["multi-tenant", "single-tenant"] {
        for (rule, change) in cases {
            let dir = scratch(&format!("{edition}-{rule}"));
            copy_schemas(&dir);
            edit(&dir.join(edition).join("whoami.v1.json"), change);
            let (ok, stderr) = check(&dir);
            assert!(!ok, "{edition} {rule}: the check passed");
            assert!(stderr.contains(rule), "{edition} {rule} not named in: {stderr}");
            assert!(stderr.contains(&format!("{edition}/whoami.v1.json")), "{edition} {rule}: {stderr}");
        }
    }
    // Removing a published version is incompatible too, in an edition folder or
    // as a file of the retired flat layout.
    for file in ["multi-tenant/retired.v1.json", "whoami.v2.json"] {
        let dir = scratch("removed");
        copy_schemas(&dir);
        std::fs::write(dir.join(file), "{\"name\":\"retired\",\"inputSchema\":{}}").expect("write");
        let (ok, stderr) = check(&dir);
        assert!(!ok && stderr.contains("version_removed") && stderr.contains(file), "{file}: {stderr}");
    }
}

#[test]
fn a_changed_description_is_drift_but_not_incompatible() {
    let dir = scratch("drift");
    copy_schemas(&dir);
    edit(&dir.join("single-tenant/server.info.v1.json"), |d| d["description"] = serde_json::json!("older words"));
    let (ok, stderr) = check(&dir);
    assert!(!ok && stderr.contains("differs from the code"), "{stderr}");
    assert!(!stderr.contains("incompatible"), "{stderr}");
}
