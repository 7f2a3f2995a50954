//! The `Model` impl: collection, property descriptors, and the writes of `create`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::{active_type, Names};
use crate::model::{Field, Model};
use crate::paths::{private, private_at};

pub(super) fn impls(model: &Model) -> TokenStream {
    let p = private();
    let Model {
        ident, collection, ..
    } = model;
    let Names { view, mutable, .. } = Names::of(ident);
    let count = model.stored().count();
    let descriptors = model.stored().map(|(Field { name, ty, .. }, backend)| {
        let (active, at) = (active_type(backend, ty), private_at(ty.span()));
        quote_spanned!(ty.span()=> #at::descriptor::<#ty, #active<#ty>>(#name))
    });
    // Named `_entity` when there is nothing to write, so it is not an unused variable.
    let entity = if count == 0 {
        quote!(_entity)
    } else {
        quote!(entity)
    };
    let writes = model.stored().map(|(Field { ident, name, ty, .. }, backend)| {
        let (active, at) = (active_type(backend, ty), private_at(ty.span()));
        quote_spanned!(ty.span()=> <#active<#ty> as #at::ActiveType<#ty>>::write(#entity, #name, &self.#ident)?;)
    });
    quote! {
        impl #p::Model for #ident {
            type View = #view;
            type Mutable<'t> = #mutable<'t>;

            fn collection() -> #p::CollectionId {
                #p::CollectionId::from(#collection)
            }

            fn properties() -> &'static [#p::PropertyDescriptor] {
                static PROPERTIES: [#p::PropertyDescriptor; #count] = [#(#descriptors),*];
                &PROPERTIES
            }

            fn initialize(&self, #entity: &#p::Entity) -> #p::Result<(), #p::PropertyError> {
                #(#writes)*
                #p::Result::Ok(())
            }
        }
    }
}
