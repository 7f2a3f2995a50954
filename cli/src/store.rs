//! Opening a local store from the flags `--sled DIR`, `--redb FILE` or `--postgres URL`
//! (with `--schema NAME`).

use std::path::PathBuf;
use std::sync::Arc;

use ankurah::storage::StorageEngine;
use ankurah::{Node, PermissiveAgent, StorageError};
use ankurah_storage_postgres::PostgresStorage;
use ankurah_storage_redb::RedbStorage;
use ankurah_storage_sled::SledStorage;
use clap::Args;

use crate::CliError;

/// Which local store: one of `--sled`, `--redb`, `--postgres`.
#[derive(Clone, Debug, Default, Args)]
pub struct StoreArgs {
    /// A sled store: its directory.
    #[arg(long, value_name = "DIR", group = "store")]
    pub sled: Option<PathBuf>,
    /// A redb store: its file.
    #[arg(long, value_name = "FILE", group = "store")]
    pub redb: Option<PathBuf>,
    /// A Postgres store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
    #[arg(long, value_name = "URL", group = "store")]
    pub postgres: Option<String>,
    /// The Postgres schema holding the store's tables (default `public`).
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub schema: Option<String>,
}

/// Whether opening may create the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The store must exist (reading commands).
    Existing,
    /// A missing store is created (`serve`, `load`).
    Create,
}

/// An open local store.
#[derive(Clone, Debug)]
pub enum Store {
    /// `--sled DIR`.
    Sled(Arc<SledStorage>),
    /// `--redb FILE`.
    Redb(Arc<RedbStorage>),
    /// `--postgres URL`.
    Postgres(Arc<PostgresStorage>),
}

impl StoreArgs {
    /// Whether a store was named.
    pub fn given(&self) -> bool {
        self.sled.is_some() || self.redb.is_some() || self.postgres.is_some()
    }

    /// The store as the flags name it, for messages (`sled ./data`); never shows a
    /// password.
    pub fn describe(&self) -> String {
        match (&self.sled, &self.redb, &self.postgres) {
            (Some(dir), _, _) => format!("sled {}", dir.display()),
            (_, Some(file), _) => format!("redb {}", file.display()),
            (_, _, Some(url)) => {
                let url = hide_password(url);
                match &self.schema {
                    Some(schema) => format!("postgres {url} (schema {schema})"),
                    None => format!("postgres {url}"),
                }
            }
            _ => "no store".into(),
        }
    }

    /// Opens the store the flags name.
    pub async fn open(&self, mode: Mode) -> Result<Store, CliError> {
        let describe = || self.describe();
        let open_error = |source: StorageError, hint| CliError::Open {
            store: describe(),
            source,
            hint,
        };
        const LOCKED: &str = " (one process at a time: is a server using it? stop it, or ask \
                              the server with --server)";
        if let Some(dir) = &self.sled {
            if mode == Mode::Existing && !dir.is_dir() {
                return Err(CliError::Missing { store: describe() });
            }
            let storage = SledStorage::open(dir).map_err(|e| open_error(e, LOCKED))?;
            return Ok(Store::Sled(Arc::new(storage)));
        }
        if let Some(file) = &self.redb {
            if mode == Mode::Existing && !file.is_file() {
                return Err(CliError::Missing { store: describe() });
            }
            let storage = RedbStorage::open(file).map_err(|e| open_error(e, LOCKED))?;
            return Ok(Store::Redb(Arc::new(storage)));
        }
        if let Some(url) = &self.postgres {
            let opened = match &self.schema {
                Some(schema) => PostgresStorage::open_in_schema(url, schema).await,
                None => PostgresStorage::open(url).await,
            };
            let storage = opened.map_err(|e| open_error(e, ""))?;
            return Ok(Store::Postgres(Arc::new(storage)));
        }
        Err(CliError::NoStore)
    }
}

impl Store {
    /// The engine.
    pub fn engine(&self) -> &dyn StorageEngine {
        match self {
            Store::Sled(storage) => &**storage,
            Store::Redb(storage) => &**storage,
            Store::Postgres(storage) => &**storage,
        }
    }

    /// A durable node on the store, allowing everything (a local store is yours to read).
    pub fn node(&self) -> Node {
        let agent = PermissiveAgent::new();
        match self {
            Store::Sled(storage) => Node::new_durable(storage.clone(), agent),
            Store::Redb(storage) => Node::new_durable(storage.clone(), agent),
            Store::Postgres(storage) => Node::new_durable(storage.clone(), agent),
        }
    }
}

/// `url` with any password replaced by `***`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::hide_password;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            hide_password("postgres://me:secret@db:5432/app"),
            "postgres://me:***@db:5432/app"
        );
        assert_eq!(
            hide_password("postgres://me@db/app"),
            "postgres://me@db/app"
        );
        assert_eq!(hide_password("host=db user=me"), "host=db user=me");
    }
}
