//! The one-pass, serialization-safe search-replace engine (SPEC §8).
