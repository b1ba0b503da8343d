//! `tenant.delete` {tenant_id, confirm_token?} (platform admin; behind the
//! `tenant_delete` flag, which the gate applies).
//!
//! Invariants: nothing is removed without a [`Confirmed`] for the digest of
//! the current plan; a tenant under legal hold is never deleted; the audit
//! chain, the usage ledger and the plan history are kept, the chain sealed by
//! this call's own record (its final seq is in the tombstone); the slug stays
//! reserved, so a new tenant can never take over the old id or its chain.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::confirm::{self, Confirmed, TOKEN_TTL_SECS};
use crate::audit::digest_json;
use crate::identity::Role;
use crate::store::lifecycle::{self, Removable, Retained, Tombstone};
use crate::store::{WriteCx, audit_log, tenants};
use crate::tools::ToolCx;
use crate::tools::ask::{Answer, Question};
use crate::tools::edition::{EditionKind, Editions};
use crate::tools::registry::{Annotations, Tool, ToolSpec};
use crate::tools::result::{ToolError, ToolErrorCode};

/// `tenant.delete` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInput {
    /// The tenant to delete.
    pub tenant_id: String,
    /// The token a previous call without it returned with the plan; absent: get the plan.
    #[schemars(length(min = 1, max = 200))]
    pub confirm_token: Option<String>,
}

/// What a deletion removes and keeps.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeletionPlan {
    pub tenant_id: String,
    pub slug: String,
    /// Removed: rows of each kind.
    pub removes: Removable,
    /// Kept (append-only, needed for audits and bills): rows of each kind now.
    pub retains: Retained,
    /// The slug stays reserved for ever (a tombstone): always true.
    pub slug_reserved: bool,
}

/// `planned` (a token was issued) or `deleted`.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeleteStatus {
    Planned,
    Deleted,
}

/// What the call did (planned or deleted) and the deletion plan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteOutput {
    pub status: DeleteStatus,
    pub plan: DeletionPlan,
    /// `sha256:` of what will be removed; a confirmation is for this digest only.
    pub plan_digest: String,
    /// Planned: pass it back as `confirm_token` to delete (once, before `expires_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Deleted: the seq of the chain's final record (this call's own), which seals it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_seq: Option<u64>,
}

/// The plan for `tenant` and its digest (over what is removed, which only
/// the tenant's own data changes).
pub fn plan(conn: &crate::store::Db, tenant: &str) -> Result<(DeletionPlan, String), ToolError> {
    let row = tenants::get(conn, tenant)?.ok_or_else(|| ToolError::new(ToolErrorCode::NotFound, "no such tenant"))?;
    let (removes, retains) = lifecycle::inventory(conn, tenant)?;
    let digest = digest_json(&json!({"tenant_id": row.id, "slug": row.slug, "removes": removes}))
        .map_err(|e| ToolError::new(ToolErrorCode::Internal, e.to_string()))?;
    Ok((DeletionPlan { tenant_id: row.id, slug: row.slug, removes, retains, slug_reserved: true }, digest))
}

fn refuse_if_held(conn: &crate::store::Db, tenant: &str) -> Result<(), ToolError> {
    match lifecycle::legal_hold(conn, tenant)? {
        None => Ok(()),
        Some(hold) => Err(ToolError::new(
            ToolErrorCode::FailedPrecondition,
            format!(
                "legal_hold: the tenant is under legal hold since {} ({}); lift it with tenant.legal_hold before deleting",
                hold.set_at, hold.reason
            ),
        )),
    }
}

/// Deletes the tenant of `plan` once `confirmed` for its digest. Returns the
/// seq the sealing record (the calling tool call's own) will have.
pub fn execute(
    tx: &mut WriteCx<'_>,
    plan: &DeletionPlan,
    plan_digest: &str,
    confirmed: &Confirmed,
    now: &str,
) -> Result<u64, ToolError> {
    if confirmed.plan_digest() != plan_digest {
        return Err(ToolError::new(ToolErrorCode::Conflict, confirm::Denied::PlanChanged.to_string()));
    }
    refuse_if_held(tx.conn, &plan.tenant_id)?;
    let row = tenants::get(tx.conn, &plan.tenant_id)?
        .ok_or_else(|| ToolError::new(ToolErrorCode::NotFound, "no such tenant"))?;
    let final_seq = audit_log::head(tx.conn, &plan.tenant_id)?.map_or(0, |(seq, _)| seq) + 1;
    lifecycle::remove_tenant(tx.conn, &plan.tenant_id)?;
    lifecycle::insert_tombstone(
        tx.conn,
        &Tombstone {
            id: row.id,
            slug: row.slug,
            display_name: row.display_name,
            created_at: row.created_at,
            deleted_at: now.to_owned(),
            final_seq,
        },
    )?;
    Ok(final_seq)
}

/// Deletes a tenant: plan first, then confirm.
pub struct Delete;

impl<E: EditionKind> Tool<E> for Delete {
    type Input = DeleteInput;
    type Output = DeleteOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            annotations: Annotations { destructive_hint: true, ..Annotations::WRITE },
            roles: &[Role::PlatformAdmin],
            editions: Editions::MultiTenantOnly,
            flag: Some(crate::config::Flag::TenantDelete),
            tenant_scoped: true,
            returns_secret: true,
            ..ToolSpec::open(
                "tenant.delete",
                1,
                "Delete a tenant",
                "Delete a tenant's data in two steps. A client that can answer elicitation is asked to confirm the plan instead of the token round trip. Without confirm_token: returns the plan (what is removed: keys, certificate bindings, namespaces, idempotency entries, billing state; what is kept: the audit chain, the usage ledger and the plan history) and a one-time confirm_token. With it: deletes, seals the audit chain with this call's record and reserves the slug for ever. Refused under a legal hold; off unless the server enables the tenant_delete flag.",
            )
        }
    }

    fn run(&self, input: DeleteInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<DeleteOutput, ToolError> {
        let tenant = cx.tenant.as_ref().map(|t| t.0.clone()).unwrap_or(input.tenant_id);
        let (plan, digest) = plan(tx.conn, &tenant)?;
        refuse_if_held(tx.conn, &tenant)?;
        let now = cx.clock.now_rfc3339();
        let Some(token) = input.confirm_token else {
            // A client that can answer elicitation is asked, with the plan's digest bound
            // into the sealed state; others get the plan and a token to come back with.
            let question = Question::confirm(question_text(&plan, &digest));
            if cx.input.can_ask(&question) {
                let answers = cx.input.ask(vec![("confirm", question)], json!(digest))?;
                let accepted = answers.get("confirm").is_some_and(Answer::confirmed);
                let confirmed = Confirmed::by_user_answer(&digest, accepted)
                    .map_err(|denied| ToolError::new(ToolErrorCode::Declined, denied.to_string()))?;
                return deleted(cx, tx, plan, digest, &confirmed, &now);
            }
            let token = confirm::new_token();
            let expires_at = crate::clock::rfc3339(cx.clock.now() + time::Duration::seconds(TOKEN_TTL_SECS));
            confirm::remember(tx.conn, &tenant, &digest, &token, &now, &expires_at)?;
            return Ok(DeleteOutput {
                status: DeleteStatus::Planned,
                plan,
                plan_digest: digest,
                confirm_token: Some(token),
                expires_at: Some(expires_at),
                final_seq: None,
            });
        };
        let confirmed = confirm::by_token(tx.conn, &tenant, &digest, &token, &now)?
            .map_err(|denied| ToolError::new(ToolErrorCode::FailedPrecondition, denied.to_string()))?;
        deleted(cx, tx, plan, digest, &confirmed, &now)
    }
}

/// Execute a confirmed plan and say so.
fn deleted(
    cx: &ToolCx,
    tx: &mut WriteCx<'_>,
    plan: DeletionPlan,
    digest: String,
    confirmed: &Confirmed,
    now: &str,
) -> Result<DeleteOutput, ToolError> {
    let final_seq = execute(tx, &plan, &digest, confirmed, now)?;
    // Its packages waiting for download go too (derived copies; the kept chain can be exported again).
    crate::package::PackageFiles::new(&cx.data_dir).remove_tenant(&plan.tenant_id);
    // The tenant is gone: its open listen streams end once this commits.
    let audience = crate::events::Audience::Tenant(crate::identity::TenantId(plan.tenant_id.clone()));
    cx.announcements.end_streams(crate::events::Ending::Audience(audience));
    Ok(DeleteOutput {
        status: DeleteStatus::Deleted,
        plan,
        plan_digest: digest,
        confirm_token: None,
        expires_at: None,
        final_seq: Some(final_seq),
    })
}

/// The confirmation question: what goes, what stays, and the plan's digest.
fn question_text(plan: &DeletionPlan, digest: &str) -> String {
    let (r, k) = (&plan.removes, &plan.retains);
    format!(
        "Delete tenant {} ({})? Removed: {} API keys, {} certificate bindings, {} namespaces, {} idempotency entries, \
         the billing state. \
         Kept: {} audit records (sealed), {} usage events, {} plan history entries; the slug stays reserved. \
         Plan {digest}.",
        plan.slug,
        plan.tenant_id,
        r.api_keys,
        r.cert_bindings,
        r.namespaces,
        r.idempotency_entries,
        k.audit_records,
        k.usage_events,
        k.plan_history
    )
}
