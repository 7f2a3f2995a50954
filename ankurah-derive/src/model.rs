//! Parse: darling receivers for `#[model(..)]`, resolved into the plain [`Model`] that the
//! generators read. A mistake is reported and then ignored (the field falls back to its
//! default, or is left out), so one build shows all of them.

use darling::util::{Flag, SpannedValue};
use darling::{FromDeriveInput, FromField};
use syn::ext::IdentExt;
use syn::{Attribute, DeriveInput, Ident, Type, Visibility};

use crate::check;
use crate::errors::Errors;

/// `#[model(..)]` on the struct.
#[derive(FromDeriveInput, Default)]
#[darling(attributes(model))]
struct ModelOptions {
    /// `#[model(collection = "..")]`: overrides the snake_case name of the struct.
    collection: Option<SpannedValue<String>>,
}

/// `#[model(..)]` on a field. (`#[active_type(..)]` has its own syntax, read by [`active_type`].)
#[derive(FromField)]
#[darling(attributes(model))]
struct FieldOptions {
    /// `#[model(ephemeral)]`: kept on the view only, never stored.
    ephemeral: Flag,
}

/// A checked model.
pub(crate) struct Model {
    pub(crate) ident: Ident,
    pub(crate) vis: Visibility,
    pub(crate) docs: Vec<Attribute>,
    pub(crate) collection: String,
    pub(crate) fields: Vec<Field>,
}

/// A checked field.
pub(crate) struct Field {
    pub(crate) ident: Ident,
    /// The property name: the field name without `r#`.
    pub(crate) name: String,
    pub(crate) vis: Visibility,
    pub(crate) ty: Type,
    pub(crate) docs: Vec<Attribute>,
    pub(crate) storage: Storage,
}

pub(crate) enum Storage {
    /// `#[model(ephemeral)]`: a plain field of the view.
    Ephemeral,
    Stored(Backend),
}

/// The active type of a stored field.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Lww,
    YrsString,
}

impl Model {
    /// Parses and checks a derive input. `None` when nothing real can be generated (not a
    /// struct with named fields, or generic); the caller then emits stubs.
    pub(crate) fn parse(input: &DeriveInput, errors: &mut Errors) -> Option<Model> {
        let fields = errors.handle(check::named_struct(input))?;
        errors.handle(check::no_generics(&input.generics))?;
        for attr in input
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("active_type"))
        {
            errors.push(check::active_type_on_struct(attr));
        }
        // After a mistake in `#[model(..)]`, go on with the defaults to find more mistakes.
        let options = errors
            .handle(ModelOptions::from_derive_input(input))
            .unwrap_or_default();
        let collection = match options.collection {
            Some(name) => {
                errors.handle(check::collection_name(&name));
                name.into_inner()
            }
            None => snake_case(&input.ident.unraw().to_string()),
        };
        Some(Model {
            ident: input.ident.clone(),
            vis: input.vis.clone(),
            docs: docs(&input.attrs),
            collection,
            fields: fields
                .named
                .iter()
                .filter_map(|f| Field::parse(f, errors))
                .collect(),
        })
    }

    /// The stored fields with their backends, in declaration order.
    pub(crate) fn stored(&self) -> impl Iterator<Item = (&Field, Backend)> {
        self.fields.iter().filter_map(|f| match f.storage {
            Storage::Stored(backend) => Some((f, backend)),
            Storage::Ephemeral => None,
        })
    }

    /// The ephemeral fields, in declaration order.
    pub(crate) fn ephemeral(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| matches!(f.storage, Storage::Ephemeral))
    }
}

impl Field {
    /// `None` for a field that cannot be generated (its error is recorded): the rest of the
    /// model is still generated, so uses of the other fields report nothing more.
    fn parse(field: &syn::Field, errors: &mut Errors) -> Option<Field> {
        let ident = field.ident.clone().expect("named field");
        let options = errors.handle(FieldOptions::from_field(field))?;
        let active = active_type(&field.attrs, errors);
        let storage = if options.ephemeral.is_present() {
            if let Some(active) = &active {
                errors.push(check::ephemeral_without_active_type(active));
            }
            Storage::Ephemeral
        } else {
            errors.handle(check::supported_type(&field.ty))?;
            let backend = match active {
                // A refused `YrsString` falls back to `LWW`, which holds any property type.
                Some(active) => errors
                    .handle(check::yrs_needs_string(*active, &field.ty))
                    .map_or(Backend::Lww, |()| *active),
                None if check::is_string(&field.ty) => Backend::YrsString,
                None => Backend::Lww,
            };
            Storage::Stored(backend)
        };
        errors.handle(check::reserved_name(&ident, &storage))?;
        Some(Field {
            name: ident.unraw().to_string(),
            docs: docs(&field.attrs),
            ident,
            vis: field.vis.clone(),
            ty: field.ty.clone(),
            storage,
        })
    }
}

/// Reads `#[active_type(LWW)]` / `#[active_type(YrsString)]`.
fn active_type(attrs: &[Attribute], errors: &mut Errors) -> Option<SpannedValue<Backend>> {
    let mut found: Option<SpannedValue<Backend>> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("active_type")) {
        let parsed = attr
            .parse_args::<Ident>()
            .map_err(|_| check::malformed_active_type(attr))
            .and_then(|name| {
                let backend = match name.to_string().as_str() {
                    "LWW" => Backend::Lww,
                    "YrsString" => Backend::YrsString,
                    _ => return Err(check::unknown_active_type(&name)),
                };
                Ok(SpannedValue::new(backend, name.span()))
            });
        let Some(backend) = errors.handle(parsed) else {
            continue;
        };
        if found.is_some() {
            errors.push(check::duplicate_active_type(attr));
        } else {
            found = Some(backend);
        }
    }
    found
}

fn docs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// `AlbumTrack` → `album_track`, `HTTPRequest` → `http_request`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev != '_'
                && (prev.is_lowercase()
                    || prev.is_numeric()
                    || (prev.is_uppercase() && next_is_lower))
            {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("Album"), "album");
        assert_eq!(snake_case("AlbumTrack"), "album_track");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Mp3File"), "mp3_file");
        assert_eq!(snake_case("Already_Snake"), "already_snake");
    }
}
