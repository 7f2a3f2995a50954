use ankurah::Model;

#[derive(Model)]
pub struct Album;

fn main() {}
