//! `reports/summary.html`: the summary for a person, on one self-contained
//! page (inline CSS, no scripts, no external assets).
//! Invariant: rendered only from `summary.json`'s value, every text escaped;
//! each key figure carries a `data-figure` attribute so tests (and auditors'
//! tools) can read it back from the rendered page.

use serde_json::Value;

/// Escapes text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as display text (strings unquoted, null as an em dash).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    }
}

fn figure(name: &str, label: &str, v: &Value) -> String {
    format!(
        "<div class=\"fig\"><div class=\"n\" data-figure=\"{}\">{}</div><div class=\"l\">{}</div></div>",
        esc(name),
        esc(&text(v)),
        esc(label)
    )
}

/// A table of `rows` (an array of objects) with the given columns; each
/// cell carries `data-col` and each row `data-row` (the first column).
fn table(id: &str, title: &str, rows: &Value, columns: &[(&str, &str)]) -> String {
    let mut out = format!("<h2>{}</h2>", esc(title));
    let items = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        out.push_str("<p class=\"none\">None in this range.</p>");
        return out;
    }
    out.push_str(&format!("<table id=\"{}\"><thead><tr>", esc(id)));
    for (_, label) in columns {
        out.push_str(&format!("<th>{}</th>", esc(label)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in items {
        let key = columns.first().map(|(k, _)| text(&row[*k])).unwrap_or_default();
        out.push_str(&format!("<tr data-row=\"{}\">", esc(&key)));
        for (k, _) in columns {
            out.push_str(&format!("<td data-col=\"{}\">{}</td>", esc(k), esc(&text(&row[*k]))));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:62rem;\
padding:0 1rem;color:#1d1d1f}h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem;\
border-bottom:1px solid #ddd}.sub{color:#555}.figs{display:flex;flex-wrap:wrap;gap:1rem;margin:1.2rem 0}\
.fig{border:1px solid #ddd;border-radius:8px;padding:.6rem 1rem;min-width:7rem}.fig .n{font-size:1.6rem;\
font-weight:600}.fig .l{color:#555;font-size:.85rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #eee}th{background:#f6f6f6}\
.ok{color:#116b2f;font-weight:600}.bad{color:#b00020;font-weight:600}.none{color:#777}";

/// The page for `summary` (the value of `reports/summary.json`).
pub fn render(summary: &Value) -> String {
    let tenant = &summary["tenant"];
    let verification = &summary["verification"];
    let valid = verification["valid"].as_bool().unwrap_or(false);
    let status = if valid {
        format!(
            "<p class=\"ok\" data-figure=\"chain_status\">valid</p><p>Records {}–{} re-hash and link; signed through seq {} by key {}.</p>",
            esc(&text(&summary["range"]["from_seq"])),
            esc(&text(&summary["range"]["to_seq"])),
            esc(&text(&verification["covered_seq"])),
            esc(&text(&verification["key_fingerprint"]))
        )
    } else {
        format!(
            "<p class=\"bad\" data-figure=\"chain_status\">invalid</p><p>{}</p>",
            esc(&text(&verification["problem"]["message"]))
        )
    };
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>Audit summary: {}</h1><p class=\"sub\">Tenant <code>{}</code> · records {}–{} · {} to {}</p>",
        esc(&text(&tenant["slug"])),
        esc(&text(&tenant["id"])),
        esc(&text(&summary["range"]["from_seq"])),
        esc(&text(&summary["range"]["to_seq"])),
        esc(&text(&summary["first_ts"])),
        esc(&text(&summary["last_ts"]))
    ));
    body.push_str("<div class=\"figs\">");
    body.push_str(&figure("records", "records", &summary["records"]));
    body.push_str(&figure("calls", "calls", &summary["calls"]));
    body.push_str(&figure("allow", "allowed", &summary["decisions"]["allow"]));
    body.push_str(&figure("deny", "denied", &summary["decisions"]["deny"]));
    body.push_str(&figure("covered_seq", "signed through seq", &verification["covered_seq"]));
    body.push_str("</div><h2>Chain verification</h2>");
    body.push_str(&status);
    body.push_str(&table(
        "per-tool",
        "Calls per tool",
        &summary["calls_per_tool"],
        &[("tool", "tool"), ("allow", "allowed"), ("deny", "denied")],
    ));
    body.push_str(&table(
        "per-day",
        "Calls per day (UTC)",
        &summary["calls_per_day"],
        &[("day", "day"), ("allow", "allowed"), ("deny", "denied")],
    ));
    body.push_str(&table(
        "denials",
        "Denials by reason",
        &summary["denials_by_reason"],
        &[("reason", "reason"), ("count", "count")],
    ));
    body.push_str(&table(
        "keys",
        "Key events",
        &summary["key_events"],
        &[
            ("seq", "seq"),
            ("ts", "time"),
            ("tool", "tool"),
            ("decision", "decision"),
            ("reason", "reason"),
            ("principal", "by"),
        ],
    ));
    body.push_str(&table(
        "plans",
        "Plan changes",
        &summary["plan_changes"],
        &[("version", "version"), ("plan", "plan"), ("status", "status"), ("at", "at"), ("principal", "by")],
    ));
    body.push_str(&table(
        "usage",
        "Usage against limits",
        &summary["usage"],
        &[("counter", "counter"), ("period", "period"), ("used", "used"), ("limit", "limit"), ("plan", "plan")],
    ));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Audit summary: {}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n",
        esc(&text(&tenant["slug"]))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_escaped_and_no_script_or_external_asset_appears() {
        let summary = json!({
            "tenant": {"slug": "<script>alert(1)</script>", "id": "tn_1"},
            "range": {"from_seq": 1, "to_seq": 2}, "records": 2, "calls": 2,
            "decisions": {"allow": 1, "deny": 1},
            "calls_per_tool": [{"tool": "a\"b", "allow": 1, "deny": 1}],
            "verification": {"valid": true, "covered_seq": 2, "key_fingerprint": "sha256:ab"},
        });
        let html = render(&summary);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="));
        assert!(html.contains("data-figure=\"records\">2<"));
        assert!(html.contains("data-row=\"a&quot;b\""));
    }
}
