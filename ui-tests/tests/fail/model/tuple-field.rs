use ankurah::Model;

#[derive(Model)]
pub struct Album {
    pub span: (i32, i32),
}

fn main() {}
