//! Who may use the console, declared once for both of its tools: the
//! platform admin, in the multi-tenant edition, behind `admin_console`.

use super::super::edition::Editions;
use super::super::registry::ToolSpec;
use crate::config::Flag;
use crate::identity::Role;

/// A console tool's spec: read-only (the default of `ToolSpec::open`), platform admin only, flagged.
pub const fn console_spec(name: &'static str, title: &'static str, description: &'static str) -> ToolSpec {
    ToolSpec {
        roles: &[Role::PlatformAdmin],
        editions: Editions::MultiTenantOnly,
        flag: Some(Flag::AdminConsole),
        ..ToolSpec::open(name, 1, title, description)
    }
}
