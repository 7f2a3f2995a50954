//! `ankurah watch`: a live query, its first result and then every change as it arrives.

use std::io::Write;

use ankurah::changes::{ChangeKind, ChangeSet};
use ankurah::dynamic::EntityMap;
use ankurah::history::format_time;
use clap::Args;
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::QueryArgs;
use crate::connect::Source;
use crate::output::{entity_json, json_line, value_json, Style, Tone};
use crate::CliError;

/// Print a query's entities, then every change to them as it happens.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints one line per entity of the first result (`initial`), then one line per change of
each committed transaction anywhere: `add` (entered the result), `update` (new values),
`remove` (left it: no longer matches, deleted, or pushed out of the LIMIT), each followed by
`-- N rows` with the size of the result after it. Runs until Ctrl-C or until standard input
closes (so `… | ankurah watch …` ends with its writer).

With --json each change is {\"change\":\"add\",\"entity\":{…}} and each transaction ends
with {\"rows\":N,\"at\":\"…\"}.

Examples:
  ankurah watch album --server ws://127.0.0.1:9797
  ankurah watch album \"year >= 2000 ORDER BY year DESC LIMIT 5\" --server ws://127.0.0.1:9797 --json")]
pub struct Watch {
    /// The collection and the query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Where to read (a server, to see what others commit; a local store sees only this
    /// process's own writes).
    #[command(flatten)]
    pub source: Source,
}

impl Watch {
    /// Prints changes until Ctrl-C or the end of standard input.
    pub async fn run(self) -> Result<(), CliError> {
        let selection = super::selection(&self.query.query)?;
        let session = self.source.open().await?;
        let collection = session.collection(&self.query.collection);
        if self.source.server.is_some() {
            // A client node's live query starts from what it holds: fetch first, so the
            // first result printed is the server's, as `initial` lines.
            collection.fetch(selection.clone()).await?;
        }
        let (send, mut changes) = tokio::sync::mpsc::unbounded_channel();
        let guard = collection
            .subscribe(selection, move |set: ChangeSet<EntityMap>| {
                // The receiver is gone only when the command is ending.
                let _ = send.send(set);
            })
            .await?;
        eprintln!(
            "watching {} (Ctrl-C or end of input stops)",
            self.query.collection
        );
        let style = Style::detect();
        let stdin_closed = async {
            let mut stdin = tokio::io::stdin();
            let mut buffer = [0u8; 1024];
            while let Ok(read) = stdin.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
            }
        };
        tokio::pin!(stdin_closed);
        loop {
            tokio::select! {
                set = changes.recv() => match set {
                    Some(set) => self.print(&set, style)?,
                    None => break,
                },
                _ = tokio::signal::ctrl_c() => break,
                _ = &mut stdin_closed => break,
            }
        }
        drop(guard);
        session.close().await;
        Ok(())
    }

    fn print(&self, set: &ChangeSet<EntityMap>, style: Style) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        for change in &set.changes {
            let (word, tone) = match change.kind() {
                ChangeKind::Initial => ("initial", Tone::Dim),
                ChangeKind::Add => ("add", Tone::Added),
                ChangeKind::Update => ("update", Tone::Changed),
                ChangeKind::Remove => ("remove", Tone::Removed),
            };
            let entity = change.entity();
            if self.query.json {
                json_line(
                    &mut out,
                    &json!({"change": word, "entity": entity_json(entity)}),
                )?;
            } else {
                let values: Vec<String> = entity
                    .values
                    .iter()
                    .map(|(name, value)| format!("{name}={}", value_json(value)))
                    .collect();
                writeln!(
                    out,
                    "{} {} {}",
                    style.paint(tone, &format!("{word:<7}")),
                    entity.id,
                    values.join(" ")
                )
                .map_err(CliError::stdout)?;
            }
        }
        let now = format_time(std::time::SystemTime::now());
        if self.query.json {
            json_line(&mut out, &json!({"rows": set.resultset.len(), "at": now}))?;
        } else {
            let rows = format!("-- {} rows at {now}", set.resultset.len());
            writeln!(out, "{}", style.paint(Tone::Dim, &rows)).map_err(CliError::stdout)?;
        }
        out.flush().map_err(CliError::stdout)
    }
}
