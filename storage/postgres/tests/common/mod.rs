//! Shared by the integration tests: a scratch schema per test. (The CLI's tests include
//! this file too, by path.)
#![allow(dead_code)] // each test file uses a part of it

use ankurah_core::EntityId;
use ankurah_storage_postgres::PostgresStorage;

/// How to run these tests.
const HOW: &str =
    "point it at a server, e.g. ANKURAH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test";

/// A schema of one test's own, dropped with this value (also when the test panics).
pub struct Scratch {
    url: String,
    schema: String,
}

impl Scratch {
    /// A fresh schema name, or `None` (after saying why) when `ANKURAH_POSTGRES_URL` is unset.
    /// In CI (`CI` set) an unset URL fails the test instead: there these tests must run.
    pub fn new(test: &str) -> Option<Scratch> {
        Self::named(
            test,
            &format!("test_{}", EntityId::new().to_string().to_lowercase()),
        )
    }

    /// Like [`new`](Self::new) with a chosen schema name.
    pub fn named(test: &str, schema: &str) -> Option<Scratch> {
        match std::env::var("ANKURAH_POSTGRES_URL") {
            Ok(url) => Some(Scratch {
                url,
                schema: schema.to_owned(),
            }),
            Err(_) if std::env::var_os("CI").is_some() => panic!(
                "{test}: ANKURAH_POSTGRES_URL is not set, and in CI (CI is set) the PostgreSQL tests must run, not skip: {HOW}"
            ),
            Err(_) => {
                eprintln!("skipping {test}: ANKURAH_POSTGRES_URL is not set: {HOW}");
                None
            }
        }
    }

    /// The server's URL (`ANKURAH_POSTGRES_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// An engine on the schema; each call opens another one (another pool), like another
    /// server process would.
    pub async fn open(&self) -> PostgresStorage {
        PostgresStorage::open_in_schema(&self.url, &self.schema)
            .await
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.schema))
    }

    /// A plain connection, to look at the database behind the engine's back.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connecting");
        tokio::spawn(connection);
        client
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Drop may run inside the test's runtime, which cannot be blocked on: drop the schema
        // from a thread with a runtime of its own.
        let (url, schema) = (self.url.clone(), self.schema.replace('"', "\"\""));
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let (client, connection) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop schema {}: {e}", self.schema);
        }
    }
}
