//! The era-neutral server: one dispatcher for `tools/list`, `tools/call` and
//! `subscriptions/listen`, and one `tools/call` read top to bottom.
//!
//! Invariant: nothing here asks which era a request came from; the era layer
//! (`protocol`) hands in a [`CallContext`](crate::tools::context::CallContext)
//! with its asker, and gets back era-neutral results.

pub mod access;
mod authenticated;
pub mod call;
pub mod dispatch;
pub mod heavy;
pub mod sealed;
