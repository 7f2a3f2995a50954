//! The `Album` model shared by the load example and the integration tests.
// Each example and test binary uses a different part of it.
#![allow(dead_code)]

use ankurah::Model;

/// An album: a collaborative-text title and last-writer-wins fields.
#[derive(Model, Debug, Clone)]
pub struct Album {
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

pub fn album(name: &str, artist: &str, year: i32) -> Album {
    Album {
        name: name.into(),
        artist: artist.into(),
        year,
    }
}
