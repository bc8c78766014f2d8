//! The crate's modules import each other without cycles: a leaf codec under the
//! instruction table, the program container above it, the file forms and the
//! verifier on top. Read from the sources: every `crate::…` path outside comments
//! is an edge from the top-level module of its file to the module it names (names
//! re-exported at the crate root resolve through `lib.rs`'s `pub use` lines).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Code without `//` comments (doc links are not imports).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Idents after `crate::`, with `{a, b::c}` groups expanded to their first segments.
fn crate_refs(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let first = item.trim().split("::").next().unwrap_or("").trim();
                if !first.is_empty() {
                    out.push(first.to_string());
                }
            }
        } else {
            let id: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(id);
        }
    }
    out
}

#[test]
fn modules_import_each_other_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = code(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    // Root re-exports: `pub use module::{A, B}` / `pub use module::A` / `pub use module::*`.
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    let mut glob = None;
    for stmt in lib.split(';') {
        let Some(body) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (m, items) = body.split_once("::").unwrap();
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        for it in items.split(',') {
            let it = it.trim();
            let name = it.rsplit(" as ").next().unwrap().trim();
            if name == "*" {
                glob = Some(m.to_string());
            } else if !name.is_empty() {
                owner.insert(name.to_string(), m.to_string());
            }
        }
    }
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // Unit tests may use anything.
        let text = text.split("#[cfg(test)]").next().unwrap();
        for r in crate_refs(&code(text)) {
            let target = if modules.contains(&r) {
                r
            } else if let Some(m) = owner.get(&r) {
                m.clone()
            } else if r.chars().next().is_some_and(char::is_uppercase) {
                glob.clone().unwrap_or_default()
            } else {
                continue;
            };
            if target != top {
                edges.entry(top.clone()).or_default().insert(target);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let i = path.iter().position(|x| x == m).unwrap();
                let mut cycle = path[i..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m.to_string(), 1);
        path.push(m.to_string());
        for n in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(n, edges, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if let Some(c) = visit(m, &edges, &mut state, &mut Vec::new()) {
            panic!("module cycle: {} (edges: {edges:?})", c.join(" -> "));
        }
    }
    // The codec is a leaf apart from the error type.
    let codec = edges.get("codec").cloned().unwrap_or_default();
    assert!(
        codec.iter().all(|m| m == "error"),
        "codec imports {codec:?}"
    );
}
