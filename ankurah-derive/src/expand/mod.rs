//! Generate: Rust code from a checked [`Model`], one file per generated shape.
//!
//! The view, edit handle and properties types are defined beside the model, with its
//! visibility, so users can name them; every impl goes into one anonymous `const _` block,
//! where items keep the visibility they would have beside the model (a private field's getter
//! is private to the model's module, as the field is) and the expansion works inside
//! function bodies too.

mod model;
mod mutable;
mod properties;
mod property;
mod view;
mod wasm;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident};

use crate::errors::Errors;
use crate::model::{Backend, Model};
use crate::paths::{private, private_at};

pub(crate) use property::property;

/// `#[derive(Model)]`: the generated code followed by every error found.
pub(crate) fn model(input: &DeriveInput) -> TokenStream {
    let mut errors = Errors::default();
    let generated = match Model::parse(input, &mut errors) {
        Some(model) => generate(&model),
        None => stub(&input.vis, &input.ident),
    };
    let errors = errors.into_compile_errors();
    quote!(#generated #errors)
}

fn generate(model: &Model) -> TokenStream {
    let definitions = [
        view::definition(model),
        mutable::definition(model),
        properties::definition(model),
    ];
    let impls = [
        view::impls(model),
        mutable::impls(model),
        model::impls(model),
        properties::impls(model),
        wasm::impls(model),
    ];
    quote! {
        #(#definitions)*
        const _: () = {
            #(#impls)*
        };
    }
}

/// After an error that rules out real code, the generated types still exist, so code naming
/// them reports nothing more than the error itself.
fn stub(vis: &syn::Visibility, ident: &Ident) -> TokenStream {
    let p = private();
    let Names { view, mutable, .. } = Names::of(ident);
    quote! {
        #vis struct #view;
        #vis struct #mutable<'t>(#p::PhantomData<&'t ()>);
    }
}

/// The names of the types generated for a model.
struct Names {
    /// `AlbumView`
    view: Ident,
    /// `AlbumMut`
    mutable: Ident,
    /// `AlbumProperties`
    properties: Ident,
}

impl Names {
    fn of(model: &Ident) -> Self {
        Names {
            view: format_ident!("{}View", model),
            mutable: format_ident!("{}Mut", model),
            properties: format_ident!("{}Properties", model),
        }
    }
}

/// The handle type of a backend, e.g. `LWW` in `LWW<i32>`, spanned at a field's type.
fn active_type(backend: Backend, ty: &syn::Type) -> TokenStream {
    let p = private_at(ty.span());
    match backend {
        Backend::Lww => quote!(#p::LWW),
        Backend::YrsString => quote!(#p::YrsString),
    }
}
