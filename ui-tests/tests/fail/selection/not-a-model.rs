use ankurah::selection;

pub struct Album {
    pub name: String,
}

fn main() {
    let _ = selection!(Album: name = "x");
}
