// rustc reports the missing `Property` impl at each use of the type in the expansion; all of
// them point at the field.
use ankurah::Model;
use std::collections::HashMap;

#[derive(Model)]
pub struct Album {
    pub name: String,
    pub credits: HashMap<String, String>,
}

fn main() {}
