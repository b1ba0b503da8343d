//! Gate step: the principal's role may call the tool.

use futures::future::BoxFuture;

use serde_json::json;

use super::policy;
use super::{Admission, Refusal, Step};
use crate::identity::oauth::scope_for;
use crate::wire::denial::{Denial, Forbid};

/// Checks the role.
pub struct RequireRole;

impl Step for RequireRole {
    fn name(&self) -> &'static str {
        "role"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let principal = call.principal()?;
            let tool = call.tool()?;
            let Err(denial) = policy::role(tool, principal.role) else { return Ok(()) };
            // An OAuth principal whose binding's role may call the tool, but whose
            // scopes narrowed it: more scope would help, so say which.
            let bound = principal.oauth.as_ref().and_then(|g| g.bound_role);
            if let Some(bound) = bound.filter(|b| *b != principal.role && policy::role(tool, *b).is_ok()) {
                return Err(Refusal::Deny(Denial::forbidden(
                    Forbid::InsufficientScope,
                    "your access token's scopes do not allow this tool; obtain one with the scope named",
                    json!({ "scope": scope_for(bound), "role": principal.role.as_str() }),
                )));
            }
            Err(Refusal::Deny(denial))
        })
    }
}
