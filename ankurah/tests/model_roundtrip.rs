//! Every supported field type survives create → commit → get (on `MemoryStorage`, and on sled
//! across closing and reopening the database), and the generated handles behave as documented.

use std::sync::Arc;

use ankurah::storage::MemoryStorage;
use ankurah::{
    Context, EntityId, Json, Model, MutationError, Node, PermissiveAgent, Property, PropertyError,
    Ref, DEFAULT_CONTEXT,
};
use serde::{Deserialize, Serialize};

#[derive(Model, Debug, Clone, PartialEq)]
pub struct Artist {
    pub name: String,
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Meta {
    pub tags: Vec<String>,
    pub rating: Option<u8>,
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Format {
    Vinyl,
    Cd { discs: u8 },
}

/// One field per supported type; `Option` both empty and set.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct Everything {
    pub text: String,
    #[active_type(LWW)]
    pub lww_text: String,
    pub flag: bool,
    pub i8: i8,
    pub i16: i16,
    pub i32: i32,
    pub i64: i64,
    pub isize: isize,
    pub u8: u8,
    pub u16: u16,
    pub u32: u32,
    pub u64: u64,
    pub usize: usize,
    pub f32: f32,
    pub f64: f64,
    pub bytes: Vec<u8>,
    pub entity: EntityId,
    pub json: Json,
    pub some: Option<i32>,
    pub none: Option<String>,
    pub artist: Ref<Artist>,
    pub meta: Meta,
    pub format: Format,
}

impl Everything {
    /// Values at the edges of each type.
    fn extremes(artist: Ref<Artist>) -> Self {
        Everything {
            text: "naïve 🎵 text".into(),
            lww_text: String::new(),
            flag: true,
            i8: i8::MIN,
            i16: i16::MAX,
            i32: i32::MIN,
            i64: i64::MIN,
            isize: isize::MAX,
            u8: u8::MAX,
            u16: u16::MAX,
            u32: u32::MAX,
            u64: i64::MAX as u64,
            usize: 0,
            f32: 1.5e-3,
            f64: -0.1,
            bytes: vec![0, 255, 1],
            entity: EntityId::new(),
            json: Json(serde_json::json!({"nested": [1, "two", null], "deep": {"x": 1.5}})),
            some: Some(-7),
            none: None,
            artist,
            meta: Meta {
                tags: vec!["rock".into(), "live".into()],
                rating: None,
            },
            format: Format::Cd { discs: 2 },
        }
    }

    /// What a view reads back.
    fn read(view: &EverythingView) -> Result<Self, PropertyError> {
        Ok(Everything {
            text: view.text()?,
            lww_text: view.lww_text()?,
            flag: view.flag()?,
            i8: view.i8()?,
            i16: view.i16()?,
            i32: view.i32()?,
            i64: view.i64()?,
            isize: view.isize()?,
            u8: view.u8()?,
            u16: view.u16()?,
            u32: view.u32()?,
            u64: view.u64()?,
            usize: view.usize()?,
            f32: view.f32()?,
            f64: view.f64()?,
            bytes: view.bytes()?,
            entity: view.entity()?,
            json: view.json()?,
            some: view.some()?,
            none: view.none()?,
            artist: view.artist()?,
            meta: view.meta()?,
            format: view.format()?,
        })
    }
}

/// A client-side flag on the view, never stored.
#[derive(Model)]
pub struct Track {
    pub title: String,
    #[model(ephemeral)]
    pub playing: bool,
}

async fn context() -> Context {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), PermissiveAgent::new());
    node.system
        .create()
        .await
        .expect("memory storage cannot fail");
    node.context(DEFAULT_CONTEXT)
        .expect("the permissive agent allows every context")
}

async fn create<M: Model>(ctx: &Context, model: &M) -> EntityId {
    let trx = ctx.begin();
    let id = ankurah::Mutable::id(&trx.create(model).await.expect("create"));
    trx.commit().await.expect("commit");
    id
}

#[tokio::test]
async fn every_field_type_survives_reopening_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let open = async || {
        let storage = ankurah_storage_sled::SledStorage::open(dir.path()).expect("sled opens");
        let node = Node::new_durable(Arc::new(storage), PermissiveAgent::new());
        node.system.create().await.expect("a system");
        node.context(DEFAULT_CONTEXT).expect("permissive")
    };
    let ctx = open().await;
    let artist = Ref::new(
        create(
            &ctx,
            &Artist {
                name: "Muse".into(),
            },
        )
        .await,
    );
    let stored = Everything::extremes(artist);
    let id = create(&ctx, &stored).await;
    drop(ctx);

    let ctx = open().await;
    let view: EverythingView = ctx.get(id).await.expect("the entity is still there");
    assert_eq!(Everything::read(&view).unwrap(), stored);
    let found: Vec<EverythingView> = ctx
        .fetch("i8 = -128 AND meta.tags.0 = 'rock'")
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "and queryable");
}

#[tokio::test]
async fn every_field_type_survives_a_commit() {
    let ctx = context().await;
    let artist = Ref::new(
        create(
            &ctx,
            &Artist {
                name: "Muse".into(),
            },
        )
        .await,
    );
    let stored = Everything::extremes(artist);
    let id = create(&ctx, &stored).await;

    let view: EverythingView = ctx.get(id).await.unwrap();
    assert_eq!(Everything::read(&view).unwrap(), stored);
    assert_eq!(view.id(), id);
}

#[tokio::test]
async fn a_ref_gets_the_referenced_view() {
    let ctx = context().await;
    let artist = Ref::new(
        create(
            &ctx,
            &Artist {
                name: "Muse".into(),
            },
        )
        .await,
    );
    let id = create(&ctx, &Everything::extremes(artist)).await;

    let view: EverythingView = ctx.get(id).await.unwrap();
    let artist: ArtistView = view.artist().unwrap().get(&ctx).await.unwrap();
    assert_eq!(artist.name().unwrap(), "Muse");
}

#[tokio::test]
async fn edits_apply_through_the_active_types() {
    let ctx = context().await;
    let trx = ctx.begin();
    let album = trx
        .create(&Everything::extremes(Ref::new(EntityId::new())))
        .await
        .unwrap();
    album.text().replace("Origin").unwrap();
    album.text().insert(0, "The ").unwrap();
    album.i32().set(&2001).unwrap();
    // `read()` sees the transaction's own writes before the commit.
    assert_eq!(album.read().text().unwrap(), "The Origin");
    let id = album.id();
    trx.commit().await.unwrap();

    let view: EverythingView = ctx.get(id).await.unwrap();
    let trx = ctx.begin();
    view.edit(&trx).unwrap().i32().set(&2002).unwrap();
    view.edit(&trx).unwrap().some().set(&None).unwrap();
    trx.commit().await.unwrap();
    // Views are live: the same view reads the new state.
    assert_eq!(
        (
            view.text().unwrap(),
            view.i32().unwrap(),
            view.some().unwrap()
        ),
        ("The Origin".into(), 2002, None)
    );

    let trx = ctx.begin();
    view.delete(&trx).unwrap();
    trx.commit().await.unwrap();
    assert!(ctx.get::<EverythingView>(id).await.is_err());
    assert!(matches!(
        view.edit(&ctx.begin()),
        Err(MutationError::Deleted { .. })
    ));
}

#[tokio::test]
async fn values_a_property_cannot_hold_are_refused_with_its_name() {
    let ctx = context().await;
    let mut too_big = Everything::extremes(Ref::new(EntityId::new()));
    too_big.u64 = u64::MAX;
    let error = ctx.begin().create(&too_big).await.unwrap_err();
    assert!(error.to_string().contains("`u64`"), "{error}");
}

#[tokio::test]
async fn ephemeral_fields_live_on_the_view_only() {
    let ctx = context().await;
    assert_eq!(
        Track::properties()
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>(),
        ["title"]
    );
    let id = create(
        &ctx,
        &Track {
            title: "Bliss".into(),
            playing: true,
        },
    )
    .await;

    let mut view: TrackView = ctx.get(id).await.unwrap();
    assert!(!view.playing, "a view starts with the default");
    view.playing = true;
    assert!(
        !ctx.get::<TrackView>(id).await.unwrap().playing,
        "and keeps its value to itself"
    );
    assert_eq!(
        format!("{view:?}"),
        format!("TrackView {{ id: {id}, title: 'Bliss' }}")
    );
}
