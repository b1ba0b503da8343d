//! A governed `tools/call`: gate chain, tool, and one commit.
//!
//! Invariants: every decision, allowed or denied, leaves an audit record;
//! an admitted call's effect and its record are committed in ONE transaction
//! (a tool failure rolls back the effect, never the record); the reply is
//! built only after that commit is durable; if the store cannot commit, the
//! caller gets -31503 and nothing is acknowledged (fail closed).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::audit::{Decision, RecordDraft, SYSTEM_CHAIN, digest_json};
use crate::billing::{BillingView, period};
use crate::clock::Clock;
use crate::commit::{CommitPlan, Committed};
use crate::config::Config;
use crate::context::{AskVia, CallContext, SharedContext, TransportKind};
use crate::events::{Announcements, Hub};
use crate::gate::address_limit::AddressLimit;
use crate::gate::{Admission, Chain, Refusal, auth_error};
use crate::identity::authenticate::{AuthError, AuthFailure, Authenticator};
use crate::identity::{Credential, Principal, TenantId, keys as key_format};
use crate::interact::state::{self, StateKey};
use crate::interact::{Input, Interrupt, Stop};
use crate::protocol::errors::RpcError;
use crate::store::billing::IdempotencyScope;
use crate::store::denials::DenialKey;
use crate::store::{Store, StoreError, audit_log, billing, tenants};
use crate::tools::registry::Handler;
use crate::tools::{RegisteredTool, Registry, ToolCx, ToolOutcome};

/// Everything a governed call needs.
pub struct Governance {
    pub store: Arc<Store>,
    pub clock: Clock,
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub authenticator: Arc<Authenticator>,
    pub chain: Chain,
    /// Listen streams and the events addressed to them.
    pub events: Arc<Hub>,
    /// Seals and opens multi round-trip request states.
    state_key: StateKey,
    address_limit: AddressLimit,
}

/// What a round starts from: this round's answers, and either a sealed state
/// (2026-07-28) or the answers and binding carried in process (2025).
#[derive(Debug, Default)]
pub(crate) struct RoundInput {
    pub given: Map<String, Value>,
    pub state: Option<String>,
    pub carried: Map<String, Value>,
    pub bound: Value,
}

/// Who asked, through which tool, about which arguments (what a state binds).
#[derive(Debug, Clone)]
pub(crate) struct Asked {
    pub principal: String,
    pub tool: String,
    pub args_digest: String,
}

/// How a round ended.
pub(crate) enum RoundEnd {
    /// A result (a tool failure included) or a denial's answer.
    Done(Value),
    /// The tool needs answers first.
    Ask(Interrupt, Asked),
}

/// The ledger platform principals' calls are metered to.
pub const PLATFORM_LEDGER: &str = "_platform";

fn unavailable(e: &StoreError) -> RpcError {
    RpcError::unavailable(e)
}

/// The chain a decision is recorded in: the effective tenant's (if it
/// exists: a platform admin may name any string), else the principal's own
/// tenant's, else `_system`.
fn chain_of(store: &Store, principal: Option<&Principal>, tenant: Option<&TenantId>) -> String {
    let own = principal.and_then(|p| p.tenant.as_ref());
    let named = tenant.filter(|t| Some(*t) == own || store.read(|c| tenants::get(c, &t.0)).ok().flatten().is_some());
    named.or(own).map(|t| t.0.clone()).unwrap_or_else(|| SYSTEM_CHAIN.to_owned())
}

impl Governance {
    pub fn new(store: Arc<Store>, clock: Clock, config: Config, registry: Arc<Registry>) -> Self {
        let state_key = store.request_state_key.clone();
        // Listen streams may hold at most half of the connections (at least one).
        let stream_capacity = (config.max_connections / 2).max(1);
        let authenticator = Arc::new(Authenticator::new(Arc::clone(&store), clock.clone(), config.multi_tenant));
        let chain = Chain::standard(
            Arc::clone(&registry),
            Arc::clone(&authenticator),
            Arc::clone(&store),
            clock.clone(),
            crate::gate::Flags::of(&config),
        );
        let rate = NonZeroU32::new(config.per_address_rps).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.per_address_burst).unwrap_or(NonZeroU32::MIN);
        let address_limit = AddressLimit::new(rate, burst);
        Self {
            store,
            clock,
            config: Arc::new(config),
            registry,
            authenticator,
            chain,
            events: Arc::new(Hub::new(stream_capacity)),
            state_key,
            address_limit,
        }
    }

    /// The per-client-address limit, before anything else is read; a refusal
    /// is counted in the `_system` chain's flood windows.
    pub fn admit_address(&self, addr: IpAddr, transport: TransportKind) -> Result<(), RpcError> {
        self.address_limit.check(addr).inspect_err(|_| {
            let key = DenialKey {
                chain: SYSTEM_CHAIN.to_owned(),
                principal: "anonymous".to_owned(),
                reason: "address_rate_limited".to_owned(),
                tool: None,
                transport: transport.as_str().to_owned(),
            };
            self.store.denials.note(key, self.clock.now(), "address-limit");
        })
    }

    /// The key request states are sealed with.
    pub(crate) fn state_key(&self) -> &StateKey {
        &self.state_key
    }

    /// Forget idle per-address buckets.
    pub fn sweep(&self) {
        self.address_limit.sweep();
    }

    /// Authenticate a request that is not a `tools/call` (`tools/list`,
    /// `initialize`); a refusal is counted in the flood-denial windows.
    pub fn authenticate(&self, cx: &CallContext, method: &str) -> Result<Principal, RpcError> {
        self.authenticator.authenticate_on(&cx.credential, cx.session_principal.as_deref()).map_err(|e| {
            match &e {
                AuthError::Refused(f) => self.note_flood(cx, *f, Some(method)),
                // Audited under the key's principal in its own chain, aggregated like other refusals.
                AuthError::Mismatch(key) => {
                    let chain = key.tenant.as_ref().map_or_else(|| SYSTEM_CHAIN.to_owned(), |t| t.0.clone());
                    let denial = DenialKey {
                        chain,
                        principal: key.id.clone(),
                        reason: "credential_mismatch".to_owned(),
                        tool: Some(method.to_owned()),
                        transport: cx.transport.as_str().to_owned(),
                    };
                    self.store.denials.note(denial, self.clock.now(), &cx.request_id);
                }
                AuthError::Unavailable(_) => {}
            }
            auth_error(&e)
        })
    }

    fn note_flood(&self, cx: &CallContext, failure: AuthFailure, tool: Option<&str>) {
        // A real key refused for its state (revoked, expired, tenant) is named by its
        // public id; anything else is `anonymous`, so random forged ids cannot split
        // a flood into many records.
        let principal = match &cx.credential {
            Credential::Bearer(token) if failure.names_a_real_key() => key_format::parse(token).map(|(id, _)| id.0),
            _ => None,
        };
        let reason = failure.reason();
        let key = DenialKey {
            chain: SYSTEM_CHAIN.to_owned(),
            principal: principal.unwrap_or_else(|| "anonymous".to_owned()),
            reason: reason.to_owned(),
            tool: tool.map(str::to_owned),
            transport: cx.transport.as_str().to_owned(),
        };
        self.store.denials.note(key, self.clock.now(), &cx.request_id);
    }

    /// The tools a principal may see, latest version of each, in name order:
    /// its role may call them, no flag turns them off, and its tenant's plan
    /// includes their feature (so a plan change can change the list, and
    /// listen streams are told).
    pub fn visible_tools(&self, principal: &Principal) -> Result<Vec<Arc<RegisteredTool>>, RpcError> {
        let flags = crate::gate::Flags::of(&self.config);
        let view = match &principal.tenant {
            None => None,
            Some(t) => {
                let row = self.store.read(|c| billing::get(c, &t.0)).map_err(|e| unavailable(&e))?;
                let row = row.ok_or_else(|| RpcError::unavailable("the caller's tenant has no billing state"))?;
                Some(BillingView::from_row(&row).map_err(RpcError::unavailable)?)
            }
        };
        Ok(self
            .registry
            .latest(self.config.multi_tenant)
            .into_iter()
            .filter(|t| t.visible_to(principal.role, self.config.multi_tenant))
            .filter(|t| flags.disabled_flag(t.spec.name).is_none())
            .filter(|t| match (t.spec.feature, &view) {
                (Some(feature), Some(v)) => v.entitles(feature),
                _ => true,
            })
            .collect())
    }

    fn draft(
        &self,
        cx: &CallContext,
        principal: Option<&Principal>,
        chain: &str,
        tool: Option<&RegisteredTool>,
    ) -> RecordDraft {
        RecordDraft {
            ts: self.clock.now_rfc3339(),
            request_id: cx.request_id.clone(),
            principal: principal.map(|p| p.id.clone()).unwrap_or_else(|| "anonymous".to_owned()),
            tenant: chain.to_owned(),
            tool: tool.map(|t| t.spec.name.to_owned()),
            version: tool.map(|t| t.spec.version),
            decision: Decision::Allow,
            reason: None,
            args_digest: None,
            result_digest: None,
            usage: Map::new(),
            transport: cx.transport.as_str().to_owned(),
            aggregate: None,
        }
    }

    /// Run one `tools/call` end to end (every round of it, for a 2025 client
    /// that answers questions on the open exchange); the result is era-neutral.
    /// Metered and logged (with the request id of its audit record) by [`crate::metrics::observe`].
    pub async fn call_tool(&self, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
        let tool = self.registry.resolve(&name, self.config.multi_tenant).map_or("unknown", |t| t.spec.name);
        crate::metrics::observe(tool, &cx, crate::rounds::drive(self, name, arguments, Arc::clone(&cx))).await
    }

    /// One governed round of a call: gate chain, request state, tool, commit.
    pub(crate) async fn round(
        &self,
        name: &str,
        arguments: Value,
        cx: &SharedContext,
        round: RoundInput,
    ) -> Result<RoundEnd, RpcError> {
        let args_digest = digest_json(&arguments).unwrap_or_default();
        let mut admission = Admission::new(name.to_owned(), arguments, Arc::clone(cx));
        if let Err(refusal) = self.chain.admit(&mut admission).await {
            return self.deny(cx, &admission, refusal, Some(args_digest)).await.map(RoundEnd::Done);
        }
        let (Some(tool), Some(principal)) = (admission.tool.clone(), admission.principal.clone()) else {
            return Err(RpcError::internal("the gate chain admitted an incomplete call"));
        };
        let opened = match &round.state {
            None => None,
            Some(sealed) => {
                let expected = state::Expected {
                    sub: &principal.id,
                    tool: &tool.contract(),
                    args: &args_digest,
                    now: self.clock.now().unix_timestamp(),
                };
                match state::open(&self.state_key, sealed, &expected) {
                    Ok(payload) => Some(payload),
                    Err(e) => {
                        let refusal = Refusal::Deny(crate::rounds::state_refused(e));
                        return self.deny(cx, &admission, refusal, Some(args_digest)).await.map(RoundEnd::Done);
                    }
                }
            }
        };
        let (carried, bound, consume) = match opened {
            Some(p) => (p.answers, p.bind, Some((p.nonce, p.exp))),
            None => (round.carried, round.bound, None),
        };
        // A 2025 request without an open exchange cannot be asked anything.
        let capabilities =
            if matches!(cx.ask_via, AskVia::Nowhere) { Map::new() } else { cx.client_capabilities.clone() };
        let input = Arc::new(Input::new(capabilities, round.given, carried, bound));
        let chain = chain_of(&self.store, Some(&principal), admission.tenant.as_ref());
        let mut draft = self.draft(cx, Some(&principal), &chain, Some(&tool));
        draft.args_digest = Some(args_digest.clone());
        let ledger_tenant = principal.tenant.as_ref().map_or_else(|| PLATFORM_LEDGER.to_owned(), |t| t.0.clone());
        let idempotency = admission.idempotency_key.clone().map(|key| {
            let scope = IdempotencyScope {
                tenant: ledger_tenant.clone(),
                principal: principal.id.clone(),
                tool: tool.contract(),
                key,
            };
            (scope, !tool.spec.returns_secret)
        });
        let asked = Asked { principal: principal.id.clone(), tool: tool.contract(), args_digest: args_digest.clone() };
        let mut plan = CommitPlan {
            chain,
            draft,
            ledger_tenant,
            limits: admission.billing.as_ref().map(|b| b.limits),
            charges: admission.charges.clone(),
            period: period::containing(self.clock.now()),
            idempotency,
            args_digest,
            consume,
            unaskable_denies: matches!(cx.ask_via, AskVia::InputRequired),
        };
        let announcements = Announcements::default();
        let tcx = ToolCx {
            call: Arc::clone(cx),
            principal,
            tenant: admission.tenant.clone(),
            clock: self.clock.clone(),
            config: Arc::clone(&self.config),
            audit_keys: Arc::clone(&self.store.trusted_keys),
            billing: admission.billing.clone(),
            input: Arc::clone(&input),
            announcements: announcements.clone(),
        };
        let arguments = admission.arguments;
        // Transactional tools run inside the commit; the others ran before it and have no effect.
        let committed = match tool.handler().clone() {
            Handler::Transactional(run) => {
                self.store
                    .write(move |w| {
                        if let Some(done) = plan.precheck(w)? {
                            return Ok(done);
                        }
                        w.conn.execute_batch("SAVEPOINT effect")?;
                        let outcome = run(arguments, &tcx, w);
                        let stop = tcx.input.take_stop();
                        // A failed tool, or one that stopped to ask (even if it swallowed
                        // the stop), leaves no effect: only a finished success is kept.
                        let keep = !outcome.is_error && stop.is_none();
                        let close = if keep { "RELEASE effect" } else { "ROLLBACK TO effect; RELEASE effect" };
                        w.conn.execute_batch(close)?;
                        plan.finish(w, outcome, stop)
                    })
                    .await
            }
            Handler::Streaming(run) => {
                let outcome = run(arguments, tcx).await;
                self.commit_ran(plan, outcome, input.take_stop()).await
            }
            Handler::Read(run) => {
                let store = Arc::clone(&self.store);
                let read = tokio::task::spawn_blocking(move || store.read(|c| Ok(run(arguments, &tcx, c))));
                match read.await {
                    Ok(Ok(outcome)) => self.commit_ran(plan, outcome, input.take_stop()).await,
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(StoreError::Unavailable(format!("the read task failed: {e}"))),
                }
            }
        };
        match committed.map_err(|e| unavailable(&e))? {
            Committed::Result(result) => {
                if result.get("isError") != Some(&Value::Bool(true)) {
                    announcements.publish(&self.events);
                }
                Ok(RoundEnd::Done(result))
            }
            Committed::Denied(e) => Err(e),
            Committed::Input(interrupt) => Ok(RoundEnd::Ask(interrupt, asked)),
        }
    }

    /// Commit a call whose tool already ran (no effect): replay or quota first, then the record.
    async fn commit_ran(
        &self,
        mut plan: CommitPlan,
        outcome: ToolOutcome,
        stop: Option<Stop>,
    ) -> Result<Committed, StoreError> {
        self.store
            .write(move |w| match plan.precheck(w)? {
                Some(done) => Ok(done),
                None => plan.finish(w, outcome, stop),
            })
            .await
    }

    async fn deny(
        &self,
        cx: &CallContext,
        admission: &Admission,
        refusal: Refusal,
        args_digest: Option<String>,
    ) -> Result<Value, RpcError> {
        let reason = refusal.reason();
        let principal = admission.principal.as_ref();
        // Rate-limited calls were counted in an aggregated record by the rate-limit step.
        if principal.is_none() || reason == "rate_limited" {
            // Unauthenticated: aggregated per window so that floods cost nothing
            // (a store outage cannot be recorded at all; the caller hears -31503).
            if let (None, Some(failure)) = (principal, AuthFailure::from_reason(&reason)) {
                self.note_flood(cx, failure, None);
            }
            return reply_of(refusal);
        }
        let chain = chain_of(&self.store, principal, admission.tenant.as_ref());
        let mut draft = self.draft(cx, principal, &chain, admission.tool.as_deref());
        draft.decision = Decision::Deny;
        draft.reason = Some(reason);
        draft.args_digest = args_digest;
        self.store
            .write(move |w| audit_log::append(w, &chain, draft).map(|_| ()))
            .await
            .map_err(|e| unavailable(&e))?;
        reply_of(refusal)
    }
}

/// What the caller hears for a refusal: the denial, or the tool error as a result.
fn reply_of(refusal: Refusal) -> Result<Value, RpcError> {
    match refusal {
        Refusal::Deny(e) => Err(e),
        Refusal::Tool(t) => Ok(ToolOutcome::failure(&t).into_result()),
    }
}
