#!/usr/bin/env bash
# Runs the whole test suite against a private MariaDB sandbox:
#   scripts/test.sh                      # fmt --check, clippy -D warnings, cargo doc,
#                                        # the layers, the build on rust-version (when
#                                        # installed), a check of the fuzz crate,
#                                        # cargo test --workspace (targets and docs)
#   scripts/test.sh --test it config::   # cargo test with these arguments instead
#
# Starts a throw-away server (scripts/mariadb-sandbox.sh) in a temporary
# directory, exports its WFUWP_TEST_DB_* settings to the tests, runs the tests,
# and always stops and removes the server again.
# Exits with the tests' status.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SANDBOX_SCRIPT="$REPO/scripts/mariadb-sandbox.sh"

command -v cargo >/dev/null || { echo "test.sh: cargo not found; install Rust (https://rustup.rs) and run again" >&2; exit 1; }

# A short path keeps the server's Unix socket under the kernel's 108-byte limit.
SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/wfuwp-test.XXXXXX")
cleanup() {
    bash "$SANDBOX_SCRIPT" stop "$SANDBOX" >/dev/null 2>&1 || true
    rm -rf "$SANDBOX"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash "$SANDBOX_SCRIPT" start "$SANDBOX"
# shellcheck disable=SC1091
. "$SANDBOX/env.sh"

cd "$REPO"
status=0
if [ "$#" -eq 0 ]; then
    # The whole suite also holds the code to its gates: formatting and lints.
    cargo fmt --all --check || { echo "test.sh: cargo fmt --check failed; run cargo fmt --all" >&2; exit 1; }
    cargo clippy --workspace --all-targets --all-features -- -D warnings || { echo "test.sh: clippy found problems" >&2; exit 1; }
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet \
        || { echo "test.sh: cargo doc found problems" >&2; exit 1; }
    # The crates are layers: no module uses one above it, the engine no terminal crate.
    bash scripts/layers.sh --quiet || { echo "test.sh: a layer is broken (scripts/layers.sh)" >&2; exit 1; }
    # The declared rust-version must build, when that toolchain is here
    # (CI installs nothing beyond the packages it needs).
    msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
    if rustup toolchain list 2>/dev/null | grep -q "^$msrv"; then
        cargo "+$msrv" check --workspace --all-targets --all-features --target-dir "$REPO/target/msrv" \
            || { echo "test.sh: the workspace does not build on its rust-version $msrv" >&2; exit 1; }
    else
        echo "test.sh: Rust $msrv (the declared rust-version) is not installed; its build is skipped (rustup toolchain install $msrv)"
    fi
    # The fuzz crate (a workspace of its own) must keep compiling on stable;
    # its check function also runs in the suite (tests/it/fuzz_replace.rs).
    # Same target dir and features as the test build: mostly reused.
    cargo check --manifest-path crates/wfuwp-replace/fuzz/Cargo.toml --target-dir "$REPO/target" \
        || { echo "test.sh: the fuzz target does not build (crates/wfuwp-replace/fuzz/)" >&2; exit 1; }
fi
if [ "$#" -gt 0 ]; then
    cargo test "$@" || status=$?
else
    cargo test --workspace --all-targets || status=$?
    # The examples in the documentation (the exit-code match must stay exhaustive).
    [ "$status" -ne 0 ] || cargo test --workspace --doc || status=$?
fi
if [ "$status" -eq 0 ]; then
    echo "test.sh: all tests passed"
else
    echo "test.sh: tests FAILED (exit $status)" >&2
fi
exit "$status"
