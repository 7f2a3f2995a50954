//! # ankurah-cli
//!
//! The `ankurah` command line: serve a store over WebSocket, and look at the data of a
//! server or of a local store (sled, redb, Postgres) without compiling its models: one-shot
//! AnkQL queries as a table or JSON lines, live queries, entities as of any moment, their
//! history, blame and event DAG, query plans, and a portable dump format that moves data
//! between engines.
//!
//! ```text
//! ankurah serve --sled ./data                              # a durable node on ws://127.0.0.1:9797
//! ankurah query album "year > 2000 ORDER BY year" --server ws://127.0.0.1:9797
//! ankurah watch album "artist = 'Muse'" --server ws://127.0.0.1:9797
//! ankurah history album 01JD… --server ws://127.0.0.1:9797
//! ankurah dump --sled ./data > albums.dump && ankurah load --postgres postgres://… albums.dump
//! ```
//!
//! Every command is a module of [`commands`]; [`store`] opens a local store from the flags,
//! [`connect`] a node reading a server or a store, [`output`] prints tables and JSON lines,
//! and [`archive`] is the dump format (its layout is documented there).
//! [`commands::dump::dump`] and [`commands::load::load`] are the library form of `dump` and
//! `load` (the benchmarks use them).

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod archive;
pub mod commands;
pub mod connect;
pub mod error;
pub mod output;
pub mod store;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// The command line (see `ankurah --help`).
#[derive(Debug, Parser)]
#[command(
    name = "ankurah",
    version,
    about = "Serve an Ankurah store, and look at its data: query, watch, time travel, history, \
             blame, the event DAG, query plans, dump and load.",
    after_help = "\
Where the data comes from:
  --server ws://HOST:PORT   a running server (an in-memory client node asks it; --token for
                            a server that authenticates)
  --sled DIR | --redb FILE | --postgres URL [--schema NAME]
                            a local store, opened directly (stop its server first for sled
                            and redb: one process at a time)

Examples:
  ankurah serve --sled ./data
  ankurah query album \"year >= 2000 ORDER BY year DESC LIMIT 10\" --server ws://127.0.0.1:9797
  ankurah query album \"name LIKE 'The%'\" --sled ./data --json
  ankurah watch album \"artist = 'Muse'\" --server ws://127.0.0.1:9797
  ankurah get album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --at 2026-12-01T10:00:00Z --sled ./data
  ankurah events album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --dot --sled ./data | dot -Tsvg > dag.svg
  ankurah explain album \"year > 1990 ORDER BY year LIMIT 5\" --redb ./data.redb
  ankurah dump --sled ./data --out data.dump
  ankurah load --postgres postgres://postgres@localhost/app data.dump

`ankurah COMMAND --help` says more about each command."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a durable node on a local store, served over WebSocket.
    Serve(commands::serve::Serve),
    /// Run one AnkQL query and print the entities it selects.
    Query(commands::query::Query),
    /// Print a query's entities, then every change to them as it happens.
    Watch(commands::watch::Watch),
    /// Print one entity, now or as of a past moment.
    Get(commands::get::Get),
    /// Print an entity's events in causal order: when, who, which properties.
    History(commands::history::History),
    /// Print, per property, the event that gave it its current value.
    Blame(commands::blame::Blame),
    /// Print an entity's head: its newest events.
    Heads(commands::dag::Heads),
    /// Print an entity's events (the DAG), optionally as Graphviz dot.
    Events(commands::dag::Events),
    /// Show how a local store would run a query: which index, how many candidates.
    Explain(commands::explain::Explain),
    /// Write every entity of a local store, with its events, to a portable file.
    Dump(commands::dump::Dump),
    /// Read a dump into a local store.
    Load(commands::load::Load),
    /// Sign a token for a server started with --token-key.
    Token(commands::token::Token),
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve(command) => command.run().await,
        Command::Query(command) => command.run().await,
        Command::Watch(command) => command.run().await,
        Command::Get(command) => command.run().await,
        Command::History(command) => command.run().await,
        Command::Blame(command) => command.run().await,
        Command::Heads(command) => command.run().await,
        Command::Events(command) => command.run().await,
        Command::Explain(command) => command.run().await,
        Command::Dump(command) => command.run().await,
        Command::Load(command) => command.run().await,
        Command::Token(command) => command.run().await,
    }
}
