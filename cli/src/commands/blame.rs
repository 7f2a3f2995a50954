//! `ankurah blame`: per property, the event that gave it its current value.

use std::io::Write;

use ankurah::history::format_time;
use clap::Args;
use serde_json::json;

use super::EntityArgs;
use crate::output::{json_line, value_json, Cell, Style, Table};
use crate::CliError;

/// Print, per property, the event that gave it its current value.
#[derive(Debug, Args)]
#[command(after_help = "\
One row per property: its current value, and the event that set it (id, time, author). For
collaborative text, every event that touched the text counts: `touched` says how many there
are (--json lists them), and the event shown is the latest of them.

Examples:
  ankurah blame album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --server ws://127.0.0.1:9797
  ankurah blame album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --json --sled ./data")]
pub struct Blame {
    /// The entity, and where to read.
    #[command(flatten)]
    pub entity: EntityArgs,
}

impl Blame {
    /// Reads and prints the blame.
    pub async fn run(self) -> Result<(), CliError> {
        let session = self.entity.source.open().await?;
        let collection = session.collection(&self.entity.collection);
        let entity = collection.get(self.entity.id).await?;
        let blame = collection.blame(self.entity.id).await?;
        let mut out = std::io::stdout().lock();
        if self.entity.json {
            for line in &blame {
                let touched: Vec<String> = line.touched.iter().map(ToString::to_string).collect();
                let value = entity.values.get(&line.property).map(value_json);
                json_line(
                    &mut out,
                    &json!({
                        "property": line.property,
                        "value": value,
                        "event": line.event.to_string(),
                        "time": format_time(line.time),
                        "author": line.author,
                        "touched": touched,
                    }),
                )?;
            }
        } else {
            let mut table = Table::new(["property", "value", "event", "time", "author", "touched"]);
            for line in &blame {
                table.row(vec![
                    Cell::text(line.property.clone()),
                    Cell::value(entity.values.get(&line.property)),
                    Cell::text(line.event.to_string()),
                    Cell::text(format_time(line.time)),
                    Cell::text(line.author.clone()),
                    Cell::text(line.touched.len().to_string()),
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
