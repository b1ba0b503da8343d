//! The flag registry: every feature flag of the server in one table — its
//! config key, its `TOLLGATE_<NAME>` variable, its documented default and
//! what it switches.
//!
//! Invariants: a flag is declared here once and nowhere else; a tool names
//! the flag that gates it in its spec (`ToolSpec::flag`), and the gate
//! applies every flag the same way (absent from `tools/list`, -31403
//! `feature_disabled` with `data.flag` when called). `multi_tenant` is the
//! one flag with a stronger effect: it picks the edition (see
//! `tools::edition`). Flags gate the server's tools only; the offline
//! commands (`init`, `audit`, `schemas`, ...) are the operator's and are not gated.

use serde::Serialize;

/// One switch of the server's surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The kill switch: `false` serves the single-tenant edition.
    MultiTenant,
    /// `tenant.bootstrap`: new tenants can be created.
    TenantBootstrap,
    /// The billing API: `plan.get`, `plan.set`, `plan.catalog`.
    BillingApi,
    /// The read-only operator console: `admin.overview`, `admin.tenants`.
    AdminConsole,
    /// `tenant.delete`.
    TenantDelete,
}

/// A flag's row in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagDef {
    pub flag: Flag,
    /// The config key (`tollgate.toml`); the variable is `TOLLGATE_` and this in capitals.
    pub key: &'static str,
    /// The documented default.
    pub default: bool,
    /// What it switches, for the config template, `docs/tools.md` and operators.
    pub doc: &'static str,
}

/// Every flag, in a stable order (the order `server.info` and the docs list them).
pub const FLAGS: [FlagDef; 5] = [
    FlagDef {
        flag: Flag::MultiTenant,
        key: "multi_tenant",
        default: true,
        doc: "Multi-tenant mode (the kill switch). Off: the single-tenant edition is served — tenant tools are absent, \
              no tenant wording, everything acts on the tenant `default`, other tenants' keys are refused.",
    },
    FlagDef {
        flag: Flag::TenantBootstrap,
        key: "tenant_bootstrap",
        default: true,
        doc: "`tenant.bootstrap`: the platform admin may create tenants.",
    },
    FlagDef {
        flag: Flag::BillingApi,
        key: "billing_api",
        default: true,
        doc: "The billing API: `plan.get`, `plan.set` and `plan.catalog`. Off hides them; quotas and plan \
              features keep being enforced from each tenant's current plan.",
    },
    FlagDef {
        flag: Flag::AdminConsole,
        key: "admin_console",
        default: false,
        doc: "The read-only operator console: `admin.overview` and `admin.tenants` (platform admin only).",
    },
    FlagDef {
        flag: Flag::TenantDelete,
        key: "tenant_delete",
        default: false,
        doc: "`tenant.delete` (plan-then-confirm, blocked by a legal hold).",
    },
];

impl Flag {
    /// Every flag, in registry order.
    pub fn all() -> impl Iterator<Item = Flag> {
        FLAGS.iter().map(|d| d.flag)
    }

    /// This flag's row.
    pub fn def(self) -> &'static FlagDef {
        // Every variant has exactly one row (tested); the first row is a safe fallback.
        let found = FLAGS.iter().find(|d| d.flag == self);
        found.unwrap_or(&FLAGS[0])
    }

    /// The config key, also `data.flag` of a refusal.
    pub fn key(self) -> &'static str {
        self.def().key
    }

    /// The environment variable that overrides it.
    pub fn env(self) -> String {
        format!("TOLLGATE_{}", self.key().to_ascii_uppercase())
    }

    /// The documented default.
    pub fn default_state(self) -> bool {
        self.def().default
    }
}

/// The state of every flag on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagStates([bool; FLAGS.len()]);

impl FlagStates {
    /// Every flag at its documented default.
    pub fn defaults() -> Self {
        Self(FLAGS.map(|d| d.default))
    }

    fn index(flag: Flag) -> usize {
        FLAGS.iter().position(|d| d.flag == flag).unwrap_or(0)
    }

    /// Whether `flag` is on.
    pub fn on(&self, flag: Flag) -> bool {
        self.0[Self::index(flag)]
    }

    /// The same states with `flag` set.
    pub fn with(mut self, flag: Flag, on: bool) -> Self {
        self.0[Self::index(flag)] = on;
        self
    }

    /// Every flag with its state, in registry order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static FlagDef, bool)> + '_ {
        FLAGS.iter().zip(self.0.iter().copied())
    }

    /// The flags not at their documented default.
    pub fn changed(&self) -> Vec<Flag> {
        self.iter().filter(|(d, on)| d.default != *on).map(|(d, _)| d.flag).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_exactly_one_row_and_a_distinct_key() {
        let variants =
            [Flag::MultiTenant, Flag::TenantBootstrap, Flag::BillingApi, Flag::AdminConsole, Flag::TenantDelete];
        for f in variants {
            assert_eq!(FLAGS.iter().filter(|d| d.flag == f).count(), 1, "{f:?}");
            assert_eq!(f.def().flag, f);
        }
        let mut keys: Vec<&str> = FLAGS.iter().map(|d| d.key).collect();
        keys.dedup();
        assert_eq!(keys.len(), FLAGS.len());
        assert_eq!(Flag::AdminConsole.env(), "TOLLGATE_ADMIN_CONSOLE");
    }

    #[test]
    fn the_documented_defaults_are_the_issue_s() {
        let d = FlagStates::defaults();
        assert!(d.on(Flag::MultiTenant) && d.on(Flag::TenantBootstrap) && d.on(Flag::BillingApi));
        assert!(!d.on(Flag::AdminConsole) && !d.on(Flag::TenantDelete));
        assert!(d.changed().is_empty());
        let changed = d.with(Flag::AdminConsole, true).with(Flag::BillingApi, false);
        assert_eq!(changed.changed(), [Flag::BillingApi, Flag::AdminConsole]);
        assert!(changed.on(Flag::AdminConsole) && !changed.on(Flag::BillingApi) && changed.on(Flag::MultiTenant));
    }
}
