//! The `ankurah` binary: parses the command line, runs the command, and reports an error
//! once, on stderr, with a non-zero exit code.

use std::process::ExitCode;
use std::time::Duration;

use ankurah_jemalloc as _;
use clap::Parser;

fn main() -> ExitCode {
    let cli = ankurah_cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(ankurah_cli::run(cli));
    // A read of stdin (`watch` stops when it closes) may still be blocked: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`ankurah query … | head`): nothing left to tell anyone.
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
