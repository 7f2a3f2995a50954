//! A hand-written model, as `#[derive(Model)]` would generate it, so the core crate can test
//! itself without the derive crate.
#![allow(dead_code)]

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ankurah_core::model::{Model, Mutable, PropertyDescriptor, View};
use ankurah_core::property::ActiveType;
use ankurah_core::{CollectionId, Entity, PropertyError, Transaction, ValueType, YrsString, LWW};

#[derive(Debug, Clone, PartialEq)]
pub struct Album {
    pub name: String,
    pub artist: String,
    pub year: i32,
}

#[derive(Clone, Debug)]
pub struct AlbumView(Arc<Entity>);

#[derive(Debug)]
pub struct AlbumMut<'t>(Arc<Entity>, PhantomData<&'t Transaction>);

static PROPERTIES: [PropertyDescriptor; 3] = [
    PropertyDescriptor {
        name: "name",
        backend: "yrs",
        value_type: ValueType::String,
        optional: false,
        type_name: "String",
    },
    PropertyDescriptor {
        name: "artist",
        backend: "lww",
        value_type: ValueType::String,
        optional: false,
        type_name: "String",
    },
    PropertyDescriptor {
        name: "year",
        backend: "lww",
        value_type: ValueType::I64,
        optional: false,
        type_name: "i32",
    },
];

impl Model for Album {
    type View = AlbumView;
    type Mutable<'t> = AlbumMut<'t>;
    fn collection() -> CollectionId {
        "album".into()
    }
    fn properties() -> &'static [PropertyDescriptor] {
        &PROPERTIES
    }
    fn initialize(&self, entity: &Entity) -> Result<(), PropertyError> {
        YrsString::<String>::write(entity, "name", &self.name)?;
        LWW::<String>::write(entity, "artist", &self.artist)?;
        LWW::<i32>::write(entity, "year", &self.year)
    }
}

impl View for AlbumView {
    type Model = Album;
    fn from_entity(entity: Arc<Entity>) -> Self {
        AlbumView(entity)
    }
    fn entity(&self) -> &Arc<Entity> {
        &self.0
    }
}

impl AlbumView {
    pub fn name(&self) -> Result<String, PropertyError> {
        YrsString::<String>::read(&self.0, "name")
    }
    pub fn artist(&self) -> Result<String, PropertyError> {
        LWW::<String>::read(&self.0, "artist")
    }
    pub fn year(&self) -> Result<i32, PropertyError> {
        LWW::<i32>::read(&self.0, "year")
    }
}

impl<'t> Mutable<'t> for AlbumMut<'t> {
    type Model = Album;
    fn new(entity: Arc<Entity>, _trx: &'t Transaction) -> Self {
        AlbumMut(entity, PhantomData)
    }
    fn entity(&self) -> &Arc<Entity> {
        &self.0
    }
}

impl AlbumMut<'_> {
    pub fn name(&self) -> YrsString<String> {
        YrsString::bind(self.0.clone(), "name")
    }
    pub fn artist(&self) -> LWW<String> {
        LWW::bind(self.0.clone(), "artist")
    }
    pub fn year(&self) -> LWW<i32> {
        LWW::bind(self.0.clone(), "year")
    }
}

pub fn album(name: &str, artist: &str, year: i32) -> Album {
    Album {
        name: name.into(),
        artist: artist.into(),
        year,
    }
}

/// The state `storage` holds for album `id`.
pub async fn stored_state(
    storage: &dyn ankurah_core::storage::StorageEngine,
    id: ankurah_core::EntityId,
) -> ankurah_core::state::EntityState {
    storage
        .collection(&Album::collection())
        .await
        .unwrap()
        .get_state(id)
        .await
        .unwrap()
        .expect("a stored state")
}

/// The events `storage` holds for album `id`, in id order.
pub async fn stored_events(
    storage: &dyn ankurah_core::storage::StorageEngine,
    id: ankurah_core::EntityId,
) -> Vec<ankurah_core::Event> {
    storage
        .collection(&Album::collection())
        .await
        .unwrap()
        .dump_entity_events(id)
        .await
        .unwrap()
}

/// Refuses any write that gives an album the artist "Nickelback".
#[derive(Debug)]
pub struct NoNickelback;

impl ankurah_core::policy::PolicyAgent for NoNickelback {
    fn check_write(
        &self,
        _cx: &ankurah_core::policy::ContextData,
        event: &ankurah_core::Event,
        _before: Option<&Entity>,
    ) -> Result<(), ankurah_core::AccessDenied> {
        let lww = event
            .operations
            .get("lww")
            .map(|b| b.as_ref())
            .unwrap_or_default();
        match lww.windows(10).any(|w| w == b"Nickelback") {
            true => Err(ankurah_core::AccessDenied(
                "that artist is not allowed".into(),
            )),
            false => Ok(()),
        }
    }
}

/// Waits (up to a generous 10 s) until `done` holds. Subscriber callbacks run after `commit`
/// returns, on another thread, so tests wait for them instead of assuming they ran.
pub async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Creates and commits one album.
pub async fn create(ctx: &ankurah_core::Context, name: &str, year: i32) -> ankurah_core::EntityId {
    let trx = ctx.begin();
    let id = trx.create(&album(name, "artist", year)).await.unwrap().id();
    trx.commit().await.unwrap();
    id
}

/// Sets the year of album `id` in a transaction of its own.
pub async fn set_year(ctx: &ankurah_core::Context, id: ankurah_core::EntityId, year: i32) {
    let view = ctx.get::<AlbumView>(id).await.unwrap();
    let trx = ctx.begin();
    trx.edit::<Album>(&view).unwrap().year().set(&year).unwrap();
    trx.commit().await.unwrap();
}

/// The change sets a listener received, each as (kind, album name) pairs.
pub type Log = Arc<parking_lot::Mutex<Vec<Vec<(ankurah_core::ChangeKind, String)>>>>;

/// Subscribes a listener that records every change set of `query`.
pub fn record(
    query: &ankurah_core::LiveQuery<AlbumView>,
) -> (Log, ankurah_core::signals::SubscriptionGuard) {
    use ankurah_core::signals::Subscribe;
    let log: Log = Arc::default();
    let sink = log.clone();
    let guard = query.subscribe(move |changes: ankurah_core::ChangeSet<AlbumView>| {
        let entry = changes
            .changes
            .iter()
            .map(|c| (c.kind(), c.entity().name().unwrap_or_default()))
            .collect();
        sink.lock().push(entry);
    });
    (log, guard)
}
