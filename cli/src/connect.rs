//! Where a reading command reads: a server (`--server URL`, through an in-memory client
//! node) or a local store (see [`crate::store`]).

use std::sync::Arc;
use std::time::Duration;

use ankurah::auth::{Credential, CredentialRequest};
use ankurah::dynamic::Dynamic;
use ankurah::storage::MemoryStorage;
use ankurah::{Context, Node, PermissiveAgent, DEFAULT_CONTEXT};
use ankurah_websocket::WebsocketClient;
use clap::Args;

use crate::store::{Mode, StoreArgs};
use crate::CliError;

/// How long a server has to accept the connection and tell its system.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// `--server URL [--token TOKEN]`, or a local store.
#[derive(Clone, Debug, Default, Args)]
pub struct Source {
    /// A running server to ask, e.g. ws://127.0.0.1:9797.
    #[arg(long, value_name = "URL", conflicts_with = "store")]
    pub server: Option<String>,
    /// A signed token to present to a server that authenticates (`ankurah token` makes
    /// one); in $ANKURAH_TOKEN it stays out of the process list.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ANKURAH_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The local store to read instead of a server.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// A node to read through: connected to the server, or on the local store.
#[derive(Debug)]
pub struct Session {
    /// The context reads go through.
    pub context: Context,
    connection: Option<WebsocketClient>,
}

impl Source {
    /// Connects to the server, or opens the store.
    pub async fn open(&self) -> Result<Session, CliError> {
        if let Some(url) = &self.server {
            let node = Node::new(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
            if let Some(token) = self.token.clone() {
                node.set_credentials(move |_: &CredentialRequest| {
                    Some(Credential::Token(token.clone()))
                });
            }
            let timeout = |what| CliError::Timeout {
                url: url.clone(),
                seconds: CONNECT_TIMEOUT.as_secs(),
                what,
            };
            let connection =
                tokio::time::timeout(CONNECT_TIMEOUT, WebsocketClient::new(node.clone(), url))
                    .await
                    .map_err(|_| timeout("the handshake"))?
                    .map_err(|source| CliError::Connect {
                        url: url.clone(),
                        source,
                    })?;
            tokio::time::timeout(CONNECT_TIMEOUT, node.system.wait_system_ready())
                .await
                .map_err(|_| timeout("its system id"))?;
            return Ok(Session {
                context: node.context(DEFAULT_CONTEXT)?,
                connection: Some(connection),
            });
        }
        if !self.store.given() {
            return Err(CliError::NoSource);
        }
        let store = self.store.open(Mode::Existing).await?;
        Ok(Session {
            context: store.node().context(DEFAULT_CONTEXT)?,
            connection: None,
        })
    }
}

impl Session {
    /// Dynamic access to one collection.
    pub fn collection(&self, collection: &str) -> Dynamic {
        self.context.dynamic(collection)
    }

    /// Says goodbye to the server, if connected.
    pub async fn close(self) {
        if let Some(connection) = self.connection {
            connection.shutdown().await;
        }
    }
}
