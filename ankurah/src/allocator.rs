//! jemalloc as the program's global allocator: feature `jemalloc` (not on wasm or MSVC,
//! which jemalloc does not support).
//!
//! sled copies a tree node whenever it consolidates one and frees the copy it replaced, so
//! every commit on sled allocates and frees blocks of a few hundred bytes to a few KiB at a
//! high rate. glibc's allocator spent about a third of a sled commit in its free lists; on
//! jemalloc sled commits run at about one and a half times the rate (docs/PERFORMANCE.md,
//! "The allocator"). mimalloc was faster still, but it writes the zeroed page tables sled
//! allocates for every database, 5 MiB of memory each, where jemalloc and glibc leave them
//! untouched until used.
//!
//! A library cannot choose the allocator of the program it is linked into, so the program
//! opts in with the feature; one that defines its own `#[global_allocator]` leaves it off
//! (two are a compile error).

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
