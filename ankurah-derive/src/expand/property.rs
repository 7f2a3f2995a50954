//! `#[derive(Property)]`: a serde type stored as its JSON form, scalars unwrapped.
//!
//! The query value of such a type is decided at run time by what serde writes (see the
//! `ankurah_core::value` module docs): a JSON scalar becomes the plain value it spells (a unit
//! enum variant its name, a newtype its inner value), objects and arrays stay Json. What is
//! decided here, from the shape of the type, is the *declared* value type that typed query
//! checks use: `String` for a unit-only enum, the inner type's for a newtype of a built-in
//! scalar, and Json (checked dynamically) for everything else.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{Attribute, Data, DeriveInput, Fields, Type};

use crate::paths::{private, private_at};

/// Serde attributes that leave a unit variant serialized as its (renamed) name, or a newtype
/// struct as its inner value. Any other (`tag`, `untagged`, `into`, `remote`, ...) may change
/// the JSON shape, and the declared type falls back to Json.
const SHAPE_KEEPING: &[&str] = &[
    "rename",
    "rename_all",
    "alias",
    "crate",
    "expecting",
    "deny_unknown_fields",
    "bound",
    "other",
    "skip_deserializing",
    "transparent",
];

/// Built-in scalar types a newtype can wrap and keep that type's declared value type.
const SCALARS: &[&str] = &[
    "bool", "i8", "i16", "i32", "i64", "isize", "u8", "u16", "u32", "u64", "usize", "f32", "f64",
    "String",
];

/// Whether every `#[serde(..)]` in `attrs` only renames (see [`SHAPE_KEEPING`]).
fn keeps_shape(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("serde"))
        .all(|attr| {
            let mut keeps = true;
            let parsed = attr.parse_nested_meta(|meta| {
                keeps &= SHAPE_KEEPING.iter().any(|name| meta.path.is_ident(name));
                // Skip the value (`= "..."` or `(...)`) of the key just read.
                if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<syn::Expr>()?;
                } else if meta.input.peek(syn::token::Paren) {
                    meta.parse_nested_meta(|_| Ok(()))?;
                }
                Ok(())
            });
            keeps && parsed.is_ok()
        })
}

/// The `ValueType` expression the type declares (see the module docs).
fn declared_type(input: &DeriveInput) -> TokenStream {
    let p = private();
    let json = quote!(#p::ValueType::Json);
    if !keeps_shape(&input.attrs) {
        return json;
    }
    match &input.data {
        Data::Enum(data)
            if !data.variants.is_empty()
                && data
                    .variants
                    .iter()
                    .all(|v| matches!(v.fields, Fields::Unit) && keeps_shape(&v.attrs)) =>
        {
            quote!(#p::ValueType::String)
        }
        Data::Struct(data) => match &data.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                let field = &fields.unnamed[0];
                match &field.ty {
                    Type::Path(path)
                        if path.qself.is_none()
                            && keeps_shape(&field.attrs)
                            && path.path.segments.last().is_some_and(|s| {
                                s.arguments.is_none() && SCALARS.iter().any(|name| s.ident == name)
                            }) =>
                    {
                        let ty = &field.ty;
                        quote!(<#ty as #p::Property>::VALUE_TYPE)
                    }
                    _ => json,
                }
            }
            _ => json,
        },
        _ => json,
    }
}

pub(crate) fn property(input: &DeriveInput) -> TokenStream {
    let p = private();
    let ident = &input.ident;
    if !input.generics.params.is_empty() {
        // A generic impl would need serde bounds on every parameter; name a concrete type
        // (`struct Tags(Vec<String>)`) instead.
        return syn::Error::new_spanned(
            &input.generics,
            "#[derive(Property)] does not support generic types",
        )
        .into_compile_error();
    }
    let value_type = declared_type(input);
    // Spanned at the type, so a missing `Serialize`/`Deserialize` is reported there.
    let at = private_at(ident.span());
    let to_json = quote_spanned!(ident.span()=> #at::to_json(self));
    let from_json = quote_spanned!(ident.span()=> #at::from_json(value));
    quote! {
        const _: () = {
            impl #p::Property for #ident {
                const VALUE_TYPE: #p::ValueType = #value_type;

                fn to_value(&self) -> #p::Result<#p::Value, #p::PropertyError> {
                    #to_json
                }

                fn from_value(value: #p::Value) -> #p::Result<Self, #p::PropertyError> {
                    #from_json
                }
            }

            impl #p::QueryType for #ident {
                type Base = Self;
            }

            impl #p::JsonBacked for #ident {}

            #[diagnostic::do_not_recommend]
            impl #p::ValueFor<#ident> for #ident {
                fn into_query_value(self) -> #p::Value {
                    #p::json_value(&self)
                }
            }

            #[diagnostic::do_not_recommend]
            impl #p::ValueFor<#ident> for &#ident {
                fn into_query_value(self) -> #p::Value {
                    #p::json_value(self)
                }
            }
        };
    }
}
