use ankurah::Model;

#[derive(Model)]
pub struct Album {
    #[active_type = "LWW"]
    pub year: i32,
}

fn main() {}
