use ankurah::Model;

#[derive(Model)]
pub struct Album {
    pub rating: Option<Option<u8>>,
}

fn main() {}
