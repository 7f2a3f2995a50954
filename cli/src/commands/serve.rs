//! `ankurah serve`: a durable node on a local store, served over WebSocket.

use ankurah::auth::JwtAuthenticator;
use ankurah_websocket::WebsocketServer;
use clap::Args;

use crate::store::{Mode, StoreArgs};
use crate::CliError;

/// Run a durable node on a local store, served over WebSocket.
#[derive(Debug, Args)]
#[command(after_help = "\
The store is created if missing; the node creates its system on first start and keeps it.
Without --token-key every client is anonymous and may read and write everything, so the
server listens only on loopback unless --anonymous says that is meant. With --token-key a
client must present an HS256 token signed with that secret (`--token` of the other
commands); its subject is the author of what it writes.

The first line printed is `serving on ws://ADDR` (with the port chosen for :0).
Ctrl-C (or SIGTERM) stops it: every client is told goodbye.

Examples:
  ankurah serve --sled ./data
  ankurah serve --redb ./data.redb --bind 127.0.0.1:0
  ankurah serve --postgres postgres://postgres@127.0.0.1/app --token-key \"$SECRET\"
  ankurah serve --sled ./data --bind 0.0.0.0:9797 --anonymous")]
pub struct Serve {
    /// The store to serve.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address to listen on (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9797")]
    pub bind: String,
    /// Require clients to present an HS256 token signed with this secret (also
    /// $ANKURAH_TOKEN_KEY).
    #[arg(
        long,
        value_name = "SECRET",
        env = "ANKURAH_TOKEN_KEY",
        hide_env_values = true
    )]
    pub token_key: Option<String>,
    /// Listen beyond loopback without authentication: anyone who reaches the address may
    /// read and write everything.
    #[arg(long)]
    pub anonymous: bool,
}

impl Serve {
    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run(self) -> Result<(), CliError> {
        let store = self.store.open(Mode::Create).await?;
        let node = store.node();
        if let Some(secret) = &self.token_key {
            node.set_authenticator(JwtAuthenticator::hs256(secret.as_bytes())?);
        }
        let system = node.system.create().await?;
        let mut server = WebsocketServer::new(node);
        if self.anonymous {
            server = server.allow_anonymous();
        }
        let server = server
            .bind(self.bind.as_str())
            .await
            .map_err(CliError::Serve)?;
        println!("serving on ws://{}", server.local_addr());
        let access = if self.token_key.is_some() {
            "clients present a token"
        } else {
            "anonymous: every client reads and writes everything"
        };
        eprintln!(
            "{} of system {system}; {access} (Ctrl-C stops)",
            self.store.describe()
        );
        let stop = server.shutdown_handle();
        let serving = tokio::spawn(server.run());
        stopped().await?;
        stop.shutdown();
        serving.await.map_err(|error| CliError::Io {
            what: "stopping the server".into(),
            source: std::io::Error::other(error),
        })?;
        eprintln!("stopped; every client was told");
        Ok(())
    }
}

/// Resolves on Ctrl-C, or on SIGTERM where there is one.
async fn stopped() -> Result<(), CliError> {
    let signal_error = |source| CliError::Io {
        what: "waiting for a signal".into(),
        source,
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate()).map_err(signal_error)?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(signal_error),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(signal_error)
    }
}
