//! `reports/summary.json`: who did what in the range, denials by reason, key
//! events, plan changes, usage against limits and the chain's verification
//! status, computed only from what the package itself holds.
//! Invariant: a pure function of its inputs (ordered maps, integers only),
//! so the summary is as deterministic as the records.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::audit::{AuditRecord, Decision};
use crate::billing::{LimitOverrides, PlanName, plans};
use crate::store::billing::HistoryRow;
use crate::store::export::UsageRow;

/// Everything the summary is computed from.
pub struct SummaryInput<'a> {
    /// `exports/tenant.json`'s content.
    pub tenant: &'a Value,
    /// The range's first and last seq.
    pub range: (u64, u64),
    /// The range's records that parsed.
    pub records: &'a [AuditRecord],
    /// The range's ledger events.
    pub usage: &'a [UsageRow],
    /// Plan history as of the last record.
    pub plan_history: &'a [HistoryRow],
    /// The plan in force when there is no history (the `default` tenant).
    pub fallback_plan: PlanName,
    /// `evidence/verification.json`'s content.
    pub verification: &'a Value,
}

/// How many calls a record stands for (an aggregated denial stands for `count`).
fn calls(record: &AuditRecord) -> u64 {
    record.aggregate.as_ref().map_or(1, |a| a.count)
}

/// The summary as a JSON value (see docs/audit-package.md for each field).
pub fn summarize(input: &SummaryInput<'_>) -> Value {
    let mut per_tool: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut per_day: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut denials: BTreeMap<String, u64> = BTreeMap::new();
    let (mut allow, mut deny) = (0u64, 0u64);
    let mut key_events = Vec::new();
    for record in input.records {
        let n = calls(record);
        let tool = record.tool.clone().unwrap_or_else(|| "(none)".to_owned());
        let day = record.ts.get(..10).unwrap_or_default().to_owned();
        let (tool_slot, day_slot) = (per_tool.entry(tool.clone()).or_default(), per_day.entry(day).or_default());
        match record.decision {
            Decision::Allow => {
                allow += n;
                tool_slot.0 += n;
                day_slot.0 += n;
            }
            Decision::Deny => {
                deny += n;
                tool_slot.1 += n;
                day_slot.1 += n;
                *denials.entry(record.reason.clone().unwrap_or_else(|| "unspecified".into())).or_default() += n;
            }
        }
        if tool.starts_with("key.") {
            key_events.push(json!({
                "seq": record.seq, "ts": record.ts, "tool": tool, "decision": record.decision.as_str(),
                "reason": record.reason, "principal": record.principal,
            }));
        }
    }
    json!({
        "tenant": input.tenant,
        "range": {"from_seq": input.range.0, "to_seq": input.range.1},
        "first_ts": input.records.first().map(|r| r.ts.clone()),
        "last_ts": input.records.last().map(|r| r.ts.clone()),
        "records": input.records.len() as u64,
        "calls": allow + deny,
        "decisions": {"allow": allow, "deny": deny},
        "calls_per_tool": per_tool.into_iter()
            .map(|(tool, (a, d))| json!({"tool": tool, "allow": a, "deny": d})).collect::<Vec<_>>(),
        "calls_per_day": per_day.into_iter()
            .map(|(day, (a, d))| json!({"day": day, "allow": a, "deny": d})).collect::<Vec<_>>(),
        "denials_by_reason": denials.into_iter()
            .map(|(reason, count)| json!({"reason": reason, "count": count})).collect::<Vec<_>>(),
        "key_events": key_events,
        "plan_changes": input.plan_history.iter().map(|h| json!({
            "version": h.version, "plan": h.plan, "status": h.status, "at": h.at, "principal": h.principal,
        })).collect::<Vec<_>>(),
        "usage": usage(input),
        "verification": input.verification,
    })
}

/// Usage per period and counter against the limits of the plan in force at
/// the end of the range.
fn usage(input: &SummaryInput<'_>) -> Vec<Value> {
    let (plan, overrides) = match input.plan_history.last() {
        Some(h) => (
            PlanName::parse(&h.plan).unwrap_or(input.fallback_plan),
            serde_json::from_value::<LimitOverrides>(h.overrides.clone()).unwrap_or_default(),
        ),
        None => (input.fallback_plan, LimitOverrides::default()),
    };
    let limits = overrides.apply(plans::plan(plan).limits);
    let mut used: BTreeMap<(String, String), u64> = BTreeMap::new();
    for event in input.usage {
        let period = event.at.get(..7).unwrap_or_default().to_owned();
        *used.entry((period, event.counter.clone())).or_default() += event.quantity;
    }
    used.into_iter()
        .map(|((period, counter), n)| {
            let limit = plans::Counter::parse(&counter).map(|c| limits.of(c));
            json!({"period": period, "counter": counter, "used": n, "limit": limit, "plan": plan.as_str()})
        })
        .collect()
}
