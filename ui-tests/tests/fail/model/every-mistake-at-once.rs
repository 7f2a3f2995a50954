// All mistakes are reported in one build, and the generated types still exist, so the
// code using `AlbumView` below reports nothing more.
use ankurah::Model;

#[derive(Model)]
#[model(collection = "Albums")]
pub struct Album {
    #[active_type(YrsString)]
    pub year: i32,
    #[active_type(Counter)]
    pub plays: u64,
    pub cover: &'static [u8],
    #[model(ephemerl)]
    pub selected: bool,
}

fn title(view: &AlbumView) -> i32 {
    view.year().unwrap()
}

fn main() {
    let _ = title;
}
