#!/usr/bin/env bash
# A coverage-guided fuzz run of the replacement engine on the stable
# toolchain, without cargo-fuzz:
#   scripts/fuzz.sh            # 60 seconds
#   FUZZ_SECONDS=600 scripts/fuzz.sh
#
# Builds the replace crate's fuzz target (crates/wfuwp-replace/fuzz,
# fuzz_targets/replace.rs) against libFuzzer (libfuzzer-sys) with
# the SanitizerCoverage instrumentation cargo-fuzz would ask for (stable
# -C flags; no sanitizer, which would need nightly), into target/fuzz, and
# runs it on a working corpus seeded from its seeds/replace
# (corpus/replace there, not committed). A crash leaves its input in
# artifacts/replace/ there and fails this script; replay it with
#   target/fuzz/x86_64-unknown-linux-gnu/release/replace crates/wfuwp-replace/fuzz/artifacts/replace/<file>
# The first build is long: the whole dependency tree, instrumented, in
# release (29 minutes on a busy 2-core machine); later ones are quick.
# Needs a C++ compiler (libFuzzer is C++). CI does not run this: it builds
# and exercises the target's check in the test suite (docs/testing.md).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
TARGET=$(rustc -vV | sed -n 's/^host: //p')
cd "$REPO/crates/wfuwp-replace/fuzz"

# --target keeps the flags off build scripts and proc macros; --cfg fuzzing
# is what fuzz targets and libfuzzer-sys expect.
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
    cargo build --release --bin replace --target "$TARGET" --target-dir "$REPO/target/fuzz"

mkdir -p corpus/replace artifacts/replace
cp -n seeds/replace/* corpus/replace/
echo "fuzz.sh: fuzzing for ${SECONDS_TO_RUN}s"
"$REPO/target/fuzz/$TARGET/release/replace" corpus/replace \
    -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -timeout=10 \
    -artifact_prefix=artifacts/replace/ -print_final_stats=1
echo "fuzz.sh: no crash in ${SECONDS_TO_RUN}s"
