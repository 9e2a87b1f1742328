//! Benchmarks of single parts: the release binaries' start-up and memory (`runtime`), and
//! the signed links and Ed25519 costs the capacity benchmark uses (`signed_links`).

pub mod runtime;
pub mod signed_links;
