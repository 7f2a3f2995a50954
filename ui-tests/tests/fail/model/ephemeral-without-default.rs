use ankurah::Model;

#[derive(Clone)]
pub struct Cursor(usize);

#[derive(Model)]
pub struct Album {
    pub name: String,
    #[model(ephemeral)]
    pub cursor: Cursor,
}

fn main() {}
