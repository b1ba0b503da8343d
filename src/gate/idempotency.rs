//! Gate step: read the call's idempotency key
//! (`_meta["dev.tollgate/idempotencyKey"]`, or HTTP `Idempotency-Key`).
//!
//! The lookup itself runs at commit, inside the writer's transaction and
//! before the quota check, so that two concurrent retries cannot both run.

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Admission, Refusal, Step};
use crate::tools::ToolError;

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// Reads and checks the key.
pub struct IdempotencyReplay;

impl Step for IdempotencyReplay {
    fn name(&self) -> &'static str {
        "idempotency_replay"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            call.idempotency_key = match &call.context.idempotency_key {
                None => None,
                Some(Value::String(k))
                    if !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| (0x21..0x7f).contains(&b)) =>
                {
                    Some(k.clone())
                }
                Some(_) => {
                    return Err(Refusal::Tool(ToolError::invalid_argument(
                        "/_meta/dev.tollgate~1idempotencyKey",
                        "an idempotency key is 1-255 visible ASCII characters",
                    )));
                }
            };
            Ok(())
        })
    }
}
