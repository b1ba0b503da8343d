//! Feature flags the gate applies at resolution: which tools a server's
//! configuration switches off.
//! Invariant: a flagged-off tool is refused before its arguments are read,
//! with -31403 `feature_disabled` and `data.flag` naming the flag.

use crate::config::Config;

/// The flags of one server, read from its config at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags {
    /// `multi_tenant` (the kill switch): which mode's tools exist.
    pub multi_tenant: bool,
    /// `tenant_delete`: `tenant.delete` may run.
    pub tenant_delete: bool,
}

impl Flags {
    /// The flags a config sets.
    pub fn of(config: &Config) -> Self {
        Self { multi_tenant: config.multi_tenant, tenant_delete: config.tenant_delete }
    }

    /// The flag that switches `tool` off on this server, if one does.
    pub fn disabled_flag(&self, tool: &str) -> Option<&'static str> {
        match tool {
            "tenant.delete" if !self.tenant_delete => Some("tenant_delete"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_delete_is_off_by_default_and_only_it_is_flagged() {
        let off = Flags::of(&Config::default());
        assert_eq!(off.disabled_flag("tenant.delete"), Some("tenant_delete"));
        assert_eq!(off.disabled_flag("tenant.get"), None);
        let on = Flags::of(&Config { tenant_delete: true, ..Config::default() });
        assert_eq!(on.disabled_flag("tenant.delete"), None);
    }
}
