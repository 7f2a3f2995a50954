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
use ankurah::EventId;
use ankurah_core::history::At;
use ankurah_core::Clock;

use crate::CliError;

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
