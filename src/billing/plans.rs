//! The plan table: what each plan entitles, its limits per period, its rate
//! limits and its key cap. `docs/plans.md` shows it; a test keeps them equal.
//!
//! Invariant: this is the only place plan numbers live.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A plan.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum PlanName {
    Free,
    Pro,
    Enterprise,
}

impl PlanName {
    pub const ALL: [PlanName; 3] = [PlanName::Free, PlanName::Pro, PlanName::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanName::Free => "free",
            PlanName::Pro => "pro",
            PlanName::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// A feature a plan may entitle.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    AuditExport,
    DataExport,
    KeyRotation,
    AdminApi,
    Sso,
}

impl Feature {
    pub const ALL: [Feature; 5] =
        [Feature::AuditExport, Feature::DataExport, Feature::KeyRotation, Feature::AdminApi, Feature::Sso];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::AuditExport => "audit_export",
            Feature::DataExport => "data_export",
            Feature::KeyRotation => "key_rotation",
            Feature::AdminApi => "admin_api",
            Feature::Sso => "sso",
        }
    }
}

/// A metered counter (per account per UTC calendar month).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Counter {
    ToolCalls,
    AuditExports,
    DataExports,
    KeysIssued,
}

impl Counter {
    pub const ALL: [Counter; 4] =
        [Counter::ToolCalls, Counter::AuditExports, Counter::DataExports, Counter::KeysIssued];

    pub fn as_str(self) -> &'static str {
        match self {
            Counter::ToolCalls => "tool_calls",
            Counter::AuditExports => "audit_exports",
            Counter::DataExports => "data_exports",
            Counter::KeysIssued => "keys_issued",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The limits an account is held to (a plan's, or a contract's overrides).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Limits {
    pub tool_calls: u64,
    pub audit_exports: u64,
    pub data_exports: u64,
    pub keys_issued: u64,
    /// Calls per minute per key (a bucket of this size refilling over a minute).
    pub rate_per_key: u32,
    /// Calls per minute for the whole account, all its keys together.
    pub rate_per_account: u32,
    /// Most keys active at once.
    pub max_active_keys: u32,
}

impl Limits {
    /// The monthly limit of a counter.
    pub fn of(&self, counter: Counter) -> u64 {
        match counter {
            Counter::ToolCalls => self.tool_calls,
            Counter::AuditExports => self.audit_exports,
            Counter::DataExports => self.data_exports,
            Counter::KeysIssued => self.keys_issued,
        }
    }
}

/// One row of the plan table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub name: PlanName,
    pub features: &'static [Feature],
    pub limits: Limits,
}

/// The plan table.
pub const PLANS: [Plan; 3] = [
    Plan {
        name: PlanName::Free,
        features: &[],
        limits: Limits {
            tool_calls: 1_000,
            audit_exports: 1,
            data_exports: 1,
            keys_issued: 10,
            rate_per_key: 60,
            rate_per_account: 120,
            max_active_keys: 5,
        },
    },
    Plan {
        name: PlanName::Pro,
        features: &[Feature::AuditExport, Feature::DataExport, Feature::KeyRotation],
        limits: Limits {
            tool_calls: 100_000,
            audit_exports: 30,
            data_exports: 10,
            keys_issued: 100,
            rate_per_key: 600,
            rate_per_account: 1_200,
            max_active_keys: 50,
        },
    },
    Plan {
        name: PlanName::Enterprise,
        features: &[Feature::AuditExport, Feature::DataExport, Feature::KeyRotation, Feature::AdminApi, Feature::Sso],
        limits: Limits {
            tool_calls: 10_000_000,
            audit_exports: 1_000,
            data_exports: 100,
            keys_issued: 10_000,
            rate_per_key: 6_000,
            rate_per_account: 12_000,
            max_active_keys: 1_000,
        },
    },
];

/// Per-key rate of platform principals (calls per minute); they have no tenant bucket.
pub const PLATFORM_RATE_PER_KEY: u32 = 60_000;

/// The row of a plan.
pub fn plan(name: PlanName) -> &'static Plan {
    match name {
        PlanName::Free => &PLANS[0],
        PlanName::Pro => &PLANS[1],
        PlanName::Enterprise => &PLANS[2],
    }
}

/// The entitlement matrix as Markdown (what `docs/plans.md` must contain).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| | free | pro | enterprise |\n|---|---|---|---|\n");
    for f in Feature::ALL {
        let cells: Vec<&str> = PLANS.iter().map(|p| if p.features.contains(&f) { "yes" } else { "no" }).collect();
        out.push_str(&format!("| feature `{}` | {} |\n", f.as_str(), cells.join(" | ")));
    }
    type Row = (&'static str, fn(&Limits) -> u64);
    let rows: [Row; 7] = [
        ("tool_calls / month", |l| l.tool_calls),
        ("audit_exports / month", |l| l.audit_exports),
        ("data_exports / month", |l| l.data_exports),
        ("keys_issued / month", |l| l.keys_issued),
        ("rate_per_key (calls / minute)", |l| u64::from(l.rate_per_key)),
        ("rate_per_account (calls / minute)", |l| u64::from(l.rate_per_account)),
        ("max_active_keys", |l| u64::from(l.max_active_keys)),
    ];
    for (label, get) in rows {
        let cells: Vec<String> = PLANS.iter().map(|p| get(&p.limits).to_string()).collect();
        out.push_str(&format!("| {label} | {} |\n", cells.join(" | ")));
    }
    out
}
