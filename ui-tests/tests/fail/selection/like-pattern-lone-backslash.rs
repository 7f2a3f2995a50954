use ankurah::{selection, Model};

#[derive(Model)]
pub struct Album {
    pub name: String,
}

fn main() {
    let _ = selection!(Album: name LIKE "100\\");
}
