use ankurah::Model;

#[derive(Model)]
pub struct Album<T> {
    pub name: String,
    pub extra: T,
}

// The generated types still exist (as stubs), so naming them reports nothing more.
fn uses(_: AlbumView, _: AlbumMut<'_>) {}

fn main() {
    let _ = uses;
}
