//! The versioned tool registry and the tools themselves.
//!
//! A tool is declared once, as a type with typed input and output; its JSON
//! Schemas are generated from those types (schemars, JSON Schema 2020-12) and
//! published in `schemas/`. Tools compute effects; they never check
//! permissions and never know which transport or era a call came from.

pub mod conformance;
pub mod registry;
pub mod result;
pub mod server_info;
pub mod whoami;

pub use registry::{RegisteredTool, Registry, Tool, ToolSpec};
pub use result::{ToolError, ToolErrorCode, ToolOutcome};

/// The registry of the tools every tollgate server offers.
pub fn standard() -> Result<Registry, registry::RegistryError> {
    let mut r = Registry::default();
    r.add_typed(whoami::Whoami)?;
    r.add_typed(server_info::ServerInfoTool)?;
    Ok(r)
}
