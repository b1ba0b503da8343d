//! tollgate: a multi-tenant MCP tool server.
//!
//! A reader's tour, in the order a request meets the layers (imports only
//! point down this list; `tests/architecture.rs` enforces it, and
//! `docs/architecture.md` draws it):
//!
//! - [`cmd`]: the command line (`init`, `serve`, `stdio`, `demo`, `bench`,
//!   `audit …`); `main.rs` only parses arguments and calls it.
//! - [`transport`]: stdio lines, HTTP(S) with optional mTLS, the metrics
//!   listener. Frames bytes and extracts a credential; decides nothing.
//! - [`protocol`]: the era edge. Turns a 2026-07-28 request or a 2025
//!   conversation's request into one era-neutral call, gives it an asker, and
//!   shapes the result back ([`protocol::endpoint::McpServer`] is what every
//!   transport calls).
//! - [`server`]: `tools/list`, `tools/call`, `subscriptions/listen`; one
//!   call read top to bottom in [`server::call`].
//! - [`gate`]: the ordered, fail-closed steps that admit or refuse a call
//!   ([`gate::chain`]).
//! - [`exec`]: the one transaction of an admitted call: replay, quota,
//!   ledger, idempotency record, audit record.
//! - [`tools`]: the registry and the tool families; what a tool sees of a
//!   request ([`tools::context`]) and how it asks a person ([`tools::ask`]).
//! - [`package`]: customer audit packages, built and verified.
//! - [`events`]: which listen streams hear an announcement.
//! - [`store`]: the only SQL: single writer with group commit, readers,
//!   migrations, reservations.
//! - Leaves, used by every layer and importing none: [`metrics`],
//!   [`config`] (settings, and the one flag registry [`config::FLAGS`]),
//!   [`billing`], [`audit`], [`identity`], [`wire`] (the
//!   JSON-RPC/MCP wire model and error codes), [`clock`], [`sync`].

pub mod cmd;
pub mod transport;

pub mod protocol;
pub mod server;

pub mod exec;
pub mod gate;

pub mod events;
pub mod package;
pub mod tools;

pub mod store;

pub mod audit;
pub mod billing;
pub mod clock;
pub mod config;
pub mod identity;
pub mod metrics;
pub mod sync;
pub mod wire;
