//! Heavy tools (a whole chain verified or exported) are limited per tenant
//! (issue 19, defect 3): a tenant's third concurrent `audit.verify` is
//! refused with -31429 `too_many_heavy_calls` and audited, while another
//! tenant's call at the same moment runs, and a later call runs again.

use rusqlite::{Connection, params};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use system_tests::{HttpServer, audit_chain, error_code, error_reason, http_tool, sqlite_only, tool_output};

/// Records added to alpha's chain, so that one verification takes long
/// enough for concurrent ones to overlap.
const GROWN: i64 = 20_000;

/// Append `n` valid records to `chain` (copies of its last one, re-linked and
/// re-hashed), as a tenant that made that many calls would have.
fn grow_chain(dir: &std::path::Path, chain: &str, n: i64) {
    let mut conn = Connection::open(dir.join("tollgate.db")).expect("open the database");
    let tx = conn.transaction().expect("transaction");
    let (last, text): (i64, String) = tx
        .query_row("SELECT seq, record FROM audit_records WHERE chain = ?1 ORDER BY seq DESC LIMIT 1", [chain], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("last record");
    let mut record: Value = serde_json::from_str(&text).expect("record JSON");
    for seq in last + 1..=last + n {
        let prev = record["hash"].clone();
        let obj = record.as_object_mut().expect("object");
        obj.remove("hash");
        obj.insert("seq".into(), json!(seq));
        obj.insert("prev".into(), prev);
        obj.insert("request_id".into(), json!(format!("{seq:032x}")));
        let body = serde_json_canonicalizer::to_string(&*obj).expect("canonical JSON");
        obj.insert("hash".into(), json!(format!("sha256:{:x}", Sha256::digest(body.as_bytes()))));
        let stored = serde_json_canonicalizer::to_string(&record).expect("canonical JSON");
        tx.execute(
            "INSERT INTO audit_records (chain, seq, hash, record) VALUES (?1, ?2, ?3, ?4)",
            params![chain, seq, record["hash"].as_str(), stored],
        )
        .expect("insert record");
    }
    tx.commit().expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenants_third_concurrent_verify_is_refused_and_audited_and_another_tenant_is_not() {
    sqlite_only!("it grows a chain by writing the SQLite file directly");
    let server = HttpServer::start(&[]);
    let admin = server.endpoint();
    let mut tenants = Vec::new();
    for slug in ["alpha", "beta"] {
        let r = http_tool(&admin, 1, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
        let out = tool_output(&r.body).unwrap_or_else(|| panic!("bootstrap {slug}: {:?}", r.body));
        tenants.push((
            out["tenant_id"].as_str().expect("id").to_owned(),
            out["api_key"].as_str().expect("key").to_owned(),
        ));
    }
    let [(alpha, alpha_key), (_, beta_key)] = [tenants[0].clone(), tenants[1].clone()];
    // alpha's chain opens with its own first call.
    let first = http_tool(&admin.with_key(Some(&alpha_key)), 2, "whoami", json!({})).await;
    assert!(tool_output(&first.body).is_some(), "{:?}", first.body);
    let dir = server.kill();
    grow_chain(&dir.path, &alpha, GROWN);
    let server = HttpServer::start_in(dir, &[]);
    let (to_alpha, to_beta) =
        (server.endpoint().with_key(Some(&alpha_key)), server.endpoint().with_key(Some(&beta_key)));

    let alphas = (0..8).map(|i| {
        let to = to_alpha.clone();
        tokio::spawn(async move { http_tool(&to, 100 + i, "audit.verify", json!({})).await })
    });
    let alphas: Vec<_> = alphas.collect();
    let beta = http_tool(&to_beta, 200, "audit.verify", json!({})).await;
    let beta_out =
        tool_output(&beta.body).unwrap_or_else(|| panic!("beta is never refused for alpha's calls: {:?}", beta.body));
    assert_eq!(beta_out["valid"], true);

    let (mut ran, mut refused) = (0, 0);
    for call in alphas {
        let r = call.await.expect("call task");
        match tool_output(&r.body) {
            Some(out) => {
                assert_eq!(out["valid"], true, "{out}");
                assert!(out["records_checked"].as_u64().unwrap_or(0) > GROWN as u64, "{out}");
                ran += 1;
            }
            None => {
                assert_eq!((r.status, error_code(&r.body)), (429, Some(-31429)), "{:?}", r.body);
                assert_eq!(error_reason(&r.body), Some("too_many_heavy_calls"), "{:?}", r.body);
                assert_eq!(r.body["error"]["data"]["limit"], 2);
                assert!(r.headers.get("retry-after").is_some(), "429 says when to retry");
                refused += 1;
            }
        }
    }
    assert!(ran >= 2 && refused >= 1, "8 overlapping calls: {ran} ran, {refused} refused");

    // The slots are free again once the calls ended.
    let again = http_tool(&to_alpha, 300, "audit.verify", json!({})).await;
    assert_eq!(tool_output(&again.body).map(|o| o["valid"].clone()), Some(json!(true)), "{:?}", again.body);

    // Every refusal left a denial in alpha's own chain.
    let dir = server.kill();
    let denials = audit_chain(&dir.path, &alpha)
        .into_iter()
        .filter(|r| r["decision"] == "deny" && r["reason"] == "too_many_heavy_calls" && r["tool"] == "audit.verify")
        .count();
    assert_eq!(denials, refused, "one denial record per refused call");
}
