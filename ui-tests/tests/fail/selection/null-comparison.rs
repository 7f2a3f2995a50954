use ankurah::{selection, Model};

#[derive(Model)]
pub struct Album {
    pub rating: Option<u8>,
}

fn main() {
    let _ = selection!(Album: rating = NULL);
}
