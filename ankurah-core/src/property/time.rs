//! Dates, instants and durations of the `chrono` crate as property types (feature `chrono`).
//!
//! | Rust type                 | query value                         | Postgres column |
//! |---------------------------|-------------------------------------|-----------------|
//! | `chrono::NaiveDate`       | [`Value::Date`]                     | `date`          |
//! | `chrono::DateTime<Utc>`   | [`Value::Timestamp`] (microseconds) | `timestamptz`   |
//! | `chrono::TimeDelta`       | [`Value::Duration`] (microseconds)  | `interval`      |
//!
//! They order, range-compare and index natively on every engine, and AnkQL compares them
//! with ISO-8601 text (`due < '2026-12-04'`, `at >= '2026-12-01T10:00:00Z'`,
//! `took > 'PT1H'`; see [`crate::temporal`]). Instants and durations are kept to the
//! microsecond, the precision of Postgres: writing one with a finer part is an error rather
//! than a silent rounding.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::{invalid_type, Property};
use crate::error::PropertyError;
use crate::value::{Value, ValueType};

fn out_of_range(reason: String) -> PropertyError {
    PropertyError::InvalidValue {
        property: String::new(),
        reason,
    }
}

/// 1970-01-01, where [`Value::Date`] counts from.
fn epoch_date() -> NaiveDate {
    DateTime::UNIX_EPOCH.date_naive()
}

impl Property for NaiveDate {
    const VALUE_TYPE: ValueType = ValueType::Date;

    fn to_value(&self) -> Result<Value, PropertyError> {
        let days = self.signed_duration_since(epoch_date()).num_days();
        i32::try_from(days)
            .map(Value::Date)
            .map_err(|_| out_of_range(format!("{self} is out of the date range")))
    }

    fn from_value(value: Value) -> Result<Self, PropertyError> {
        match value {
            Value::Date(days) => epoch_date()
                .checked_add_signed(TimeDelta::days(i64::from(days)))
                .ok_or_else(|| out_of_range(format!("day {days} is out of chrono's range"))),
            Value::Null => Err(PropertyError::Missing(String::new())),
            other => Err(invalid_type("date", &other)),
        }
    }
}

impl Property for DateTime<Utc> {
    const VALUE_TYPE: ValueType = ValueType::Timestamp;

    fn to_value(&self) -> Result<Value, PropertyError> {
        if !self.timestamp_subsec_nanos().is_multiple_of(1000) {
            return Err(out_of_range(format!(
                "{self:?} has a part finer than a microsecond, which is not stored"
            )));
        }
        Ok(Value::Timestamp(self.timestamp_micros()))
    }

    fn from_value(value: Value) -> Result<Self, PropertyError> {
        match value {
            Value::Timestamp(micros) => DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| out_of_range(format!("{micros} µs is out of chrono's range"))),
            Value::Null => Err(PropertyError::Missing(String::new())),
            other => Err(invalid_type("timestamp", &other)),
        }
    }
}

impl Property for TimeDelta {
    const VALUE_TYPE: ValueType = ValueType::Duration;

    fn to_value(&self) -> Result<Value, PropertyError> {
        if self.subsec_nanos() % 1000 != 0 {
            return Err(out_of_range(format!(
                "{self} has a part finer than a microsecond, which is not stored"
            )));
        }
        self.num_microseconds()
            .map(Value::Duration)
            .ok_or_else(|| out_of_range(format!("{self} does not fit in 64-bit microseconds")))
    }

    fn from_value(value: Value) -> Result<Self, PropertyError> {
        match value {
            Value::Duration(micros) => Ok(TimeDelta::microseconds(micros)),
            Value::Null => Err(PropertyError::Missing(String::new())),
            other => Err(invalid_type("duration", &other)),
        }
    }
}

macro_rules! into_value {
    ($($t:ty),*) => {$(
        /// The query value of a property of this type; NULL for one that cannot be stored
        /// (see the `Property` impl), which matches nothing.
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                v.to_value().unwrap_or(Value::Null)
            }
        }
    )*};
}
into_value!(NaiveDate, DateTime<Utc>, TimeDelta);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_match_iso_text() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let value = date.to_value().unwrap();
        assert_eq!(value.as_date(), Value::from("2026-12-04").as_date());
        assert_eq!(NaiveDate::from_value(value).unwrap(), date);

        let at = DateTime::from_timestamp(1_796_119_200, 5_000).unwrap();
        let value = at.to_value().unwrap();
        assert_eq!(value, Value::Timestamp(1_796_119_200_000_005));
        assert_eq!(DateTime::<Utc>::from_value(value).unwrap(), at);
        let nanos = DateTime::from_timestamp(0, 1).unwrap();
        assert!(nanos.to_value().is_err());

        let took = TimeDelta::minutes(90);
        let value = took.to_value().unwrap();
        assert_eq!(value.as_duration(), Value::from("PT1H30M").as_duration());
        assert_eq!(TimeDelta::from_value(value).unwrap(), took);
        assert!(TimeDelta::nanoseconds(1).to_value().is_err());
        assert!(NaiveDate::from_value(Value::String("2026-12-04".into())).is_err());
        assert!(NaiveDate::MIN.to_value().is_ok());
    }
}
