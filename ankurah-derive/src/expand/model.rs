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
        let type_name = type_name(ty);
        quote_spanned!(ty.span()=> #at::descriptor::<#ty, #active<#ty>>(#name, #type_name))
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

/// A type as written, without the spaces token printing puts around `<`, `>` and `::`
/// (`Option<Ref<User>>`, not `Option < Ref < User > >`), for error messages.
fn type_name(ty: &syn::Type) -> String {
    let printed = quote!(#ty).to_string();
    let mut out = String::with_capacity(printed.len());
    let mut chars = printed.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let last = out.chars().last();
        let glued = matches!(last, Some('<' | ':' | '&'))
            || matches!(next, Some('<' | '>' | ':' | ',' | ';'));
        if !(c == ' ' && glued) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::type_name;

    #[test]
    fn type_names_read_as_written() {
        for written in [
            "Option<Ref<User>>",
            "std::collections::HashMap<String, i32>",
            "[u8; 4]",
            "(i32, String)",
            "Vec<u8>",
        ] {
            let ty: syn::Type = syn::parse_str(written).expect("a type");
            assert_eq!(type_name(&ty), written);
        }
    }
}
