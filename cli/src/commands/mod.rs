//! One module per command, each a clap `Args` struct with its `run`.

pub mod blame;
pub mod dag;
pub mod dump;
pub mod explain;
pub mod get;
pub mod history;
pub mod load;
pub mod query;
pub mod serve;
pub mod token;
pub mod watch;

use ankurah::ankql::{parse_selection, Selection};
use ankurah::history::At;
use ankurah::{EntityId, EventId};
use ankurah_core::Clock;
use clap::Args;

use crate::connect::Source;
use crate::CliError;

/// What the commands about one entity take: `COLLECTION ID`, `--json`, and where to read.
#[derive(Debug, Args)]
pub struct EntityArgs {
    /// The collection: the model's name in snake_case (`album` for `struct Album`).
    pub collection: String,
    /// The entity id (26 characters of Crockford base32).
    pub id: EntityId,
    /// JSON (one object per line) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
}

/// What the commands about a query take: `COLLECTION [QUERY]` and `--json`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The collection: the model's name in snake_case (`album` for `struct Album`).
    pub collection: String,
    /// The AnkQL query, quoted for the shell (empty: every entity).
    #[arg(default_value = "")]
    pub query: String,
    /// JSON (one object per line) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--at TEXT`: RFC 3339 (`2026-12-01T10:00:00Z`), milliseconds since 1970, or a clock
/// written as event ids separated by commas (the state after exactly those events and their
/// ancestors).
pub fn parse_at(text: &str) -> Result<At, CliError> {
    let ids: Result<Vec<EventId>, _> = text.split(',').map(|id| id.trim().parse()).collect();
    if let Ok(ids) = ids {
        return Ok(At::from(Clock::from_ids(ids)));
    }
    text.parse::<At>().map_err(CliError::Time)
}

/// The AnkQL query of a command, parsed (so a mistake is reported as an invalid query,
/// with where it is).
pub fn selection(text: &str) -> Result<Selection, CliError> {
    Ok(parse_selection(text, &[])?)
}
