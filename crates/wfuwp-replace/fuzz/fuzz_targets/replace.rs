//! Fuzz target: the engine never panics, never loops, and keeps its
//! invariants on arbitrary bytes (`../check.rs`).
//!
//! Run with cargo-fuzz: `cargo fuzz run replace` (nightly; on stable
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run replace`). Without it, on stable:
//! `scripts/fuzz.sh` builds this target against libFuzzer (no coverage
//! instrumentation) and runs it for a while (docs/testing.md).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../check.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check(data));
