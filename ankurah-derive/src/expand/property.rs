//! `#[derive(Property)]`: a serde type stored as one JSON value.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;

use crate::paths::{private, private_at};

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
    // Spanned at the type, so a missing `Serialize`/`Deserialize` is reported there.
    let at = private_at(ident.span());
    let to_json = quote_spanned!(ident.span()=> #at::to_json(self));
    let from_json = quote_spanned!(ident.span()=> #at::from_json(value));
    quote! {
        const _: () = {
            impl #p::Property for #ident {
                const VALUE_TYPE: #p::ValueType = #p::ValueType::Json;

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
