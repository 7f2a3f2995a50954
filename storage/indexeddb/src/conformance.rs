//! The storage conformance suite as functions the browser tests call (feature
//! `conformance`). [`CHECKS`] names the checks; [`run_check`] runs one on a new database and
//! rejects its promise if it fails. A failed check panics, which aborts the wasm instance
//! (the browser tests load a fresh page per check); the hook installed by
//! [`install_panic_hook`] first writes the panic's message to the console, where the test
//! driver reads it.

use std::sync::Arc;

use ankurah_core::storage::StorageEngine;
use ankurah_core::testing::conformance;
use ankurah_core::EntityId;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::IndexedDbStorage;

/// Every check of the suite, by name.
pub const CHECKS: [&str; 12] = [
    "states_round_trip",
    "events",
    "atomic_commit",
    "deleted_entities",
    "scans",
    "ankql_cases",
    "ordering_and_limits",
    "system_id_round_trip",
    "names",
    "outbox",
    "nesting_depth",
    "reopen_durability",
];

/// Sends panic messages to `console.error`, so a failed check says what failed.
#[wasm_bindgen]
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&JsValue::from_str(&format!("panic: {info}")));
    }));
}

/// The names of the checks, for the test driver.
#[wasm_bindgen]
pub fn checks() -> Vec<String> {
    CHECKS.iter().map(|name| name.to_string()).collect()
}

fn js(error: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&error.to_string())
}

/// Runs the check `name` on a new database.
#[wasm_bindgen]
pub async fn run_check(name: String) -> Result<(), JsValue> {
    if name == "reopen_durability" {
        let database = format!("ankurah-reopen-{}", EntityId::new());
        conformance::reopen_durability(|| {
            let database = database.clone();
            async move {
                let engine = IndexedDbStorage::open(&database)
                    .await
                    .unwrap_or_else(|error| panic!("reopening {database}: {error}"));
                Arc::new(engine) as Arc<dyn StorageEngine>
            }
        })
        .await;
        return Ok(());
    }
    let engine = IndexedDbStorage::new_test().await.map_err(js)?;
    match name.as_str() {
        "states_round_trip" => conformance::states_round_trip(&engine).await,
        "events" => conformance::events(&engine).await,
        "atomic_commit" => conformance::atomic_commit(&engine).await,
        "deleted_entities" => conformance::deleted_entities(&engine).await,
        "scans" => conformance::scans(&engine).await,
        "ankql_cases" => conformance::ankql_cases(&engine).await,
        "ordering_and_limits" => conformance::ordering_and_limits(&engine).await,
        "system_id_round_trip" => conformance::system_id_round_trip(&engine).await,
        "names" => conformance::names(&engine).await,
        "outbox" => conformance::outbox(&engine).await,
        "nesting_depth" => conformance::nesting_depth(&engine).await,
        other => return Err(js(format!("no check `{other}`"))),
    }
    engine.close();
    Ok(())
}
