//! `ankurah history`: an entity's events in causal order.

use std::io::Write;

use ankurah::history::format_time;
use clap::Args;
use serde_json::json;

use super::EntityArgs;
use crate::output::{json_line, Cell, Style, Table, Tone};
use crate::CliError;

/// Print an entity's events in causal order: when, who, which properties.
#[derive(Debug, Args)]
#[command(after_help = "\
One row per event, parents before children: its id, its time (from the id, a hybrid
logical clock), its author (the identity that committed it), and the properties it changed;
a deletion says `(deleted)`. Pass an event id to `get --at` to see the entity right after
that event.

Examples:
  ankurah history album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --server ws://127.0.0.1:9797
  ankurah history album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --json --sled ./data")]
pub struct History {
    /// The entity, and where to read.
    #[command(flatten)]
    pub entity: EntityArgs,
}

impl History {
    /// Reads and prints the history.
    pub async fn run(self) -> Result<(), CliError> {
        let session = self.entity.source.open().await?;
        let history = session
            .collection(&self.entity.collection)
            .history(self.entity.id)
            .await?;
        let mut out = std::io::stdout().lock();
        if self.entity.json {
            for entry in &history {
                let parents: Vec<String> = entry.parent.iter().map(ToString::to_string).collect();
                json_line(
                    &mut out,
                    &json!({
                        "event": entry.id.to_string(),
                        "time": format_time(entry.time),
                        "author": entry.author,
                        "parent": parents,
                        "changed": entry.changed,
                        "deleted": entry.deleted,
                    }),
                )?;
            }
        } else {
            let mut table = Table::new(["event", "time", "author", "changed"]);
            for entry in &history {
                let changed = if entry.deleted {
                    Cell::toned("(deleted)", Tone::Removed)
                } else {
                    Cell::text(entry.changed.join(", "))
                };
                table.row(vec![
                    Cell::text(entry.id.to_string()),
                    Cell::text(format_time(entry.time)),
                    Cell::text(entry.author.clone()),
                    changed,
                ]);
            }
            table.print(&mut out, Style::detect())?;
        }
        out.flush().map_err(CliError::stdout)?;
        drop(out);
        session.close().await;
        Ok(())
    }
}
