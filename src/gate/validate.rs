//! Gate step: validate arguments against the resolved tool's input schema.
//!
//! A violation is the caller's to fix, so it is a tool result
//! (`isError: true`, `{code: "invalid_arguments", field, message}`), never a
//! protocol error (2025-11-25 and 2026-07-28 ask for this so a model can
//! correct itself).

use futures::future::BoxFuture;

use super::{Admission, Refusal, Step};
use crate::protocol::errors::RpcError;

/// Validates the arguments.
pub struct ValidateArguments;

impl Step for ValidateArguments {
    fn name(&self) -> &'static str {
        "validate_arguments"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let tool = call.tool.as_ref().ok_or_else(|| {
                Refusal::Deny(RpcError::internal(
                    "validate_arguments ran before resolve_tool",
                ))
            })?;
            tool.validate(&call.arguments).map_err(Refusal::Tool)
        })
    }
}
