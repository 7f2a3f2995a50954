use ankurah::{selection, Model};

#[derive(Model)]
pub struct Album {
    pub name: String,
    pub year: i32,
}

fn main() {
    let _ = selection!(Album: year > "1985");
    let _ = selection!(Album: name = 1985);
}
