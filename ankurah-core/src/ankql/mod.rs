//! TEMPORARY shim until the parser lands (replaced by the real module).
mod ast;
pub use ast::*;
use crate::id::EntityId;
use crate::value::Value;
use std::collections::BTreeSet;
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at {offset}")]
pub struct ParseError { pub offset: usize, pub message: String }
pub fn parse_selection(_text: &str, _args: &[Value]) -> Result<Selection, ParseError> {
    Ok(Selection { predicate: Predicate::True, order_by: vec![], limit: None })
}
pub trait Filterable { fn entity_id(&self) -> EntityId; fn value(&self, property: &str) -> Option<Value>; }
impl Selection {
    pub fn apply<T: Filterable>(&self, items: Vec<T>) -> Vec<T> { items }
    pub fn properties(&self) -> BTreeSet<String> { BTreeSet::new() }
}
