use ankurah::Model;

#[derive(Model)]
pub struct Album {
    pub name: &'static str,
}

fn main() {}
