//! Typed queries on derived property types and `chrono` dates and times take Rust values of
//! the property's type: a unit variant, a data variant, a newtype, a `NaiveDate`.

use ankurah::{selection, Model, Property};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

#[derive(Property, Serialize, Deserialize)]
pub enum Status {
    Open,
    Closed,
}

#[derive(Property, Serialize, Deserialize)]
pub enum Resolution {
    Pending,
    Closed { reason: String },
}

#[derive(Property, Serialize, Deserialize)]
pub struct Points(pub i32);

#[derive(Model)]
pub struct Item {
    pub status: Status,
    pub resolution: Option<Resolution>,
    pub points: Points,
    pub due: NaiveDate,
    pub at: Option<DateTime<Utc>>,
    pub took: TimeDelta,
}

fn main() {
    let due = NaiveDate::from_ymd_opt(2026, 12, 4).expect("a valid date");
    let at = DateTime::<Utc>::from_timestamp(1_796_119_200, 0).expect("in range");
    let selection = selection!(Item: status = {Status::Open}
        AND resolution IN ({Resolution::Pending}, {Resolution::Closed { reason: "dup".into() }})
        AND points > {Points(2)} AND due < {due} AND at >= {&at} AND took > {TimeDelta::hours(1)}
        ORDER BY due DESC);
    assert_eq!(
        selection.to_string(),
        "status = 'Open' AND resolution IN ('Pending', '{\"Closed\":{\"reason\":\"dup\"}}') \
         AND points > 2 AND due < '2026-12-04' AND at >= '2026-12-01T10:00:00Z' \
         AND took > 'PT1H' ORDER BY due DESC"
    );
}
