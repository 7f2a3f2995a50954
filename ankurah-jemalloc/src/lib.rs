//! jemalloc as the global allocator of the program that links this crate: write
//! `use ankurah_jemalloc as _;` in the program's main file (a dependency the program never
//! names is not linked). On wasm and MSVC, which jemalloc does not support, it does nothing.
//!
//! For programs on sled: sled copies a tree node whenever it consolidates one and frees the
//! copy it replaced, so every commit allocates and frees blocks of a few hundred bytes to a
//! few KiB at a high rate. glibc's allocator spent about a third of a sled commit in its free
//! lists; on jemalloc commits on sled run at 1.3 to 2 times the rate (docs/PERFORMANCE.md, "The
//! allocator"). mimalloc was faster still, but each sled database cost 5 MiB of resident
//! memory on it (sled allocates zeroed page tables of several MiB per database, which glibc
//! and jemalloc leave untouched until used; mimalloc, by all signs, writes them).
//!
//! A crate of its own, not a feature of `ankurah`: a program's test binaries may count
//! allocations with an allocator of their own, and a feature, once any crate of a workspace
//! enables it, would be on in every binary that links `ankurah`.

#[cfg(not(any(target_arch = "wasm32", target_env = "msvc")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
