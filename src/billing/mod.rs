//! Plans, billing state, periods, rate limits and quotas.
//!
//! Invariants: what a tenant may do is computed from one [`BillingView`],
//! read fresh for every call (a change applies to the very next call); all
//! time comes from the one [`Clock`](crate::clock::Clock).

pub mod period;
pub mod plans;
pub mod rate;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use plans::{Counter, Feature, Limits, PlanName};

/// A tenant's billing row (the plan itself lives on the tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingRow {
    pub plan: String,
    pub status: String,
    pub trial_ends_at: Option<String>,
    pub version: u64,
    /// Contract overrides as a JSON object (e.g. {"tool_calls": 100}).
    pub overrides: String,
}

/// An account's billing status.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    /// A trial; after `trial_ends_at` it acts as `past_due`.
    Trialing,
    /// Read-only tools, key revocation and audit export keep working.
    PastDue,
    /// Only whoami, plan.get, usage.report, audit export and key revocation work.
    Canceled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Trialing => "trialing",
            Status::PastDue => "past_due",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Status::Active, Status::Trialing, Status::PastDue, Status::Canceled].into_iter().find(|x| x.as_str() == s)
    }
}

/// Contract overrides of a plan's limits; every field optional.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_exports: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_exports: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys_issued: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub rate_per_key: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub rate_per_account: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active_keys: Option<u32>,
}

impl LimitOverrides {
    /// The plan's limits with these overrides applied.
    pub fn apply(&self, base: Limits) -> Limits {
        Limits {
            tool_calls: self.tool_calls.unwrap_or(base.tool_calls),
            audit_exports: self.audit_exports.unwrap_or(base.audit_exports),
            data_exports: self.data_exports.unwrap_or(base.data_exports),
            keys_issued: self.keys_issued.unwrap_or(base.keys_issued),
            rate_per_key: self.rate_per_key.unwrap_or(base.rate_per_key).max(1),
            rate_per_account: self.rate_per_account.unwrap_or(base.rate_per_account).max(1),
            max_active_keys: self.max_active_keys.unwrap_or(base.max_active_keys),
        }
    }
}

/// Everything the gate needs to know about a tenant's plan, as of now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingView {
    pub plan: PlanName,
    /// The stored status.
    pub status: Status,
    pub trial_ends_at: Option<String>,
    pub version: u64,
    pub overrides: LimitOverrides,
    /// Plan limits with overrides.
    pub limits: Limits,
}

impl BillingView {
    /// From a stored row; an unreadable row is an error (fail closed).
    pub fn from_row(row: &BillingRow) -> Result<Self, String> {
        let plan = PlanName::parse(&row.plan).ok_or_else(|| format!("unknown plan {:?}", row.plan))?;
        let status = Status::parse(&row.status).ok_or_else(|| format!("unknown status {:?}", row.status))?;
        let overrides: LimitOverrides =
            serde_json::from_str(&row.overrides).map_err(|e| format!("unreadable limit overrides: {e}"))?;
        Ok(Self {
            plan,
            status,
            trial_ends_at: row.trial_ends_at.clone(),
            version: row.version,
            limits: overrides.apply(plans::plan(plan).limits),
            overrides,
        })
    }

    /// The status that applies now (an ended trial acts as `past_due`).
    pub fn effective_status(&self, now: OffsetDateTime) -> Status {
        match (self.status, self.trial_ends_at.as_deref().and_then(crate::clock::parse)) {
            (Status::Trialing, Some(end)) if end <= now => Status::PastDue,
            (s, _) => s,
        }
    }

    /// Whether the plan includes a feature.
    pub fn entitles(&self, feature: Feature) -> bool {
        plans::plan(self.plan).features.contains(&feature)
    }
}
