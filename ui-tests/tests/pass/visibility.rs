//! Generated items take the model's visibility and each getter its field's: a private field
//! stays private to the model's module. Compiles warning-free though nothing below calls the
//! private getters.
#![deny(warnings)]

mod library {
    use ankurah::Model;

    #[derive(Model)]
    pub struct Album {
        pub name: String,
        pub(crate) year: i32,
        secret: String,
    }

    #[derive(Model)]
    pub(crate) struct Draft {
        pub name: String,
    }

    #[derive(Model)]
    struct Private {
        name: String,
    }

    pub fn uses(view: &AlbumView, draft: &DraftView) -> Option<usize> {
        let _ = draft.name();
        view.secret().ok().map(|s| s.len())
    }

    pub(super) fn touch(album: &Album) -> usize {
        let private = Private { name: String::new() };
        album.secret.len() + private.name.len()
    }
}

fn main() {
    let _ = |view: &library::AlbumView| (view.name(), view.year(), view.id());
    let _ = |draft: &library::DraftView| draft.name();
    let _ = ankurah::selection!(library::Album: name = "x" AND year > 1);
    let _ = (library::uses, library::touch);
}
