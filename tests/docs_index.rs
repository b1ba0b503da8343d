//! The docs index and the release checklist stay true: `docs/README.md`
//! links every guide in `docs/` and the top-level README links the index;
//! every file, test and `.ci/run` step that `docs/ga-gates.md` names exists.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file's text; empty if it cannot be read (the callers assert what it must say).
fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn the_index_links_every_guide_and_the_readme_links_the_index() {
    let index = read(&root().join("docs/README.md"));
    let mut guides: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md") && n != "README.md")
        .collect();
    guides.sort();
    assert!(guides.len() >= 10, "{guides:?}");
    for guide in &guides {
        assert!(index.contains(&format!("]({guide})")), "docs/README.md does not link {guide}");
    }
    assert!(read(&root().join("README.md")).contains("](docs/README.md)"), "README.md does not link the index");
}

/// Backticked spans of a line.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

#[test]
fn every_proof_the_release_gates_name_exists() {
    let gates = read(&root().join("docs/ga-gates.md"));
    let ci = read(&root().join(".ci/run"));
    let rows: Vec<&str> = gates.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| gate")).collect();
    assert!(rows.len() >= 10, "{rows:?}");
    let mut tests_named = 0;
    for row in rows {
        let spans = code_spans(row);
        let files: Vec<PathBuf> = spans.iter().filter(|s| s.ends_with(".rs")).map(|s| root().join(s)).collect();
        for f in &files {
            assert!(f.exists(), "ga-gates.md names {} which does not exist", f.display());
        }
        let sources: String = files.iter().map(|f| read(f)).collect();
        // A test name: a snake_case identifier of four words or more.
        for name in
            spans.iter().filter(|s| s.split('_').count() >= 4 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            assert!(
                sources.contains(&format!("fn {name}(")),
                "ga-gates.md names the test {name}, not found in {files:?}"
            );
            tests_named += 1;
        }
        // A CI step: `.ci/run` step "NAME".
        for step in row.split("step \"").skip(1).filter_map(|s| s.split('"').next()) {
            assert!(
                ci.contains(&format!("step \"{step}")),
                "ga-gates.md names the .ci/run step {step:?}, not in .ci/run"
            );
        }
    }
    assert!(tests_named >= 12, "{tests_named}");
    assert!(gates.matches("step \"").count() >= 6, "the CI steps are named as step \"NAME\"");
}
