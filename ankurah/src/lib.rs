pub use ankurah_core::*;
