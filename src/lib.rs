//! tollgate: a multi-tenant MCP tool server.
//!
//! The request path (DESIGN.md): transport → era layer → dispatcher → gate
//! chain → tool → reply. Each module owns one step of it.

pub mod access;
pub mod audit;
pub mod bench;
pub mod billing;
pub mod cli;
pub mod client;
pub mod clock;
pub mod commit;
pub mod config;
pub mod context;
pub mod demo;
pub mod dispatch;
pub mod events;
pub mod gate;
pub mod governed;
pub mod identity;
pub mod interact;
pub mod metrics;
pub mod offline;
pub mod package;
pub mod protocol;
pub mod rounds;
pub mod schemas;
pub mod server;
pub mod session;
pub mod store;
pub mod sync;
pub mod tools;
pub mod transport;
