//! Gate step: reserve the counters the call will consume (`tool_calls`, plus
//! the tool's own). The check and the consumption happen at commit, inside
//! the same transaction as the effect and the audit record, so concurrent
//! calls can never admit more than a limit (-31402 `quota_exceeded`).

use futures::future::BoxFuture;

use super::{Admission, Refusal, Step};
use crate::billing::Counter;

/// Computes the charges.
pub struct QuotaReserve;

impl Step for QuotaReserve {
    fn name(&self) -> &'static str {
        "quota_reserve"
    }

    fn check<'a>(&'a self, call: &'a mut Admission) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(async move {
            let mut charges = vec![(Counter::ToolCalls, 1)];
            charges.extend_from_slice(call.tool()?.spec.charges);
            call.charges = charges;
            Ok(())
        })
    }
}
