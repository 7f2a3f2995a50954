//! How commands print: aligned tables for people, JSON lines (`--json`) for programs, and
//! colour only on a terminal and never when `NO_COLOR` is set.

use std::io::{IsTerminal, Write};

use ankurah::dynamic::EntityMap;
use ankurah::temporal::{format_date, format_duration, format_timestamp};
use ankurah::Value;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::CliError;

/// Table cells longer than this many characters are cut (`--json` prints them whole).
const CELL_WIDTH: usize = 60;

/// Whether and how to colour what goes to standard output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    color: bool,
}

/// The colours a [`Style`] uses, by meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Column headers.
    Header,
    /// NULL, and secondary text.
    Dim,
    /// Something that appeared.
    Added,
    /// Something that changed.
    Changed,
    /// Something that went away.
    Removed,
}

impl Style {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// `text` in `tone`, or as it is without colour.
    pub fn paint(&self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Header => "1",
            Tone::Dim => "2",
            Tone::Added => "32",
            Tone::Changed => "33",
            Tone::Removed => "31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// A table cell: its text, and how to colour it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    text: String,
    tone: Option<Tone>,
}

impl Cell {
    /// Plain text.
    pub fn text(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            tone: None,
        }
    }

    /// A value as a cell: strings as they are, NULL dimmed, the rest as AnkQL writes them.
    pub fn value(value: Option<&Value>) -> Self {
        match value {
            None | Some(Value::Null) => Cell {
                text: "NULL".into(),
                tone: Some(Tone::Dim),
            },
            Some(Value::String(text)) => Cell::text(text.clone()),
            Some(other) => Cell::text(other.to_string()),
        }
    }

    /// Text in a tone.
    pub fn toned(text: impl Into<String>, tone: Tone) -> Self {
        Cell {
            text: text.into(),
            tone: Some(tone),
        }
    }
}

/// Rows under headers, printed with aligned columns.
#[derive(Clone, Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<Cell>>,
    /// Whether a `(N rows)` line follows.
    counted: bool,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
            counted: true,
        }
    }

    /// Leaves out the `(N rows)` line (for tables of one thing's details).
    pub fn uncounted(mut self) -> Self {
        self.counted = false;
        self
    }

    /// Adds a row (as many cells as headers).
    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Prints the headers, the rows, and `(N rows)` unless [`uncounted`](Self::uncounted).
    pub fn print(&self, out: &mut impl Write, style: Style) -> Result<(), CliError> {
        let cut = |text: &str| -> String {
            let flat = text.replace(['\n', '\r', '\t'], " ");
            if flat.chars().count() <= CELL_WIDTH {
                flat
            } else {
                let mut short: String = flat.chars().take(CELL_WIDTH - 1).collect();
                short.push('…');
                short
            }
        };
        let rows: Vec<Vec<(String, Option<Tone>)>> = self
            .rows
            .iter()
            .map(|row| row.iter().map(|c| (cut(&c.text), c.tone)).collect())
            .collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &rows {
            for (width, (text, _)) in widths.iter_mut().zip(row) {
                *width = (*width).max(text.chars().count());
            }
        }
        let line = |cells: Vec<(String, Option<Tone>)>| -> String {
            let last = cells.len().saturating_sub(1);
            let mut line = String::new();
            for (index, ((text, tone), width)) in cells.into_iter().zip(&widths).enumerate() {
                let pad = if index == last {
                    0
                } else {
                    width - text.chars().count()
                };
                line.push_str(&match tone {
                    Some(tone) => style.paint(tone, &text),
                    None => text,
                });
                line.push_str(&" ".repeat(pad));
                if index != last {
                    line.push_str("  ");
                }
            }
            line
        };
        let headers = self
            .headers
            .iter()
            .map(|h| (h.clone(), Some(Tone::Header)))
            .collect();
        let write = |out: &mut dyn Write, text: String| {
            writeln!(out, "{}", text.trim_end()).map_err(CliError::stdout)
        };
        write(out, line(headers))?;
        for row in rows {
            write(out, line(row))?;
        }
        if !self.counted {
            return Ok(());
        }
        let count = match self.rows.len() {
            1 => "(1 row)".to_owned(),
            n => format!("({n} rows)"),
        };
        write(out, style.paint(Tone::Dim, &count))
    }
}

/// Entities as a table: `id`, then every property any of them has, by name.
pub fn entity_table(entities: &[EntityMap]) -> Table {
    let mut properties: Vec<&String> = entities.iter().flat_map(|e| e.values.keys()).collect();
    properties.sort();
    properties.dedup();
    let mut table = Table::new(std::iter::once("id").chain(properties.iter().map(|p| p.as_str())));
    for entity in entities {
        let mut row = vec![Cell::text(entity.id.to_string())];
        row.extend(
            properties
                .iter()
                .map(|p| Cell::value(entity.values.get(*p))),
        );
        table.row(row);
    }
    table
}

/// A value as plain JSON: numbers, strings, booleans and Json as themselves, bytes in
/// base64, ids, dates, timestamps and durations as their text.
pub fn value_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::F64(f) if f.is_finite() => json!(f),
        Value::F64(f) => json!(f.to_string()),
        Value::String(s) => json!(s),
        Value::Bytes(bytes) => json!(STANDARD.encode(bytes)),
        Value::EntityId(id) => json!(id.to_string()),
        Value::Json(j) => j.clone(),
        Value::Date(days) => json!(format_date(*days)),
        Value::Timestamp(micros) => json!(format_timestamp(*micros)),
        Value::Duration(micros) => json!(format_duration(*micros)),
    }
}

/// An entity as one JSON object: `id`, `collection`, `head`, `deleted`, `values`.
pub fn entity_json(entity: &EntityMap) -> serde_json::Value {
    let values: serde_json::Map<String, serde_json::Value> = entity
        .values
        .iter()
        .map(|(name, value)| (name.clone(), value_json(value)))
        .collect();
    json!({
        "id": entity.id.to_string(),
        "collection": entity.collection.as_str(),
        "head": entity.head.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "deleted": entity.deleted,
        "values": values,
    })
}

/// A progress bar on standard error for `total` units (a spinner when unknown), drawn
/// only when standard error is a terminal: hidden otherwise, so logs and pipes stay clean.
pub fn progress(total: Option<u64>, message: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg}: {human_pos} entities in {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        ),
    };
    bar.set_message(message);
    bar
}

/// Writes one JSON value on a line of its own.
pub fn json_line(out: &mut impl Write, value: &serde_json::Value) -> Result<(), CliError> {
    writeln!(out, "{value}").map_err(CliError::stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_count() {
        let mut table = Table::new(["id", "year"]);
        table.row(vec![Cell::text("a"), Cell::value(Some(&Value::I64(2001)))]);
        table.row(vec![Cell::text("bbb"), Cell::value(None)]);
        let mut out = Vec::new();
        table.print(&mut out, Style { color: false }).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "id   year\na    2001\nbbb  NULL\n(2 rows)\n"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(Style { color: false }.paint(Tone::Header, "x"), "x");
        assert_eq!(
            Style { color: true }.paint(Tone::Removed, "x"),
            "\x1b[31mx\x1b[0m"
        );
    }

    #[test]
    fn values_as_plain_json() {
        assert_eq!(value_json(&Value::I64(3)), json!(3));
        assert_eq!(value_json(&Value::Bytes(vec![1, 2])), json!("AQI="));
        assert_eq!(
            value_json(&Value::Timestamp(0)),
            json!("1970-01-01T00:00:00Z")
        );
    }
}
