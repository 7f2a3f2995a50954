//! Generate: the `Selection` a query denotes, built from its syntax tree as the AnkQL parser
//! would build it.
//!
//! Every property is reached as a field of the model's `<Model as HasFields>::FIELDS`
//! (`AlbumProperties`), spanned at the user's token: an unknown property is rustc's "no
//! field" error listing the known ones, and each value goes through `value(&field, v)`, whose
//! `ValueFor` bound rejects a value of the wrong type at the value.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, Ident};

use super::parse::{InValues, Op, OrderItem, Predicate, PropertyPath, Query};
use crate::paths::{private, private_at};

pub(crate) fn expand(query: Query) -> TokenStream {
    let cx = Cx {
        p: private(),
        model: &query.model,
    };
    let p = &cx.p;
    let predicate = query
        .predicate
        .as_ref()
        .map_or_else(|| quote!(#p::Predicate::True), |pr| cx.predicate(pr));
    let order_by = query.order_by.iter().map(|OrderItem { path, descending }| {
        let path = cx.path(path);
        let direction = if *descending {
            quote!(Desc)
        } else {
            quote!(Asc)
        };
        quote!(#p::OrderItem { path: #path, direction: #p::Direction::#direction })
    });
    let limit = match &query.limit {
        Some(limit) => quote!(#p::Option::Some(#limit)),
        None => quote!(#p::Option::None),
    };
    let (model, at) = (cx.model, private_at(cx.model.span()));
    quote!(#at::selection::<#model>(#predicate, #p::vec![#(#order_by),*], #limit))
}

struct Cx<'a> {
    p: TokenStream,
    model: &'a syn::Path,
}

impl Cx<'_> {
    fn predicate(&self, predicate: &Predicate) -> TokenStream {
        let p = &self.p;
        let boxed = |inner: &Predicate| {
            let inner = self.predicate(inner);
            quote!(#p::Box::new(#inner))
        };
        match predicate {
            Predicate::True => quote!(#p::Predicate::True),
            Predicate::False => quote!(#p::Predicate::False),
            Predicate::And(a, b) => {
                let (a, b) = (boxed(a), boxed(b));
                quote!(#p::Predicate::And(#a, #b))
            }
            Predicate::Or(a, b) => {
                let (a, b) = (boxed(a), boxed(b));
                quote!(#p::Predicate::Or(#a, #b))
            }
            Predicate::Not(a) => {
                let a = boxed(a);
                quote!(#p::Predicate::Not(#a))
            }
            Predicate::Comparison {
                path,
                op: Op(op),
                value,
            } => {
                let op = Ident::new(op, proc_macro2::Span::call_site());
                let (value, path) = (self.value(path, value), self.path(path));
                quote!(#p::Predicate::Comparison { path: #path, op: #p::ComparisonOp::#op, value: #value })
            }
            Predicate::Like {
                path,
                pattern,
                negated,
            } => {
                let at = private_at(pattern.span());
                let pattern = match self.field(path) {
                    Some(field) => quote_spanned!(pattern.span()=> #at::pattern(&#field, #pattern)),
                    None => quote_spanned!(pattern.span()=> #at::String::from(#pattern)),
                };
                let path = self.path(path);
                quote!(#p::Predicate::Like { path: #path, pattern: #pattern, negated: #negated })
            }
            Predicate::In {
                path,
                values,
                negated,
            } => {
                let values = match (values, self.field(path)) {
                    (InValues::List(list), _) => {
                        let list = list.iter().map(|v| self.value(path, v));
                        quote!(#p::vec![#(#list),*])
                    }
                    (InValues::Capture(iterable), field) => {
                        let at = private_at(iterable.span());
                        match field {
                            Some(field) => {
                                quote_spanned!(iterable.span()=> #at::values(&#field, #iterable))
                            }
                            None => quote_spanned!(iterable.span()=> #at::any_values(#iterable)),
                        }
                    }
                };
                let path = self.path(path);
                quote!(#p::Predicate::In { path: #path, values: #values, negated: #negated })
            }
            Predicate::IsNull { path, negated } => {
                let path = self.path(path);
                quote!(#p::Predicate::IsNull { path: #path, negated: #negated })
            }
        }
    }

    /// `<Model as HasFields>::FIELDS.property`, the typed handle of a whole property;
    /// `None` for a path into JSON, whose inner values have no static type.
    fn field(&self, path: &PropertyPath) -> Option<TokenStream> {
        path.keys.is_empty().then(|| self.property(&path.property))
    }

    /// Spanned at the property, where rustc then reports what is wrong with it.
    fn property(&self, property: &Ident) -> TokenStream {
        let (at, model, member) = (private_at(property.span()), self.model, member(property));
        quote_spanned!(property.span()=> <#model as #at::HasFields>::FIELDS.#member)
    }

    fn path(&self, path: &PropertyPath) -> TokenStream {
        let p = &self.p;
        let field = self.property(&path.property);
        let Some((_, span)) = path.keys.first() else {
            return quote!(#p::path(&#field));
        };
        let (at, keys) = (private_at(*span), path.keys.iter().map(|(key, _)| key));
        quote_spanned!(*span=> #at::json_path(&#field, &[#(#keys),*]))
    }

    /// A value compared with the property at `path`, type-checked against it when it is a
    /// whole property.
    fn value(&self, path: &PropertyPath, value: &Expr) -> TokenStream {
        let at = private_at(value.span());
        match self.field(path) {
            Some(field) => quote_spanned!(value.span()=> #at::value(&#field, #value)),
            None => quote_spanned!(value.span()=> #at::Value::from(#value)),
        }
    }
}

/// The field name to access: a property named like a Rust keyword (`type`) needs `r#`.
fn member(property: &Ident) -> Ident {
    let name = property.unraw().to_string();
    // `self`, `super`, `crate` and `Self` cannot be raw; no field can have those names anyway.
    let plain = syn::parse_str::<Ident>(&name).is_ok()
        || matches!(name.as_str(), "self" | "super" | "crate" | "Self");
    match plain {
        true => Ident::new(&name, property.span()),
        false => Ident::new_raw(&name, property.span()),
    }
}
