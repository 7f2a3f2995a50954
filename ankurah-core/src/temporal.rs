//! Dates, timestamps and durations as query values: their numeric representation in
//! [`Value`](crate::value::Value) and the ISO-8601 text that AnkQL literals spell them in.
//!
//! | value                | held as                                        | literal text                                |
//! |----------------------|------------------------------------------------|---------------------------------------------|
//! | `Value::Date`        | days since 1970-01-01 (proleptic Gregorian)    | `'2026-12-04'`                              |
//! | `Value::Timestamp`   | microseconds since 1970-01-01T00:00:00Z        | `'2026-12-01T10:00:00Z'`, `'2026-12-01T11:00:00.5+01:00'`, `'2026-12-01'` (midnight UTC) |
//! | `Value::Duration`    | microseconds                                   | `'PT1H30M'`, `'P2DT3H'`, `'P1W'`, `'-PT0.25S'` |
//!
//! Microseconds are the precision of Postgres `timestamptz` and `interval`, so every engine
//! holds exactly the same instant. A literal finer than that (`'…T10:00:00.0000001Z'`) names
//! no stored value and does not parse. Durations are exact lengths of time: ISO-8601's years
//! and months (`P1M`) have no fixed length and are refused. Years are written with four
//! digits (`0000` to `9999`), optionally signed with more (`+12345-01-01`, `-0044-03-15`).
//!
//! The parsers are this crate's own (no dependency): the data layer understands these values
//! whether or not the `chrono` feature, which maps them to `chrono` types, is on.

use std::fmt::{self, Write};

/// Microseconds in a second.
pub const MICROS_PER_SECOND: i64 = 1_000_000;
/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// Days from 1970-01-01 to `year-month-day` in the proleptic Gregorian calendar; `None` for
/// a month or day that does not exist.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // Years counted from March, so the leap day ends the year; 400-year eras of 146097 days.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// The `(year, month, day)` of a day counted from 1970-01-01: the inverse of
/// [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over ASCII text.
struct Text<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Self {
        Text {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let run = self.bytes.get(self.at..self.at + n)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += n;
        Some(run.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    }

    /// One or more digits (at most 18, so the number fits).
    fn number(&mut self) -> Option<i64> {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) && self.at - start < 18 {
            self.at += 1;
        }
        if self.at == start || self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return None;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()?
            .parse()
            .ok()
    }

    /// A fraction after `.` or `,` as microseconds; digits past the sixth must be zero.
    fn fraction_micros(&mut self) -> Option<i64> {
        if !(self.eat(b'.') || self.eat(b',')) {
            return Some(0);
        }
        let start = self.at;
        let mut micros = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            let place = self.at - start;
            if place < 6 {
                micros = micros * 10 + i64::from(d - b'0');
            } else if d != b'0' {
                return None;
            }
            self.at += 1;
        }
        let written = self.at - start;
        if written == 0 {
            return None;
        }
        Some(micros * 10i64.pow(6u32.saturating_sub(written as u32)))
    }

    /// `YYYY-MM-DD`, the year optionally signed with four to seven digits (every date a
    /// [`Value::Date`](crate::value::Value::Date) holds, and no more, so nothing overflows).
    fn date(&mut self) -> Option<i64> {
        let year = match self.peek() {
            Some(sign @ (b'+' | b'-')) => {
                self.at += 1;
                let start = self.at;
                let year = self.number()?;
                if !(4..=7).contains(&(self.at - start)) {
                    return None;
                }
                if sign == b'-' {
                    -year
                } else {
                    year
                }
            }
            _ => self.digits(4)?,
        };
        if !self.eat(b'-') {
            return None;
        }
        let month = self.digits(2)?;
        if !self.eat(b'-') {
            return None;
        }
        let day = self.digits(2)?;
        days_from_civil(year, month as u32, day as u32)
    }
}

/// The day of an ISO-8601 date (`2026-12-04`), counted from 1970-01-01.
pub fn parse_date(text: &str) -> Option<i32> {
    let mut t = Text::new(text.trim());
    let days = t.date()?;
    t.done().then(|| i32::try_from(days).ok()).flatten()
}

/// The instant of an ISO-8601 / RFC 3339 timestamp in microseconds since the Unix epoch:
/// a date, then `T` (or a space) and `HH:MM[:SS[.ffffff]]`, then `Z`, `±HH:MM`, `±HHMM` or
/// nothing (UTC). A date alone is its midnight, UTC.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let mut t = Text::new(text.trim());
    let days = t.date()?;
    if t.done() {
        return days.checked_mul(MICROS_PER_DAY);
    }
    if !(t.eat(b'T') || t.eat(b't') || t.eat(b' ')) {
        return None;
    }
    let hour = t.digits(2)?;
    if !t.eat(b':') {
        return None;
    }
    let minute = t.digits(2)?;
    let (second, micros) = if t.eat(b':') {
        (t.digits(2)?, t.fraction_micros()?)
    } else {
        (0, 0)
    };
    // 24:00:00 is not accepted, nor leap seconds (no engine stores them).
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_minutes = match t.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            t.at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            t.at += 1;
            let hours = t.digits(2)?;
            t.eat(b':');
            let minutes = t.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 60 + minutes;
            if sign == b'-' {
                -offset
            } else {
                offset
            }
        }
        Some(_) => return None,
    };
    if !t.done() {
        return None;
    }
    let seconds = (hour * 60 + minute - offset_minutes) * 60 + second;
    days.checked_mul(MICROS_PER_DAY)?
        .checked_add(seconds * MICROS_PER_SECOND + micros)
}

/// The length of an ISO-8601 duration in microseconds: `[-]P[nW]` or
/// `[-]P[nD][T[nH][nM][n[.f]S]]`, at least one part. Years and months are refused.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut t = Text::new(text.trim());
    let negative = t.eat(b'-');
    if !negative {
        t.eat(b'+');
    }
    if !(t.eat(b'P') || t.eat(b'p')) {
        return None;
    }
    let mut total: i64 = 0;
    let mut parts = 0;
    let mut in_time = false;
    while !t.done() {
        if !in_time && (t.eat(b'T') || t.eat(b't')) {
            in_time = true;
            continue;
        }
        let amount = t.number()?;
        let fraction = t.fraction_micros()?;
        let unit = t.peek()?.to_ascii_uppercase();
        t.at += 1;
        let scale = match (in_time, unit) {
            (true, b'S') => MICROS_PER_SECOND,
            _ if fraction != 0 => return None,
            (false, b'W') => 7 * MICROS_PER_DAY,
            (false, b'D') => MICROS_PER_DAY,
            (true, b'H') => 3600 * MICROS_PER_SECOND,
            (true, b'M') => 60 * MICROS_PER_SECOND,
            _ => return None,
        };
        total = total
            .checked_add(amount.checked_mul(scale)?)?
            .checked_add(fraction)?;
        parts += 1;
        // Seconds are the last part.
        if unit == b'S' && !t.done() {
            return None;
        }
    }
    if parts == 0 {
        return None;
    }
    Some(if negative { -total } else { total })
}

fn write_date(out: &mut impl Write, days: i64) -> fmt::Result {
    let (year, month, day) = civil_from_days(days);
    if (0..=9999).contains(&year) {
        write!(out, "{year:04}-{month:02}-{day:02}")
    } else {
        write!(out, "{year:+05}-{month:02}-{day:02}")
    }
}

/// A date as ISO-8601 text, which [`parse_date`] reads back.
pub fn format_date(days: i32) -> String {
    let mut out = String::new();
    let _ = write_date(&mut out, i64::from(days));
    out
}

/// A timestamp as RFC 3339 text in UTC (`2026-12-01T10:00:00Z`, with a fraction when it
/// has one), which [`parse_timestamp`] reads back.
pub fn format_timestamp(micros: i64) -> String {
    let mut out = String::new();
    let days = micros.div_euclid(MICROS_PER_DAY);
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let _ = write_date(&mut out, days);
    let seconds = of_day / MICROS_PER_SECOND;
    let _ = write!(
        out,
        "T{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    write_fraction(&mut out, of_day % MICROS_PER_SECOND);
    out.push('Z');
    out
}

/// `.ffffff` without trailing zeros; nothing for a whole second.
fn write_fraction(out: &mut String, micros: i64) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// A duration as ISO-8601 text (`PT1H30M`, `P2DT0.5S`, `PT0S`), which [`parse_duration`]
/// reads back.
pub fn format_duration(micros: i64) -> String {
    let mut out = String::new();
    if micros < 0 {
        out.push('-');
    }
    let magnitude = micros.unsigned_abs();
    let day = MICROS_PER_DAY as u64;
    let second = MICROS_PER_SECOND as u64;
    let (days, rest) = (magnitude / day, magnitude % day);
    out.push('P');
    if days > 0 {
        let _ = write!(out, "{days}D");
    }
    if rest > 0 || days == 0 {
        out.push('T');
        let (hours, minutes) = (rest / (3600 * second), rest / (60 * second) % 60);
        let (seconds, micros) = (rest / second % 60, rest % second);
        if hours > 0 {
            let _ = write!(out, "{hours}H");
        }
        if minutes > 0 {
            let _ = write!(out, "{minutes}M");
        }
        if seconds > 0 || micros > 0 || rest == 0 {
            let _ = write!(out, "{seconds}");
            write_fraction(&mut out, micros as i64);
            out.push('S');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-01-01",
            "2026-01-01x",
            "",
            "-044-03-15",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(
            format_date(parse_date("-0044-03-15").unwrap()),
            "-0044-03-15"
        );
        assert_eq!(
            format_date(parse_date("+12345-06-07").unwrap()),
            "+12345-06-07"
        );
        // Years past seven digits are refused before any arithmetic could overflow.
        assert_eq!(parse_date("+999999999999999999-01-01"), None);
        assert_eq!(parse_timestamp("-999999999999999999-01-01T00:00:00Z"), None);
        assert_eq!(parse_date("+9999999-12-31"), None); // beyond the i32 days of a Date
        assert_eq!(parse_duration("P999999999999999999W"), None);
    }

    #[test]
    fn known_timestamps() {
        let t = |s| parse_timestamp(s);
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(t("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(t("1970-01-01 01:00:00+0100"), Some(0));
        assert_eq!(t("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(t("1970-01-02"), Some(MICROS_PER_DAY));
        assert_eq!(t("1970-01-01T00:01"), Some(60 * MICROS_PER_SECOND));
        assert_eq!(t("1970-01-01T00:00:00.000001000Z"), Some(1));
        for bad in [
            "1970-01-01T00:00:00.0000001Z",
            "1970-01-01T24:00:00Z",
            "1970-01-01T00:00:60Z",
            "1970-01-01T00:00:00Q",
            "1970-01-01T",
            "1970-01-01T00:00:00.Z",
        ] {
            assert_eq!(t(bad), None, "{bad}");
        }
        assert_eq!(format_timestamp(1_500_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
    }

    #[test]
    fn known_durations() {
        let d = |s| parse_duration(s);
        let hour = 3600 * MICROS_PER_SECOND;
        assert_eq!(d("PT1H30M"), Some(hour * 3 / 2));
        assert_eq!(d("P1W"), Some(7 * MICROS_PER_DAY));
        assert_eq!(d("P2DT3H"), Some(2 * MICROS_PER_DAY + 3 * hour));
        assert_eq!(d("-PT0.25S"), Some(-250_000));
        assert_eq!(d("PT0S"), Some(0));
        for bad in [
            "P", "PT", "P1M", "P1Y", "PT1", "1H", "PT1S2M", "PT0.5H", "P1H",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(format_duration(hour * 3 / 2), "PT1H30M");
        assert_eq!(format_duration(0), "PT0S");
        assert_eq!(format_duration(-MICROS_PER_DAY - 500_000), "-P1DT0.5S");
    }

    proptest! {
        /// Query text reaches the parsers from outside: any input gives an answer, no panic
        /// (overflow included), and what parses prints back to the same value.
        #[test]
        fn parsers_take_any_text(text in "[-+0-9:.,TZPWDHMSz ]{0,40}", other in any::<String>()) {
            for text in [&text, &other] {
                if let Some(days) = parse_date(text) {
                    prop_assert_eq!(parse_date(&format_date(days)), Some(days));
                }
                if let Some(micros) = parse_timestamp(text) {
                    prop_assert_eq!(parse_timestamp(&format_timestamp(micros)), Some(micros));
                }
                if let Some(micros) = parse_duration(text) {
                    prop_assert_eq!(parse_duration(&format_duration(micros)), Some(micros));
                }
            }
        }

        #[test]
        fn civil_round_trips(days in -100_000_000i64..100_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), Some(days));
        }

        #[test]
        fn formats_parse_back(days in i32::MIN / 2..i32::MAX / 2, micros in any::<i64>()) {
            prop_assert_eq!(parse_date(&format_date(days)), Some(days));
            let micros = micros / 4; // keep the days of the instant within reach of a date
            prop_assert_eq!(parse_timestamp(&format_timestamp(micros)), Some(micros));
            prop_assert_eq!(parse_duration(&format_duration(micros)), Some(micros));
        }
    }
}
