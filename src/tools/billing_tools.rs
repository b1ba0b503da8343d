//! Billing tools: `plan.catalog`, `plan.get`, `plan.set` (the billing API,
//! behind the `billing_api` flag), `usage.report` (not flagged: usage is
//! metered and its quotas enforced whatever the flag says).
//!
//! Invariants: `usage.report` is a sum over the ledger; `plan.set` bumps the
//! version and appends history in the same transaction as its audit record,
//! and a stale `expected_version` changes nothing (`conflict`). `plan.get` and
//! `usage.report` exist in both editions (tenant-scoped: the multi-tenant one
//! takes `tenant_id`); `plan.set` only in the multi-tenant edition.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::{EditionKind, Editions};
use super::registry::{Annotations, BillingClass, NoArguments, Registry, RegistryError, Tool, ToolSpec};
use super::result::{ToolError, ToolErrorCode};
use crate::billing::plans::{PLANS, plan};
use crate::billing::{BillingView, Counter, Feature, LimitOverrides, Limits, PlanName, Status, period};
use crate::clock;
use crate::config::Flag;
use crate::events::{Audience, Event};
use crate::identity::Role;
use crate::identity::TenantId;
use crate::store::WriteCx;
use crate::store::billing::{self as ledger, BillingRow, HistoryRow};

/// Register the billing tools.
pub fn register(r: &mut Registry) -> Result<(), RegistryError> {
    r.add_typed(Catalog)?;
    r.add_typed(Get)?;
    r.add_typed(Set)?;
    r.add_typed(Report)?;
    Ok(())
}

const READERS: &[Role] = &[Role::PlatformAdmin, Role::TenantAdmin, Role::Auditor];

/// The tenant a call acts on, or an argument error for a platform admin naming none.
fn target(cx: &ToolCx) -> Result<String, ToolError> {
    cx.tenant
        .as_ref()
        .map(|t| t.0.clone())
        .ok_or_else(|| ToolError::invalid_argument("/tenant_id", "name the account to act on"))
}

fn view(tx: &WriteCx<'_>, tenant: &str) -> Result<BillingView, ToolError> {
    let row =
        ledger::get(tx.conn, tenant)?.ok_or_else(|| ToolError::new(ToolErrorCode::NotFound, "no such account"))?;
    BillingView::from_row(&row).map_err(|e| ToolError::new(ToolErrorCode::Internal, e))
}

/// A plan in the catalog.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CatalogEntry {
    pub plan: PlanName,
    pub features: Vec<Feature>,
    pub limits: Limits,
}

/// Every plan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CatalogOutput {
    pub plans: Vec<CatalogEntry>,
}

/// `plan.catalog`.
pub struct Catalog;

impl<E: EditionKind> Tool<E> for Catalog {
    type Input = NoArguments;
    type Output = CatalogOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            flag: Some(Flag::BillingApi),
            ..ToolSpec::open("plan.catalog", 1, "Plan catalog", "List the plans with their features and limits.")
        }
    }

    fn run(&self, _input: NoArguments, _cx: &ToolCx, _tx: &mut WriteCx<'_>) -> Result<CatalogOutput, ToolError> {
        let plans = PLANS
            .iter()
            .map(|p| CatalogEntry { plan: p.name, features: p.features.to_vec(), limits: p.limits })
            .collect();
        Ok(CatalogOutput { plans })
    }
}

/// An account's plan state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanState {
    pub plan: PlanName,
    /// The stored status.
    pub status: Status,
    /// The status that applies now (an ended trial acts as `past_due`).
    pub effective_status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_ends_at: Option<String>,
    /// Bumped by every change; pass it as `expected_version` to `plan.set`.
    pub version: u64,
    pub features: Vec<Feature>,
    /// The plan's limits with contract overrides applied.
    pub limits: Limits,
    pub overrides: LimitOverrides,
    /// Every change, oldest first.
    pub history: Vec<HistoryRow>,
}

fn plan_state(cx: &ToolCx, tx: &WriteCx<'_>, tenant: &str) -> Result<PlanState, ToolError> {
    let v = view(tx, tenant)?;
    Ok(PlanState {
        plan: v.plan,
        status: v.status,
        effective_status: v.effective_status(cx.clock.now()),
        trial_ends_at: v.trial_ends_at.clone(),
        version: v.version,
        features: plan(v.plan).features.to_vec(),
        limits: v.limits,
        overrides: v.overrides,
        history: ledger::history(tx.conn, tenant)?,
    })
}

/// `plan.get`.
pub struct Get;

impl<E: EditionKind> Tool<E> for Get {
    type Input = NoArguments;
    type Output = PlanState;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: READERS,
            tenant_scoped: true,
            billing: BillingClass::Account,
            flag: Some(Flag::BillingApi),
            ..ToolSpec::open(
                "plan.get",
                1,
                "Get the plan",
                E::says(
                    "Read a tenant's plan, status, limits, version and history.",
                    "Read the plan, its status, limits, version and history.",
                ),
            )
        }
    }

    fn run(&self, _input: NoArguments, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<PlanState, ToolError> {
        plan_state(cx, tx, &target(cx)?)
    }
}

/// `plan.set` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetInput {
    pub tenant_id: String,
    pub plan: PlanName,
    /// `active` when absent.
    pub status: Option<Status>,
    /// Required with `trialing` (RFC 3339).
    pub trial_ends_at: Option<String>,
    /// Contract overrides of the plan's limits (replace any earlier overrides).
    pub limits: Option<LimitOverrides>,
    /// Refuse the change unless the current version is this one.
    pub expected_version: Option<u64>,
}

/// `plan.set`.
pub struct Set;

impl<E: EditionKind> Tool<E> for Set {
    type Input = SetInput;
    type Output = PlanState;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: &[Role::PlatformAdmin],
            editions: Editions::MultiTenantOnly,
            tenant_scoped: true,
            flag: Some(Flag::BillingApi),
            annotations: Annotations {
                read_only_hint: false,
                destructive_hint: false,
                idempotent_hint: true,
                open_world_hint: false,
            },
            ..ToolSpec::open(
                "plan.set",
                1,
                "Set a tenant's plan",
                "Set a tenant's plan, billing status, trial end and contract limit overrides; applies to its very next call.",
            )
        }
    }

    fn run(&self, input: SetInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<PlanState, ToolError> {
        let tenant = input.tenant_id.clone();
        let current = view(tx, &tenant)?;
        if input.expected_version.is_some_and(|v| v != current.version) {
            return Err(ToolError::new(
                ToolErrorCode::Conflict,
                format!("the plan is at version {}, not {:?}; read it again", current.version, input.expected_version),
            ));
        }
        let status = input.status.unwrap_or(Status::Active);
        let trial_ends_at = match (status, input.trial_ends_at.as_deref()) {
            (Status::Trialing, Some(t)) => Some(clock::rfc3339(
                clock::parse(t).ok_or_else(|| ToolError::invalid_argument("/trial_ends_at", "must be RFC 3339"))?,
            )),
            (Status::Trialing, None) => {
                return Err(ToolError::invalid_argument("/trial_ends_at", "trialing needs trial_ends_at"));
            }
            (_, Some(_)) => {
                return Err(ToolError::invalid_argument("/trial_ends_at", "only a trialing plan has a trial end"));
            }
            (_, None) => None,
        };
        let overrides = input.limits.unwrap_or_default();
        let row = BillingRow {
            plan: input.plan.as_str().into(),
            status: status.as_str().into(),
            trial_ends_at,
            version: current.version + 1,
            overrides: serde_json::to_string(&overrides).unwrap_or_else(|_| "{}".into()),
        };
        ledger::set(tx.conn, &tenant, &row, &cx.clock.now_rfc3339(), &cx.principal.id)?;
        // What the tenant may call may have changed: tell its listen streams (only its own).
        cx.announcements.push(Audience::Tenant(TenantId(tenant.clone())), Event::ToolsListChanged);
        plan_state(cx, tx, &tenant)
    }
}

/// One counter's standing this period.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CounterReport {
    pub counter: Counter,
    pub used: u64,
    pub limit: u64,
    pub remaining: u64,
    pub resets_at: String,
}

/// Usage against limits for one period.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReportOutput {
    /// `YYYY-MM` (UTC).
    pub period: String,
    pub counters: Vec<CounterReport>,
}

/// `usage.report` input.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// `YYYY-MM` (UTC); the current month when absent.
    pub period: Option<String>,
}

fn report(cx: &ToolCx, tx: &WriteCx<'_>, period: Option<&str>) -> Result<ReportOutput, ToolError> {
    let tenant = target(cx)?;
    let period = match period {
        None => period::containing(cx.clock.now()),
        Some(p) => period::named(p).ok_or_else(|| ToolError::invalid_argument("/period", "period must be YYYY-MM"))?,
    };
    let limits = view(tx, &tenant)?.limits;
    let mut counters = Vec::new();
    for counter in Counter::ALL {
        let used = ledger::used(tx.conn, &tenant, counter.as_str(), &period.start, &period.end)?;
        let limit = limits.of(counter);
        counters.push(CounterReport {
            counter,
            used,
            limit,
            remaining: limit.saturating_sub(used),
            resets_at: period.end.clone(),
        });
    }
    Ok(ReportOutput { period: period.name, counters })
}

/// `usage.report`.
pub struct Report;

impl<E: EditionKind> Tool<E> for Report {
    type Input = ReportInput;
    type Output = ReportOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            roles: READERS,
            tenant_scoped: true,
            billing: BillingClass::Account,
            ..ToolSpec::open(
                "usage.report",
                1,
                "Usage report",
                E::says(
                    "Report a tenant's usage per counter for a month: used, limit, remaining and when it resets.",
                    "Report usage per counter for a month: used, limit, remaining and when it resets.",
                ),
            )
        }
    }

    fn run(&self, input: ReportInput, cx: &ToolCx, tx: &mut WriteCx<'_>) -> Result<ReportOutput, ToolError> {
        report(cx, tx, input.period.as_deref())
    }
}
