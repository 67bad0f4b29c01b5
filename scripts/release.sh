#!/usr/bin/env bash
# Builds what an admin host installs, into dist/wfuwp-VERSION-TARGET.tar.gz:
#   bin/wfuwp                          the release binary (no debug info, no test machinery)
#   share/man/man1/wfuwp.1             the man page (examples/man.rs, from the clap definition)
#   share/bash-completion/completions/wfuwp, share/zsh/site-functions/_wfuwp,
#   share/fish/vendor_completions.d/wfuwp.fish
#   README.md, wfuwp.example.toml
# Unpack it under /usr/local (or /opt/wfuwp) on the admin host:
#   tar -xzf dist/wfuwp-*.tar.gz -C /usr/local --strip-components=1
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
command -v cargo >/dev/null || { echo "release.sh: cargo not found; install Rust (https://rustup.rs) and run again" >&2; exit 1; }

cargo build --release --locked
BIN=target/release/wfuwp
VERSION=$("$BIN" --version | awk '{print $2}')
TARGET=$(rustc -vV | sed -n 's/^host: //p')
NAME="wfuwp-$VERSION-$TARGET"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/wfuwp-release.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
ROOT="$STAGE/$NAME"

install -Dm755 "$BIN" "$ROOT/bin/wfuwp"
mkdir -p "$ROOT/share/man/man1"
cargo run --quiet --locked --example man > "$ROOT/share/man/man1/wfuwp.1"
install -d "$ROOT/share/bash-completion/completions" "$ROOT/share/zsh/site-functions" \
    "$ROOT/share/fish/vendor_completions.d"
"$BIN" completions bash > "$ROOT/share/bash-completion/completions/wfuwp"
"$BIN" completions zsh > "$ROOT/share/zsh/site-functions/_wfuwp"
"$BIN" completions fish > "$ROOT/share/fish/vendor_completions.d/wfuwp.fish"
install -m644 README.md wfuwp.example.toml "$ROOT/"

# The release binary must not carry test machinery (docs/architecture.md).
if grep -q WFUWP_FAILPOINT "$ROOT/bin/wfuwp"; then
    echo "release.sh: the release binary contains failpoints; build without the failpoints feature" >&2
    exit 1
fi

mkdir -p dist
tar -czf "dist/$NAME.tar.gz" -C "$STAGE" "$NAME"
echo "dist/$NAME.tar.gz ($(du -h "dist/$NAME.tar.gz" | cut -f1)): $("$BIN" --version)"
