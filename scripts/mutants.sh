#!/usr/bin/env bash
# Do the tests catch the bugs that matter? Applies a fixed list of small,
# deliberate bugs to the engine one at a time, runs the tests meant to catch
# each, restores the code, and prints which test caught which bug:
#   scripts/mutants.sh                 # every mutation
#   scripts/mutants.sh NAME…           # some of them
#   scripts/mutants.sh --list          # their names
#
# Each mutation is (file, exact anchor text, replacement): the anchor must
# occur exactly once in the file, else the script stops with an error (code
# moved: update the anchor). The original files are put back after each
# mutation and on any exit, Ctrl-C included. First the chosen tests run on
# the unchanged code (a test that fails anyway proves nothing). One private
# MariaDB serves every run. Exits 0 only when every mutation was caught.
# Takes about a minute or two per mutation (a rebuild, then its tests); not
# part of CI (docs/testing.md).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

NAMES=() FILES=() ANCHORS=() REPLACEMENTS=() TESTS=()
ANCHOR="" REPLACEMENT=""

# mutation NAME FILE TEST-FILTER… (anchor and replacement in ANCHOR, REPLACEMENT)
mutation() {
    NAMES+=("$1") FILES+=("$2") ANCHORS+=("$ANCHOR") REPLACEMENTS+=("$REPLACEMENT")
    shift 2
    TESTS+=("$*")
}

FULL=migrate::a_full_migration_changes_nothing_it_does_not_migrate

# 1. A full migration overwrites users and usermeta, as if --include-users
#    were always on (issue 23).
ANCHOR=$(cat <<'EOF'
    if include_users {
        suffixes.extend(["users", "usermeta"]);
EOF
)
REPLACEMENT=$(cat <<'EOF'
    if include_users || prefix.starts_with("wp") {
        suffixes.extend(["users", "usermeta"]);
EOF
)
mutation users-always-copied crates/wfuwp-engine/src/phases/network/mod.rs "$FULL"

# 2. Staging tables created without their secondary indexes (issue 23).
ANCHOR=$(cat <<'EOF'
    format!("CREATE TABLE {}{rest}", ident(new_name))
EOF
)
REPLACEMENT=$(cat <<'EOF'
    let rest = rest
        .lines()
        .filter(|l| !l.trim_start().starts_with("KEY "))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(",\n)", "\n)");
    format!("CREATE TABLE {}{rest}", ident(new_name))
EOF
)
mutation staging-without-secondary-indexes crates/wfuwp-engine/src/db/copy.rs "$FULL"

# 3. Array keys and property names replaced like values (issue 14).
ANCHOR=$(cat <<'EOF'
        if is_key {
            c.key()?;
EOF
)
REPLACEMENT=$(cat <<'EOF'
        if is_key && c.s.is_empty() {
            c.key()?;
EOF
)
mutation keys-replaced crates/wfuwp-replace/src/serialized.rs "$FULL"

# 4. The JSON-escaped forms of the pairs dropped (issue 14).
ANCHOR=$(cat <<'EOF'
        if !from.contains(&b'/') {
            continue;
        }
EOF
)
REPLACEMENT=$(cat <<'EOF'
        if !from.contains(&b'/') || i < explicit {
            continue;
        }
EOF
)
mutation json-escaped-pairs-dropped crates/wfuwp-replace/src/matcher.rs migrate::a_30_site_network_migrates_value_for_value

# 5. One column type skipped: TEXT columns are not replaced (issue 14).
ANCHOR=$(cat <<'EOF'
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "json"
EOF
)
REPLACEMENT=$(cat <<'EOF'
        "char" | "varchar" | "tinytext" | "mediumtext" | "longtext" | "json"
EOF
)
mutation text-columns-skipped crates/wfuwp-replace/src/column.rs "$FULL"

# 6. Rollback leaves usermeta as the migration made it.
ANCHOR=$(cat <<'EOF'
    for (site, backup) in records {
        if stop.is_set() {
EOF
)
REPLACEMENT=$(cat <<'EOF'
    for (site, mut backup) in records {
        backup.tables.retain(|t| !t.live.ends_with("usermeta"));
        if stop.is_set() {
EOF
)
mutation rollback-skips-usermeta crates/wfuwp-engine/src/rollback/restore.rs users::rollback_restores_users_and_usermeta_exactly

# 7. A serialized string's new length one too many when it holds multi-byte text.
ANCHOR=$(cat <<'EOF'
        push_decimal(buf, new.len());
EOF
)
REPLACEMENT=$(cat <<'EOF'
        push_decimal(buf, new.len() + usize::from(!new.is_ascii()));
EOF
)
mutation multibyte-length-off-by-one crates/wfuwp-replace/src/serialized.rs "$FULL"

# 8. blogs.domain (and every other column named domain) not rewritten.
ANCHOR=$(cat <<'EOF'
                .map(|c| match c.textual {
EOF
)
REPLACEMENT=$(cat <<'EOF'
                .map(|c| match c.textual && c.name != "domain" {
EOF
)
mutation blogs-domain-not-rewritten crates/wfuwp-engine/src/rules.rs "$FULL"

# 9. Staging tables created without their charset and collation (the
#    database's default instead).
ANCHOR=$(cat <<'EOF'
    format!("CREATE TABLE {}{rest}", ident(new_name))
EOF
)
REPLACEMENT=$(cat <<'EOF'
    let rest = rest.split(" DEFAULT CHARSET=").next().unwrap_or(rest);
    format!("CREATE TABLE {}{rest}", ident(new_name))
EOF
)
mutation staging-without-charset crates/wfuwp-engine/src/db/copy.rs "$FULL"

# 10. A site failed by a users clash still gets its blogs/blogmeta rows.
ANCHOR=$(cat <<'EOF'
    let filter = RowFilter::ids(SITE_KEY, ok.iter().copied());
EOF
)
REPLACEMENT=$(cat <<'EOF'
    let filter = RowFilter::ids(SITE_KEY, ids.iter().copied().filter(|_| !ok.is_empty()));
EOF
)
mutation failed-sites-rows-upserted crates/wfuwp-engine/src/phases/network/mod.rs users::members_and_authors_come_along_and_a_clash_fails_only_its_site

die() {
    echo "mutants.sh: $*" >&2
    exit 2
}

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${NAMES[@]}"
    exit 0
fi
chosen=()
if [ "$#" -eq 0 ]; then
    chosen=("${!NAMES[@]}")
else
    for want in "$@"; do
        found=""
        for i in "${!NAMES[@]}"; do
            [ "${NAMES[$i]}" = "$want" ] && found=$i
        done
        [ -n "$found" ] || die "no mutation named $want (see --list)"
        chosen+=("$found")
    done
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wfuwp-mutants.XXXXXX")
SANDBOX="$WORK/db"
mkdir -p "$WORK/originals" "$SANDBOX"
restore() {
    local f
    for f in "$WORK"/originals/*; do
        [ -e "$f" ] || continue
        # A plain copy, so the file is newer than the mutant's build and
        # cargo rebuilds it (`cp -p` would keep the old time and the mutant).
        cp "$f" "$REPO/$(basename "$f" | tr '%' '/')"
        rm -f "$f"
    done
}
finish() {
    restore
    bash "$REPO/scripts/mariadb-sandbox.sh" stop "$SANDBOX" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap finish EXIT
trap 'echo "mutants.sh: interrupted; code restored" >&2; exit 130' INT
trap 'exit 143' TERM

# Replaces the one occurrence of $2 in file $1 by $3 (keeping the original).
apply() {
    local file=$1 anchor=$2 replacement=$3 content rest
    [ -f "$file" ] || die "$file does not exist (code moved? update the mutation)"
    content=$(cat "$file"; printf x)
    content=${content%x}
    case "$content" in
        *"$anchor"*) ;;
        *) die "anchor not found in $file (code changed? update the mutation):
$anchor" ;;
    esac
    rest=${content#*"$anchor"}
    case "$rest" in
        *"$anchor"*) die "anchor found more than once in $file:
$anchor" ;;
    esac
    cp "$file" "$WORK/originals/$(echo "$file" | tr '/' '%')"
    printf '%s' "${content%%"$anchor"*}$replacement$rest" >"$file"
}

# Runs cargo test with the filters $@ (split on spaces); output in $LOG.
run_tests() {
    # shellcheck disable=SC2086
    cargo test --test it -- $* >"$LOG" 2>&1
}

# Every anchor is checked before anything runs.
for i in "${chosen[@]}"; do
    apply "${FILES[$i]}" "${ANCHORS[$i]}" "${REPLACEMENTS[$i]}"
    restore
done

bash scripts/mariadb-sandbox.sh start "$SANDBOX" >/dev/null
# shellcheck disable=SC1091
. "$SANDBOX/env.sh"

all_tests=$(for i in "${chosen[@]}"; do echo "${TESTS[$i]}"; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
echo "mutants.sh: the chosen tests on the unchanged code: $all_tests"
LOG="$WORK/baseline.log"
run_tests "$all_tests" || {
    cat "$LOG" >&2
    die "the tests fail without any mutation; fix that first"
}

results=()
missed=0
for i in "${chosen[@]}"; do
    name=${NAMES[$i]}
    echo "mutants.sh: $name (${FILES[$i]}): ${TESTS[$i]}"
    apply "${FILES[$i]}" "${ANCHORS[$i]}" "${REPLACEMENTS[$i]}"
    LOG="$WORK/$name.log"
    if run_tests "${TESTS[$i]}"; then
        results+=("$(printf '%-36s MISSED' "$name")")
        missed=$((missed + 1))
    elif grep -q '^test .* \.\.\. FAILED$' "$LOG"; then
        by=$(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$LOG" | tr '\n' ' ')
        # The first line the failing test said, and the first problem it named.
        why=$(grep -A2 -m1 'panicked at' "$LOG" | tail -n 2 | cut -c1-150 | paste -sd '|' -)
        results+=("$(printf '%-36s caught by %s\n%-36s   %s' "$name" "$by" "" "$why")")
    else
        restore
        cat "$LOG" >&2
        die "$name: the tests did not run (the mutation does not compile?)"
    fi
    restore
done

echo
echo "mutation                             result"
printf '%s\n' "${results[@]}"
caught=$((${#chosen[@]} - missed))
echo "mutants.sh: $caught of ${#chosen[@]} caught, $missed missed"
[ "$missed" -eq 0 ]
