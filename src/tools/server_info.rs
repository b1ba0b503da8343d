//! `server.info`: the server's version, protocol revisions and enabled
//! features, and (to the platform admin only) the state of every flag.
//!
//! Reads only build-time facts and the server's config; it has no effect.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ToolCx;
use super::edition::EditionKind;
use super::registry::{Tool, ToolSpec};
use super::result::ToolError;
use crate::config::Config;
use crate::identity::Role;
use crate::store::WriteCx;
use crate::wire::{SERVER_INFO, SUPPORTED_VERSIONS};

/// `server.info` takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerInfoInput {}

/// What this server is and can do.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ServerInfoOutput {
    pub name: String,
    pub version: String,
    /// Protocol revisions served, newest first.
    pub protocol_versions: Vec<String>,
    /// Features enabled in this server, in a stable order.
    pub features: Vec<String>,
    /// Every server flag and its state, in a stable order; shown to the platform admin only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flags: Option<Vec<FlagView>>,
}

/// One server flag as `server.info` shows it.
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct FlagView {
    /// The flag's config key (`TOLLGATE_` and the key in capitals overrides it).
    pub name: String,
    pub enabled: bool,
    /// Its documented default.
    pub default: bool,
}

/// Every flag of a config, in registry order.
pub fn flag_views(config: &Config) -> Vec<FlagView> {
    config
        .flags()
        .iter()
        .map(|(def, enabled)| FlagView { name: def.key.to_owned(), enabled, default: def.default })
        .collect()
}

/// Features of this build, in a stable order.
pub const FEATURES: [&str; 4] = ["protocol_2026_07_28", "protocol_2025_legacy", "transport_stdio", "transport_http"];

/// The `server.info` tool.
pub struct ServerInfoTool;

impl<E: EditionKind> Tool<E> for ServerInfoTool {
    type Input = ServerInfoInput;
    type Output = ServerInfoOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec::open(
            "server.info",
            1,
            "Server information",
            "Show the server's version, the protocol revisions it serves and its enabled features; to the platform admin, also every server flag's state.",
        )
    }

    fn run(&self, _input: ServerInfoInput, cx: &ToolCx, _tx: &mut WriteCx<'_>) -> Result<ServerInfoOutput, ToolError> {
        let admin = cx.principal.role == Role::PlatformAdmin;
        Ok(ServerInfoOutput {
            name: SERVER_INFO.name.to_owned(),
            version: SERVER_INFO.version.to_owned(),
            protocol_versions: SUPPORTED_VERSIONS.iter().map(|v| (*v).to_owned()).collect(),
            features: FEATURES.iter().map(|f| (*f).to_owned()).collect(),
            flags: admin.then(|| flag_views(&cx.config)),
        })
    }
}
