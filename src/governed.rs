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
use crate::billing::period;
use crate::clock::Clock;
use crate::commit::{CommitPlan, Committed};
use crate::config::Config;
use crate::context::{CallContext, SharedContext, TransportKind};
use crate::gate::address_limit::AddressLimit;
use crate::gate::{Admission, Chain, Refusal, auth_error};
use crate::identity::authenticate::{AuthError, AuthFailure, Authenticator};
use crate::identity::{Credential, Principal, TenantId, keys as key_format};
use crate::protocol::errors::RpcError;
use crate::store::billing::IdempotencyScope;
use crate::store::denials::DenialKey;
use crate::store::{Store, StoreError, audit_log, tenants};
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
    address_limit: AddressLimit,
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
        let authenticator = Arc::new(Authenticator::new(Arc::clone(&store), clock.clone(), config.multi_tenant));
        let chain = Chain::standard(
            Arc::clone(&registry),
            Arc::clone(&authenticator),
            Arc::clone(&store),
            clock.clone(),
            config.multi_tenant,
        );
        let rate = NonZeroU32::new(config.per_address_rps).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.per_address_burst).unwrap_or(NonZeroU32::MIN);
        let address_limit = AddressLimit::new(rate, burst);
        Self { store, clock, config: Arc::new(config), registry, authenticator, chain, address_limit }
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

    /// Forget idle per-address buckets.
    pub fn sweep(&self) {
        self.address_limit.sweep();
    }

    /// Authenticate a request that is not a `tools/call` (`tools/list`,
    /// `initialize`); a refusal is counted in the flood-denial windows.
    pub fn authenticate(&self, cx: &CallContext, method: &str) -> Result<Principal, RpcError> {
        self.authenticator.authenticate_on(&cx.credential, cx.session_principal.as_deref()).map_err(|e| {
            if let AuthError::Refused(f) = &e {
                self.note_flood(cx, *f, Some(method));
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

    /// The tools a principal may see, latest version of each, in name order.
    pub fn visible_tools(&self, principal: &Principal) -> Vec<Arc<RegisteredTool>> {
        self.registry
            .latest(self.config.multi_tenant)
            .into_iter()
            .filter(|t| t.visible_to(principal.role, self.config.multi_tenant))
            .collect()
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

    /// Run one `tools/call` end to end; the result is era-neutral. Metered and
    /// logged (with the request id of its audit record) by [`crate::metrics::observe`].
    pub async fn call_tool(&self, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
        let tool = self.registry.resolve(&name, self.config.multi_tenant).map_or("unknown", |t| t.spec.name);
        crate::metrics::observe(tool, &cx, self.governed_call(name, arguments, Arc::clone(&cx))).await
    }

    async fn governed_call(&self, name: String, arguments: Value, cx: SharedContext) -> Result<Value, RpcError> {
        let args_digest = digest_json(&arguments).unwrap_or_default();
        let mut admission = Admission::new(name, arguments, Arc::clone(&cx));
        if let Err(refusal) = self.chain.admit(&mut admission).await {
            return self.deny(&cx, &admission, refusal, Some(args_digest)).await;
        }
        let (Some(tool), Some(principal)) = (admission.tool.clone(), admission.principal.clone()) else {
            return Err(RpcError::internal("the gate chain admitted an incomplete call"));
        };
        let chain = chain_of(&self.store, Some(&principal), admission.tenant.as_ref());
        let mut draft = self.draft(&cx, Some(&principal), &chain, Some(&tool));
        draft.args_digest = Some(args_digest.clone());
        let ledger_tenant = principal.tenant.as_ref().map_or_else(|| PLATFORM_LEDGER.to_owned(), |t| t.0.clone());
        let idempotency = admission.idempotency_key.clone().map(|key| {
            let scope = IdempotencyScope {
                tenant: ledger_tenant.clone(),
                principal: principal.id.clone(),
                tool: tool.pinned_name(),
                key,
            };
            (scope, !tool.spec.returns_secret)
        });
        let mut plan = CommitPlan {
            chain,
            draft,
            ledger_tenant,
            limits: admission.billing.as_ref().map(|b| b.limits),
            charges: admission.charges.clone(),
            period: period::containing(self.clock.now()),
            idempotency,
            args_digest,
        };
        let tcx = ToolCx {
            call: Arc::clone(&cx),
            principal,
            tenant: admission.tenant.clone(),
            clock: self.clock.clone(),
            config: Arc::clone(&self.config),
            audit_key: self.store.signing_public,
            billing: admission.billing.clone(),
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
                        let close =
                            if outcome.is_error { "ROLLBACK TO effect; RELEASE effect" } else { "RELEASE effect" };
                        w.conn.execute_batch(close)?;
                        plan.finish(w, outcome)
                    })
                    .await
            }
            Handler::Streaming(run) => {
                let outcome = run(arguments, tcx).await;
                self.commit_ran(plan, outcome).await
            }
            Handler::Read(run) => {
                let store = Arc::clone(&self.store);
                let read = tokio::task::spawn_blocking(move || store.read(|c| Ok(run(arguments, &tcx, c))));
                match read.await {
                    Ok(Ok(outcome)) => self.commit_ran(plan, outcome).await,
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(StoreError::Unavailable(format!("the read task failed: {e}"))),
                }
            }
        };
        match committed.map_err(|e| unavailable(&e))? {
            Committed::Result(result) => Ok(result),
            Committed::Denied(e) => Err(e),
        }
    }

    /// Commit a call whose tool already ran (no effect): replay or quota first, then the record.
    async fn commit_ran(&self, mut plan: CommitPlan, outcome: ToolOutcome) -> Result<Committed, StoreError> {
        self.store
            .write(move |w| match plan.precheck(w)? {
                Some(done) => Ok(done),
                None => plan.finish(w, outcome),
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
