//! `ankurah heads` and `ankurah events`: an entity's event DAG, as text or Graphviz dot.

use std::io::Write;

use ankurah::event::Event;
use ankurah::history::format_time;
use ankurah::EntityId;
use ankurah_core::Clock;
use clap::Args;
use serde_json::json;

use super::EntityArgs;
use crate::output::{json_line, Cell, Style, Table, Tone};
use crate::CliError;

/// Print an entity's head: its newest events.
#[derive(Debug, Args)]
#[command(after_help = "\
The head is the antichain of the entity's newest events: one id after sequential edits,
several while concurrent edits have not been built upon yet. Each is printed with its time.

Examples:
  ankurah heads album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --server ws://127.0.0.1:9797
  ankurah heads album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --json --sled ./data")]
pub struct Heads {
    /// The entity, and where to read.
    #[command(flatten)]
    pub entity: EntityArgs,
}

impl Heads {
    /// Reads and prints the head.
    pub async fn run(self) -> Result<(), CliError> {
        let session = self.entity.source.open().await?;
        let entity = session
            .collection(&self.entity.collection)
            .get(self.entity.id)
            .await?;
        let mut out = std::io::stdout().lock();
        if self.entity.json {
            let head: Vec<String> = entity.head.iter().map(ToString::to_string).collect();
            json_line(&mut out, &json!({ "head": head }))?;
        } else {
            let mut table = Table::new(["event", "time"]);
            for id in entity.head.iter() {
                table.row(vec![
                    Cell::text(id.to_string()),
                    Cell::text(format_time(id.time())),
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

/// Print an entity's events (the DAG), optionally as Graphviz dot.
#[derive(Debug, Args)]
#[command(after_help = "\
One row per event in id order (a linear extension of causal order): its id, time, author,
parents, and the property backends it carries operations for (`lww`, `yrs`, `tombstone`).
Events of the head are marked `*`. --dot prints the DAG for Graphviz instead: an edge from
each parent to its child, head events in bold.

Examples:
  ankurah events album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --server ws://127.0.0.1:9797
  ankurah events album 01JDZ7Q3M8W2Y5N6V9X0A1B2C3 --dot --sled ./data | dot -Tsvg > dag.svg")]
pub struct Events {
    /// The entity, and where to read.
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Graphviz dot instead of a table.
    #[arg(long, conflicts_with = "json")]
    pub dot: bool,
}

impl Events {
    /// Reads and prints the events.
    pub async fn run(self) -> Result<(), CliError> {
        let session = self.entity.source.open().await?;
        let collection = session.collection(&self.entity.collection);
        let head = collection.get(self.entity.id).await?.head;
        let events = collection.events(self.entity.id).await?;
        let mut out = std::io::stdout().lock();
        if self.dot {
            write!(out, "{}", dot(self.entity.id, &events, &head)).map_err(CliError::stdout)?;
        } else if self.entity.json {
            for event in &events {
                json_line(&mut out, &event_json(event, &head))?;
            }
        } else {
            let mut table = Table::new(["event", "time", "author", "parents", "operations"]);
            for event in &events {
                let id = match head.contains(&event.id) {
                    true => Cell::toned(format!("{} *", event.id), Tone::Header),
                    false => Cell::text(event.id.to_string()),
                };
                table.row(vec![
                    id,
                    Cell::text(format_time(event.id.time())),
                    Cell::text(event.author.clone()),
                    Cell::text(ids(&event.parent).join(",")),
                    Cell::text(backends(event)),
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

fn ids(clock: &Clock) -> Vec<String> {
    clock.iter().map(ToString::to_string).collect()
}

fn backends(event: &Event) -> String {
    let names: Vec<&str> = event.operations.keys().map(String::as_str).collect();
    names.join(",")
}

fn event_json(event: &Event, head: &Clock) -> serde_json::Value {
    json!({
        "event": event.id.to_string(),
        "time": format_time(event.id.time()),
        "author": event.author,
        "parent": ids(&event.parent),
        "operations": event.operations.keys().collect::<Vec<_>>(),
        "head": head.contains(&event.id),
    })
}

/// The DAG in Graphviz dot: a node per event (id, time, author, backends), an edge from
/// each parent to its child, head events in bold.
pub fn dot(entity: EntityId, events: &[Event], head: &Clock) -> String {
    let quote = |text: &str| text.replace('\\', "\\\\").replace('"', "\\\"");
    let mut dot = format!(
        "digraph \"{entity}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n"
    );
    for event in events {
        let style = if head.contains(&event.id) {
            ", style=bold"
        } else {
            ""
        };
        dot.push_str(&format!(
            "  \"{}\" [label=\"{}\\n{}\\n{}\\n{}\"{style}];\n",
            event.id,
            event.id,
            format_time(event.id.time()),
            quote(&event.author),
            quote(&backends(event)),
        ));
    }
    for event in events {
        for parent in event.parent.iter() {
            dot.push_str(&format!("  \"{parent}\" -> \"{}\";\n", event.id));
        }
    }
    dot.push_str("}\n");
    dot
}
