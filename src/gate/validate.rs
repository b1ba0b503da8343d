//! Gate step: validate arguments against the resolved tool's input schema.
//!
//! A violation is the caller's to fix, so it is a tool result
//! (`isError: true`, `{code: "invalid_arguments", field, message}`), never a
//! protocol error (2025-11-25 and 2026-07-28 ask for this so a model can
//! correct itself).

use futures::future::BoxFuture;

use super::{Admission, Refusal, Step};

/// Validates the arguments.
pub struct ValidateArguments;

impl Step for ValidateArguments {
    fn name(&self) -> &'static str {
        "validate_arguments"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move { call.tool()?.validate(&call.arguments).map_err(Refusal::Tool) })
    }
}
