//! `docs/tools.md` is generated from the registry (`tollgate docs --out
//! docs/tools.md`); this fails when the committed file drifts from the code,
//! as `tollgate docs --check` does in CI.

use std::path::Path;

#[test]
fn the_committed_tool_reference_matches_the_code() {
    let registry = tollgate::tools::standard().expect("registry builds");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tools.md");
    let committed = std::fs::read_to_string(&path).expect("docs/tools.md is committed");
    let generated = tollgate::tools::reference::render(&registry);
    let problem = tollgate::tools::reference::drift(&committed, &generated);
    assert!(problem.is_none(), "{}", problem.unwrap_or_default());
}
