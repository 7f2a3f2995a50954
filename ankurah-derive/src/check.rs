//! Check: the rules darling's receivers cannot express, one function each, every error
//! spanned at the user's offending tokens.

use darling::util::SpannedValue;
use syn::{
    Attribute, Data, DataStruct, DeriveInput, Error, Fields, FieldsNamed, GenericArgument,
    Generics, Ident, PathArguments, Result, Type,
};

use crate::model::{Backend, Storage};

/// Each field name is a property name, and a model is one record, not a choice of several.
pub(crate) fn named_struct(input: &DeriveInput) -> Result<&FieldsNamed> {
    const NAMED: &str = "a model needs named fields: each field name is a property name";
    match &input.data {
        Data::Struct(DataStruct {
            fields: Fields::Named(fields),
            ..
        }) => Ok(fields),
        Data::Struct(DataStruct {
            fields: Fields::Unnamed(fields),
            ..
        }) => Err(Error::new_spanned(fields, NAMED)),
        Data::Struct(DataStruct {
            fields: Fields::Unit,
            ..
        }) => Err(Error::new_spanned(&input.ident, NAMED)),
        Data::Enum(data) => Err(Error::new_spanned(
            data.enum_token,
            "an enum cannot be a model, which is a struct with named fields; \
             to store an enum in a property, derive `Property` for it",
        )),
        Data::Union(data) => Err(Error::new_spanned(
            data.union_token,
            "a union cannot be a model: use a struct with named fields",
        )),
    }
}

/// A model is one collection whose properties have one type each; a type parameter would
/// make `Album<A>` and `Album<B>` share a collection with different schemas.
pub(crate) fn no_generics(generics: &Generics) -> Result<()> {
    if generics.params.is_empty() && generics.where_clause.is_none() {
        return Ok(());
    }
    Err(Error::new_spanned(
        generics,
        "a model cannot be generic: its properties are stored with one fixed type each",
    ))
}

/// Collection names become sled tree and Postgres table names; the snake_case alphabet of
/// the default names is portable to every engine.
pub(crate) fn collection_name(name: &SpannedValue<String>) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        return Ok(());
    }
    let message = format!(
        "invalid collection name {:?}: use lowercase ASCII letters, digits and `_`, starting with a letter",
        name.as_str()
    );
    Err(Error::new(name.span(), message))
}

/// `#[active_type]` is registered as a helper attribute, so rustc accepts it anywhere on the
/// item; on the struct it would silently do nothing.
pub(crate) fn active_type_on_struct(attr: &Attribute) -> Error {
    Error::new_spanned(
        attr,
        "`#[active_type(..)]` goes on a field, not on the struct",
    )
}

pub(crate) fn malformed_active_type(attr: &Attribute) -> Error {
    Error::new_spanned(
        attr,
        "expected `#[active_type(LWW)]` or `#[active_type(YrsString)]`",
    )
}

pub(crate) fn unknown_active_type(name: &Ident) -> Error {
    let hint = ["LWW", "YrsString"]
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(&name.to_string()));
    let message = match hint {
        Some(known) => format!("unknown active type `{name}`; did you mean `{known}`?"),
        None => format!("unknown active type `{name}`; expected `LWW` or `YrsString`"),
    };
    Error::new_spanned(name, message)
}

pub(crate) fn duplicate_active_type(attr: &Attribute) -> Error {
    Error::new_spanned(
        attr,
        "duplicate `#[active_type(..)]`: a field has one active type",
    )
}

/// An ephemeral field is never stored, so an active type (how stored values merge) would be
/// a promise the macro cannot keep.
pub(crate) fn ephemeral_without_active_type(active: &SpannedValue<Backend>) -> Error {
    Error::new(
        active.span(),
        "an ephemeral field is not stored, so it has no active type; remove one of the two attributes",
    )
}

/// `YrsString` merges character edits of text; any other type would fail at run time, when
/// the first value is written.
pub(crate) fn yrs_needs_string(active: Backend, ty: &Type) -> Result<()> {
    if active != Backend::YrsString || is_string(ty) {
        return Ok(());
    }
    Err(Error::new_spanned(
        ty,
        "`YrsString` is collaborative text: the field's type must be `String`; use `LWW` for other types",
    ))
}

/// Types that can never implement `Property`: the macro says why, where rustc would only
/// report a missing trait (or, for references, missing lifetimes on generated types).
pub(crate) fn supported_type(ty: &Type) -> Result<()> {
    let reason = match ty {
        Type::Reference(_) => {
            "a reference cannot be stored: a property owns its value (e.g. `String` instead of `&str`)"
        }
        Type::Tuple(t) if t.elems.is_empty() => "`()` holds no value to store",
        Type::Tuple(_) => "a tuple cannot be stored: use one field per value, or a `#[derive(Property)]` struct",
        Type::Array(_) | Type::Slice(_) => {
            "an array cannot be stored: use `Vec<u8>` for bytes, `Json` or a `#[derive(Property)]` type for lists"
        }
        Type::Ptr(_)
        | Type::BareFn(_)
        | Type::TraitObject(_)
        | Type::ImplTrait(_)
        | Type::Never(_)
        | Type::Infer(_) => "this type cannot be stored as a property",
        Type::Group(g) => return supported_type(&g.elem),
        Type::Paren(p) => return supported_type(&p.elem),
        _ => match option_inner(ty) {
            Some(inner) if option_inner(inner).is_some() => {
                "`Option<Option<T>>` cannot be stored: `None` and `Some(None)` would both be NULL"
            }
            Some(inner) => return supported_type(inner),
            None => return Ok(()),
        },
    };
    Err(Error::new_spanned(ty, reason))
}

/// Each stored field becomes a getter on the view and an accessor on the edit handle, next
/// to the handles' own methods; an ephemeral field is a field of the view, next to its entity.
pub(crate) fn reserved_name(ident: &Ident, storage: &Storage) -> Result<()> {
    let name = ident.to_string();
    let reserved = match storage {
        Storage::Stored(_) => ["id", "edit", "delete", "read"].contains(&name.as_str()),
        Storage::Ephemeral => name == "entity",
    };
    if !reserved {
        return Ok(());
    }
    let message = match storage {
        Storage::Stored(_) if name == "id" => {
            "`id` is reserved: every model has `id()`, the entity id; rename the field".to_owned()
        }
        Storage::Stored(_) => {
            format!("`{name}` is reserved: the generated view or edit handle has a method `{name}()`; rename the field")
        }
        Storage::Ephemeral => {
            "`entity` is reserved: the generated view holds its entity in a field of that name"
                .to_owned()
        }
    };
    Err(Error::new_spanned(ident, message))
}

/// Whether the type is spelled `String` (or `std::string::String`); aliases cannot be seen.
pub(crate) fn is_string(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "String" && s.arguments.is_empty()))
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last().filter(|s| s.ident == "Option")?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_types() {
        for ok in [
            "String",
            "Option<i32>",
            "Vec<u8>",
            "ankurah::Ref<Artist>",
            "Meta",
        ] {
            assert!(supported_type(&syn::parse_str(ok).unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "&str",
            "(i32, i32)",
            "()",
            "[u8; 4]",
            "Option<&str>",
            "Option<Option<i32>>",
            "dyn Fn()",
        ] {
            assert!(
                supported_type(&syn::parse_str(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }
}
