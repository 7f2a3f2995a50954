use ankurah::Model;

#[derive(Model)]
pub struct Message {
    pub id: u64,
    pub read: bool,
}

fn main() {}
