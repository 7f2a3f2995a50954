use ankurah::Property;

#[derive(Property)]
pub struct Meta {
    pub tags: Vec<String>,
}

fn main() {}
