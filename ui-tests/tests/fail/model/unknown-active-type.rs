use ankurah::Model;

#[derive(Model)]
pub struct Album {
    #[active_type(Counter)]
    pub plays: u64,
}

fn main() {}
