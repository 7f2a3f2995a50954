use ankurah::{selection, Model};
use chrono::NaiveDate;

#[derive(Model)]
pub struct Item {
    pub due: NaiveDate,
}

fn main() {
    // Text takes `due < '2026-12-04'`; a typed query takes a `NaiveDate`.
    let _ = selection!(Item: due < "2026-12-04");
}
