//! tollgate: a multi-tenant MCP tool server.
//!
//! (tour rewritten below once the layers settle)

pub mod audit;
pub mod billing;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod events;
pub mod exec;
pub mod gate;
pub mod identity;
pub mod metrics;
pub mod package;
pub mod protocol;
pub mod server;
pub mod store;
pub mod sync;
pub mod tools;
pub mod transport;
pub mod wire;
