//! The macros of Ankurah: `#[derive(Model)]`, `#[derive(Property)]` and `selection!`.
//!
//! Use them through the `ankurah` crate, which re-exports them and documents them with
//! examples; generated code names the runtime only through `::ankurah::__private`.
//!
//! Each derive runs parse (`model.rs`, darling receivers) → check (`check.rs`, one function
//! per rule, errors collected with spans) → generate (`expand/`); `selection!` has its own
//! parser and generator in `selection/`.

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod check;
mod errors;
mod expand;
mod model;
mod paths;
mod selection;

/// Makes a struct with named fields a stored model: generates `{Name}View`, `{Name}Mut<'t>`,
/// the `Model` impl and the typed properties `selection!` checks against.
///
/// Field attributes: `#[active_type(LWW)]`, `#[active_type(YrsString)]`, `#[model(ephemeral)]`.
/// Struct attribute: `#[model(collection = "name")]`. See the `ankurah` crate for details.
#[proc_macro_derive(Model, attributes(model, active_type))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    expand::model(&parse_macro_input!(input as DeriveInput)).into()
}

/// Makes a serde type (`Serialize + Deserialize`) a property value, stored as JSON.
#[proc_macro_derive(Property)]
pub fn derive_property(input: TokenStream) -> TokenStream {
    expand::property(&parse_macro_input!(input as DeriveInput)).into()
}

/// A compile-checked AnkQL query: `selection!(Album: year > {year} ORDER BY name LIMIT 10)`
/// expands to the `Selection` the same query text would parse to.
#[proc_macro]
pub fn selection(input: TokenStream) -> TokenStream {
    selection::expand(parse_macro_input!(input as selection::Query)).into()
}
