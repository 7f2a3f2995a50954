//! `AlbumProperties`: one typed handle per stored property (and `id`), which `selection!`
//! resolves property names against, so rustc reports unknown ones and wrong value types.

use proc_macro2::TokenStream;
use quote::quote;

use super::Names;
use crate::model::{Field, Model};
use crate::paths::private;

pub(super) fn definition(model: &Model) -> TokenStream {
    let p = private();
    let Model { ident, vis, .. } = model;
    let Names { properties, .. } = Names::of(ident);
    let doc = format!(" The properties of [`{ident}`] as `selection!` checks them.");
    let fields = model.stored().map(
        |(
            Field {
                ident,
                vis,
                ty,
                name,
                ..
            },
            _,
        )| {
            let doc = format!(" The `{name}` property.");
            quote!(#[doc = #doc] #vis #ident: #p::Field<#ty>)
        },
    );
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #vis struct #properties {
            /// The entity id.
            #vis id: #p::Field<#p::EntityId>,
            #(#fields,)*
        }
    }
}

pub(super) fn impls(model: &Model) -> TokenStream {
    let p = private();
    let ident = &model.ident;
    let Names { properties, .. } = Names::of(ident);
    let fields = model
        .stored()
        .map(|(Field { ident, name, .. }, _)| quote!(#ident: #p::Field::new(#name)));
    quote! {
        impl #p::HasFields for #ident {
            type Fields = #properties;
            const FIELDS: #properties = #properties { id: #p::Field::new("id"), #(#fields,)* };
        }
    }
}
