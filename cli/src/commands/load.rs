//! `ankurah load`: a dump (see [`crate::archive`]) into a local store.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use ankurah::storage::{CommitBatch, StorageEngine, StoredState};
use clap::Args;
use indicatif::ProgressBar;

use crate::archive::{Counts, DumpError, DumpReader};
use crate::output::progress;
use crate::store::{Mode, StoreArgs};
use crate::CliError;

/// Entities per commit.
const BATCH_ENTITIES: usize = 500;
/// Events per commit, at most (an entity with more goes in a commit of its own).
const BATCH_EVENTS: usize = 20_000;

/// Read a dump into a local store.
#[derive(Debug, Args)]
#[command(after_help = "\
Reads a dump written by `ankurah dump` (FILE, or `-` for standard input) into the store,
which is created if missing, in atomic commits of up to 500 entities. States are stored as
they were dumped (byte for byte) with all their events; an entity the store already holds
is merged with it, as a sync would, so loading twice changes nothing. The store takes the
dump's system id when it has none; a store of another system is refused.

The whole dump is checked as it is read: another format version, a malformed line or a
dump cut short stops the load with the line named. What was committed before stays (it is
consistent: each commit is whole entities with all their events); fix the dump and load it
again.

Examples:
  ankurah load --postgres postgres://postgres@127.0.0.1/app data.dump
  ankurah load --sled ./copy data.dump
  ankurah dump --sled ./data | ankurah load --redb ./copy.redb -")]
pub struct Load {
    /// The store to load into (created if missing).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The dump file; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

impl Load {
    /// Loads the dump and says on standard error what it held.
    pub async fn run(self) -> Result<(), CliError> {
        let store = self.store.open(Mode::Create).await?;
        let name = self.file.display().to_string();
        let (counts, bar) = if name == "-" {
            let bar = progress(None, "loading");
            let input = std::io::stdin().lock();
            (load(store.engine(), &name, input, &bar).await?, bar)
        } else {
            let file = std::fs::File::open(&self.file).map_err(|source| CliError::Io {
                what: format!("opening {name}"),
                source,
            })?;
            let size = file.metadata().ok().map(|m| m.len());
            let bytes = progress(size, "loading");
            let input = BufReader::with_capacity(1 << 16, bytes.wrap_read(file));
            // Entities are counted on a hidden bar: this one counts bytes.
            (
                load(store.engine(), &name, input, &ProgressBar::hidden()).await?,
                bytes,
            )
        };
        bar.finish_and_clear();
        eprintln!("loaded {counts} into {}", self.store.describe());
        Ok(())
    }
}

/// Loads the dump `input` (named `file` in errors) into `engine`; advances `bar` per
/// entity. Returns what the dump held.
pub async fn load(
    engine: &dyn StorageEngine,
    file: &str,
    input: impl BufRead,
    bar: &ProgressBar,
) -> Result<Counts, CliError> {
    let dump_error = |source: DumpError| CliError::Dump {
        file: file.to_owned(),
        source,
    };
    let mut reader = DumpReader::new(input).map_err(dump_error)?;
    if let Some(dump) = reader.header().system {
        match engine.system_id().await? {
            None => engine.set_system_id(dump).await?,
            Some(store) if store == dump => {}
            Some(store) => return Err(CliError::OtherSystem { dump, store }),
        }
    }
    let mut batch = CommitBatch::default();
    let mut entities = 0;
    while let Some(entity) = reader.next() {
        let entity = entity.map_err(dump_error)?;
        let state = StoredState::from_state(entity.state).map_err(|e| {
            dump_error(DumpError::Malformed {
                line: reader.line(),
                reason: format!("the state does not load: {e}"),
            })
        })?;
        if entities > 0
            && (entities == BATCH_ENTITIES
                || batch.events.len() + entity.events.len() > BATCH_EVENTS)
        {
            engine.commit(std::mem::take(&mut batch)).await?;
            entities = 0;
        }
        batch.states.push(state);
        batch.events.extend(entity.events);
        entities += 1;
        bar.inc(1);
    }
    if entities > 0 {
        engine.commit(batch).await?;
    }
    Ok(reader.counts())
}
