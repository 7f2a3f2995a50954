//! Compile-pass and compile-fail tests of the Ankurah macros; see `tests/ui.rs`.
