//! Running one test in a child process of its own test binary, so that a crash fails that
//! test alone: a stack overflow aborts the whole process, which no test harness survives,
//! and hostile input is expected to cause exactly that until the code refuses it.
//!
//! ```ignore
//! #[test]
//! fn deep_input_does_not_crash() {
//!     const TEST: &str = "deep_input_does_not_crash";
//!     if child::is_child(TEST) {
//!         return decode_something_deep();
//!     }
//!     child::run(TEST, Duration::from_secs(60)).assert_survived();
//! }
//! ```

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Tells the child which test it is to run.
const CHILD: &str = "ANKURAH_TEST_CHILD";

/// Whether this process is the child running `test`.
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD).as_deref() == Ok(test)
}

/// How a test run in a child process ended.
#[derive(Debug)]
pub struct ChildOutcome {
    /// The test.
    pub test: String,
    /// How the child exited; `None` if it was killed for running past its time.
    pub status: Option<ExitStatus>,
    /// What the child printed (test harness output and the test's own).
    pub output: String,
}

impl ChildOutcome {
    /// Fails unless the test passed, saying how the child ended; for a crash, with the
    /// last lines it printed (a failed test's own panic message is in its output).
    pub fn assert_survived(&self) {
        let lines: Vec<&str> = self.output.lines().collect();
        let tail = lines[lines.len().saturating_sub(6)..].join("\n");
        match self.status {
            Some(status) if status.success() => {}
            // A failing test exits with 101 after printing why.
            Some(status) if status.code() == Some(101) => {
                panic!("{}: the test failed in its child process", self.test)
            }
            Some(status) => panic!(
                "{}: the test crashed its process ({status}); its last words:\n{tail}",
                self.test
            ),
            None => panic!(
                "{}: the test ran past its time limit and was killed; its last words:\n{tail}",
                self.test
            ),
        }
    }
}

/// Runs `test` of the current test binary in a child process and waits for it, killing it
/// after `limit`.
pub fn run(test: &str, limit: Duration) -> ChildOutcome {
    let exe = std::env::current_exe().expect("a test binary knows its path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary starts");
    // Read both pipes meanwhile, so a talkative child never blocks on a full pipe.
    let readers = [
        child.stdout.take().map(read_all),
        child.stderr.take().map(read_all),
    ];
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    // The harness's lines, then the test's own (its figures, its panic or crash).
    let output = readers
        .into_iter()
        .flatten()
        .map(|reader| reader.join().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("");
    ChildOutcome {
        test: test.to_owned(),
        status,
        output,
    }
}

fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
