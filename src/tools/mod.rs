//! The versioned tool registry and the tools themselves.
//!
//! A tool is declared once, as a type with typed input and output; its JSON
//! Schemas are generated from those types (schemars, JSON Schema 2020-12) and
//! published in `schemas/`. Tools compute effects inside the call's commit
//! transaction; they never check permissions, never write audit records and
//! never know which transport or era a call came from.

pub mod admin;
pub mod ask;
pub mod audit_export;
pub mod audit_tools;
pub mod billing_tools;
pub mod catalog;
pub mod cert_binding;
pub mod conformance;
pub mod conformance_interactive;
pub mod context;
pub mod edition;
pub mod identity_tools;
pub mod key_revoke_all;
pub mod keys;
pub mod lifecycle;
pub mod reference;
pub mod registry;
pub mod result;
pub mod schemas;
pub mod server_info;
pub mod spec;
pub mod tenants;
pub mod whoami;

pub use catalog::standard;
pub use context::ToolCx;
pub use edition::Edition;
pub use registry::{RegisteredTool, Registry, Tool, ToolSpec};
pub use result::{ToolError, ToolErrorCode, ToolOutcome};
