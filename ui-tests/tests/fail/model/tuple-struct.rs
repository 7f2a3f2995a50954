use ankurah::Model;

#[derive(Model)]
pub struct Album(String, i32);

fn main() {}
