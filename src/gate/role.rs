//! Gate step: the principal's role may call the tool.

use futures::future::BoxFuture;

use super::policy;
use super::{Admission, Refusal, Step};

/// Checks the role.
pub struct RequireRole;

impl Step for RequireRole {
    fn name(&self) -> &'static str {
        "role"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let role = call.principal()?.role;
            policy::role(call.tool()?, role).map_err(Refusal::Deny)
        })
    }
}
