//! `audit.verify`: verify the caller's audit chain against the server's
//! signing key.
//!
//! One declaration for both editions (tenant-scoped: the multi-tenant one
//! takes an advisory `tenant_id`, the single-tenant one nothing). It only
//! reads the chain; its call's commit keeps the outcome as the chain's last
//! verification (`store::verifications`).

use schemars::JsonSchema;
use serde::Serialize;

use super::ToolCx;
use super::edition::EditionKind;
use super::registry::{NoArguments, ReadTool, Registry, RegistryError, ToolSpec};
use super::result::{AfterRead, ToolError, ToolErrorCode};
use crate::audit::SYSTEM_CHAIN;
use crate::identity::Role;
use crate::store::audit_log;
use crate::store::verifications::Verification;

/// Register the audit tools.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_read(Verify)?;
    Ok(())
}

const READERS: &[Role] = &[Role::PlatformAdmin, Role::TenantAdmin, Role::Auditor];

/// What verification found.
#[derive(Debug, Serialize, JsonSchema)]
pub struct VerifyOutput {
    /// The chain verified.
    pub chain: String,
    pub valid: bool,
    /// Records checked (up to the first problem).
    pub records_checked: u64,
    /// Signed checkpoints checked.
    pub checkpoints_checked: u64,
    /// The highest seq covered by a verified checkpoint.
    pub covered_seq: u64,
    /// The first problem, if any: a stable code, the seq it concerns, and a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<ProblemView>,
}

/// A verification problem.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProblemView {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub message: String,
}

fn verify(cx: &ToolCx, conn: &crate::store::Db, chain: String) -> Result<VerifyOutput, ToolError> {
    if chain != SYSTEM_CHAIN && crate::store::tenants::get(conn, &chain)?.is_none() {
        return Err(ToolError::new(ToolErrorCode::NotFound, "no such tenant"));
    }
    let outcome = audit_log::verify_stored(conn, &chain, &cx.audit_keys)
        .map_err(|e| ToolError::new(ToolErrorCode::Internal, e.to_string()))?;
    Ok(match outcome {
        Ok(report) => VerifyOutput {
            chain,
            valid: true,
            records_checked: report.records,
            checkpoints_checked: report.checkpoints,
            covered_seq: report.covered_seq,
            first_problem: None,
        },
        Err(problem) => VerifyOutput {
            chain,
            valid: false,
            records_checked: problem.seq().map(|s| s.saturating_sub(1)).unwrap_or(0),
            checkpoints_checked: 0,
            covered_seq: 0,
            first_problem: Some(ProblemView {
                code: problem.code().to_owned(),
                seq: problem.seq(),
                message: problem.to_string(),
            }),
        },
    })
}

/// The chain of the effective tenant (or `_system` for a platform admin naming none).
fn chain_for(cx: &ToolCx) -> String {
    cx.tenant.as_ref().map(|t| t.0.clone()).unwrap_or_else(|| SYSTEM_CHAIN.to_owned())
}

/// `audit.verify`.
pub struct Verify;

impl<E: EditionKind> ReadTool<E> for Verify {
    type Input = NoArguments;
    type Output = VerifyOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: READERS,
            tenant_scoped: true,
            heavy: true,
            ..ToolSpec::open(
                "audit.verify",
                1,
                "Verify the audit chain",
                E::says(
                    "Verify your tenant's hash-chained audit log and its signed checkpoints; report the records checked and the first bad one.",
                    "Verify the hash-chained audit log and its signed checkpoints; report the records checked and the first bad one.",
                ),
            )
        }
    }

    fn read(&self, _input: NoArguments, cx: &ToolCx, conn: &crate::store::Db) -> Result<VerifyOutput, ToolError> {
        verify(cx, conn, chain_for(cx))
    }

    /// The verification is kept as its chain's latest (the operator console reports it).
    fn after(&self, out: &VerifyOutput, cx: &ToolCx) -> Option<AfterRead> {
        Some(AfterRead::ChainVerified(Verification {
            chain: out.chain.clone(),
            verified_at: cx.clock.now_rfc3339(),
            valid: out.valid,
            records_checked: out.records_checked,
            problem_code: out.first_problem.as_ref().map(|p| p.code.clone()),
            problem_seq: out.first_problem.as_ref().and_then(|p| p.seq),
            verified_by: cx.principal.id.clone(),
        }))
    }
}
