use ankurah::{selection, Model};

#[derive(Model)]
pub struct Album {
    pub year: i32,
}

fn main() {
    let _ = selection!(Album: year > 1 year < 2);
}
