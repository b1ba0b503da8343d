//! tollgate: a multi-tenant MCP tool server.
//!
//! The request path (DESIGN.md): transport → era layer → dispatcher → gate
//! chain → tool → reply. Each module owns one step of it.

pub mod cli;
pub mod client;
pub mod context;
pub mod demo;
pub mod dispatch;
pub mod gate;
pub mod protocol;
pub mod schemas;
pub mod server;
pub mod session;
pub mod tools;
pub mod transport;
pub mod clock;
