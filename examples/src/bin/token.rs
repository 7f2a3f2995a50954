//! Prints a signed token for a user of the two-terminal demo's server, for clients that
//! cannot sign their own: the browser demo takes it as `?user=NAME&token=TOKEN`.
//!
//! ```text
//! cargo run -p ankurah-examples --bin token -- NAME [HOURS]
//! ```
//!
//! The token is signed with the demo secret (`ANKURAH_EXAMPLE_SECRET`, see the crate docs)
//! and good for HOURS hours (default 24). A real application's login service issues them.

use std::time::{Duration, SystemTime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: token NAME [HOURS]";
    let name = args.next().ok_or(usage)?;
    let hours: u64 = match args.next() {
        Some(hours) => hours
            .parse()
            .map_err(|_| format!("HOURS must be a whole number; {usage}"))?,
        None => 24,
    };
    let expires = SystemTime::now() + Duration::from_secs(hours * 3600);
    println!("{}", ankurah_examples::token(name, expires)?.0);
    Ok(())
}
