//! Transports: they frame bytes and pass requests to [`crate::protocol::endpoint::McpServer`].
//!
//! Invariant: transports never decide; they only classify the era from what
//! the wire says (HTTP header, stdio `_meta`) and carry the answer back.

pub mod http;
pub mod metrics;
pub mod stdio;
pub mod tls;
