use ankurah::Model;

#[derive(Model)]
pub struct Album {
    pub name: String,
    #[model(ephemerl)]
    pub selected: bool,
}

fn main() {}
