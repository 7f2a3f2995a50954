//! The data layer (ids, values, clocks, events, states, property backends, entities, AnkQL,
//! storage, limits, signals) builds on nothing above it: no node, context, transaction,
//! policy, reactor, live query or sync. (The `runtime` module, spawning and timers, is the
//! executor seam beneath both layers.) This test reads the sources and fails on any import
//! that breaks the rule, so a cycle cannot creep back in unnoticed.

use std::path::{Path, PathBuf};

/// Files and folders of the data layer, relative to `src/`.
const DATA_LAYER: &[&str] = &[
    "ankql",
    "clock.rs",
    "collection.rs",
    "encoding.rs",
    "entity.rs",
    "error.rs",
    "event.rs",
    "id.rs",
    "limits.rs",
    "property",
    "signals",
    "state.rs",
    "storage",
    "temporal.rs",
    "value.rs",
];

/// Modules of the node layer and above, which the data layer must not name.
const ABOVE: &[&str] = &[
    "changes",
    "connector",
    "context",
    "group_commit",
    "livequery",
    "model",
    "node",
    "node_error",
    "policy",
    "reactor",
    "sync",
    "system",
    "transaction",
];

/// Whether `line` names `crate::<module>` (and not a longer name that starts with it).
fn names(line: &str, module: &str) -> bool {
    let path = format!("crate::{module}");
    !line.trim_start().starts_with("//")
        && line.match_indices(&path).any(|(at, _)| {
            !line[at + path.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
        })
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable source folder") {
            rust_files(&entry.expect("readable entry").path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_owned());
    }
}

#[test]
fn the_data_layer_imports_nothing_from_the_layers_above() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for item in DATA_LAYER {
        let path = src.join(item);
        assert!(path.exists(), "{} is listed but missing", path.display());
        rust_files(&path, &mut files);
    }
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable source");
        for (number, line) in text.lines().enumerate() {
            if ABOVE.iter().any(|module| names(line, module)) {
                let file = file.strip_prefix(&src).unwrap_or(file).display();
                violations.push(format!("src/{file}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the data layer names modules above it:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_check_sees_an_import_of_the_sync_layer() {
    let flagged = |line: &str| ABOVE.iter().any(|module| names(line, module));
    assert!(flagged("use crate::sync::PeerError;"));
    assert!(flagged("use crate::node::{Node, Staging};"));
    assert!(!flagged("use crate::node_errors_are_elsewhere;"));
    assert!(!flagged("// see crate::node"));
    assert!(!flagged("use crate::value::Value;"));
}
