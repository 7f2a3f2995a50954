//! Live heap bytes of this process, counted exactly by a global allocator.
//!
//! A binary that wants the figures installs the allocator in its crate root:
//!
//! ```ignore
//! #[global_allocator]
//! static HEAP: heap::Counting = heap::Counting;
//! ```
//!
//! The counts are what is allocated and not yet freed, whoever holds it (server, clients,
//! the test itself), so they are immune to the allocator keeping freed pages: a queue that
//! drains shows up at once. Used by the attack tests and by the `flood` example (which
//! includes this file by path), hence no dependency beyond std.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live bytes and their peak.
pub struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

pub const MIB: usize = 1 << 20;

/// Live heap bytes now.
pub fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

/// The most live heap bytes since the last [`reset_peak`].
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from the current figure.
pub fn reset_peak() {
    PEAK.store(current(), Ordering::Relaxed);
}

/// Whether the counting allocator is the global one (otherwise every figure is 0).
pub fn installed() -> bool {
    drop(std::hint::black_box(vec![0u8; 64]));
    peak() > 0
}

/// Bytes as MiB with one decimal, for reports.
pub fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// Waits (up to `patience`) until the live heap is at most `target` bytes; returns the
/// lowest figure seen, which is the settled heap when it stayed above the target.
pub async fn settle_below(target: usize, patience: Duration) -> usize {
    let deadline = Instant::now() + patience;
    let mut lowest = current();
    while lowest > target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        lowest = lowest.min(current());
    }
    lowest
}

/// Waits until the live heap has made no new peak for `quiet` (work in progress has
/// finished growing it), or `patience` passed; returns the peak.
pub async fn until_steady(quiet: Duration, patience: Duration) -> usize {
    let deadline = Instant::now() + patience;
    let (mut last_peak, mut since) = (peak(), Instant::now());
    while since.elapsed() < quiet && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if peak() > last_peak + MIB {
            (last_peak, since) = (peak(), Instant::now());
        }
    }
    peak()
}
