//! The integration tests, as one test binary (one link instead of one per
//! file): each module is one area, run against the MariaDB sandbox that
//! `scripts/test.sh` starts (docs/testing.md).
//!
//! Run one area with `cargo test --test it config::`.

mod migration_kit;
mod oracle;
mod support;

mod config;
mod config_init;
mod crash;
mod faults;
mod fuzz_replace;
mod hosts;
mod managed;
mod media;
mod migrate;
mod refresh;
mod replace;
mod replace_php;
mod rollback;
mod safety;
mod safety_local;
mod scrub;
mod sizes;
mod state;
mod stream_dump;
mod testbed;
mod throttle;
mod tls;
mod users;
