//! Gate step: the principal's role may call the tool.

use futures::future::BoxFuture;
use serde_json::json;

use super::{Admission, Refusal, Step, forbidden};

/// Checks the role.
pub struct RequireRole;

impl Step for RequireRole {
    fn name(&self) -> &'static str {
        "role"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let role = call.principal()?.role;
            let allowed = call.tool()?.spec.roles;
            if allowed.is_empty() || allowed.contains(&role) {
                Ok(())
            } else {
                let required: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                Err(forbidden(
                    "role_required",
                    "your role may not call this tool",
                    json!({ "required": required, "role": role.as_str() }),
                ))
            }
        })
    }
}
