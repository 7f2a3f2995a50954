//! Every attribute: `#[active_type(..)]` overrides, `#[model(ephemeral)]`,
//! `#[model(collection = "..")]`, and doc comments carried onto generated items.
#![deny(warnings, missing_docs)]

use ankurah::{Model, PropertyDescriptor, ValueType, View, YrsString, LWW};

/// A record.
#[derive(Model)]
#[model(collection = "records")]
pub struct Album {
    /// The title, edited collaboratively.
    #[active_type(YrsString)]
    pub name: String,
    /// Replaced as a whole.
    #[active_type(LWW)]
    pub artist: String,
    /// Explicitly the default.
    #[active_type(LWW)]
    pub year: Option<i32>,
    /// Which row of a list is selected: client state, never stored.
    #[model(ephemeral)]
    pub selected: bool,
    /// Any `Clone + Default` type can be ephemeral, stored types or not.
    #[model(ephemeral)]
    pub notes: std::collections::HashMap<String, Vec<String>>,
}

/// Only ephemeral fields: the entity itself is the data.
#[derive(Model)]
pub struct Marker {
    /// Client-side.
    #[model(ephemeral)]
    pub seen: bool,
}

fn main() {
    assert_eq!(<Album as Model>::collection().as_str(), "records");
    assert_eq!(
        <Album as Model>::properties(),
        [
            PropertyDescriptor { name: "name", backend: "yrs", value_type: ValueType::String, optional: false, type_name: "String" },
            PropertyDescriptor { name: "artist", backend: "lww", value_type: ValueType::String, optional: false, type_name: "String" },
            PropertyDescriptor { name: "year", backend: "lww", value_type: ValueType::I64, optional: true, type_name: "Option<i32>" },
        ]
    );
    assert!(<Marker as Model>::properties().is_empty());
    assert_eq!(<Marker as Model>::collection().as_str(), "marker");

    let accessors = |edit: &AlbumMut<'_>| -> (YrsString<String>, LWW<String>, LWW<Option<i32>>) {
        (edit.name(), edit.artist(), edit.year())
    };
    // Ephemeral fields are plain fields of the view, starting at their default.
    let ephemeral = |view: &mut AlbumView| {
        view.selected = !view.selected;
        view.notes.clear();
        view.id()
    };
    let _ = (accessors, ephemeral, <MarkerView as View>::id);
}
