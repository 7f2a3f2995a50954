use ankurah::Model;

#[derive(Model)]
pub struct Album {
    #[active_type(LWW)]
    #[active_type(YrsString)]
    pub name: String,
}

fn main() {}
