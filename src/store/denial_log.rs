//! The persisted open flood-denial windows: the writer's tick writes each
//! window's running count under its process's instance id, and a start
//! turns the windows of a process that died into their audit records.
//!
//! Invariant: a window has one row while it is open and none once its one
//! aggregated record is written (in the same transaction), so a window is
//! recorded exactly once, by its own process or by the next start.

use std::path::Path;

use super::denials::{DenialKey, WindowState};
use super::sql::{Db, args};
use super::{StoreError, WriteCx, audit_log};

/// A tool-less window is stored with an empty tool name (tool names are never empty).
fn tool_column(key: &DenialKey) -> &str {
    key.tool.as_deref().unwrap_or("")
}

fn count_column(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Write the current counts of `windows`, owned by the instance `owner`.
pub fn persist(conn: &Db, owner: &str, windows: &[(DenialKey, WindowState)]) -> Result<(), StoreError> {
    for (k, w) in windows {
        conn.exec(
            "INSERT INTO denial_windows (owner, chain, principal, reason, tool, transport, count, window_start, \
             window_end, first_request_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (owner, chain, principal, reason, tool, transport) DO UPDATE SET \
             count = excluded.count, window_end = excluded.window_end",
            args![
                owner,
                k.chain,
                k.principal,
                k.reason,
                tool_column(k),
                k.transport,
                count_column(w.count),
                w.start,
                w.end,
                w.first_request_id
            ],
        )?;
    }
    Ok(())
}

/// The window `key` of `owner` has its record: drop its row.
pub fn forget(conn: &Db, owner: &str, key: &DenialKey) -> Result<(), StoreError> {
    conn.exec(
        "DELETE FROM denial_windows WHERE owner = ?1 AND chain = ?2 AND principal = ?3 AND reason = ?4 \
         AND tool = ?5 AND transport = ?6",
        args![owner, key.chain, key.principal, key.reason, tool_column(key), key.transport],
    )?;
    Ok(())
}

/// Write the record of every persisted window whose owner `is_dead` says is
/// gone, and drop those rows, inside the caller's transaction; how many.
pub fn recover(cx: &mut WriteCx<'_>, is_dead: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
    let rows = {
        cx.conn.all(
            "SELECT owner, chain, principal, reason, tool, transport, count, window_start, window_end, \
             first_request_id FROM denial_windows ORDER BY window_start, owner, chain, principal, reason, tool, transport",
            args![],
            |r| {
            let tool: String = r.get(4)?;
            let key = DenialKey {
                chain: r.get(1)?,
                principal: r.get(2)?,
                reason: r.get(3)?,
                tool: (!tool.is_empty()).then_some(tool),
                transport: r.get(5)?,
            };
            let count: i64 = r.get(6)?;
            let state = WindowState {
                count: u64::try_from(count).unwrap_or(0),
                start: r.get(7)?,
                end: r.get(8)?,
                first_request_id: r.get(9)?,
            };
            Ok((r.get::<String>(0)?, key, state))
            },
        )?
    };
    let mut written = 0;
    for (owner, key, state) in rows.into_iter().filter(|(owner, _, _)| is_dead(owner)) {
        if state.count > 0 {
            cx.conn.set_scope(audit_log::chain_scope(&key.chain))?;
            audit_log::append(cx, &key.chain, state.draft(&key))?;
            written += 1;
        }
        forget(cx.conn, &owner, &key)?;
    }
    Ok(written)
}

/// At start: [`recover`] the windows of the dead instances of the data dir
/// `dir` (never `me`'s, never a running one's) in one transaction.
pub(crate) fn recover_dead(conn: &Db, dir: &Path, me: &str) -> Result<usize, StoreError> {
    conn.begin_write()?;
    let mut cx = WriteCx { conn, appended: Vec::new() };
    let outcome = recover(&mut cx, |owner| owner != me && super::instances::is_dead_in(conn, dir, owner))
        .and_then(|n| conn.commit().map(|()| n));
    if outcome.is_err() {
        conn.rollback();
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        crate::store::open::migrated_in_memory()
    }

    fn key(reason: &str, tool: Option<&str>) -> DenialKey {
        DenialKey {
            chain: "_system".into(),
            principal: "anonymous".into(),
            reason: reason.into(),
            tool: tool.map(str::to_owned),
            transport: "http".into(),
        }
    }

    fn state(count: u64) -> WindowState {
        WindowState {
            count,
            start: "2030-01-01T00:00:00Z".into(),
            end: "2030-01-01T00:00:09Z".into(),
            first_request_id: "r1".into(),
        }
    }

    fn aggregated(conn: &Db) -> Vec<(String, u64)> {
        conn.all("SELECT record FROM audit_records ORDER BY seq", args![], |r| r.get::<String>(0))
            .expect("query")
            .into_iter()
            .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| (v["reason"].as_str().unwrap_or_default().to_owned(), v["count"].as_u64().unwrap_or(0)))
            .collect()
    }

    fn rows(conn: &Db) -> i64 {
        conn.one("SELECT COUNT(*) FROM denial_windows", args![], |r| r.get(0)).expect("count")
    }

    #[test]
    fn a_persisted_window_keeps_its_latest_count_and_is_recovered_once() {
        let conn = db();
        persist(&conn, "dead", &[(key("missing_credential", None), state(10))]).expect("persist");
        persist(&conn, "dead", &[(key("missing_credential", None), state(200))]).expect("persist again");
        persist(&conn, "dead", &[(key("invalid_key", Some("tools/list")), state(3))]).expect("persist");
        persist(&conn, "alive", &[(key("missing_credential", None), state(7))]).expect("persist");
        assert_eq!(rows(&conn), 3, "one row per window and owner");
        let mut cx = WriteCx { conn: &conn, appended: Vec::new() };
        let written = recover(&mut cx, |owner| owner == "dead").expect("recover");
        assert_eq!(written, 2);
        let mut got = aggregated(&conn);
        got.sort();
        assert_eq!(got, vec![("invalid_key".to_owned(), 3), ("missing_credential".to_owned(), 200)]);
        assert_eq!(rows(&conn), 1, "a running owner's window is left to it");
        let mut cx = WriteCx { conn: &conn, appended: Vec::new() };
        assert_eq!(recover(&mut cx, |owner| owner == "dead").expect("again"), 0, "never recorded twice");
    }

    #[test]
    fn a_written_window_has_no_row_left() {
        let conn = db();
        let k = key("rate_limited", Some("whoami"));
        persist(&conn, "me", &[(k.clone(), state(4))]).expect("persist");
        forget(&conn, "me", &k).expect("forget");
        assert_eq!(rows(&conn), 0);
    }
}
