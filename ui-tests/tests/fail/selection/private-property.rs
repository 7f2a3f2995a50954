mod library {
    use ankurah::Model;

    #[derive(Model)]
    pub struct Album {
        pub name: String,
        secret: String,
    }
}

fn main() {
    let _ = ankurah::selection!(library::Album: secret = "x");
}
