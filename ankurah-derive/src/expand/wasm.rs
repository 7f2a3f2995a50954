//! Feature `wasm`: the model's classes of the browser's JS/TS API, through wasm-bindgen.
//!
//! For `struct Album`: `AlbumView` (a getter per stored field, `id`, `isDeleted`, and the
//! hooks `__edit` / `__delete` the runtime's `Transaction` calls), `AlbumMut` (a `YrsString`
//! or `LWW` handle per stored field, `id`, `read()`), `Album` (`query`, `get`, `fetch`, and
//! the `__create` hook, whose `init` is typed with the stored fields). Every wasm-bindgen item
//! is inside the model's anonymous `const _` block, so its Rust names are nobody's; the
//! runtime they call is `::ankurah::__private::wasm` (the module `ankurah::wasm`).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{GenericArgument, PathArguments, Type};

use super::{active_type, Names};
use crate::model::{Backend, Field, Model, Storage};
use crate::paths::private;

/// The wasm-bindgen classes; empty unless the feature is on.
pub(super) fn impls(model: &Model) -> TokenStream {
    if cfg!(feature = "wasm") {
        classes(model)
    } else {
        TokenStream::new()
    }
}

fn classes(model: &Model) -> TokenStream {
    let p = private();
    let w = quote!(#p::wasm);
    let bindgen = quote!(#w::wasm_bindgen::prelude::wasm_bindgen);
    // Where the expansion of `#[wasm_bindgen]` finds its runtime crates: a struct reads
    // only the first, an impl all three.
    let krate = quote!(wasm_bindgen = #w::wasm_bindgen);
    let crates =
        quote!(#krate, wasm_bindgen_futures = #w::wasm_bindgen_futures, js_sys = #w::js_sys);
    let ident = &model.ident;
    let Names { view, .. } = Names::of(ident);
    let (view_js, mut_js, model_js) = (
        format_ident!("__{}ViewJs", ident),
        format_ident!("__{}MutJs", ident),
        format_ident!("__{}Js", ident),
    );
    let (view_name, mut_name, model_name) =
        (view.to_string(), format!("{ident}Mut"), ident.to_string());
    let view_types = format!("Promise<{view_name}>");
    let list_types = format!("Promise<{view_name}[]>");
    let query_type = format!("LiveQuery<{view_name}>");

    let getters = model.stored().map(|(Field { ident, name, ty, docs, .. }, _)| {
        let rust = format_ident!("__get_{}", name);
        let ts = ts_type(ty);
        quote! {
            #(#docs)*
            #[wasm_bindgen(getter = #ident, unchecked_return_type = #ts)]
            pub fn #rust(&self) -> #p::Result<#w::wasm_bindgen::JsValue, #w::wasm_bindgen::JsValue> {
                #w::to_js(&self.0.#ident().map_err(#w::js_error)?)
            }
        }
    });
    let handles = model.stored().map(|(Field { ident, name, ty, .. }, backend)| {
        let rust = format_ident!("__edit_{}", name);
        let active = active_type(backend, ty);
        let entity = quote!(<#p::Arc<#p::Entity> as #p::Clone>::clone(&self.0));
        let (handle, handle_type, ts) = match backend {
            Backend::YrsString => (
                quote!(#w::YrsString::from(<#p::YrsString<#p::String> as #p::ActiveType<#p::String>>::bind(#entity, #name))),
                quote!(#w::YrsString),
                "YrsString".to_string(),
            ),
            Backend::Lww => (
                quote!(#w::LWW::new(<#active<#ty> as #p::ActiveType<#ty>>::bind(#entity, #name), #name)),
                quote!(#w::LWW),
                format!("LWW<{}>", ts_type(ty)),
            ),
        };
        quote! {
            #[wasm_bindgen(getter = #ident, unchecked_return_type = #ts)]
            pub fn #rust(&self) -> #handle_type {
                #handle
            }
        }
    });
    let inits = model.fields.iter().map(
        |Field {
             ident,
             name,
             ty,
             storage,
             ..
         }| match storage {
            Storage::Stored(_) => quote!(#ident: #w::field::<#ty>(&init, #name)?),
            Storage::Ephemeral => quote!(#ident: <#ty as #p::Default>::default()),
        },
    );
    // The shape of a new entity, for `trx.create(Album, init)`.
    let init_ts = format!(
        "{{ {} }}",
        model
            .stored()
            .map(|(Field { name, ty, .. }, _)| {
                let optional = if is_option(ty) { "?" } else { "" };
                format!("{name}{optional}: {};", ts_type(ty))
            })
            .collect::<Vec<_>>()
            .join(" ")
    );

    let js = quote!(#w::wasm_bindgen::JsValue);
    quote! {
        // wasm-bindgen's struct derive names its crate `wasm_bindgen` whatever the path
        // given: in this block, that is the runtime's, so the user's crate needs no
        // dependency on it.
        use #w::wasm_bindgen;

        #[doc = " The JS class of the view."]
        #[#bindgen(#krate, js_name = #view_name)]
        pub struct #view_js(#view);

        #[#bindgen(#crates, js_class = #view_name)]
        impl #view_js {
            #[doc = " The entity's id (26 characters)."]
            #[wasm_bindgen(getter)]
            pub fn id(&self) -> #p::String {
                #p::ToString::to_string(&self.0.id())
            }

            #[doc = " Whether the entity was deleted (here or on another node)."]
            #[wasm_bindgen(getter = isDeleted)]
            pub fn is_deleted(&self) -> bool {
                #p::View::is_deleted(&self.0)
            }

            #(#getters)*

            #[doc = " For `trx.edit(view)`."]
            pub fn __edit(&self, trx: &#w::Transaction) -> #p::Result<#mut_js, #js> {
                let shared = trx.shared()?;
                let edit = #p::Transaction::edit::<#ident>(&shared, &self.0).map_err(#w::js_error)?;
                #p::Result::Ok(#mut_js(<#p::Arc<#p::Entity> as #p::Clone>::clone(#p::Mutable::entity(&edit))))
            }

            #[doc = " For `trx.delete(view)`."]
            pub fn __delete(&self, trx: &#w::Transaction) -> #p::Result<(), #js> {
                let shared = trx.shared()?;
                #p::Transaction::delete(&shared, &self.0).map_err(#w::js_error)
            }
        }

        impl #p::From<#view> for #js {
            fn from(view: #view) -> Self {
                #js::from(#view_js(view))
            }
        }

        #[doc = " The JS class of the edit handle: it edits the transaction's copy of the entity."]
        #[#bindgen(#krate, js_name = #mut_name)]
        pub struct #mut_js(#p::Arc<#p::Entity>);

        #[#bindgen(#crates, js_class = #mut_name)]
        impl #mut_js {
            #[doc = " The entity's id (26 characters)."]
            #[wasm_bindgen(getter)]
            pub fn id(&self) -> #p::String {
                #p::ToString::to_string(&#p::Entity::id(&self.0))
            }

            #[doc = " A view of the entity as this transaction sees it."]
            pub fn read(&self) -> #view_js {
                #view_js(<#view as #p::View>::from_entity(<#p::Arc<#p::Entity> as #p::Clone>::clone(&self.0)))
            }

            #(#handles)*
        }

        #[doc = " The JS class of the model: its queries and the hook of `trx.create`."]
        #[#bindgen(#krate, js_name = #model_name)]
        pub struct #model_js {}

        #[#bindgen(#crates, js_class = #model_name)]
        impl #model_js {
            #[doc = " A live query (AnkQL) of this model's views."]
            #[wasm_bindgen(unchecked_return_type = #query_type)]
            pub fn query(ctx: &#w::Context, query: #p::String) -> #p::Result<#w::LiveQuery, #js> {
                let live = ctx.inner().query::<#view>(query).map_err(#w::js_error)?;
                #p::Result::Ok(#w::LiveQuery::new(live))
            }

            #[doc = " The view of entity `id`; rejects with `NotFound` or `Deleted`."]
            #[wasm_bindgen(unchecked_return_type = #view_types)]
            pub fn get(ctx: &#w::Context, id: #p::String) -> #w::js_sys::Promise {
                let ctx = <#w::Context as #p::Clone>::clone(ctx);
                #w::wasm_bindgen_futures::future_to_promise(async move {
                    let id = #w::from_js::<#p::EntityId>(&#js::from_str(&id), "id")?;
                    let view = ctx.inner().get::<#view>(id).await.map_err(#w::js_error)?;
                    #p::Result::Ok(#js::from(view))
                })
            }

            #[doc = " The views matching an AnkQL query, once."]
            #[wasm_bindgen(unchecked_return_type = #list_types)]
            pub fn fetch(ctx: &#w::Context, query: #p::String) -> #w::js_sys::Promise {
                let ctx = <#w::Context as #p::Clone>::clone(ctx);
                #w::wasm_bindgen_futures::future_to_promise(async move {
                    let views = ctx.inner().fetch::<#view>(query).await.map_err(#w::js_error)?;
                    #p::Result::Ok(#w::js_sys::Array::from_iter(views.into_iter().map(#js::from)).into())
                })
            }

            #[doc = " For `trx.create(Model, init)`."]
            pub async fn __create(
                trx: #w::Transaction,
                #[wasm_bindgen(unchecked_param_type = #init_ts)] init: #js,
            ) -> #p::Result<#mut_js, #js> {
                let model = #ident { #(#inits,)* };
                let shared = trx.shared()?;
                let created = #p::Transaction::create(&shared, &model).await.map_err(#w::js_error)?;
                #p::Result::Ok(#mut_js(<#p::Arc<#p::Entity> as #p::Clone>::clone(#p::Mutable::entity(&created))))
            }
        }
    }
}

/// The TypeScript type of a property type's JS values (see `ankurah::wasm`'s value
/// conversions), read from the type as written: `unknown` where the name does not say.
fn ts_type(ty: &Type) -> String {
    if let Some(inner) = option_inner(ty) {
        return format!("{} | null", ts_type(inner));
    }
    let Type::Path(path) = ty else {
        return "unknown".into();
    };
    let Some(last) = path.path.segments.last() else {
        return "unknown".into();
    };
    match last.ident.to_string().as_str() {
        "String" => "string",
        "bool" => "boolean",
        "i8" | "i16" | "i32" | "i64" | "isize" | "u8" | "u16" | "u32" | "u64" | "usize" | "f32"
        | "f64" | "NaiveDate" | "DateTime" | "TimeDelta" => "number",
        "EntityId" | "Ref" => "string",
        "Vec" if generic_arg(last).is_some_and(|t| quote!(#t).to_string() == "u8") => "Uint8Array",
        _ => "unknown",
    }
    .into()
}

fn is_option(ty: &Type) -> bool {
    option_inner(ty).is_some()
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    (last.ident == "Option")
        .then(|| generic_arg(last))
        .flatten()
}

/// The first type argument of a path segment.
fn generic_arg(segment: &syn::PathSegment) -> Option<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ts_type;

    #[test]
    fn typescript_types_follow_the_js_values() {
        for (rust, ts) in [
            ("String", "string"),
            ("i32", "number"),
            ("Option<bool>", "boolean | null"),
            ("Vec<u8>", "Uint8Array"),
            ("Vec<i32>", "unknown"),
            ("Ref<Artist>", "string"),
            ("ankurah::Json", "unknown"),
        ] {
            let ty: syn::Type = syn::parse_str(rust).expect("a type");
            assert_eq!(ts_type(&ty), ts, "{rust}");
        }
    }
}
