use ankurah::Model;

#[derive(Model)]
pub struct Album {
    #[active_type(Lww)]
    pub year: i32,
}

fn main() {}
