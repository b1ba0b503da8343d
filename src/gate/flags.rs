//! Feature flags the gate applies: which tools a server's configuration
//! switches off. The flags themselves are declared once, in
//! [`crate::config::FLAGS`]; each tool names its flag in its spec.
//! Invariant: a flagged-off tool is refused before its arguments are read,
//! with -31403 `feature_disabled` and `data.flag` naming the flag, and is
//! absent from `tools/list`; every flag works this one way (`multi_tenant`
//! also picks the edition, which is stronger).

use crate::config::{Config, Flag, FlagStates};
use crate::tools::{Edition, RegisteredTool};

/// The flags of one server, read from its config at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    states: FlagStates,
}

impl Flags {
    /// The flags a config sets.
    pub fn of(config: &Config) -> Self {
        Self { states: config.flags() }
    }

    /// The kill switch: which edition's tools exist.
    pub fn multi_tenant(&self) -> bool {
        self.states.on(Flag::MultiTenant)
    }

    /// Every flag's state.
    pub fn states(&self) -> FlagStates {
        self.states
    }

    /// The flag that switches `tool` off on this server, if one does: its
    /// edition is not this server's (`multi_tenant`), or its own flag is off.
    pub fn disabled_flag(&self, tool: &RegisteredTool) -> Option<Flag> {
        if tool.edition != Edition::of(self.multi_tenant()) {
            return Some(Flag::MultiTenant);
        }
        tool.spec.flag.filter(|f| !self.states.on(*f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::standard;

    #[test]
    fn each_flag_off_disables_exactly_its_tools() {
        let registry = standard().expect("registry");
        let expected: [(Flag, &[&str]); 4] = [
            (Flag::TenantBootstrap, &["tenant.bootstrap"]),
            (Flag::BillingApi, &["plan.catalog", "plan.get", "plan.set"]),
            (Flag::AdminConsole, &["admin.overview", "admin.tenants"]),
            (Flag::TenantDelete, &["tenant.delete"]),
        ];
        let all_on = Flag::all().fold(Config::default(), |c, f| with(c, f, true));
        for (flag, tools) in expected {
            let flags = Flags::of(&with(all_on.clone(), flag, false));
            let mut off: Vec<&str> = registry
                .latest(true)
                .iter()
                .filter(|t| flags.disabled_flag(t) == Some(flag))
                .map(|t| t.spec.name)
                .collect();
            off.sort();
            assert_eq!(off, tools, "{flag:?}");
        }
        let on = Flags::of(&all_on);
        assert!(registry.latest(true).iter().all(|t| on.disabled_flag(t).is_none()));
    }

    #[test]
    fn the_other_edition_is_disabled_by_multi_tenant() {
        let registry = standard().expect("registry");
        let single = Flags::of(&Config { multi_tenant: false, ..Config::default() });
        let bootstrap = registry.resolve("tenant.bootstrap", false).expect("exists in the other edition");
        assert_eq!(single.disabled_flag(&bootstrap), Some(Flag::MultiTenant));
        let whoami = registry.resolve("whoami", false).expect("whoami");
        assert_eq!(single.disabled_flag(&whoami), None);
    }

    fn with(c: Config, flag: Flag, on: bool) -> Config {
        let mut c = c;
        match flag {
            Flag::MultiTenant => c.multi_tenant = on,
            Flag::TenantBootstrap => c.tenant_bootstrap = on,
            Flag::BillingApi => c.billing_api = on,
            Flag::AdminConsole => c.admin_console = on,
            Flag::TenantDelete => c.tenant_delete = on,
        }
        c
    }
}
