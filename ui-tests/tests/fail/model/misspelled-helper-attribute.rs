use ankurah::Model;

#[derive(Model)]
pub struct Album {
    #[activ_type(LWW)]
    pub name: String,
}

fn main() {}
