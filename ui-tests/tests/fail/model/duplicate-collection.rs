use ankurah::Model;

#[derive(Model)]
#[model(collection = "albums")]
#[model(collection = "records")]
pub struct Album {
    pub name: String,
}

fn main() {}
