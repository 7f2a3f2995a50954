use ankurah::Model;

#[derive(Model)]
#[model(collection = "My Albums")]
pub struct Album {
    pub name: String,
}

fn main() {}
