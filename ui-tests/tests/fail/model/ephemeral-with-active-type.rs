use ankurah::Model;

#[derive(Model)]
pub struct Album {
    pub name: String,
    #[model(ephemeral)]
    #[active_type(LWW)]
    pub selected: bool,
}

fn main() {}
