//! Tidy checks that run as ordinary tests (STYLE.md §8, glommio's `tests/linters.rs`):
//! formatting, file size budgets, module docs, the layering rules of STYLE.md §2, no
//! `unwrap()` in production code, and `unsafe` only where a file's name says why.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn src_files() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    rust_files(&root)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .expect("under src")
                .display()
                .to_string();
            let text = fs::read_to_string(&p).expect("readable source");
            (rel, text)
        })
        .collect()
}

/// The part of a file before its `#[cfg(test)]` module, if any.
fn production_part(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// The production code of a file with comments removed (line comments only, which is all
/// ringpin uses), so a doc saying "must not import glommio" is not itself a violation.
fn production_code(text: &str) -> String {
    production_part(text)
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_test_file(rel: &str) -> bool {
    rel.ends_with("/tests.rs") || rel.contains("/tests/")
}

#[test]
fn code_is_formatted() {
    let status = Command::new(env!("CARGO"))
        .args(["fmt", "--all", "--", "--check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    match status {
        Ok(status) => assert!(status.success(), "run `cargo fmt --all`"),
        Err(err) => panic!("cannot run cargo fmt: {err}"),
    }
}

#[test]
fn every_module_opens_with_a_module_doc() {
    for (rel, text) in src_files() {
        if is_test_file(&rel) {
            continue;
        }
        assert!(
            text.trim_start().starts_with("//!"),
            "{rel} has no //! module doc"
        );
    }
}

#[test]
fn files_stay_within_the_size_budget() {
    for (rel, text) in src_files() {
        // Sibling test files get the budget at which STYLE.md §3 says inline tests move out.
        if is_test_file(&rel) {
            let lines = text.lines().count();
            assert!(lines <= 1000, "{rel} has {lines} test lines (budget ~1000)");
            continue;
        }
        let lines = production_part(&text).lines().count();
        assert!(
            lines <= 650,
            "{rel} has {lines} non-test lines (budget ~600)"
        );
    }
}

#[test]
fn no_unwrap_in_production_code() {
    for (rel, text) in src_files() {
        if is_test_file(&rel) {
            continue;
        }
        for (n, line) in production_part(&text).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains(".unwrap()"),
                "{rel}:{}: unwrap() in production code",
                n + 1
            );
        }
    }
}

#[test]
fn unsafe_lives_only_in_files_named_for_it() {
    let allowed = [
        "origin/sys.rs",
        "runtime/sys.rs",
        "shard/direct_send.rs",
        "shard/sys.rs",
        "shard/uring_send.rs",
    ];
    for (rel, text) in src_files() {
        let uses_unsafe = production_part(&text)
            .lines()
            .any(|l| l.split("//").next().unwrap_or("").contains("unsafe "));
        if uses_unsafe {
            assert!(allowed.contains(&rel.as_str()), "{rel} uses unsafe");
        }
    }
}

#[test]
fn pure_modules_import_no_io() {
    let pure = [
        "config/",
        "cross_origin/",
        "http/",
        "ws/",
        "grip/",
        "publish/",
        "fanout/",
        "stats/",
        "limits.rs",
        "reply.rs",
        "origin/request",
        "router/channel_map",
        "router/msg",
        "router/mod",
        "router/sequence",
        "origin/response",
        "origin/ws_request",
    ];
    // `std::net`'s address types (`IpAddr`, `SocketAddr`) are values that config parses and
    // `X-Forwarded-For` carries; its sockets and name resolution are I/O.
    let forbidden = [
        "glommio",
        "crossbeam",
        "crate::shard",
        "crate::runtime",
        "crate::netio",
        "Instant::now()",
        "SystemTime::now",
        "TcpStream",
        "TcpListener",
        "UdpSocket",
        "ToSocketAddrs",
        "to_socket_addrs",
    ];
    for (rel, text) in src_files() {
        if !pure.iter().any(|p| rel.starts_with(p)) || is_test_file(&rel) {
            continue;
        }
        let code = production_code(&text);
        for word in forbidden {
            assert!(!code.contains(word), "{rel} (pure) uses {word}");
        }
        // Files are read in one place only (STYLE.md §2): `config::load_*`.
        if rel != "config/mod.rs" {
            assert!(!code.contains("std::fs"), "{rel} (pure) uses std::fs");
        }
    }
}

#[test]
fn router_and_fanout_do_not_know_each_other() {
    for (rel, text) in src_files() {
        let code = production_code(&text);
        if rel.starts_with("fanout/") {
            assert!(!code.contains("crate::router"), "{rel} imports router");
        }
        if rel.starts_with("router/") {
            assert!(
                !code.contains("crate::fanout") && !code.contains("crate::shard"),
                "{rel} imports fanout/shard"
            );
        }
    }
}

#[test]
fn ws_imports_only_limits_and_http() {
    for (rel, text) in src_files() {
        if !rel.starts_with("ws/") || is_test_file(&rel) {
            continue;
        }
        let code = production_code(&text);
        for (at, _) in code.match_indices("crate::") {
            let path = &code[at + "crate::".len()..];
            assert!(
                path.starts_with("limits") || path.starts_with("http"),
                "{rel} imports crate::{}",
                path.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap_or("")
            );
        }
    }
}

/// The folder (or top-level file module) a module path belongs to: the longest prefix of
/// `segments` that is a directory under `src/`, else its first segment.
fn unit_of(segments: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut unit = segments.first().copied().unwrap_or("").to_owned();
    for end in 1..=segments.len() {
        let candidate = segments[..end].join("/");
        if root.join(&candidate).is_dir() {
            unit = candidate;
        }
    }
    unit
}

/// The module path of a file: `flow/http/links/next_link.rs` is `[flow, http, links,
/// next_link]`; a `mod.rs` is its folder.
fn module_path(rel: &str) -> Vec<&str> {
    let without_ext = rel.trim_end_matches(".rs");
    let mut segments: Vec<&str> = without_ext.split('/').collect();
    if segments.last() == Some(&"mod") {
        segments.pop();
    }
    segments
}

/// The folders each file's production code refers to through `crate::` and `super::` paths,
/// as edges between folders (a folder never points at itself).
fn folder_edges() -> Vec<(String, String, String)> {
    let mut edges = Vec::new();
    for (rel, text) in src_files() {
        if is_test_file(&rel) || rel == "lib.rs" || rel == "main.rs" {
            continue;
        }
        let code = production_code(&text);
        let here = module_path(&rel);
        let from = unit_of(&here[..here.len().saturating_sub(1).max(1)]);
        let from = if rel.ends_with("mod.rs") {
            unit_of(&here)
        } else {
            from
        };
        let words: Vec<&str> = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .filter(|w| w.starts_with("crate::") || w.starts_with("super::"))
            .collect();
        for word in words {
            let parts: Vec<&str> = word.split("::").filter(|p| !p.is_empty()).collect();
            let mut base: Vec<&str> = if parts[0] == "crate" {
                Vec::new()
            } else {
                here.clone()
            };
            let mut rest = &parts[..];
            if parts[0] == "crate" {
                rest = &parts[1..];
            }
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend_from_slice(rest);
            if base.is_empty() {
                continue;
            }
            let to = unit_of(&base);
            if to != from && !to.is_empty() {
                edges.push((from.clone(), to, rel.clone()));
            }
        }
    }
    edges
}

#[test]
fn folders_import_no_cycle() {
    let edges = folder_edges();
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (from, to, _) in &edges {
        graph.entry(from.clone()).or_default().insert(to.clone());
    }
    // Depth-first search for a back edge; the path in hand is the cycle.
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            panic!(
                "import cycle between folders: {} -> {node}",
                path[at..].join(" -> ")
            );
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut done = Default::default();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn flows_do_not_import_each_other_and_the_core_imports_no_flow() {
    let forbidden: &[(&str, &[&str])] = &[
        ("flow/http", &["flow/ws"]),
        ("flow/ws", &["flow/http"]),
        ("shard", &["flow", "control", "runtime"]),
        ("origin", &["shard", "flow", "control", "runtime"]),
        ("control", &["flow", "runtime"]),
    ];
    for (from, to, rel) in folder_edges() {
        for (unit, banned) in forbidden {
            let inside =
                |u: &str, prefix: &str| u == prefix || u.starts_with(&format!("{prefix}/"));
            if inside(&from, unit) {
                for ban in *banned {
                    assert!(!inside(&to, ban), "{rel} ({from}) imports {to}");
                }
            }
        }
    }
}

#[test]
fn functions_fit_on_a_screen() {
    const FUNCTION_LINES_MAX: usize = 80;
    for (rel, text) in src_files() {
        if is_test_file(&rel) {
            continue;
        }
        let lines: Vec<&str> = production_part(&text).lines().collect();
        for (start, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let indent = &line[..line.len() - trimmed.len()];
            let is_fn = [
                "fn ",
                "pub fn ",
                "async fn ",
                "pub async fn ",
                "pub(crate) fn ",
                "pub(crate) async fn ",
                "pub(super) fn ",
                "pub(super) async fn ",
                "const fn ",
                "pub const fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn || trimmed.ends_with(';') {
                continue;
            }
            let close = format!("{indent}}}");
            let Some(length) = lines[start..].iter().position(|l| *l == close) else {
                continue;
            };
            assert!(
                length < FUNCTION_LINES_MAX,
                "{rel}:{}: a function of {} lines (budget {FUNCTION_LINES_MAX}): {}",
                start + 1,
                length + 1,
                trimmed
            );
        }
    }
}

#[test]
fn every_fixed_bound_lives_in_limits_rs() {
    // Protocol facts, not tunable bounds, stay beside the code they describe.
    let facts = [
        "HTTP_PORT_DEFAULT",
        "LISTEN_PORT_DEFAULT",
        "PUBLISH_PORT_DEFAULT",
        "CHUNK_SIZE_DIGITS_MAX",
        "CHUNK_FRAMING_BYTES_MAX",
        "HEADER_SLOTS_STACK",
        "SEND_FLAGS",
        "KEY_BYTES",
        "CONTROL_PAYLOAD_BYTES_MAX",
        "CLOSE_REASON_BYTES_MAX",
    ];
    for (rel, text) in src_files() {
        if rel == "limits.rs" || is_test_file(&rel) {
            continue;
        }
        for line in production_code(&text).lines() {
            let line = line.trim_start();
            let Some(rest) = [
                "const ",
                "pub const ",
                "pub(crate) const ",
                "pub(super) const ",
            ]
            .iter()
            .find_map(|p| line.strip_prefix(p)) else {
                continue;
            };
            let Some((name, ty)) = rest.split_once(':') else {
                continue;
            };
            if name.starts_with("fn ") {
                continue;
            }
            let ty = ty.trim_start();
            let numeric = ["usize", "u64", "u32", "u16", "u8", "i32", "i64", "Duration"]
                .iter()
                .any(|t| ty.starts_with(t));
            assert!(
                !numeric || facts.contains(&name.trim()),
                "{rel}: bound {} belongs in limits.rs",
                name.trim()
            );
        }
    }
}
