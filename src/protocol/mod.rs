//! The two protocol eras, at the edge.
//!
//! Everything that knows the difference between the 2026-07-28 (stateless)
//! revision and the 2025 revisions lives under this module; past
//! [`era::admit`] nothing asks which era a request came from.

pub mod asking;
pub mod endpoint;
pub mod era;
pub mod headers;
pub mod meta;
pub mod methods;
pub mod session;
pub mod session_share;
pub mod shape;
pub mod version;
