//! `ankurah get`: one entity, now or as of a past moment.

use std::io::Write;

use ankurah::dynamic::EntityMap;
use clap::Args;

use super::{parse_at, EntityArgs};
use crate::output::{entity_json, json_line, Cell, Style, Table, Tone};
use crate::CliError;

/// Print one entity, now or as of a past moment.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints each property and its value, then the entity's head (its newest events). With --at
it is the state after exactly the events up to that moment (or that clock): the property
values the entity had then, whatever happened since.

Examples:
  ankurah get album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --server ws://127.0.0.1:9797
  ankurah get album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --at 2026-12-01T10:00:00Z --sled ./data
  ankurah get album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --at 1764583200000 --json --sled ./data
  ankurah get album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --at 01JDZ7Q3M8W2Y5N6V9X0A1B2C4 --sled ./data")]
pub struct Get {
    /// The entity, and where to read.
    #[command(flatten)]
    pub entity: EntityArgs,
    /// As of this moment: RFC 3339, milliseconds since 1970, or event ids separated by
    /// commas.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

impl Get {
    /// Reads and prints the entity.
    pub async fn run(self) -> Result<(), CliError> {
        let at = self.at.as_deref().map(parse_at).transpose()?;
        let session = self.entity.source.open().await?;
        let collection = session.collection(&self.entity.collection);
        let entity = match at {
            Some(at) => collection.get_at(self.entity.id, at).await?,
            None => collection.get(self.entity.id).await?,
        };
        let mut out = std::io::stdout().lock();
        if self.entity.json {
            json_line(&mut out, &entity_json(&entity))?;
        } else {
            property_table(&entity).print(&mut out, Style::detect())?;
        }
        out.flush().map_err(CliError::stdout)?;
        drop(out);
        session.close().await;
        Ok(())
    }
}

/// One row per property, then the head (and whether it was deleted).
fn property_table(entity: &EntityMap) -> Table {
    let mut table = Table::new(["property", "value"]).uncounted();
    for (name, value) in &entity.values {
        table.row(vec![Cell::text(name.clone()), Cell::value(Some(value))]);
    }
    let head: Vec<String> = entity.head.iter().map(ToString::to_string).collect();
    table.row(vec![
        Cell::toned("(head)", Tone::Dim),
        Cell::toned(head.join(","), Tone::Dim),
    ]);
    if entity.deleted {
        table.row(vec![
            Cell::toned("(deleted)", Tone::Removed),
            Cell::toned("true", Tone::Removed),
        ]);
    }
    table
}
