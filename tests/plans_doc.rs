//! `docs/plans.md` shows the plan table exactly as the code has it.

#[test]
fn the_plans_doc_matches_the_plan_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plans.md")).expect("docs/plans.md");
    let matrix = tollgate::billing::plans::matrix_markdown();
    assert!(doc.contains(&matrix), "docs/plans.md is out of date; replace its table with:\n\n{matrix}");
}
