//! `admin.overview`: how the service is doing, on one page — version,
//! uptime, flags, tenants by plan and billing status, calls and denials of
//! the last 24 hours by reason, the last chain verification, the release gates.
//!
//! Invariant: it reads persisted data only through indexed, bounded queries
//! (hourly rolling counters, never a scan of the audit log), so it answers
//! the same after a restart and stays fast on a large log.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use time::Duration;

use super::super::ToolCx;
use super::super::edition::EditionKind;
use super::super::registry::{NoArguments, ReadTool, ToolSpec};
use super::super::result::ToolError;
use super::super::server_info::{FlagView, flag_views};
use super::access::console_spec;
use super::gates::{self, Gate};
use crate::store::{Db, call_counts, console, verifications};
use crate::wire::SERVER_INFO;

/// Tenants by plan and by billing status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TenantTallies {
    pub total: u64,
    pub by_plan: BTreeMap<String, u64>,
    /// By recorded billing status (`active`, `trialing`, `past_due`, `canceled`).
    pub by_billing_status: BTreeMap<String, u64>,
}

/// Calls decided in the window, from the hourly counters.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Activity {
    /// Start of the window: the beginning of the UTC hour 23 hours before the current one.
    pub since: String,
    /// Every decision: allowed plus denied.
    pub calls: u64,
    pub allowed: u64,
    pub denied: u64,
    /// Denials by their stable reason (`role_required`, `rate_limited`, …).
    pub denials_by_reason: BTreeMap<String, u64>,
}

/// The newest verification of any chain.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LastVerification {
    pub chain: String,
    pub verified_at: String,
    pub valid: bool,
    pub records_checked: u64,
    /// The first problem's stable code, if the chain did not verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_seq: Option<u64>,
}

/// The console's front page.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OverviewOutput {
    pub version: String,
    pub started_at: String,
    pub uptime_secs: u64,
    pub flags: Vec<FlagView>,
    pub tenants: TenantTallies,
    pub last_24h: Activity,
    /// Absent until `audit.verify` has run on this data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verification: Option<LastVerification>,
    pub release_gates: Vec<Gate>,
}

/// `admin.overview`.
pub struct Overview;

impl<E: EditionKind> ReadTool<E> for Overview {
    type Input = NoArguments;
    type Output = OverviewOutput;

    fn spec(&self) -> ToolSpec {
        console_spec(
            "admin.overview",
            "Service overview",
            "Read-only operator console: version, uptime, flags, tenants by plan and billing status, calls and denials of the last 24 hours by reason, the last audit chain verification and the release gates.",
        )
    }

    fn read(&self, _input: NoArguments, cx: &ToolCx, conn: &Db) -> Result<OverviewOutput, ToolError> {
        let now = cx.clock.now();
        let (by_plan, by_status) = console::tenant_tallies(conn)?;
        let total = by_plan.iter().map(|(_, n)| n).sum();
        let since_hour = call_counts::hour_of(&crate::clock::rfc3339(now - Duration::hours(23))).to_owned();
        let mut activity = Activity {
            since: format!("{since_hour}:00:00Z"),
            calls: 0,
            allowed: 0,
            denied: 0,
            denials_by_reason: BTreeMap::new(),
        };
        for row in call_counts::since(conn, &since_hour)? {
            activity.calls += row.count;
            if row.decision == "deny" {
                activity.denied += row.count;
                *activity.denials_by_reason.entry(row.reason).or_default() += row.count;
            } else {
                activity.allowed += row.count;
            }
        }
        let last_verification = verifications::latest(conn)?.map(|v| LastVerification {
            chain: v.chain,
            verified_at: v.verified_at,
            valid: v.valid,
            records_checked: v.records_checked,
            problem_code: v.problem_code,
            problem_seq: v.problem_seq,
        });
        Ok(OverviewOutput {
            version: SERVER_INFO.version.to_owned(),
            started_at: crate::clock::rfc3339(cx.server.started_at),
            uptime_secs: u64::try_from((now - cx.server.started_at).whole_seconds()).unwrap_or(0),
            flags: flag_views(&cx.config),
            tenants: TenantTallies {
                total,
                by_plan: by_plan.into_iter().collect(),
                by_billing_status: by_status.into_iter().collect(),
            },
            last_24h: activity,
            last_verification,
            release_gates: gates::evaluate(cx, conn),
        })
    }
}
