//! Rolling counters of decisions: how many calls each chain allowed and
//! denied, per UTC hour and reason, kept in step with the audit log.
//!
//! Invariant: every appended audit record adds its weight (1, or an
//! aggregated record's `count`) to exactly one counter row, in the same
//! transaction, so the counters never disagree with the log they summarise;
//! a read of the last day touches at most a day of hourly rows, never the log.

use super::StoreError;
use super::sql::{Db, args};
use crate::audit::AuditRecord;

/// The hour bucket of an RFC 3339 UTC timestamp (`2026-07-28T13`).
pub fn hour_of(ts: &str) -> &str {
    ts.get(..13).unwrap_or(ts)
}

/// Count one appended record (inside the append's transaction).
pub fn note(conn: &Db, record: &AuditRecord) -> Result<(), StoreError> {
    let weight = record.aggregate.as_ref().map_or(1, |a| a.count);
    let decision = record.decision.as_str();
    let reason = record.reason.as_deref().unwrap_or("");
    conn.exec(
        "INSERT INTO call_counts (tenant_id, hour, decision, reason, count) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (tenant_id, hour, decision, reason) DO UPDATE SET count = call_counts.count + excluded.count",
        args![record.chain, hour_of(&record.ts), decision, reason, i64::try_from(weight).unwrap_or(i64::MAX)],
    )?;
    Ok(())
}

/// One (decision, reason) total over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionCount {
    /// `allow` or `deny`.
    pub decision: String,
    /// Empty for an allowed call without a reason.
    pub reason: String,
    pub count: u64,
}

/// Totals of every chain since the hour bucket `from` (inclusive), by decision and reason.
pub fn since(conn: &Db, from: &str) -> Result<Vec<DecisionCount>, StoreError> {
    conn.all(
        "SELECT decision, reason, CAST(SUM(count) AS BIGINT) FROM call_counts WHERE hour >= ?1 \
         GROUP BY decision, reason ORDER BY decision, reason",
        args![from],
        |r| {
            Ok(DecisionCount {
                decision: r.get(0)?,
                reason: r.get(1)?,
                count: u64::try_from(r.get::<i64>(2)?).unwrap_or(0),
            })
        },
    )
}

/// Every counter row as text (`tenant|hour|decision|reason|count`), for tests
/// that compare a database before and after.
pub fn rows(conn: &Db) -> Result<Vec<String>, StoreError> {
    conn.all("SELECT tenant_id, hour, decision, reason, count FROM call_counts ORDER BY 1, 2, 3, 4", args![], |r| {
        Ok(format!(
            "{}|{}|{}|{}|{}",
            r.get::<String>(0)?,
            r.get::<String>(1)?,
            r.get::<String>(2)?,
            r.get::<String>(3)?,
            r.get::<i64>(4)?
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Aggregate, Decision, GENESIS, RecordDraft};

    fn record(seq: u64, ts: &str, decision: Decision, reason: Option<&str>, count: Option<u64>) -> AuditRecord {
        let draft = RecordDraft {
            ts: ts.into(),
            request_id: format!("r{seq}"),
            principal: "k1".into(),
            tenant: "t_a".into(),
            tool: Some("whoami".into()),
            version: Some(1),
            decision,
            reason: reason.map(str::to_owned),
            args_digest: None,
            result_digest: None,
            usage: serde_json::Map::new(),
            transport: "http".into(),
            aggregate: count.map(|count| Aggregate { count, window_start: ts.into(), window_end: ts.into() }),
        };
        AuditRecord::seal("t_a", seq, GENESIS, draft).expect("seal")
    }

    #[test]
    fn each_record_counts_its_weight_in_its_hour_and_a_window_reads_only_its_hours() {
        let conn = crate::store::open::migrated_in_memory();
        let records = [
            record(1, "2030-01-15T11:59:59Z", Decision::Allow, None, None),
            record(2, "2030-01-15T12:00:00Z", Decision::Allow, None, None),
            record(3, "2030-01-15T12:10:00Z", Decision::Allow, None, None),
            record(4, "2030-01-15T12:20:00Z", Decision::Deny, Some("role_required"), None),
            record(5, "2030-01-15T12:30:00Z", Decision::Deny, Some("rate_limited"), Some(40)),
        ];
        for r in &records {
            note(&conn, r).expect("note");
        }
        let count = |decision: &str, reason: &str, n: u64| DecisionCount {
            decision: decision.into(),
            reason: reason.into(),
            count: n,
        };
        assert_eq!(
            since(&conn, "2030-01-15T12").expect("read"),
            [count("allow", "", 2), count("deny", "rate_limited", 40), count("deny", "role_required", 1)]
        );
        assert_eq!(since(&conn, "2030-01-15T11").expect("read")[0], count("allow", "", 3));
        assert!(since(&conn, "2030-01-15T13").expect("read").is_empty());
        assert_eq!(rows(&conn).expect("rows").len(), 4, "one row per chain, hour, decision and reason");
    }

    #[test]
    fn an_hour_bucket_is_the_timestamp_to_the_hour() {
        assert_eq!(hour_of("2026-07-28T13:05:09Z"), "2026-07-28T13");
        assert_eq!(hour_of("short"), "short");
    }
}
