//! [`CliError`]: everything a command can fail with, printed once by the binary.

use ankurah::ankql::ParseError;
use ankurah::auth::AuthError;
use ankurah::history::BadMoment;
use ankurah::{AccessDenied, RetrievalError, StorageError, SystemId};
use ankurah_core::system::SystemError;
use ankurah_websocket::WebsocketError;

use crate::archive::DumpError;

/// Why a command failed. The message names the thing and the reason, and where it helps,
/// what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A command that needs a local store got none.
    #[error("no store given: use --sled DIR, --redb FILE or --postgres URL")]
    NoStore,
    /// A reading command got neither a server nor a store.
    #[error(
        "say where to read: --server ws://HOST:PORT, or a local store with --sled DIR, \
         --redb FILE or --postgres URL"
    )]
    NoSource,
    /// A command that reads a store directly was pointed at a server.
    #[error("{command} reads a local store directly (--sled, --redb or --postgres), not a server")]
    NeedsStore {
        /// The command.
        command: &'static str,
    },
    /// A store to read does not exist (reading never creates one).
    #[error("{store} does not exist (`ankurah serve` and `ankurah load` create stores)")]
    Missing {
        /// The store, as the flags named it.
        store: String,
    },
    /// A store could not be opened.
    #[error("cannot open {store}: {source}{hint}")]
    Open {
        /// The store, as the flags named it.
        store: String,
        /// What the engine said.
        source: StorageError,
        /// What may help.
        hint: &'static str,
    },
    /// The server could not be reached, or refused the connection.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The server.
        url: String,
        /// What went wrong.
        source: WebsocketError,
    },
    /// The server did not answer in time.
    #[error("{url} did not answer within {seconds} s: {what}")]
    Timeout {
        /// The server.
        url: String,
        /// How long it was given.
        seconds: u64,
        /// What was waited for.
        what: &'static str,
    },
    /// `--at` is neither a time nor a clock.
    #[error("invalid --at: {0}; or name a clock: event ids separated by commas")]
    Time(BadMoment),
    /// The query does not parse.
    #[error("invalid query: {0}")]
    Query(#[from] ParseError),
    /// The server could not listen.
    #[error("cannot serve: {0}")]
    Serve(WebsocketError),
    /// The node could not create or read its system.
    #[error(transparent)]
    System(#[from] SystemError),
    /// The token key is unusable.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The policy refused the context.
    #[error(transparent)]
    Access(#[from] AccessDenied),
    /// A read failed (not found, deleted, invalid query, refused by the server...).
    #[error(transparent)]
    Retrieval(#[from] RetrievalError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A dump could not be read or written.
    #[error("{file}: {source}")]
    Dump {
        /// The dump file (`-` for standard input or output).
        file: String,
        /// What is wrong.
        source: DumpError,
    },
    /// The dump comes from another system than the store's.
    #[error(
        "the dump is of system {dump}, but the store belongs to system {store}: load it into \
         an empty store, or into a store of its own system"
    )]
    OtherSystem {
        /// The dump's system.
        dump: SystemId,
        /// The store's system.
        store: SystemId,
    },
    /// Reading or writing a file or the terminal failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
}

impl CliError {
    /// Whether the error is only that the reader of standard output went away.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            CliError::Io { source, .. } => source,
            CliError::Dump {
                source: DumpError::Io { source, .. },
                ..
            } => source,
            _ => return false,
        };
        io.kind() == std::io::ErrorKind::BrokenPipe
    }

    /// An error writing to standard output.
    pub fn stdout(source: std::io::Error) -> Self {
        CliError::Io {
            what: "writing the output".into(),
            source,
        }
    }
}
