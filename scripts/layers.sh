#!/usr/bin/env bash
# Are the layers kept (docs/architecture.md)? Prints, per crate and per
# top-level module, what it depends on, and fails on a dependency that points
# upwards (or sideways inside a layer), which is also every cycle:
#   scripts/layers.sh            # check and print the table
#   scripts/layers.sh --quiet    # check only (scripts/test.sh runs this)
#
# Between crates Cargo keeps the layers (a crate sees only what it depends
# on); this also checks that the engine's dependency tree holds no terminal
# crate. Inside a crate, a module's dependencies are read from its source:
# every `crate::NAME` path (in `use` lines and inline), and `super::NAME` in
# the module's own top file (where `super` is the crate). The layers below are
# the declared order, lowest first; a module may use only modules of lower
# layers. A new top-level module must be added to its crate's list here.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
QUIET=false
[ "${1:-}" = "--quiet" ] && QUIET=true

# crate name | source dir | layers, lowest first ("a b" = one layer, "/" between layers)
CRATES=(
  "wfuwp-replace|crates/wfuwp-replace/src|column / matcher / serialized / sql leftovers"
  "wfuwp-engine|crates/wfuwp-engine/src|failpoints stop refusal retry sites / report / config / state / db / names / ledger / media tables throttle scope hosts scrub keep refresh / rules / phases rollback / error / lifecycle check"
  "wfuwp-testbed|crates/wfuwp-testbed/src|php insert schema / content / generate uploads seed"
  "wfuwp|src|cli / exit / ui / signals / commands"
)
# Crates that must never be in the engine's dependency tree: the terminal is the binary's.
TERMINAL_CRATES="clap clap_complete clap_mangen indicatif dialoguer console"

status=0
say() { $QUIET || printf '%s\n' "$*"; }
fail() { printf 'layers.sh: %s\n' "$*" >&2; status=1; }

# The files of top-level module $2 of a crate whose sources are in $1.
module_files() {
    local dir=$1 m=$2
    { [ -f "$dir/$m.rs" ] && echo "$dir/$m.rs"; [ -d "$dir/$m" ] && find "$dir/$m" -name '*.rs'; } | sort
}

# The crate's top-level modules that module $2 uses, one a line. Comments
# are not uses (line comments, doc links included, are dropped first), nor
# are macros exported at the crate root (`crate::outln!`).
uses_of() {
    local dir=$1 m=$2
    {
        module_files "$dir" "$m" | xargs -r sed -e 's#//.*$##' |
            grep -oE '(^|[^a-zA-Z0-9_$])crate::[a-z_][a-z0-9_]*!?' || true
        for top in "$dir/$m.rs" "$dir/$m/mod.rs"; do
            [ -f "$top" ] || continue
            sed -e 's#//.*$##' "$top" | grep -oE '(^|[^a-zA-Z0-9_$])super::[a-z_][a-z0-9_]*!?' || true
        done
    } | grep -v '!$' | sed -E 's/.*(crate|super):://' | sort -u | grep -vx "$m" || true
}

for entry in "${CRATES[@]}"; do
    IFS='|' read -r name dir layers <<<"$entry"
    say "== $name ($dir)"
    say "   crates: $(cargo tree -q -p "$name" -e normal --depth 1 --prefix none 2>/dev/null |
        sed 1d | awk '{print $1}' | sort -u | tr '\n' ' ')"
    declare -A layer_of=()
    level=0
    for token in $layers; do
        if [ "$token" = "/" ]; then level=$((level + 1)); continue; fi
        layer_of[$token]=$level
    done
    # Every top-level module must be placed in a layer.
    for f in "$dir"/*.rs "$dir"/*/; do
        m=$(basename "$f" .rs)
        case "$m" in lib | main | tests) continue ;; esac
        [ -n "${layer_of[$m]+x}" ] || fail "$name: module '$m' is in no layer; add it to scripts/layers.sh"
    done
    for token in $layers; do
        [ "$token" = "/" ] && continue
        m=$token
        deps=$(uses_of "$dir" "$m" | tr '\n' ' ')
        say "   L${layer_of[$m]} $m -> ${deps:-(nothing)}"
        for d in $deps; do
            [ -n "${layer_of[$d]+x}" ] || continue # an item of lib.rs, e.g. a re-export
            if [ "${layer_of[$d]}" -ge "${layer_of[$m]}" ]; then
                fail "$name: $m (layer ${layer_of[$m]}) uses $d (layer ${layer_of[$d]}): a dependency upwards or sideways"
            fi
        done
    done
    unset layer_of
done

engine_tree=$(cargo tree -q -p wfuwp-engine -e normal --prefix none 2>/dev/null | awk '{print $1}' | sort -u)
for c in $TERMINAL_CRATES; do
    if grep -qx "$c" <<<"$engine_tree"; then
        fail "wfuwp-engine depends on $c (terminal crates are the binary's)"
    fi
done
say "== wfuwp-engine's dependency tree has none of: $TERMINAL_CRATES"

[ "$status" -eq 0 ] && say "layers.sh: no dependency upwards, no cycle"
exit "$status"
