//! `selection!`: AnkQL checked against a model at compile time.

mod expand;
mod parse;

pub(crate) use expand::expand;
pub(crate) use parse::Query;
