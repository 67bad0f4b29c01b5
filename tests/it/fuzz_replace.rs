//! The fuzz target's check (`crates/wfuwp-replace/fuzz/check.rs`), compiled into this test
//! binary on the stable toolchain, so every test run builds it and runs it:
//! on the committed seed inputs (`crates/wfuwp-replace/fuzz/seeds/replace`) and on a few thousand
//! deterministic mutations of them. The coverage-guided run is
//! `scripts/fuzz.sh` (docs/testing.md).

#[path = "../../crates/wfuwp-replace/fuzz/check.rs"]
mod check;

use std::path::Path;

/// Mutations per seed input (and per pair set).
const MUTATIONS: usize = 200;

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/wfuwp-replace/fuzz/seeds/replace");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| std::fs::read(e.expect("a seed").path()).expect("reading a seed"))
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "too few seeds in {}", dir.display());
    seeds
}

/// One random edit: a byte changed, removed, inserted or duplicated span.
fn mutate(rng: &mut fastrand::Rng, input: &mut Vec<u8>) {
    if input.len() < 2 {
        input.push(rng.u8(..));
        return;
    }
    let i = rng.usize(1..input.len());
    match rng.u8(..4) {
        0 => input[i] = rng.u8(..),
        1 => {
            input.remove(i);
        }
        2 => input.insert(
            i,
            *b"\";:{}sa0123456789\\'/"
                .get(rng.usize(..20))
                .unwrap_or(&b'x'),
        ),
        _ => {
            let end = rng.usize(i..=input.len().min(i + 64));
            let span = input[i..end].to_vec();
            let at = rng.usize(1..=input.len());
            input.splice(at..at, span);
        }
    }
    // Inputs stay small, as libFuzzer's do by default.
    input.truncate(MAX_LEN);
}

/// Longest input tried.
const MAX_LEN: usize = 4096;

#[test]
fn the_fuzz_check_holds_on_the_seeds_and_their_mutations() {
    let mut rng = fastrand::Rng::with_seed(23);
    let mut runs = 0;
    for seed in seeds() {
        for selector in 0..6u8 {
            let mut input = seed.clone();
            input[0] = selector;
            check::check(&input);
            for _ in 0..MUTATIONS {
                mutate(&mut rng, &mut input);
                check::check(&input);
                runs += 1;
            }
        }
    }
    assert!(runs > 5_000, "{runs}");
}
