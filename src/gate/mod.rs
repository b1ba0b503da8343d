//! The gate chain: the one place that decides whether a `tools/call` runs.
//!
//! Invariants: steps run in the order [`Chain::standard`] lists them; the
//! first refusal ends the call (and is audited by `Governance::deny`, or
//! counted in an aggregated record for floods); steps never
//! call each other; anything a step cannot decide is a refusal (fail closed).

pub mod address_limit;
mod authenticate;
mod billing_status;
mod bind_tenant;
mod capabilities;
pub mod credentials;
mod entitlement;
mod flags;
pub mod idempotency;
pub mod jwks;
mod jwks_fetch;
pub mod jwt;
pub mod policy;
mod rate_limit;
mod resolve;
mod role;
mod validate;

pub mod admission;
pub mod chain;

pub use admission::{Admission, Permit, Refusal, Step, forbidden};
pub use authenticate::{Authenticate, auth_error};
pub use chain::Chain;
pub use flags::Flags;
pub use rate_limit::{RateLimits, Requester};
