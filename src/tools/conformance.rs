//! Fixture tools the MCP conformance suites call (`--conformance` only).
//!
//! Never registered outside conformance mode, which is loopback-only.

use crate::tools::Registry;
use crate::tools::registry::RegistryError;

/// Register every fixture.
pub fn register(_registry: &mut Registry) -> Result<(), RegistryError> {
    Ok(())
}
