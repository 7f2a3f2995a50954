use ankurah::Model;

#[derive(Model)]
pub struct Album {
    #[active_type(YrsString)]
    pub year: i32,
}

fn main() {}
