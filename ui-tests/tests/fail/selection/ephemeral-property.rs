use ankurah::{selection, Model};

#[derive(Model)]
pub struct Album {
    pub name: String,
    #[model(ephemeral)]
    pub selected: bool,
}

fn main() {
    let _ = selection!(Album: selected = true);
}
