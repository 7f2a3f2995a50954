//! `ankurah query`: one AnkQL query, printed as a table or JSON lines.

use std::io::Write;

use clap::Args;

use super::{parse_at, selection, QueryArgs};
use crate::connect::Source;
use crate::output::{entity_json, entity_table, json_line, Style};
use crate::CliError;

/// Run one AnkQL query and print the entities it selects.
#[derive(Debug, Args)]
#[command(after_help = "\
AnkQL: [predicate] [ORDER BY path [ASC|DESC], …] [LIMIT n], e.g.
  year >= 2000 AND artist IN ('Muse', 'Blur') ORDER BY year DESC LIMIT 10
  name LIKE 'The%'      meta.tags.first = 'rock'      rating IS NULL      (empty: everything)

Deleted entities are left out. --at answers as of a past moment (the same semantics, on
the states each entity had then).

Examples:
  ankurah query album --server ws://127.0.0.1:9797
  ankurah query album \"year > 2000 ORDER BY year\" --sled ./data
  ankurah query album \"artist = 'Muse'\" --json --postgres postgres://postgres@127.0.0.1/app
  ankurah query album \"year > 2000\" --at 2026-12-01T10:00:00Z --redb ./data.redb")]
pub struct Query {
    /// The collection and the query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// Answer as of this moment: RFC 3339, milliseconds since 1970, or event ids.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Where to read.
    #[command(flatten)]
    pub source: Source,
}

impl Query {
    /// Runs the query and prints its result.
    pub async fn run(self) -> Result<(), CliError> {
        let selection = selection(&self.query.query)?;
        let at = self.at.as_deref().map(parse_at).transpose()?;
        let session = self.source.open().await?;
        let collection = session.collection(&self.query.collection);
        let entities = match at {
            Some(at) => collection.fetch_at(selection, at).await?,
            None => collection.fetch(selection).await?,
        };
        let mut out = std::io::stdout().lock();
        if self.query.json {
            for entity in &entities {
                json_line(&mut out, &entity_json(entity))?;
            }
        } else {
            entity_table(&entities).print(&mut out, Style::detect())?;
        }
        out.flush().map_err(CliError::stdout)?;
        drop(out);
        session.close().await;
        Ok(())
    }
}
