//! `ankurah explain`: how a local store would run a query.

use std::io::Write;

use ankurah::CollectionId;
use clap::Args;

use super::QueryArgs;
use crate::output::{json_line, Style, Tone};
use crate::store::{Mode, StoreArgs};
use crate::CliError;

/// Show how a local store would run a query: which index, how many candidates.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints the engine, the index the candidates come from (none: a scan of every state), how
many entries that reads before the predicate is checked on each (Postgres: the planner's
estimate), and the plan in the engine's words. Like a query, it first creates the indexes
the query would use, so what it shows is what the query then does.

sled and redb plan with the same planner: an equality on the first ORDER BY property, then
any equality, then a range on the first ORDER BY property, then (with a LIMIT) a walk of
that property's index, then any range, else a scan. Postgres answers with EXPLAIN.

Examples:
  ankurah explain album \"year > 1990 ORDER BY year LIMIT 5\" --sled ./data
  ankurah explain album \"artist = 'Muse'\" --json --postgres postgres://postgres@127.0.0.1/app")]
pub struct Explain {
    /// The collection and the query.
    #[command(flatten)]
    pub query: QueryArgs,
    /// The store (explain reads it directly).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Not accepted: a server does not explain its plans.
    #[arg(long, value_name = "URL", hide = true)]
    pub server: Option<String>,
}

impl Explain {
    /// Plans the query and prints the plan.
    pub async fn run(self) -> Result<(), CliError> {
        if self.server.is_some() {
            return Err(CliError::NeedsStore { command: "explain" });
        }
        let selection = super::selection(&self.query.query)?;
        let store = self.store.open(Mode::Existing).await?;
        let collection = store
            .engine()
            .collection(&CollectionId::from(self.query.collection.as_str()))
            .await?;
        let plan = collection.explain(&selection).await?;
        let mut out = std::io::stdout().lock();
        if self.query.json {
            let value = serde_json::to_value(&plan).map_err(|e| CliError::stdout(e.into()))?;
            json_line(&mut out, &value)?;
        } else {
            let candidates = match plan.estimated {
                true => format!("~{} (estimated)", plan.candidates),
                false => plan.candidates.to_string(),
            };
            let index = plan.index.as_deref().unwrap_or("none (scan)");
            let style = Style::detect();
            for (name, value) in [
                ("engine", plan.engine),
                ("index", index),
                ("candidates", &candidates),
            ] {
                let name = style.paint(Tone::Header, &format!("{name:<11}"));
                writeln!(out, "{name}{value}").map_err(CliError::stdout)?;
            }
            writeln!(out, "{}", plan.detail).map_err(CliError::stdout)?;
        }
        out.flush().map_err(CliError::stdout)
    }
}
