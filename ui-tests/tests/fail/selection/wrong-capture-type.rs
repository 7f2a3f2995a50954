use ankurah::{selection, Model};

#[derive(Model)]
pub struct Album {
    pub name: String,
    pub year: i32,
}

fn main() {
    let year = String::from("2001");
    let _ = selection!(Album: year = {year});
    let names = vec![1, 2];
    let _ = selection!(Album: name IN {names});
}
