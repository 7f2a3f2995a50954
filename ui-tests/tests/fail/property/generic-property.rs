use ankurah::Property;
use serde::{Deserialize, Serialize};

#[derive(Property, Serialize, Deserialize)]
pub struct Tagged<T> {
    pub value: T,
}

fn main() {}
