//! `ankurah dump`: every entity of a local store, with its events, in the portable format of
//! [`crate::archive`].

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use ankurah::storage::StorageEngine;
use ankurah::CollectionId;
use clap::Args;
use indicatif::ProgressBar;

use crate::archive::{Counts, DumpError, DumpWriter, Header};
use crate::output::progress;
use crate::store::{Mode, StoreArgs};
use crate::CliError;

/// States read from the engine per call.
const PAGE: usize = 500;

/// Write every entity of a local store, with its events, to a portable file.
#[derive(Debug, Args)]
#[command(after_help = "\
The dump is JSON lines: a header ({\"format\":\"ankurah-dump\",\"version\":1,…}), then per
entity its collection, id, state and every stored event (the engine-neutral encodings, in
base64), then a trailer with the counts. Deleted entities are included (their tombstones
must reach the new store too). `ankurah load` reads it into any engine, so this is how data
moves between sled, redb and Postgres. Stop a sled or redb server first (one process at a
time); a Postgres store can be dumped while served.

Examples:
  ankurah dump --sled ./data --out data.dump
  ankurah dump --postgres postgres://postgres@127.0.0.1/app --collection album > albums.dump
  ankurah dump --sled ./data | ankurah load --redb ./copy.redb -")]
pub struct Dump {
    /// The store to dump.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Dump only this collection (repeat for more); all of them by default.
    #[arg(long, value_name = "NAME")]
    pub collection: Vec<String>,
}

impl Dump {
    /// Writes the dump and says on standard error what it holds.
    pub async fn run(self) -> Result<(), CliError> {
        let store = self.store.open(Mode::Existing).await?;
        let collections: Vec<CollectionId> = self
            .collection
            .iter()
            .map(|c| CollectionId::from(c.as_str()))
            .collect();
        let filter = (!collections.is_empty()).then_some(collections.as_slice());
        let bar = progress(None, "dumping");
        let source = self.store.describe();
        let counts = match &self.out {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|source| CliError::Io {
                    what: format!("creating {}", path.display()),
                    source,
                })?;
                let name = path.display().to_string();
                dump(store.engine(), &source, &name, file, filter, &bar).await?
            }
            None => {
                let stdout = std::io::stdout().lock();
                dump(store.engine(), &source, "-", stdout, filter, &bar).await?
            }
        };
        bar.finish_and_clear();
        eprintln!("dumped {counts} from {source}");
        Ok(())
    }
}

/// Dumps the collections of `engine` (those in `only`, or all) to `out`; `file` names the
/// output in errors and `source` the store in the header. Advances `bar` per entity.
pub async fn dump(
    engine: &dyn StorageEngine,
    source: &str,
    file: &str,
    out: impl Write,
    only: Option<&[CollectionId]>,
    bar: &ProgressBar,
) -> Result<Counts, CliError> {
    let dump_error = |source: DumpError| CliError::Dump {
        file: file.to_owned(),
        source,
    };
    let system = engine.system_id().await?;
    let header = Header::new(system, source);
    let mut writer =
        DumpWriter::new(BufWriter::with_capacity(1 << 16, out), &header).map_err(dump_error)?;
    let mut collections = match only {
        Some(only) => only.to_vec(),
        None => engine.collections().await?,
    };
    collections.sort();
    for id in collections {
        let collection = engine.collection(&id).await?;
        let mut after = None;
        loop {
            let page = collection.scan_states(after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = Some(last.entity_id);
            for state in &page {
                let events = collection.dump_entity_events(state.entity_id).await?;
                writer.entity(state, &events).map_err(dump_error)?;
                bar.inc(1);
            }
            if page.len() < PAGE {
                break;
            }
        }
    }
    writer.finish().map_err(dump_error)
}
