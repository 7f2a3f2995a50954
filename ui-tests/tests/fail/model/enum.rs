use ankurah::Model;

#[derive(Model)]
pub enum Album {
    Single { name: String },
    Lp { name: String, tracks: u8 },
}

fn main() {}
