use ankurah::Model;

#[derive(Model)]
#[active_type(LWW)]
pub struct Album {
    pub name: String,
}

fn main() {}
