//! The commit of one admitted call, inside the writer's transaction:
//! idempotent replay, quota check, ledger, idempotency record, audit record.
//!
//! Invariants: everything here runs in ONE transaction with the tool's
//! effect; the quota check reads the running total (holds included) in that
//! transaction, so concurrent calls never admit more than a limit; a replay
//! neither runs the tool nor charges; a result carrying a secret is never
//! stored. A tool whose work is outside the transaction (files) runs only
//! after [`CommitPlan::reserve`] decided replay and quota and committed its
//! reservation; a duplicate of a call still running is refused `in_progress`.

use serde_json::{Map, Value, json};

use crate::audit::{Decision, RecordDraft, digest_json};
use crate::billing::period::Period;
use crate::billing::{Counter, Limits};
use crate::store::billing::{self as ledger, IdempotencyScope, UsageEvent};
use crate::store::reservations::{self, Reservation};
use crate::store::{StoreError, WriteCx, audit_log};
use crate::tools::ask::{Interrupt, Stop};
use crate::tools::registry::TransactionalFn;
use crate::tools::{ToolCx, ToolError, ToolErrorCode, ToolOutcome};
use crate::wire::denial::Denial;

/// The reason of the record with which a call that reads its chain outside
/// the transaction opens a chain that has no record yet.
pub const CHAIN_OPENED: &str = "chain_opened";

/// What a committed call answers.
#[derive(Debug)]
pub enum Committed {
    /// An era-neutral `CallToolResult` (a tool failure included).
    Result(Value),
    /// A denial decided at commit (quota, a replayed request state, a malformed answer).
    Denied(Denial),
    /// The tool needs answers before it can finish (nothing was charged).
    Input(Interrupt),
}

/// Everything the commit needs, decided before it.
pub struct CommitPlan {
    pub chain: String,
    pub draft: RecordDraft,
    /// Whose ledger is charged: the tenant, or `_platform` for platform principals.
    pub ledger_tenant: String,
    /// The tenant's limits; `None` for platform principals (never quota-denied).
    pub limits: Option<Limits>,
    pub charges: Vec<(Counter, u64)>,
    pub period: Period,
    /// The idempotency scope and whether the result may be stored.
    pub idempotency: Option<(IdempotencyScope, bool)>,
    pub args_digest: String,
    /// The presented request state's nonce and expiry: honoured once.
    pub consume: Option<(String, i64)>,
    /// A tool that cannot ask anything is -32021 (2026-07-28), else its own failure.
    pub unaskable_denies: bool,
}

impl CommitPlan {
    fn record(
        &mut self,
        w: &mut WriteCx<'_>,
        decision: Decision,
        reason: Option<&str>,
        result: Option<&Value>,
    ) -> Result<(), StoreError> {
        let mut draft = self.draft.clone();
        draft.decision = decision;
        draft.reason = reason.map(str::to_owned);
        draft.result_digest = result.and_then(|r| digest_json(r).ok());
        // (`append` scopes its statements to the chain.)
        audit_log::append(w, &self.chain, draft).map(|_| ())
    }

    /// Scope the following statements to the charged ledger's rows (the
    /// tenant's, or the platform's): PostgreSQL's row-level security then
    /// refuses any row of another tenant, whatever a statement says.
    fn ledger_scope(&self, w: &WriteCx<'_>) -> Result<(), StoreError> {
        w.conn.set_scope(Some(&self.ledger_tenant))
    }

    /// Now, in unix seconds (the record's timestamp: the call's one clock reading).
    fn now_unix(&self) -> i64 {
        time::OffsetDateTime::parse(&self.draft.ts, &time::format_description::well_known::Rfc3339)
            .map_or(0, time::OffsetDateTime::unix_timestamp)
    }

    /// Before the effect: replay a stored result, refuse a reused key, or
    /// refuse a call over quota. `None`: go on and run the tool.
    pub fn precheck(&mut self, w: &mut WriteCx<'_>) -> Result<Option<Committed>, StoreError> {
        self.ledger_scope(w)?;
        if let Some((scope, _)) = &self.idempotency
            && let Some((digest, stored)) = ledger::idempotency_get(w.conn, scope)?
        {
            let failure = |code, message: &str| ToolOutcome::failure(&ToolError::new(code, message)).into_result();
            let (decision, reason, result) = if digest != self.args_digest {
                let r =
                    failure(ToolErrorCode::IdempotencyKeyReused, "this idempotency key was used with other arguments");
                (Decision::Deny, "idempotency_key_reused", r)
            } else if let Some(text) = stored {
                let r = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("stored result: {e}")))?;
                (Decision::Allow, "idempotent_replay", r)
            } else {
                let r = failure(
                    ToolErrorCode::NotReplayable,
                    "the first result carried a secret and was not kept; call again without the key",
                );
                (Decision::Deny, "not_replayable", r)
            };
            self.record(w, decision, Some(reason), Some(&result))?;
            return Ok(Some(Committed::Result(result)));
        }
        if let Some((scope, _)) = &self.idempotency
            && let Some(digest) = reservations::pending(w.conn, scope)?
        {
            let failure = |code, message: &str| ToolOutcome::failure(&ToolError::new(code, message)).into_result();
            let (reason, result) = if digest != self.args_digest {
                let r =
                    failure(ToolErrorCode::IdempotencyKeyReused, "this idempotency key was used with other arguments");
                ("idempotency_key_reused", r)
            } else {
                let r = failure(
                    ToolErrorCode::InProgress,
                    "a call with this idempotency key is still running; retry shortly to get its result",
                );
                ("in_progress", r)
            };
            self.record(w, Decision::Deny, Some(reason), Some(&result))?;
            return Ok(Some(Committed::Result(result)));
        }
        if let Some((nonce, expires)) = &self.consume
            && !ledger::consume_request_state(w.conn, nonce, *expires, self.now_unix())?
        {
            let denial = crate::tools::ask::state::StateError::Replayed.refusal();
            self.record(w, Decision::Deny, Some(denial.reason()), None)?;
            return Ok(Some(Committed::Denied(denial)));
        }
        // Still the ledger's scope: nothing above changed it without returning.
        let Some(limits) = self.limits else { return Ok(None) };
        for (counter, quantity) in self.charges.clone() {
            let used = ledger::total(w.conn, &self.ledger_tenant, counter.as_str(), &self.period.name)?
                + reservations::held(w.conn, &self.ledger_tenant, counter.as_str(), &self.period.name)?;
            let limit = limits.of(counter);
            if used.saturating_add(quantity) > limit {
                let denial = Denial::QuotaExceeded {
                    counter: counter.as_str(),
                    limit,
                    used,
                    resets_at: self.period.end.clone(),
                };
                self.record(w, Decision::Deny, Some(denial.reason()), None)?;
                return Ok(Some(Committed::Denied(denial)));
            }
        }
        Ok(None)
    }

    /// Before work done outside the transaction: [`CommitPlan::precheck`],
    /// then hold the idempotency key (pending) and the charges, owned by the
    /// store instance `owner`, until the transaction of the call's
    /// [`CommitPlan::finish`] releases them. If the call's chain has no record
    /// yet, the call's own [`CHAIN_OPENED`] record becomes its first.
    pub fn reserve(&mut self, w: &mut WriteCx<'_>, owner: &str) -> Result<Option<Committed>, StoreError> {
        if let Some(done) = self.precheck(w)? {
            return Ok(Some(done));
        }
        let holds: Vec<(&str, u64)> = match self.limits {
            Some(_) => self.charges.iter().map(|(c, q)| (c.as_str(), *q)).collect(),
            None => Vec::new(),
        };
        let reservation = Reservation {
            owner,
            request_id: &self.draft.request_id,
            pending: self.idempotency.as_ref().map(|(s, _)| (s, self.args_digest.as_str())),
            tenant: &self.ledger_tenant,
            period: &self.period.name,
            holds: &holds,
            at: &self.draft.ts,
        };
        self.ledger_scope(w)?;
        reservations::reserve(w.conn, &reservation)?;
        // The work outside reads the chain as committed (an export packages it):
        // an empty chain, a new tenant's, is opened by this call's own record.
        w.conn.set_scope(audit_log::chain_scope(&self.chain))?;
        if audit_log::head(w.conn, &self.chain)?.is_none() {
            self.record(w, Decision::Allow, Some(CHAIN_OPENED), None)?;
        }
        Ok(None)
    }

    /// The whole transaction of a tool whose effect is in the store: replay and
    /// quota first, then the tool inside a savepoint (a failed tool, or one
    /// that stopped to ask even if it swallowed the stop, leaves no effect),
    /// then the charges and the record.
    pub fn transact(
        mut self,
        w: &mut WriteCx<'_>,
        run: &TransactionalFn,
        arguments: Value,
        tcx: &ToolCx,
    ) -> Result<Committed, StoreError> {
        if let Some(done) = self.precheck(w)? {
            return Ok(done);
        }
        // The effect acts on the call's tenant (its chain's): a tool that
        // must reach another tenant's rows (a bootstrap) names it itself.
        w.conn.set_scope(audit_log::chain_scope(&self.chain))?;
        let (outcome, stop) = w.savepoint(|w| {
            let outcome = run(arguments, tcx, w);
            let stop = tcx.input.take_stop();
            let keep = !outcome.is_error && stop.is_none();
            if keep {
                // The other instances hear of it if, and when, this commits.
                for payload in tcx.announcements.encoded() {
                    crate::store::notify::announce(w.conn, &payload)?;
                }
            }
            Ok(((outcome, stop), keep))
        })?;
        self.finish(w, outcome, stop)
    }

    /// Commit a reserved call whose tool already ran outside the transaction:
    /// its reservation is released in the transaction that charges and records it.
    pub fn finish_reserved(
        self,
        w: &mut WriteCx<'_>,
        outcome: ToolOutcome,
        stop: Option<Stop>,
    ) -> Result<Committed, StoreError> {
        self.ledger_scope(w)?;
        reservations::release(w.conn, &self.draft.request_id)?;
        self.finish(w, outcome, stop)
    }

    /// After the effect: charge the ledger (`tool_calls` always, the tool's own
    /// counters only on success), keep the result for replay, write the record.
    pub fn finish(
        mut self,
        w: &mut WriteCx<'_>,
        outcome: ToolOutcome,
        stop: Option<Stop>,
    ) -> Result<Committed, StoreError> {
        match stop {
            Some(Stop::Ask(interrupt)) => {
                self.record(w, Decision::Allow, Some("input_required"), None)?;
                return Ok(Committed::Input(interrupt));
            }
            Some(Stop::Malformed(denial)) => {
                self.record(w, Decision::Deny, Some(denial.reason()), None)?;
                return Ok(Committed::Denied(denial));
            }
            Some(Stop::Unaskable(missing)) if self.unaskable_denies => {
                let denial = Denial::MissingCapability(missing);
                self.record(w, Decision::Deny, Some(denial.reason()), None)?;
                return Ok(Committed::Denied(denial));
            }
            // Under 2025 a tool that cannot ask fails as itself (`client_capability_missing`).
            Some(Stop::Unaskable(_)) | None => {}
        }
        let failed = outcome.is_error;
        let reason = if failed { outcome.error_code() } else { None };
        // A read-only tool's note about its own call (a chain verified) is kept with its record.
        if let (false, Some(note)) = (failed, &outcome.after) {
            note.apply(w.conn)?;
        }
        let result = outcome.into_result();
        let at = self.draft.ts.clone();
        let mut usage = Map::new();
        self.ledger_scope(w)?;
        for (counter, quantity) in &self.charges {
            if failed && *counter != Counter::ToolCalls {
                continue;
            }
            let key = self.idempotency.as_ref().map(|(s, _)| s.key.as_str());
            ledger::record_usage(
                w.conn,
                &UsageEvent {
                    tenant: &self.ledger_tenant,
                    counter: counter.as_str(),
                    quantity: *quantity,
                    idempotency_key: key,
                    request_id: &self.draft.request_id,
                    tool: self.draft.tool.as_deref().unwrap_or_default(),
                    at: &at,
                },
            )?;
            usage.insert(counter.as_str().to_owned(), json!(quantity));
        }
        if let Some((scope, storable)) = &self.idempotency {
            // Kept as sent (byte for byte on replay); a secret or a transient internal failure is never kept.
            let transient = reason.as_deref() == Some("internal");
            let text = if *storable && !transient { serde_json::to_string(&result).ok() } else { None };
            ledger::idempotency_put(w.conn, scope, &self.args_digest, text.as_deref(), &at)?;
        }
        self.draft.usage = usage;
        self.record(w, Decision::Allow, reason.as_deref(), Some(&result))?;
        Ok(Committed::Result(result))
    }
}
