//! `AlbumMut<'t>`: the edit handle inside a transaction.

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
    let Names { mutable, .. } = Names::of(ident);
    let summary = format!(" An edit handle on one [`{ident}`] entity in a transaction: accessors return active types.");
    quote! {
        #[doc = #summary]
        #[doc = ""]
        #(#docs)*
        #vis struct #mutable<'t> {
            entity: #p::Arc<#p::Entity>,
            _trx: #p::PhantomData<&'t #p::Transaction>,
        }
    }
}

pub(super) fn impls(model: &Model) -> TokenStream {
    let p = private();
    let Model { ident, vis, .. } = model;
    let Names { view, mutable, .. } = Names::of(ident);
    let accessors = model.stored().map(|(Field { ident, name, vis, ty, docs, .. }, backend)| {
        let (active, at) = (active_type(backend, ty), private_at(ty.span()));
        let entity = quote!(<#at::Arc<#at::Entity> as #at::Clone>::clone(&self.entity));
        let bind = quote_spanned!(ty.span()=> <#active<#ty> as #at::ActiveType<#ty>>::bind(#entity, #name));
        quote! {
            #(#docs)*
            #vis fn #ident(&self) -> #active<#ty> {
                #bind
            }
        }
    });
    let debug_name = mutable.to_string();
    quote! {
        impl<'t> #p::Mutable<'t> for #mutable<'t> {
            type Model = #ident;

            fn new(entity: #p::Arc<#p::Entity>, _trx: &'t #p::Transaction) -> Self {
                #mutable { entity, _trx: #p::PhantomData }
            }

            fn entity(&self) -> &#p::Arc<#p::Entity> {
                &self.entity
            }
        }

        impl #mutable<'_> {
            /// The entity's id.
            #vis fn id(&self) -> #p::EntityId {
                #p::Entity::id(&self.entity)
            }

            /// A view of the entity as this transaction sees it, its uncommitted edits
            /// included. It reads the transaction's copy, so after the commit it no longer
            /// follows later changes: get a live view with `ctx.get(id)`.
            #vis fn read(&self) -> #view {
                <#view as #p::View>::from_entity(<#p::Arc<#p::Entity> as #p::Clone>::clone(&self.entity))
            }

            #(#accessors)*
        }

        impl #p::fmt::Debug for #mutable<'_> {
            fn fmt(&self, f: &mut #p::fmt::Formatter<'_>) -> #p::fmt::Result {
                #p::debug_entity(f, #debug_name, &self.entity, <#ident as #p::Model>::properties())
            }
        }
    }
}
