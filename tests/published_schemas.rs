//! The committed `schemas/` is the record of published tool versions: the
//! code must match it, and may change a published version only compatibly.

use std::path::Path;

use tollgate::protocol::endpoint::ServerOptions;
use tollgate::tools::schemas;

#[test]
fn published_tool_versions_match_the_code_and_stay_compatible() {
    let registry = tollgate::protocol::endpoint::registry(&ServerOptions::default()).expect("registry builds");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let committed = schemas::read_dir(&dir).expect("read schemas/");
    assert!(!committed.is_empty(), "schemas/ holds the published versions");
    let problems = schemas::check(&committed, &schemas::generate(&registry));
    let report: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(report.is_empty(), "schemas/ and the code disagree:\n{}", report.join("\n"));
}

#[test]
fn every_published_schema_has_an_object_root() {
    let options = ServerOptions { conformance: true, ..ServerOptions::default() };
    let registry = tollgate::protocol::endpoint::registry(&options).expect("registry builds");
    for tool in registry.all_versions() {
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.pinned_name());
        if let Some(out) = &tool.output_schema {
            assert_eq!(out["type"], "object", "{}", tool.pinned_name());
        }
    }
}
