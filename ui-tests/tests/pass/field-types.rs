//! Every supported field type gets a getter returning it and an accessor returning its
//! active type: `YrsString` for `String`, `LWW` for the rest.
#![deny(warnings)]

use ankurah::{EntityId, Json, Model, Property, Ref, YrsString, LWW};
use serde::{Deserialize, Serialize};

#[derive(Model)]
pub struct Artist {
    pub name: String,
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Meta {
    pub tags: Vec<String>,
}

#[derive(Property, Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Format {
    Vinyl,
    Cd { discs: u8 },
}

#[derive(Model)]
pub struct Everything {
    pub text: String,
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
    pub maybe: Option<i32>,
    pub maybe_text: Option<String>,
    pub artist: Ref<Artist>,
    pub meta: Meta,
    pub format: Format,
    pub qualified: std::string::String,
}

fn getters(view: &EverythingView) -> Result<(), ankurah::PropertyError> {
    let _: String = view.text()?;
    let _: bool = view.flag()?;
    let _: (i8, i16, i32, i64, isize) = (view.i8()?, view.i16()?, view.i32()?, view.i64()?, view.isize()?);
    let _: (u8, u16, u32, u64, usize) = (view.u8()?, view.u16()?, view.u32()?, view.u64()?, view.usize()?);
    let _: (f32, f64) = (view.f32()?, view.f64()?);
    let _: Vec<u8> = view.bytes()?;
    let _: EntityId = view.entity()?;
    let _: Json = view.json()?;
    let _: Option<i32> = view.maybe()?;
    let _: Option<String> = view.maybe_text()?;
    let _: Ref<Artist> = view.artist()?;
    let _: Meta = view.meta()?;
    let _: Format = view.format()?;
    let _: String = view.qualified()?;
    Ok(())
}

fn accessors(edit: &EverythingMut<'_>) {
    let _: YrsString<String> = edit.text();
    let _: LWW<bool> = edit.flag();
    let _: LWW<i8> = edit.i8();
    let _: LWW<u64> = edit.u64();
    let _: LWW<f32> = edit.f32();
    let _: LWW<Vec<u8>> = edit.bytes();
    let _: LWW<EntityId> = edit.entity();
    let _: LWW<Json> = edit.json();
    let _: LWW<Option<i32>> = edit.maybe();
    // Only a field spelled exactly `String` defaults to collaborative text.
    let _: LWW<Option<String>> = edit.maybe_text();
    let _: LWW<Ref<Artist>> = edit.artist();
    let _: LWW<Meta> = edit.meta();
    let _: LWW<Format> = edit.format();
    let _: YrsString<String> = edit.qualified();
}

fn main() {
    let _ = (getters, accessors);
    let names: Vec<&str> = <Everything as ankurah::Model>::properties().iter().map(|p| p.name).collect();
    assert_eq!(names.len(), 23);
    assert_eq!(names[0], "text");
    assert_eq!(<Everything as ankurah::Model>::collection().as_str(), "everything");
}
