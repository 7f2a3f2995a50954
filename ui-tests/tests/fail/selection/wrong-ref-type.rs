use ankurah::{selection, EntityId, Model, Ref};

#[derive(Model)]
pub struct Artist {
    pub name: String,
}

#[derive(Model)]
pub struct Label {
    pub name: String,
}

#[derive(Model)]
pub struct Album {
    pub artist: Ref<Artist>,
}

fn main() {
    let label: Ref<Label> = Ref::new(EntityId::new());
    let _ = selection!(Album: artist = {label});
}
