//! Prometheus metrics: what operators watch, served on a separate listener.
//!
//! Invariant: every label value comes from a fixed set — tool names from the
//! registry (`unknown` otherwise), decisions and stable deny reasons chosen by
//! the server — never a tenant, key, principal or any other request value,
//! so a client cannot grow the series count or read another tenant's data.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `tool` and `decision` of a governed call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// A registered tool's name, or `unknown`.
    pub tool: &'static str,
    /// `allow`, `deny` (a JSON-RPC denial), `error` (a tool's own failure) or
    /// `input_required` (a round that asked the client; 2026-07-28).
    pub decision: &'static str,
}

/// The stable reason of a denial.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// An OAuth event of a configured issuer: `issuer` is its configured name,
/// never a token's `iss` (which an attacker chooses), so labels stay few.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IssuerLabels {
    pub issuer: String,
    /// `ok` or `failed` (key fetches); `accepted` (tokens).
    pub outcome: &'static str,
}

/// Every metric tollgate exports.
pub struct Metrics {
    registry: Registry,
    calls: Family<CallLabels, Counter>,
    denials: Family<ReasonLabels, Counter>,
    spoof_attempts: Counter,
    quota_denials: Counter,
    rate_limit_denials: Counter,
    call_seconds: Histogram,
    commit_seconds: Histogram,
    commit_batch_size: Histogram,
    legacy_sessions: Gauge,
    connections_open: Gauge,
    connections_refused: Counter,
    connections_refused_per_address: Counter,
    oauth_key_fetches: Family<IssuerLabels, Counter>,
    oauth_tokens: Family<IssuerLabels, Counter>,
}

/// The process's metrics (one server per process).
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// One governed call being timed: started before the gate, finished with its
/// result, which is counted, timed and logged in one line with the request
/// id its audit record carries — never its arguments or a secret.
pub struct CallTimer<'a> {
    tool: &'static str,
    request_id: &'a str,
    transport: crate::wire::TransportKind,
    started: std::time::Instant,
}

impl<'a> CallTimer<'a> {
    pub fn start(tool: &'static str, request_id: &'a str, transport: crate::wire::TransportKind) -> Self {
        Self { tool, request_id, transport, started: std::time::Instant::now() }
    }

    /// The span the call runs in (logs inside it carry the request id).
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("tools_call", request_id = %self.request_id, tool = self.tool, transport = self.transport.as_str())
    }

    /// Count and log the call's outcome.
    pub fn finish(self, result: &Result<serde_json::Value, crate::wire::errors::RpcError>) {
        let took = self.started.elapsed();
        let (decision, reason) = match result {
            Ok(v) if v.get("isError").and_then(serde_json::Value::as_bool) == Some(true) => ("error", None),
            Ok(v) if v.get("resultType").and_then(serde_json::Value::as_str) == Some("input_required") => {
                ("input_required", None)
            }
            Ok(_) => ("allow", None),
            Err(e) => {
                let reason = e.data.as_ref().and_then(|d| d.get("reason")).and_then(|r| r.as_str());
                ("deny", Some(reason.map_or_else(|| format!("rpc_{}", -i64::from(e.code)), reason_label)))
            }
        };
        get().call(self.tool, decision, reason.as_deref(), took);
        tracing::info!(
            request_id = %self.request_id,
            tool = self.tool,
            decision,
            reason = reason.as_deref().unwrap_or(""),
            transport = self.transport.as_str(),
            duration_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            "tools/call"
        );
    }
}

/// A stable reason as a label: server-chosen snake_case words only; anything else is `other`.
fn reason_label(reason: &str) -> String {
    let ok = !reason.is_empty()
        && reason.len() <= 48
        && reason.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { reason.to_owned() } else { "other".to_owned() }
}

/// Decrements the open-connection gauge when dropped.
pub struct OpenConnection(&'static Metrics);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections_open.dec();
    }
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("tollgate");
        let calls = Family::<CallLabels, Counter>::default();
        let denials = Family::<ReasonLabels, Counter>::default();
        let (spoof_attempts, quota_denials, rate_limit_denials) =
            (Counter::default(), Counter::default(), Counter::default());
        let call_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let commit_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let commit_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 8));
        let (legacy_sessions, connections_open, connections_refused) =
            (Gauge::default(), Gauge::default(), Counter::default());
        registry.register("tool_calls", "Governed tools/call requests by tool and decision", calls.clone());
        registry.register("denials", "Denied tools/call requests by stable reason", denials.clone());
        registry.register(
            "spoof_attempts",
            "Calls that named another tenant than the caller's (tenant_mismatch)",
            spoof_attempts.clone(),
        );
        registry.register("quota_denials", "Calls refused because a quota was reached", quota_denials.clone());
        registry.register("rate_limit_denials", "Calls refused by a rate limit", rate_limit_denials.clone());
        registry.register("tool_call_duration_seconds", "Time to answer a tools/call", call_seconds.clone());
        registry.register(
            "store_commit_duration_seconds",
            "Time of one group commit of the store writer",
            commit_seconds.clone(),
        );
        registry.register("store_commit_batch_size", "Jobs committed in one transaction", commit_batch_size.clone());
        registry.register("legacy_sessions_active", "Open legacy (2025) HTTP sessions", legacy_sessions.clone());
        registry.register("connections_open", "Open client connections", connections_open.clone());
        registry.register(
            "connections_refused",
            "Connections closed at accept because a connection limit (global or per address) was reached",
            connections_refused.clone(),
        );
        let connections_refused_per_address = Counter::default();
        registry.register(
            "connections_refused_per_address",
            "Connections closed at accept because their client address held its share of the connections",
            connections_refused_per_address.clone(),
        );
        let (oauth_key_fetches, oauth_tokens) =
            (Family::<IssuerLabels, Counter>::default(), Family::<IssuerLabels, Counter>::default());
        registry.register(
            "oauth_key_fetches",
            "Key-set fetches of a configured OAuth issuer, by outcome",
            oauth_key_fetches.clone(),
        );
        registry.register(
            "oauth_tokens",
            "OAuth access tokens accepted, by configured issuer (refusals are counted in denials by reason)",
            oauth_tokens.clone(),
        );
        Self {
            oauth_key_fetches,
            oauth_tokens,
            registry,
            calls,
            denials,
            spoof_attempts,
            quota_denials,
            rate_limit_denials,
            call_seconds,
            commit_seconds,
            commit_batch_size,
            legacy_sessions,
            connections_open,
            connections_refused,
            connections_refused_per_address,
        }
    }

    /// One governed call ended: `reason` is set for denials and tool failures.
    pub fn call(&self, tool: &'static str, decision: &'static str, reason: Option<&str>, took: Duration) {
        self.calls.get_or_create(&CallLabels { tool, decision }).inc();
        self.call_seconds.observe(took.as_secs_f64());
        let Some(reason) = reason.filter(|_| decision == "deny") else { return };
        self.denials.get_or_create(&ReasonLabels { reason: reason_label(reason) }).inc();
        match reason {
            "tenant_mismatch" => self.spoof_attempts.inc(),
            "quota_exceeded" => self.quota_denials.inc(),
            "rate_limited" => self.rate_limit_denials.inc(),
            _ => 0,
        };
    }

    /// One group commit of the store writer.
    pub fn commit(&self, took: Duration, jobs: usize) {
        self.commit_seconds.observe(took.as_secs_f64());
        self.commit_batch_size.observe(jobs as f64);
    }

    /// A client connection opened; closed when the guard drops.
    pub fn connection_opened(&'static self) -> OpenConnection {
        self.connections_open.inc();
        OpenConnection(self)
    }

    /// A connection closed at accept (limit reached).
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// A connection closed at accept because its address held its share
    /// (also counted in `connections_refused`).
    pub fn connection_refused_per_address(&self) {
        self.connections_refused_per_address.inc();
        self.connections_refused.inc();
    }

    /// A key-set fetch of a configured issuer ended.
    pub fn oauth_key_fetch(&self, issuer: &str, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.oauth_key_fetches.get_or_create(&IssuerLabels { issuer: issuer.to_owned(), outcome }).inc();
    }

    /// A configured issuer's access token was accepted.
    pub fn oauth_token_accepted(&self, issuer: &str) {
        self.oauth_tokens.get_or_create(&IssuerLabels { issuer: issuer.to_owned(), outcome: "accepted" }).inc();
    }

    /// The Prometheus text exposition, with the session gauge brought up to date.
    pub fn render(&self, legacy_sessions: usize) -> String {
        self.legacy_sessions.set(i64::try_from(legacy_sessions).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_values_never_become_labels() {
        assert_eq!(reason_label("tenant_mismatch"), "tenant_mismatch");
        assert_eq!(reason_label("tn_1234; DROP"), "other");
        assert_eq!(reason_label(&"a".repeat(49)), "other");
        assert_eq!(reason_label("Quota"), "other");
    }

    #[test]
    fn a_call_counts_by_tool_decision_and_reason() {
        let m = Metrics::new();
        m.call("whoami", "allow", None, Duration::from_millis(1));
        m.call("tenant.get", "deny", Some("tenant_mismatch"), Duration::from_millis(1));
        let text = m.render(3);
        assert!(text.contains(r#"tollgate_tool_calls_total{tool="whoami",decision="allow"} 1"#), "{text}");
        assert!(text.contains(r#"tollgate_denials_total{reason="tenant_mismatch"} 1"#), "{text}");
        assert!(text.contains("tollgate_spoof_attempts_total 1"), "{text}");
        assert!(text.contains("tollgate_legacy_sessions_active 3"), "{text}");
    }

    #[test]
    fn oauth_events_are_labelled_by_configured_issuer_name() {
        let m = Metrics::new();
        m.oauth_key_fetch("corp", true);
        m.oauth_key_fetch("corp", false);
        m.oauth_token_accepted("corp");
        let text = m.render(0);
        assert!(text.contains(r#"tollgate_oauth_key_fetches_total{issuer="corp",outcome="ok"} 1"#), "{text}");
        assert!(text.contains(r#"tollgate_oauth_key_fetches_total{issuer="corp",outcome="failed"} 1"#), "{text}");
        assert!(text.contains(r#"tollgate_oauth_tokens_total{issuer="corp",outcome="accepted"} 1"#), "{text}");
    }
}
