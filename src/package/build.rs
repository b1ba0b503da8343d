//! Building a package from the store as of record `to_seq`.
//! Invariant: every input is taken as of `to_seq` (records and checkpoints
//! up to it, the ledger events of its calls, keys and plan history up to its
//! `ts`), the export checkpoint signs `to_seq` with that record's `ts`, and
//! every JSON file is canonical, so rebuilding gives the same bytes.

use std::collections::HashSet;

use crate::store::Db;
use serde_json::{Value, json};

use super::manifest::{FirstRecord, LastRecord, Manifest, SeqRange, TenantRef};
use super::summary::{SummaryInput, summarize};
use super::tree::{Tree, TreeError, to_tar};
use super::{FORMAT, FORMAT_VERSION, paths, summary_html};
use crate::audit::verify_range;
use crate::audit::{AuditError, AuditRecord, Checkpoint, PublicKey, SigningKey, canonical_json};
use crate::billing::PlanName;
use crate::store::{StoreError, audit_log, billing, export, lifecycle, tenants};

/// Which records to export: a closed range; absent ends mean the whole chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportRange {
    /// First seq (default 1).
    pub from_seq: Option<u64>,
    /// Last seq (default: the chain's last record).
    pub to_seq: Option<u64>,
}

/// Why a package could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No tenant (live or deleted) has this id.
    #[error("no such tenant")]
    NoSuchTenant,
    /// The chain has no records yet.
    #[error("the tenant's audit chain is empty; there is nothing to export yet")]
    EmptyChain,
    /// The requested range is not within the chain.
    #[error("invalid range: {0}")]
    BadRange(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Encoding or signing failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// A stored record is unreadable, so no honest package can be built.
    #[error("the stored audit data is corrupt: {0}")]
    Corrupt(String),
    /// Writing the archive failed.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// A built package.
#[derive(Debug, Clone)]
pub struct Built {
    /// Every file, manifest included.
    pub tree: Tree,
    /// The signed manifest.
    pub manifest: Manifest,
    /// The `.tar` of the tree.
    pub tar: Vec<u8>,
}

/// Canonical JSON and a newline: the form of every `.json` file.
fn json_file(v: &Value) -> Result<Vec<u8>, AuditError> {
    Ok(format!("{}\n", canonical_json(v)?).into_bytes())
}

/// One canonical JSON text per line, each ending in a newline.
fn jsonl(lines: &[String]) -> Vec<u8> {
    lines.iter().flat_map(|l| l.bytes().chain(std::iter::once(b'\n'))).collect()
}

/// The tenant as exported, from its row or, once deleted, its tombstone.
fn tenant_json(conn: &Db, id: &str) -> Result<(Value, PlanName), BuildError> {
    if let Some(t) = tenants::get(conn, id)? {
        let plan = PlanName::parse(&t.plan).unwrap_or(PlanName::Free);
        let v = json!({"id": t.id, "slug": t.slug, "display_name": t.display_name, "created_at": t.created_at, "deleted_at": null});
        return Ok((v, plan));
    }
    match lifecycle::tombstone(conn, id)? {
        Some(t) => Ok((
            json!({"id": t.id, "slug": t.slug, "display_name": t.display_name, "created_at": t.created_at, "deleted_at": t.deleted_at}),
            PlanName::Free,
        )),
        None => Err(BuildError::NoSuchTenant),
    }
}

/// Keys created by `as_of`, with their state at `as_of`; ids and metadata only.
fn keys_json(conn: &Db, tenant: &str, as_of: &str) -> Result<Value, BuildError> {
    let rows = export::keys(conn, tenant)?;
    let created: HashSet<&str> =
        rows.iter().filter(|k| k.created_at.as_str() <= as_of).map(|k| k.key_id.as_str()).collect();
    let keys: Vec<Value> = rows
        .iter()
        .filter(|k| created.contains(k.key_id.as_str()))
        .map(|k| {
            let revoked_at = k.revoked_at.clone().filter(|r| r.as_str() <= as_of);
            let replaced_by = k.replaced_by.clone().filter(|r| created.contains(r.as_str()));
            json!({
                "key_id": k.key_id, "role": k.role, "label": k.label, "created_at": k.created_at,
                "expires_at": if replaced_by.is_some() || k.replaced_by.is_none() { k.expires_at.clone() } else { None },
                "status": if revoked_at.is_some() { "revoked" } else { "active" },
                "revoked_at": revoked_at, "replaced_by": replaced_by,
            })
        })
        .collect();
    Ok(json!({"as_of": as_of, "keys": keys}))
}

/// The signer and every retired key that signed one of `checkpoints`,
/// sorted by key id (a deterministic order for the manifest).
fn listed_keys(signer: &PublicKey, retired: &[PublicKey], checkpoints: &[Checkpoint]) -> Vec<PublicKey> {
    let used: HashSet<&str> = checkpoints.iter().map(|c| c.key_id.as_str()).collect();
    let mut keys = vec![*signer];
    for k in retired {
        if !keys.contains(k) && used.contains(k.key_id().as_str()) {
            keys.push(*k);
        }
    }
    keys.sort_by_key(PublicKey::key_id);
    keys
}

/// Builds the package of `tenant`'s chain for `range`, signed with `key`.
/// `retired` are the data dir's retired public keys (its keyring): those
/// that signed a checkpoint of the range are listed in the manifest.
pub fn build_package(
    conn: &Db,
    tenant: &str,
    range: ExportRange,
    key: &SigningKey,
    retired: &[PublicKey],
) -> Result<Built, BuildError> {
    let (tenant_v, fallback_plan) = tenant_json(conn, tenant)?;
    let head = audit_log::head(conn, tenant)?.map(|(seq, _)| seq).ok_or(BuildError::EmptyChain)?;
    let from = range.from_seq.unwrap_or(1);
    let to = range.to_seq.unwrap_or(head);
    if from == 0 || from > to || to > head {
        return Err(BuildError::BadRange(format!(
            "from_seq {from} to_seq {to}: the chain has records 1 to {head}; need 1 <= from_seq <= to_seq <= {head}"
        )));
    }
    let record_texts = export::records_between(conn, tenant, from, to)?;
    let records: Vec<AuditRecord> = record_texts
        .iter()
        .map(|t| serde_json::from_str::<AuditRecord>(t).map_err(|e| BuildError::Corrupt(e.to_string())))
        .collect::<Result<_, _>>()?;
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(BuildError::Corrupt(format!("records {from} to {to} are missing")));
    };
    let mut checkpoint_texts = export::checkpoints_between(conn, tenant, from, to)?;
    let mut checkpoints: Vec<Checkpoint> = checkpoint_texts
        .iter()
        .map(|t| serde_json::from_str::<Checkpoint>(t).map_err(|e| BuildError::Corrupt(e.to_string())))
        .collect::<Result<_, _>>()?;
    let export_checkpoint = Checkpoint::sign(key, tenant, to, &last.hash, &last.ts)?;
    checkpoint_texts.push(canonical_json(&export_checkpoint.to_json())?);
    checkpoints.push(export_checkpoint);

    let public = key.public_key();
    let listed = listed_keys(&public, retired, &checkpoints);
    let verification = match verify_range(tenant, from, &first.prev, &records, &checkpoints, &listed) {
        Ok(r) => json!({
            "valid": true, "chain": tenant, "from_seq": from, "to_seq": to, "records_checked": r.records,
            "checkpoints": r.checkpoints, "covered_seq": r.covered_seq, "key_fingerprint": public.fingerprint(),
            "problem": null,
        }),
        Err(p) => json!({
            "valid": false, "chain": tenant, "from_seq": from, "to_seq": to, "records_checked": 0,
            "checkpoints": checkpoints.len() as u64, "covered_seq": 0, "key_fingerprint": public.fingerprint(),
            "problem": p.to_json(),
        }),
    };
    let as_of = last.ts.clone();
    let request_ids: HashSet<&str> = records.iter().map(|r| r.request_id.as_str()).collect();
    let usage = export::usage_of_requests(conn, tenant, &request_ids)?;
    let history: Vec<billing::HistoryRow> =
        billing::history(conn, tenant)?.into_iter().filter(|h| h.at.as_str() <= as_of.as_str()).collect();
    let summary = summarize(&SummaryInput {
        tenant: &tenant_v,
        range: (from, to),
        records: &records,
        usage: &usage,
        plan_history: &history,
        fallback_plan,
        verification: &verification,
    });

    let mut tree = Tree::new();
    tree.insert(paths::RECORDS.into(), jsonl(&record_texts));
    tree.insert(paths::CHECKPOINTS.into(), jsonl(&checkpoint_texts));
    tree.insert(paths::VERIFICATION.into(), json_file(&verification)?);
    tree.insert(paths::TENANT.into(), json_file(&tenant_v)?);
    tree.insert(paths::KEYS.into(), json_file(&keys_json(conn, tenant, &as_of)?)?);
    let history_v = serde_json::to_value(&history).map_err(AuditError::Canonical)?;
    tree.insert(paths::PLAN_HISTORY.into(), json_file(&json!({"as_of": as_of, "history": history_v}))?);
    let usage_lines: Vec<String> = usage
        .iter()
        .map(|u| serde_json::to_value(u).map_err(AuditError::Canonical).and_then(|v| canonical_json(&v)))
        .collect::<Result<_, _>>()?;
    tree.insert(paths::USAGE.into(), jsonl(&usage_lines));
    tree.insert(paths::SUMMARY_JSON.into(), json_file(&summary)?);
    tree.insert(paths::SUMMARY_HTML.into(), summary_html::render(&summary).into_bytes());

    let slug = tenant_v["slug"].as_str().unwrap_or_default().to_owned();
    let mut manifest = Manifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        tenant: TenantRef { id: tenant.to_owned(), slug },
        chain: tenant.to_owned(),
        range: SeqRange { from_seq: from, to_seq: to },
        record_count: records.len() as u64,
        checkpoint_count: checkpoints.len() as u64,
        first: FirstRecord { seq: first.seq, hash: first.hash.clone(), prev: first.prev.clone() },
        last: LastRecord { seq: last.seq, hash: last.hash.clone(), ts: last.ts.clone() },
        files: Manifest::entries(&tree),
        public_key: Manifest::key_ref(&public),
        public_keys: Some(listed.iter().map(Manifest::key_ref).collect()),
        signature: String::new(),
    };
    manifest.sign(key)?;
    tree.insert(paths::MANIFEST.into(), manifest.to_bytes()?);
    let mtime = crate::clock::parse(&as_of).map_or(0, |t| u64::try_from(t.unix_timestamp()).unwrap_or(0));
    let tar = to_tar(&tree, mtime)?;
    Ok(Built { tree, manifest, tar })
}
