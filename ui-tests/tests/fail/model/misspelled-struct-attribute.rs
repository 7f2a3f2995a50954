use ankurah::Model;

#[derive(Model)]
#[model(colection = "albums")]
pub struct Album {
    pub name: String,
}

fn main() {}
