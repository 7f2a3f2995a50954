//! `AlbumView`: the live read handle.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{active_type, Names};
use crate::model::{Field, Model};
use crate::paths::{private, private_at};

pub(super) fn definition(model: &Model) -> TokenStream {
    let p = private();
    let Model {
        ident, vis, docs, ..
    } = model;
    let Names { view, .. } = Names::of(ident);
    let summary = format!(
        " A live, read-only handle on one [`{ident}`] entity: each getter reads its current state."
    );
    let ephemeral = model.ephemeral().map(
        |Field {
             ident,
             vis,
             ty,
             docs,
             ..
         }| {
            quote! {
                #(#docs)*
                #[doc = ""]
                #[doc = " Ephemeral: not stored; every view starts with `Default::default()`."]
                #vis #ident: #ty
            }
        },
    );
    quote! {
        #[doc = #summary]
        #[doc = ""]
        #(#docs)*
        #[derive(#p::Clone)]
        #vis struct #view {
            entity: #p::Arc<#p::Entity>,
            #(#ephemeral,)*
        }
    }
}

pub(super) fn impls(model: &Model) -> TokenStream {
    let p = private();
    let Model { ident, vis, .. } = model;
    let Names { view, mutable, .. } = Names::of(ident);
    let defaults = model.ephemeral().map(|Field { ident, ty, .. }| {
        let p = private_at(ty.span());
        quote_spanned!(ty.span()=> #ident: <#ty as #p::Default>::default())
    });
    let getters = model.stored().map(|(Field { ident, name, vis, ty, docs, .. }, backend)| {
        let (active, at) = (active_type(backend, ty), private_at(ty.span()));
        let read = quote_spanned!(ty.span()=> <#active<#ty> as #at::ActiveType<#ty>>::read(&self.entity, #name));
        quote! {
            #(#docs)*
            #vis fn #ident(&self) -> #p::Result<#ty, #p::PropertyError> {
                #read
            }
        }
    });
    let debug_name = view.to_string();
    quote! {
        impl #p::View for #view {
            type Model = #ident;

            fn from_entity(entity: #p::Arc<#p::Entity>) -> Self {
                #view { entity, #(#defaults,)* }
            }

            fn entity(&self) -> &#p::Arc<#p::Entity> {
                &self.entity
            }
        }

        impl #view {
            /// The entity's id.
            #vis fn id(&self) -> #p::EntityId {
                #p::Entity::id(&self.entity)
            }

            /// An edit handle on this entity in `trx`; refused if the entity was deleted.
            #vis fn edit<'t>(&self, trx: &'t #p::Transaction) -> #p::Result<#mutable<'t>, #p::MutationError> {
                #p::Transaction::edit::<#ident>(trx, self)
            }

            /// Deletes this entity when `trx` commits.
            #vis fn delete(&self, trx: &#p::Transaction) -> #p::Result<(), #p::MutationError> {
                #p::Transaction::delete(trx, self)
            }

            #(#getters)*
        }

        impl #p::fmt::Debug for #view {
            fn fmt(&self, f: &mut #p::fmt::Formatter<'_>) -> #p::fmt::Result {
                #p::debug_entity(f, #debug_name, &self.entity, <#ident as #p::Model>::properties())
            }
        }
    }
}
