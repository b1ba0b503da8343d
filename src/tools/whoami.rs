//! `whoami`: tells the caller how it reached the server.
//!
//! Reads only the admitted request context; it has no effect.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::registry::{Annotations, Tool, ToolSpec};
use super::result::ToolError;
use crate::context::{SharedContext, TransportKind};
use crate::protocol::{Era, SERVER_INFO};

/// `whoami` takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhoamiInput {}

/// Who the server thinks is calling, and over what.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WhoamiOutput {
    /// `modern` (2026-07-28, stateless) or `legacy` (2025 revisions, initialize handshake).
    pub era: Era,
    /// The protocol revision this call was served under.
    pub protocol_version: String,
    /// `stdio`, `http` or `https`.
    pub transport: TransportKind,
    /// Name and version of the server.
    pub server: ServerIdentity,
}

/// The server's name and version.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ServerIdentity {
    pub name: String,
    pub version: String,
}

/// The `whoami` tool.
pub struct Whoami;

impl Tool for Whoami {
    type Input = WhoamiInput;
    type Output = WhoamiOutput;

    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "whoami",
            version: 1,
            title: "Who am I",
            description: "Show how this call reached the server: protocol era and version, transport, and the server's identity.",
            annotations: Annotations::READ_ONLY,
            requires: &[],
        }
    }

    async fn call(
        &self,
        _input: WhoamiInput,
        cx: SharedContext,
    ) -> Result<WhoamiOutput, ToolError> {
        Ok(WhoamiOutput {
            era: cx.era,
            protocol_version: cx.protocol_version.clone(),
            transport: cx.transport,
            server: ServerIdentity {
                name: SERVER_INFO.name.to_owned(),
                version: SERVER_INFO.version.to_owned(),
            },
        })
    }
}
