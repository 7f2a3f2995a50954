//! [`CollectionId`]: the name of a collection (one per model).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Name of a collection of entities, e.g. `album`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CollectionId(String);

impl CollectionId {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for CollectionId {
    fn from(name: &str) -> Self {
        CollectionId(name.to_owned())
    }
}

impl From<String> for CollectionId {
    fn from(name: String) -> Self {
        CollectionId(name)
    }
}

impl fmt::Display for CollectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for CollectionId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}
