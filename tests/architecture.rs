//! The layer order of docs/architecture.md, enforced: imports only point
//! down, no module or file cycles, and no SQL or `rusqlite` outside the store.
//!
//! It reads the source (non-test code only), resolves every `crate::`,
//! `super::`, `self::` and child-module path to the file it names, and checks
//! the graph. A new top-level module must be given a layer here first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules from the top of a request's path to the bottom. A
/// module may import only modules that come after it in this list.
const LAYERS: &[&str] = &[
    "cmd",       // command line: init, serve, stdio, demo, bench, audit, schemas
    "transport", // bytes in, requests out: stdio, HTTP(S), metrics listener
    "protocol",  // the two eras at the edge, legacy sessions, asking a 2025 client
    "server",    // dispatch, tools/list, listen streams, one tools/call top to bottom
    "gate",      // the ordered steps: a permit or a denial
    "exec",      // the one transaction of a permitted call
    "tools",     // the registry and the tool families
    "package",   // customer audit packages: build and verify
    "events",    // listen-stream fan-out and announcements
    "store",     // SQL only
    // Leaves: they import no layer above, only leaves further down this list.
    "metrics",
    "config",
    "billing",
    "audit",
    "wire",
    "identity",
    "clock",
    "sync",
];

struct Source {
    /// Module path, e.g. ["gate", "rate_limit"]; the crate root is [].
    module: Vec<String>,
    file: PathBuf,
    /// The file's code without comments, string contents and test modules.
    code: String,
    /// String literal contents (for the SQL check).
    strings: Vec<String>,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Split Rust source into code (comments and string contents blanked) and string literals.
fn lex(text: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::with_capacity(text.len());
    let mut strings = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                code.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let start = j;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            strings.push(chars[start..j.min(chars.len())].iter().collect());
            code.push_str("\"\"");
            i = j + 1 + hashes;
        } else if c == '"' {
            let mut j = i + 1;
            let mut s = String::new();
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                if let Some(ch) = chars.get(j) {
                    s.push(*ch);
                }
                j += 1;
            }
            strings.push(s);
            code.push_str("\"\"");
            i = j + 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\''), or a lifetime ('a): keep lifetimes.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                code.push_str("' '");
                i = j + 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                code.push_str("' '");
                i += 3;
            } else {
                code.push(c);
                i += 1;
            }
        } else {
            code.push(c);
            i += 1;
        }
    }
    (code, strings)
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Cut `#[cfg(test)]` items (a `mod tests { … }` block or a `mod x;` line).
fn strip_test_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The item ends at its first `;` (a declaration) or its matching `}`.
        let semi = after.find(';');
        let brace = after.find('{');
        match (semi, brace) {
            (Some(s), Some(b)) if s < b => rest = &after[s + 1..],
            (Some(s), None) => rest = &after[s + 1..],
            (_, Some(b)) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (k, ch) in after[b..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                rest = &after[end..];
            }
            (None, None) => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Child modules a file declares (`mod x;` / `pub mod x;`), test-only ones excluded.
fn declared_children(code: &str) -> Vec<String> {
    let mut children = Vec::new();
    for line in code.lines() {
        let line = line.trim();
        let decl = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("pub(crate) mod "))
            .or_else(|| line.strip_prefix("mod "));
        if let Some(name) = decl.and_then(|d| d.strip_suffix(';')) {
            children.push(name.trim().to_owned());
        }
    }
    children
}

fn load() -> Vec<Source> {
    let mut sources = Vec::new();
    fn walk(dir: &Path, module: Vec<String>, sources: &mut Vec<Source>) {
        for file in ["mod.rs", "lib.rs"].iter().map(|f| dir.join(f)).filter(|p| p.exists()) {
            add(&file, module.clone(), sources);
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for path in entries {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            if path.is_dir() {
                let mut m = module.clone();
                m.push(name);
                walk(&path, m, sources);
            } else if path.extension().is_some_and(|e| e == "rs") && !["mod", "lib", "main"].contains(&name.as_str()) {
                let mut m = module.clone();
                m.push(name);
                add(&path, m, sources);
            }
        }
    }
    fn add(file: &Path, module: Vec<String>, sources: &mut Vec<Source>) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let (code, strings) = lex(&text);
        let code = strip_test_items(&code);
        sources.push(Source { module, file: file.to_owned(), code, strings });
    }
    walk(&src_dir(), Vec::new(), &mut sources);
    // Keep only files reachable through non-test `mod` declarations.
    let declared: BTreeSet<Vec<String>> = sources
        .iter()
        .flat_map(|s| {
            declared_children(&s.code).into_iter().map(|c| {
                let mut m = s.module.clone();
                m.push(c);
                m
            })
        })
        .collect();
    sources.retain(|s| s.module.is_empty() || declared.contains(&s.module));
    sources
}

/// Every path in `code` that starts at `crate`, `super`, `self` or a declared child, resolved to
/// an absolute module path (as long as the segments look like modules).
fn referenced_paths(source: &Source, children: &[String]) -> Vec<Vec<Segment>> {
    let code = without_reexports(&source.code);
    let mut found = Vec::new();
    for expanded in expand_groups(&code) {
        let segments: Vec<&str> = expanded.split("::").map(str::trim).collect();
        if let Some(path) = resolve(&source.module, &segments, children) {
            found.push(path);
        }
    }
    found
}

/// A resolved path: module segments, then (at most) the item it names.
type Segment = String;

/// The code without its `pub use` / `pub(crate) use` statements: a re-export
/// is a module's public face, not a use by its code; paths through it are
/// followed to the file that defines the item.
fn without_reexports(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    loop {
        let next = ["pub use ", "pub(crate) use "].iter().filter_map(|p| rest.find(p)).min();
        let Some(at) = next else { break };
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let end = after.find(';').map_or(after.len(), |e| e + 1);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `pub use` statements of a file: item name -> the path it re-exports.
fn reexports(source: &Source, children: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    let code = &source.code;
    let mut rest = code.as_str();
    while let Some(at) = ["pub use ", "pub(crate) use "].iter().filter_map(|p| rest.find(p)).min() {
        let after = &rest[at..];
        let end = after.find(';').map_or(after.len(), |e| e + 1);
        let statement = &after[..end];
        let body = statement.trim_start_matches("pub(crate) use ").trim_start_matches("pub use ");
        for expanded in expand_groups(body) {
            let segments: Vec<&str> = expanded.split("::").map(str::trim).collect();
            let (Some(last), Some(path)) = (segments.last(), resolve(&source.module, &segments, children)) else {
                continue;
            };
            let name = last.split(" as ").last().unwrap_or(last).trim().to_owned();
            map.insert(name, path);
        }
        rest = &after[end..];
    }
    map
}

/// Every `a::b::c` path in the code, with brace groups expanded.
fn expand_groups(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = (chars[i].is_alphabetic() || chars[i] == '_')
            && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let (paths, end) = parse_path(&chars, i);
        out.extend(paths.into_iter().filter(|p| p.contains("::")));
        i = end.max(i + 1);
    }
    out
}

/// Parse a path (possibly with `{…}` groups) at `i`; returns the expanded paths and the end index.
fn parse_path(chars: &[char], mut i: usize) -> (Vec<String>, usize) {
    let mut prefix = String::new();
    loop {
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        prefix.push_str(&chars[start..i].iter().collect::<String>());
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
            prefix.push_str("::");
            if chars.get(i) == Some(&'{') {
                i += 1;
                let mut paths = Vec::new();
                loop {
                    while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                        i += 1;
                    }
                    if i >= chars.len() || chars[i] == '}' {
                        i += 1;
                        break;
                    }
                    if chars[i].is_alphabetic() || chars[i] == '_' {
                        let (inner, end) = parse_path(chars, i);
                        for p in inner {
                            paths.push(format!("{prefix}{p}"));
                        }
                        i = end;
                    } else {
                        i += 1;
                    }
                }
                return (paths, i);
            }
            continue;
        }
        return (vec![prefix], i);
    }
}

fn resolve(module: &[String], segments: &[&str], children: &[String]) -> Option<Vec<String>> {
    let first = *segments.first()?;
    let (mut base, rest): (Vec<String>, &[&str]) = match first {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (module.to_vec(), &segments[1..]),
        "super" => {
            let mut base = module.to_vec();
            let mut k = 0;
            while segments.get(k) == Some(&"super") {
                base.pop();
                k += 1;
            }
            (base, &segments[k..])
        }
        c if children.iter().any(|d| d == c) => (module.to_vec(), segments),
        _ => return None,
    };
    // Module segments and the item after them (types and functions alike; the
    // graph keeps the longest prefix that is a file, after following re-exports).
    for s in rest {
        if *s == "self" || s.is_empty() || s.starts_with('*') {
            break;
        }
        base.push((*s).to_owned());
    }
    Some(base)
}

/// The file that defines what `path` names: the longest prefix that is a
/// file, following that file's re-exports of the next segment.
fn file_of(
    mut path: Vec<String>,
    modules: &BTreeSet<Vec<String>>,
    exports: &BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
) -> Vec<String> {
    for _ in 0..8 {
        let mut prefix = path.clone();
        let mut rest = Vec::new();
        while !prefix.is_empty() && !modules.contains(&prefix) {
            if let Some(last) = prefix.pop() {
                rest.insert(0, last);
            }
        }
        let through = rest.first().and_then(|item| exports.get(&prefix).and_then(|m| m.get(item)));
        match through {
            Some(target) if *target != path => {
                let mut next = target.clone();
                next.extend(rest.into_iter().skip(1));
                path = next;
            }
            _ => return prefix,
        }
    }
    path
}

struct Graph {
    /// file -> files it imports (module paths), non-test code only.
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    files: BTreeMap<Vec<String>, PathBuf>,
}

fn graph() -> Graph {
    let sources = load();
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|s| s.module.clone()).collect();
    let exports: BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>> =
        sources.iter().map(|s| (s.module.clone(), reexports(s, &declared_children(&s.code)))).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for s in &sources {
        let children = declared_children(&s.code);
        for path in referenced_paths(s, &children) {
            let path = file_of(path, &modules, &exports);
            if path != s.module && !path.is_empty() {
                // A file's reference to its own child through the module tree is an import of it.
                edges.entry(s.module.clone()).or_default().insert(path);
            }
        }
    }
    let files = sources.into_iter().map(|s| (s.module, s.file)).collect();
    Graph { edges, files }
}

fn layer_of(module: &[String]) -> Option<usize> {
    let top = module.first()?;
    LAYERS.iter().position(|l| l == top)
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(
    nodes: &BTreeSet<Vec<String>>,
    edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Vec<Vec<Vec<String>>> {
    struct T<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        nodes: &'a BTreeSet<Vec<String>>,
        index: BTreeMap<Vec<String>, usize>,
        low: BTreeMap<Vec<String>, usize>,
        stack: Vec<Vec<String>>,
        on: BTreeSet<Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit(t: &mut T<'_>, v: &Vec<String>) {
        t.index.insert(v.clone(), t.next);
        t.low.insert(v.clone(), t.next);
        t.next += 1;
        t.stack.push(v.clone());
        t.on.insert(v.clone());
        let targets: Vec<Vec<String>> =
            t.edges.get(v).map(|s| s.iter().filter(|w| t.nodes.contains(*w)).cloned().collect()).unwrap_or_default();
        for w in targets {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let lw = t.low[&w];
                let lv = t.low[v];
                t.low.insert(v.clone(), lv.min(lw));
            } else if t.on.contains(&w) {
                let iw = t.index[&w];
                let lv = t.low[v];
                t.low.insert(v.clone(), lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut component = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = &w == v;
                component.push(w);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                t.out.push(component);
            }
        }
    }
    let mut t = T {
        edges,
        nodes,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in nodes {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn every_top_level_module_has_a_layer() {
    let g = graph();
    let unplaced: BTreeSet<String> =
        g.files.keys().filter_map(|m| m.first()).filter(|top| !LAYERS.contains(&top.as_str())).cloned().collect();
    assert!(unplaced.is_empty(), "modules without a layer (add them to LAYERS and docs/architecture.md): {unplaced:?}");
}

#[test]
fn imports_only_point_down_the_layers() {
    let g = graph();
    let mut up = Vec::new();
    for (from, targets) in &g.edges {
        for to in targets {
            let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) else { continue };
            if from.first() != to.first() && a >= b {
                up.push(format!("{} -> {} ({})", from.join("::"), to.join("::"), g.files[from].display()));
            }
        }
    }
    assert!(up.is_empty(), "imports pointing up (or sideways) the layer order:\n{}", up.join("\n"));
}

#[test]
fn no_cycle_between_files_of_one_module() {
    let g = graph();
    let mut found = Vec::new();
    for top in LAYERS {
        let nodes: BTreeSet<Vec<String>> =
            g.files.keys().filter(|m| m.first().map(String::as_str) == Some(*top)).cloned().collect();
        for component in cycles(&nodes, &g.edges) {
            let names: Vec<String> = component.iter().map(|m| m.join("::")).collect();
            found.push(names.join(" <-> "));
        }
    }
    assert!(found.is_empty(), "cycles between files of one module:\n{}", found.join("\n"));
}

#[test]
fn no_cycle_between_top_level_modules() {
    let g = graph();
    let mut top_edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut nodes = BTreeSet::new();
    for (from, targets) in &g.edges {
        let (Some(a), true) = (from.first(), true) else { continue };
        nodes.insert(vec![a.clone()]);
        for to in targets {
            if let Some(b) = to.first()
                && a != b
            {
                nodes.insert(vec![b.clone()]);
                top_edges.entry(vec![a.clone()]).or_default().insert(vec![b.clone()]);
            }
        }
    }
    let found = cycles(&nodes, &top_edges);
    assert!(found.is_empty(), "cycles between top-level modules: {found:?}");
}

#[test]
fn the_checker_sees_imports_and_cycles() {
    // The checker itself must find what it looks for, or the tests above prove nothing.
    let g = graph();
    let server_call = vec!["server".to_owned(), "call".to_owned()];
    assert!(g.edges.get(&server_call).is_some_and(|t| t.iter().any(|m| m.first().is_some_and(|f| f == "gate"))));
    let mut e: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let (a, b) = (vec!["a".to_owned()], vec!["b".to_owned()]);
    e.entry(a.clone()).or_default().insert(b.clone());
    e.entry(b.clone()).or_default().insert(a.clone());
    assert_eq!(cycles(&[a, b].into_iter().collect(), &e).len(), 1);
    let (code, strings) = lex("use crate::x::{y, z::{w}}; // crate::hidden\nlet s = \"SELECT 1\";");
    assert!(!code.contains("hidden") && strings == vec!["SELECT 1".to_owned()]);
    assert_eq!(expand_groups(&code), vec!["crate::x::y".to_owned(), "crate::x::z::w".to_owned()]);
}

/// SQL statements as they appear in string literals.
fn looks_like_sql(s: &str) -> bool {
    let t = s.trim_start();
    let words = [
        "SELECT ",
        "INSERT INTO",
        "DELETE FROM",
        "CREATE TABLE",
        "CREATE INDEX",
        "CREATE TRIGGER",
        "SAVEPOINT",
        "ROLLBACK",
        "PRAGMA ",
        "BEGIN IMMEDIATE",
        "DROP TABLE",
        "ALTER TABLE",
    ];
    words.iter().any(|w| s.contains(w))
        || t == "BEGIN"
        || ["BEGIN;", "COMMIT", "RELEASE "].iter().any(|w| t.starts_with(w))
        || (s.contains("UPDATE ") && s.contains(" SET "))
}

#[test]
fn only_the_store_touches_sql() {
    let store = src_dir().join("store");
    let mut found = Vec::new();
    for s in load() {
        if s.file.starts_with(&store) {
            continue;
        }
        if s.code.contains("rusqlite") {
            found.push(format!("{}: names rusqlite", s.file.display()));
        }
        for text in s.strings.iter().filter(|t| looks_like_sql(t)) {
            found.push(format!("{}: SQL text {text:?}", s.file.display()));
        }
    }
    assert!(found.is_empty(), "SQL or rusqlite outside src/store/:\n{}", found.join("\n"));
}

#[test]
fn the_sql_detector_detects_sql() {
    assert!(looks_like_sql("SELECT seq FROM audit_records WHERE chain = ?1"));
    assert!(looks_like_sql("SAVEPOINT effect"));
    assert!(looks_like_sql("UPDATE keys SET revoked_at = ?1"));
    assert!(!looks_like_sql("-----BEGIN CERTIFICATE-----"));
    assert!(!looks_like_sql("select a plan"));
}

#[test]
fn the_architecture_doc_names_every_layer_in_order() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md")).unwrap_or_default();
    let picture = doc.lines().find(|l| l.starts_with("cmd ")).unwrap_or_default().to_owned();
    let leaves = doc.lines().find(|l| l.starts_with("leaves")).unwrap_or_default().to_owned();
    let drawn: Vec<&str> = picture
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .chain(leaves.split(|c: char| !c.is_alphanumeric() && c != '_'))
        .filter(|w| LAYERS.contains(w))
        .collect();
    assert_eq!(drawn, LAYERS, "docs/architecture.md must draw the layers of tests/architecture.rs, in order");
}
