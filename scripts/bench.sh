#!/usr/bin/env bash
# Benchmark of a full wfuwp migration against `mysqldump | mysql` (docs/performance.md, issue 6).
#
#   scripts/bench.sh                 # full run: 200 sites, 3 repetitions (< 15 min on 2 cores)
#   BENCH_QUICK=1 scripts/bench.sh   # smoke run: 20 small sites, 1 repetition
#
# Builds wfuwp (cargo build --release), starts a private MariaDB sandbox
# (scripts/mariadb-sandbox.sh) in a temporary directory, stopped and removed on
# exit, and generates a "prod" network with `wfuwp seed-network`. Then, on the
# same tables (every table of the network, users included), it times:
#
#   (a) baseline:  mariadb-dump --single-transaction prod | mariadb <fresh database>
#   (b) wfuwp:     wfuwp env-migrate prod uat --force --include-users --concurrency N
#                  for N in 1 2 4: a full migration with replacement, backups
#                  and state, into a target that already holds a network (seeded
#                  with another generator seed before every run, so every run
#                  meets the same target and its backups are real)
#   (c) wfuwp with local_infile OFF on the server (as managed servers often
#                  have it): the same migration at --concurrency N for N in
#                  BENCH_INSERT_CONCURRENCY, written with multi-row INSERTs
#                  instead of LOAD DATA (the summary's bulkMode is checked)
#
# each BENCH_REPEAT times, interleaved (a, b1, b2, b4, a, b1, ...), and reports
# medians of wall time, rows/s, MB/s (of the source's dump size, the same
# figure for every row) and peak RSS of the client processes, with the ratio
# (b)/(a) of wall times, and against the server's own floor:
#
#   (f) floor:     CREATE TABLE … LIKE + INSERT … SELECT of every table, in one
#                  session of one server (no client in the data path, no
#                  replacement): what the server needs to copy the rows at all
#   (m) mydumper -t 4 + myloader -t 4, when Debian's `mydumper` is installed
#
# wfuwp's own timers (the summary's `timings`) show where its time goes.
# Then the `wfuwp search-replace` stream rate over that
# dump. Then media: the uploads of BENCH_MEDIA_SITES sites copied between two
# buckets of a local S3 server (moto, scripts/s3-sandbox.sh) by
# `wfuwp env-migrate --media-only`, server-side and streamed, against `aws s3
# sync` of the same prefixes when the AWS CLI is installed, else a plain
# sequential copy (one object after the other, boto3). Ends with Markdown tables.
#
# Settings (environment):
#   BENCH_SITES=200        sites in the network (the main site included)
#   BENCH_POSTS=20         posts per site
#   BENCH_LARGE=1          include values over 1 MB (seed-network --large)
#   BENCH_REPEAT=3         repetitions of every measurement (median reported)
#   BENCH_CONCURRENCY="1 2 4"  wfuwp concurrencies measured
#   BENCH_INSERT_CONCURRENCY="4"  concurrencies measured with local_infile OFF ("" skips (c))
#   BENCH_QUICK=1          smoke run: defaults become 20 sites, 5 posts, 1 repetition
#   BENCH_MEDIA=1          media throughput (docs/media.md) on a local moto S3 server ("0" skips)
#   BENCH_MEDIA_SITES=20   sites with uploads; each gets BENCH_MEDIA_OBJECTS small objects
#   BENCH_MEDIA_OBJECTS=50 of 64 KiB, plus one of 4 MiB
#   BENCH_SCALE=1          network scale (issue 13): for each size in BENCH_SCALE_SITES
#                          ("150 1500"), 5 posts per site, no large values, wfuwp at
#                          concurrency 1 2 8 4 against the server-side floor, the dump
#                          pipeline and mydumper/myloader, then a rollback of the last
#                          migration (concurrency 4, the default) and a resume at that
#                          concurrency timed; ends with seconds per site at each size
#                          (media, (c) and the stream are skipped)
#   BENCH_SCALE_REPEAT="3 1"  repetitions per size of BENCH_SCALE_SITES: a 150-site run
#                          lasts seconds and moves by ±20 % between runs, a 1,500-site
#                          run averages itself over minutes
#   BENCH_SERVER_OPTIONS   extra mariadbd options for the sandbox. Scale mode sizes the
#                          server's table caches for its largest network by default
#                          (table_definition_cache, table_open_cache, innodb_open_files:
#                          48 per site, what source, target, backups and a peer's copy
#                          hold at once), the same at every size, as a DBA would for a
#                          network of that size (docs/managed.md); "" keeps MariaDB's
#                          defaults (400 / 2000)
#   BENCH_SCRUB=1          the source gets personal data (seed-network --personal-data)
#                          and a request-log table of BENCH_LOG_ROWS rows per site
#                          (--log-rows, default 200); besides (b), each concurrency runs
#                          (s) with uat's scrub/keep/set rules on (docs/scrub.md) and
#                          (x) with them and the log table excluded; the table then
#                          quotes the cost of (s) against (b) (goal: at most 5 %)
#   BENCH_REFRESH=1        refresh (issue 27; on by default in scale mode, "0" skips): a full
#                          migration at --concurrency 4 into a seeded target, then
#                          BENCH_REFRESH_PERCENT (5) % of the source's sites changed (one value
#                          each) and `--changed-only` timed against it, the full run and the
#                          server-side floor, with the checksum time on each side; then
#                          another such share changed and `--changed-only` again: the
#                          nightly case (the first one also drops the full run's backups)
#   BENCH_BIN=PATH         use this wfuwp binary instead of building one
#   BENCH_BIN_B=PATH       also run (b) with this other wfuwp binary in every repetition, right
#                          after the first one's: two builds compared under the same load (a
#                          busy machine moves every run by ±50 %, the ratio of neighbours much
#                          less); prints their ratio per repetition
#   BENCH_KEEP=1           keep the work directory (sandbox stopped) for inspection
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SANDBOX_SCRIPT="$REPO/scripts/mariadb-sandbox.sh"

# Scale mode: this script once per size, then the per-site comparison.
if [ "${BENCH_SCALE:-0}" = 1 ] && [ -z "${BENCH_SCALE_RUN:-}" ]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/wfuwp-bench-scale.XXXXXX")
    read -r -a scale_repeat <<<"${BENCH_SCALE_REPEAT:-3 1}"
    largest=$(for n in ${BENCH_SCALE_SITES:-150 1500}; do echo "$n"; done | sort -n | tail -n 1)
    cache=$((largest * 48 > 2000 ? largest * 48 : 2000))
    export BENCH_SERVER_OPTIONS="${BENCH_SERVER_OPTIONS-"--table-definition-cache=$cache --table-open-cache=$cache --innodb-open-files=$cache --open-files-limit=$((cache * 2))"}"
    i=0
    for n in ${BENCH_SCALE_SITES:-150 1500}; do
        BENCH_SCALE_RUN="$OUT/$n" BENCH_SITES=$n BENCH_REPEAT=${scale_repeat[$i]:-1} bash "${BASH_SOURCE[0]}"
        i=$((i + 1))
    done
    echo
    echo "### seconds per site"
    echo
    echo "| run | $(for n in ${BENCH_SCALE_SITES:-150 1500}; do printf '%s sites | ' "$n"; done)growth |"
    echo "|---|$(for _ in ${BENCH_SCALE_SITES:-150 1500}; do printf -- '---:|'; done)---:|"
    # Each size wrote "kind seconds_per_site" lines.
    awk '{ k[$1] = 1; v[FILENAME, $1] = $2; if (!(FILENAME in f)) { f[FILENAME] = ++nf; fn[nf] = FILENAME } }
        END { for (kind in k) { line = "| " kind " |"; first = ""; last = "";
                for (i = 1; i <= nf; i++) { x = v[fn[i], kind]; line = line " " (x == "" ? "-" : sprintf("%.4f", x)) " |";
                    if (x != "") { if (first == "") first = x; last = x } }
                print line " " (first > 0 && last != "" ? sprintf("%.2f", last / first) : "-") " |" } }' \
        $(for n in ${BENCH_SCALE_SITES:-150 1500}; do echo "$OUT/$n/per-site"; done) | sort
    echo
    echo "growth: seconds per site at the largest size / at the smallest (1.00 = per-site cost does not grow with the network)"
    rm -rf "$OUT"
    exit 0
fi

if [ -n "${BENCH_SCALE_RUN:-}" ]; then
    SITES=${BENCH_SITES:-1500}
    POSTS=${BENCH_POSTS:-5}
    REPEAT=${BENCH_REPEAT:-1}
    BENCH_LARGE=${BENCH_LARGE:-0}
    # The default concurrency last: the rollback and the resume are of it.
    BENCH_CONCURRENCY=${BENCH_CONCURRENCY:-"1 2 8 4"}
    BENCH_INSERT_CONCURRENCY=""
    BENCH_MEDIA=0
    mkdir -p "$BENCH_SCALE_RUN"
elif [ "${BENCH_QUICK:-0}" = 1 ]; then
    SITES=${BENCH_SITES:-20}
    POSTS=${BENCH_POSTS:-5}
    REPEAT=${BENCH_REPEAT:-1}
else
    SITES=${BENCH_SITES:-200}
    POSTS=${BENCH_POSTS:-20}
    REPEAT=${BENCH_REPEAT:-3}
fi
LARGE=${BENCH_LARGE:-1}
CONCS=${BENCH_CONCURRENCY:-"1 2 4"}
INSERT_CONCS=${BENCH_INSERT_CONCURRENCY-"4"}
T0=$(date +%s)

log() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

# ------------------------------------------------------------------ tools
# GNU time measures peak RSS; mariadb-dump and mariadb come with mariadb-client.
need_packages=()
[ -x /usr/bin/time ] || need_packages+=(time)
command -v mariadb-dump >/dev/null 2>&1 || need_packages+=(mariadb-client)
# mydumper is a peer only in scale mode; its absence is reported, not fatal.
[ -n "${BENCH_SCALE_RUN:-}" ] && ! command -v mydumper >/dev/null 2>&1 && need_packages+=(mydumper)
if [ "${#need_packages[@]}" -gt 0 ]; then
    log "installing ${need_packages[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null \
        || log "could not install all of ${need_packages[*]}; going on without what is missing"
fi
GNU_TIME=/usr/bin/time

# ------------------------------------------------------------------ build
if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    command -v cargo >/dev/null || die "cargo not found; install Rust (https://rustup.rs) and run again"
    log "building wfuwp (cargo build --release --features testbed)"
    # Apart from target/release, which stays the production build.
    BUILD_DIR="${CARGO_TARGET_DIR:-$REPO/target}/with-test-machinery"
    (cd "$REPO" && cargo build --release --quiet --features testbed --target-dir "$BUILD_DIR")
    BIN="$BUILD_DIR/release/wfuwp"
fi
[ -x "$BIN" ] || die "$BIN is not an executable"
[ -z "${BENCH_BIN_B:-}" ] || [ -x "$BENCH_BIN_B" ] || die "$BENCH_BIN_B is not an executable"
SEED_BIN=$BIN

# ------------------------------------------------------------------ sandbox
# A short path keeps the server's Unix socket under the kernel's 108-byte limit.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wfuwp-bench.XXXXXX")
# A network and a target with its backups at once: about 10 MB per site
# (16,685 InnoDB files at 1,500 sites). Refuse up front rather than fill the
# disk half-way through.
need_mb=$((SITES * 10 + 2048))
free_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
[ "$free_mb" -ge "$need_mb" ] || die "about $need_mb MB of free disk are needed in $WORK for $SITES sites, $free_mb MB are free"
SANDBOX="$WORK/db"
CHILD=""
cleanup() {
    # A measurement still running (interrupted): stop it and what it runs.
    if [ -n "$CHILD" ] && kill -0 "$CHILD" 2>/dev/null; then
        pkill -TERM -P "$CHILD" 2>/dev/null || true
        kill -TERM "$CHILD" 2>/dev/null || true
        wait "$CHILD" 2>/dev/null || true
    fi
    bash "$SANDBOX_SCRIPT" stop "$SANDBOX" >/dev/null 2>&1 || true
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a MariaDB sandbox in $SANDBOX"
read -r -a server_options <<<"${BENCH_SERVER_OPTIONS:-}"
[ "${#server_options[@]}" -gt 0 ] && server_options=(-- "${server_options[@]}")
bash "$SANDBOX_SCRIPT" start "$SANDBOX" "${server_options[@]}" >"$WORK/sandbox.log" 2>&1 || { cat "$WORK/sandbox.log" >&2; die "sandbox did not start"; }
# shellcheck disable=SC1091
. "$SANDBOX/env.sh"
# Clients read the password from the environment, never from the command line.
export MYSQL_PWD="$WFUWP_TEST_DB_PASSWORD"
CONN=(--no-defaults -h "$WFUWP_TEST_DB_HOST" -P "$WFUWP_TEST_DB_PORT" -u "$WFUWP_TEST_DB_USER")
# SQL goes through stdin: one argument may not exceed 128 kB.
sql() { mariadb "${CONN[@]}" --batch --skip-column-names <<<"$1"; }

# ------------------------------------------------------------------ config
# prod: the source; uat: the wfuwp target (one fresh database per run);
# dump: the baseline's target (one fresh database per run).
env_block() { # name database main subdomains cdn bucket [line of the environment's own table]
    cat <<EOF
[environments.$1]
host = "$WFUWP_TEST_DB_HOST"
port = $WFUWP_TEST_DB_PORT
user = "$WFUWP_TEST_DB_USER"
password_env = "WFUWP_TEST_DB_PASSWORD"
database = "$2"
${7:-}

[environments.$1.replace]
main = "$3"
subdomains = "$4"
cdn = "$5"
bucket = "$6"

EOF
}
PROD_TOKENS=(www.wfu.edu .wfu.edu prod.wp.cdn.aws.wfu.edu wordpress-prod-us)
UAT_TOKENS=(uat.wfu.edu .uat.wfu.edu uat.wp.cdn.aws.wfu.edu wordpress-uat-us)
# uat's rules in the scrub runs (docs/scrub.md): what a prod → uat refresh uses.
export WFUWP_BENCH_SCRUB_SECRET=bench-secret-0123456789abcdef
SCRUB_RULES='
[environments.uat.scrub]
users = true
secret_env = "WFUWP_BENCH_SCRUB_SECRET"
keep_users = ["admin"]
comments = true
[[environments.uat.scrub.column]]
table = "gf_entry"
column = "ip"
action = "hash"
[[environments.uat.scrub.column]]
table = "gf_entry_meta"
column = "meta_value"
action = "empty"
[[environments.uat.scrub.meta]]
table = "usermeta"
keys = ["billing_email"]
action = "email"
[[environments.uat.scrub.meta]]
table = "usermeta"
keys = ["billing_*", "shipping_*"]
action = "empty"
[environments.uat.keep]
options = ["blog_public", "admin_email", "mailserver_*", "upload_path", "upload_url_path"]
sitemeta = ["admin_email", "registration"]
[environments.uat.set]
options = { blog_public = "0" }
'
write_config() { # file uat_database dump_database [rules: scrub | exclude]
    local own=""
    if [ "${4:-}" = exclude ]; then own='exclude_tables = ["*_wfhits"]'; fi
    {
        echo 'logs_dir = "logs"'
        echo
        env_block prod bench_prod "${PROD_TOKENS[@]}"
        env_block uat "$2" "${UAT_TOKENS[@]}" "$own"
        env_block dump "$3" "${UAT_TOKENS[@]}"
        if [ -n "${4:-}" ]; then echo "$SCRUB_RULES"; fi
    } >"$1"
}

# ------------------------------------------------------------------ source
large=()
[ "$LARGE" = 1 ] && large=(--large)
personal=()
[ "${BENCH_SCRUB:-0}" = 1 ] && personal=(--personal-data --log-rows "${BENCH_LOG_ROWS:-200}")
write_config "$WORK/config.toml" bench_uat_0 bench_dump_0
log "seeding prod: $SITES sites, $POSTS posts per site ${large[*]}"
"$BIN" --config "$WORK/config.toml" seed-network --env prod --sites "$SITES" --posts "$POSTS" "${large[@]}" "${personal[@]}" --seed 42 \
    >"$WORK/seed-prod.log" 2>&1 || { cat "$WORK/seed-prod.log" >&2; die "seeding prod failed"; }
sed 's/^/    /' "$WORK/seed-prod.log" >&2

# The tables a full migration with --include-users copies: every table of the
# network (all carry the prefix) but the network tables it leaves alone
# (src/migrate/network.rs). The baseline copies exactly these.
mapfile -t TABLES < <(sql "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'bench_prod' \
    AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME LIKE 'wp\\_%' \
    AND TABLE_NAME NOT IN ('wp_signups', 'wp_registration_log', 'wp_blog_versions') ORDER BY TABLE_NAME")
NTABLES=${#TABLES[@]}
[ "$NTABLES" -gt 0 ] || die "prod has no tables"
# Exact row count: one query over every table.
count_sql="SELECT SUM(n) FROM ("
sep=""
for t in "${TABLES[@]}"; do
    count_sql+="$sep SELECT COUNT(*) AS n FROM bench_prod.\`$t\`"
    sep=" UNION ALL"
done
ROWS=$(sql "$count_sql) AS counts")

DUMP_ARGS=("${CONN[@]}" --single-transaction bench_prod "${TABLES[@]}")
mariadb-dump "${DUMP_ARGS[@]}" >"$WORK/prod.sql"
DUMP_BYTES=$(stat -c %s "$WORK/prod.sql")
MB=$(awk -v b="$DUMP_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')
log "source: $NTABLES tables, $ROWS rows, dump $MB MB"

# ------------------------------------------------------------------ measuring
# Results: one line per measurement in $WORK/results: "kind seconds peak_kb".
: >"$WORK/results"
: >"$WORK/timings"

# time_it KIND LOGFILE CMD...: runs CMD under GNU time; appends to results.
time_it() {
    local kind=$1 logfile=$2 status=0
    shift 2
    # In the background and waited for, so that a signal is handled at once.
    "$GNU_TIME" -f '%e %M' -o "$WORK/time.out" "$@" >"$logfile" 2>&1 &
    CHILD=$!
    wait "$CHILD" || status=$?
    CHILD=""
    if [ "$status" -ne 0 ]; then
        tail -n 30 "$logfile" >&2
        die "$kind failed (exit $status); log: $logfile"
    fi
    local secs kb
    read -r secs kb <"$WORK/time.out"
    echo "$kind $secs $kb" >>"$WORK/results"
    log "$kind: ${secs} s, peak RSS $((kb / 1024)) MB"
}

run_baseline() { # rep
    local db="bench_dump_$1"
    sql "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
    # The pipeline as one process tree: GNU time reports the larger client's RSS.
    time_it baseline "$WORK/baseline-$1.log" bash -c \
        'set -o pipefail; n=$1 db=$2; shift 2; mariadb-dump "$@" | mariadb "${@:1:n}" "$db"' \
        _ "${#CONN[@]}" "$db" "${DUMP_ARGS[@]}"
    local n
    n=$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$db'")
    [ "$n" = "$NTABLES" ] || die "baseline copied $n tables, expected $NTABLES"
}

run_floor() { # rep
    local db="bench_floor_$1" t
    sql "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
    for t in "${TABLES[@]}"; do
        printf 'CREATE TABLE `%s`.`%s` LIKE bench_prod.`%s`; INSERT INTO `%s`.`%s` SELECT * FROM bench_prod.`%s`;\n' \
            "$db" "$t" "$t" "$db" "$t" "$t"
    done >"$WORK/floor.sql"
    time_it floor "$WORK/floor-$1.log" bash -c 'mariadb "${@:2}" <"$1"' _ "$WORK/floor.sql" "${CONN[@]}"
    local n
    n=$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$db'")
    [ "$n" = "$NTABLES" ] || die "the floor copied $n tables, expected $NTABLES"
    sql "DROP DATABASE \`$db\`"
}

HAVE_MYDUMPER=0
command -v mydumper >/dev/null 2>&1 && command -v myloader >/dev/null 2>&1 && HAVE_MYDUMPER=1
run_mydumper() { # rep
    local db="bench_mydumper_$1" out="$WORK/mydumper-$1"
    # The password through a defaults file, not the command line.
    printf '[mydumper]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n[myloader]\nhost=%s\nport=%s\nuser=%s\npassword=%s\n' \
        "$WFUWP_TEST_DB_HOST" "$WFUWP_TEST_DB_PORT" "$WFUWP_TEST_DB_USER" "$WFUWP_TEST_DB_PASSWORD" \
        "$WFUWP_TEST_DB_HOST" "$WFUWP_TEST_DB_PORT" "$WFUWP_TEST_DB_USER" "$WFUWP_TEST_DB_PASSWORD" >"$WORK/my.cnf"
    chmod 600 "$WORK/my.cnf"
    printf 'bench_prod.%s\n' wp_signups wp_registration_log wp_blog_versions >"$WORK/mydumper-omit"
    time_it mydumper "$WORK/mydumper-$1.log" bash -c 'set -e
        mydumper --defaults-file "$1" -B bench_prod -x "^bench_prod\\.wp_" -O "$2" -t 4 -o "$3"
        myloader --defaults-file "$1" -d "$3" -B "$4" -t 4' _ "$WORK/my.cnf" "$WORK/mydumper-omit" "$out" "$db"
    local n
    n=$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$db'")
    [ "$n" = "$NTABLES" ] || die "mydumper/myloader copied $n tables, expected $NTABLES"
    rm -rf "$out"
    sql "DROP DATABASE \`$db\`"
}

# A wfuwp run's own timers (the summary's timings: lookup create swap rows
# replace state, worker-seconds) and its phases' wall seconds from the state
# (preflight network_tables sites post_migration cleanup).
timings_of() { # logs dir
    python3 - "$1" <<'PY'
import glob, json, sys
from datetime import datetime
d = sorted(glob.glob(sys.argv[1] + "/env-migrate-*"))[-1]
t = json.load(open(d + "/migration-summary.json")).get("timings", {})
out = [t.get(k, 0) for k in ("lookupSeconds", "createSeconds", "swapSeconds", "rowsSeconds", "replaceSeconds", "stateSeconds")]
when = lambda s: datetime.fromisoformat(s[:26].rstrip("Z"))
for p in json.load(open(d + "/migration-state.json"))["phases"]:
    ok = p.get("startTime") and p.get("endTime")
    out.append(round((when(p["endTime"]) - when(p["startTime"])).total_seconds(), 2) if ok else 0)
out += [0] * (11 - len(out))
out.append(t.get("auditSeconds", 0))
print(*out)
PY
}

run_wfuwp() { # rep concurrency [kind, default wfuwp-cN] [bulkMode expected, default loadData] [rules]
    local rep=$1 c=$2 kind=${3:-wfuwp-c$2} mode=${4:-loadData}
    local run="r$1${kind#wfuwp}"
    local db="bench_uat_$run" dir="$WORK/$run"
    mkdir -p "$dir"
    write_config "$dir/config.toml" "$db" "bench_dump_$rep" "${5:-}"
    # The target's previous content: a network of the same shape, another
    # seed (always made by the first binary: both builds get the same one).
    "$SEED_BIN" --config "$dir/config.toml" seed-network --env uat --sites "$SITES" --posts "$POSTS" "${large[@]}" \
        --seed $((1000 + rep)) >"$dir/seed.log" 2>&1 || { cat "$dir/seed.log" >&2; die "seeding uat failed"; }
    time_it "$kind" "$dir/migrate.log" "$BIN" --config "$dir/config.toml" --logs-dir "$dir/logs" --no-color \
        env-migrate prod uat --force --include-users --concurrency "$c"
    grep -q "completed" "$dir/migrate.log" || die "migration $run did not complete; log: $dir/migrate.log"
    # Every table live, and every previous one kept as a backup.
    local n
    n=$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$db' AND TABLE_NAME LIKE 'wp\\_%'")
    [ "$n" -ge "$NTABLES" ] || die "migration $run left $n wp_ tables, expected at least $NTABLES"
    grep -rqs "\"bulkMode\": \"$mode\"" "$dir"/logs/env-migrate-*/migration-summary.json \
        || die "migration $run did not write with bulkMode $mode"
    echo "$kind $(timings_of "$dir/logs")" >>"$WORK/timings"
    LAST_RUN_DIR=$dir
    # Each run's target is a whole network: at scale, keep one at a time.
    if [ -n "${BENCH_SCALE_RUN:-}" ] && [ -n "${PREV_DB:-}" ]; then sql "DROP DATABASE IF EXISTS \`$PREV_DB\`"; fi
    PREV_DB=$db
}

run_other() { # rep concurrency → run_wfuwp with BENCH_BIN_B
    BIN=$BENCH_BIN_B
    run_wfuwp "$1" "$2" "wfuwp-B-c$2"
    BIN=$SEED_BIN
}

for rep in $(seq 1 "$REPEAT"); do
    log "repetition $rep of $REPEAT"
    run_floor "$rep"
    [ "$HAVE_MYDUMPER" = 1 ] && run_mydumper "$rep"
    run_baseline "$rep"
    # Scale mode: one dump database at a time.
    [ -n "${BENCH_SCALE_RUN:-}" ] && sql "DROP DATABASE \`bench_dump_$rep\`"
    for c in $CONCS; do
        # With a second binary, who goes first alternates: neither gets the
        # warmer (or emptier) machine every time.
        [ -n "${BENCH_BIN_B:-}" ] && [ $((rep % 2)) = 0 ] && run_other "$rep" "$c"
        run_wfuwp "$rep" "$c"
        [ -n "${BENCH_BIN_B:-}" ] && [ $((rep % 2)) = 1 ] && run_other "$rep" "$c"
        if [ "${BENCH_SCRUB:-0}" = 1 ]; then
            run_wfuwp "$rep" "$c" "wfuwp-scrub-c$c" loadData scrub
            run_wfuwp "$rep" "$c" "wfuwp-excl-c$c" loadData exclude
        fi
    done
    if [ -n "$INSERT_CONCS" ]; then
        # The server refuses LOAD DATA LOCAL: wfuwp falls back to INSERTs.
        sql "SET GLOBAL local_infile = 0"
        for c in $INSERT_CONCS; do
            run_wfuwp "$rep" "$c" "wfuwp-insert-c$c" insert
        done
        sql "SET GLOBAL local_infile = 1"
    fi
done

# Scale mode: the last migration rolled back, and a migration interrupted
# half-way then resumed, each timed.
if [ -n "${BENCH_SCALE_RUN:-}" ]; then
    id=$(basename "$(ls -d "$LAST_RUN_DIR"/logs/env-migrate-* | tail -n 1)")
    time_it rollback "$LAST_RUN_DIR/rollback.log" "$BIN" --config "$LAST_RUN_DIR/config.toml" --logs-dir "$LAST_RUN_DIR/logs" \
        --no-color env-migrate --rollback "$id" --force
    last_c=$(for c in $CONCS; do echo "$c"; done | tail -n 1)
    half=$(awk -v s="$(awk -v k="wfuwp-c$last_c" '$1 == k { print $2 }' "$WORK/results" | tail -n 1)" 'BEGIN { printf "%.1f", s / 2 }')
    dir="$WORK/resume"
    mkdir -p "$dir"
    write_config "$dir/config.toml" bench_uat_resume bench_dump_1
    "$BIN" --config "$dir/config.toml" seed-network --env uat --sites "$SITES" --posts "$POSTS" "${large[@]}" \
        --seed 1999 >"$dir/seed.log" 2>&1 || { cat "$dir/seed.log" >&2; die "seeding uat failed"; }
    log "a migration at --concurrency $last_c interrupted after $half s"
    status=0
    timeout --preserve-status -s INT "$half" "$BIN" --config "$dir/config.toml" --logs-dir "$dir/logs" --no-color \
        env-migrate prod uat --force --include-users --concurrency "$last_c" >"$dir/first.log" 2>&1 || status=$?
    [ "$status" -eq 130 ] || { tail -n 20 "$dir/first.log" >&2; die "the interrupted run exited $status, expected 130"; }
    id=$(basename "$(ls -d "$dir"/logs/env-migrate-* | tail -n 1)")
    time_it resume "$dir/resume.log" "$BIN" --config "$dir/config.toml" --logs-dir "$dir/logs" --no-color \
        env-migrate --resume "$id" --force --concurrency "$last_c"
    grep -q "completed" "$dir/resume.log" || die "the resumed migration did not complete; log: $dir/resume.log"
    sql "DROP DATABASE bench_uat_resume"
fi

# Refresh: a full migration, then a few percent of the source's sites
# changed, then `--changed-only`, twice; each timed, with its checksum and
# cleanup seconds. The first `--changed-only` drops the backup tables of the
# full run before it (every table of the network); the second, the nightly
# case, only those of the sites the first one copied.
REFRESH=${BENCH_REFRESH:-$([ -n "${BENCH_SCALE_RUN:-}" ] && echo 1 || echo 0)}
if [ "$REFRESH" = 1 ]; then
    dir="$WORK/refresh"
    mkdir -p "$dir"
    write_config "$dir/config.toml" bench_uat_refresh bench_dump_1
    "$BIN" --config "$dir/config.toml" seed-network --env uat --sites "$SITES" --posts "$POSTS" "${large[@]}" \
        --seed 2999 >"$dir/seed.log" 2>&1 || { cat "$dir/seed.log" >&2; die "seeding uat failed"; }
    refresh_run() { # kind log args...
        local kind=$1 logfile=$2
        shift 2
        time_it "$kind" "$logfile" "$BIN" --config "$dir/config.toml" --logs-dir "$dir/logs" --no-color \
            env-migrate prod uat --force --concurrency 4 "$@"
        grep -q "completed" "$logfile" || die "$kind did not complete; log: $logfile"
        # Worker-seconds of the copied sites' checksums (the summary's
        # timings) and the cleanup phase's wall seconds (the state's phases).
        python3 - "$dir/logs" "$kind" <<'PY' >>"$WORK/refresh-checksums"
import glob, json, sys
from datetime import datetime
d = sorted(glob.glob(sys.argv[1] + "/env-migrate-*"))[-1]
sums = json.load(open(d + "/migration-summary.json")).get("timings", {}).get("checksumSeconds", 0)
at = lambda t: datetime.fromisoformat(t[:26].rstrip("Z"))
clean = [p for p in json.load(open(d + "/migration-state.json"))["phases"] if p["phase"] == "cleanup"][0]
print(sys.argv[2], sums, (at(clean["endTime"]) - at(clean["startTime"])).total_seconds())
PY
    }
    change_sites() { # round → changes BENCH_REFRESH_PERCENT % of the sites, a different share each round
        mapfile -t changed < <(sql "SELECT blog_id FROM bench_prod.wp_blogs WHERE blog_id > 1 \
            AND MOD(blog_id * 7919 + $1 * 37, 100) < ${BENCH_REFRESH_PERCENT:-5} ORDER BY blog_id")
        log "refresh: changing ${#changed[@]} of $SITES sites on the source"
        for id in "${changed[@]}"; do
            printf "UPDATE bench_prod.wp_%s_options SET option_value = CONCAT(option_value, ' (refreshed)') WHERE option_name = 'blogname';\n" "$id"
        done >"$WORK/refresh-changes.sql"
        mariadb "${CONN[@]}" <"$WORK/refresh-changes.sql"
    }
    classified() { grep -o "checksums took [0-9.]* s on the source, [0-9.]* s on uat" "$1" | tail -n 1; }
    refresh_run refresh-full "$dir/full.log"
    change_sites 0
    refresh_run refresh-changed "$dir/changed.log" --changed-only
    REFRESH_CLASSIFY=$(classified "$dir/changed.log")
    REFRESH_CHANGED=${#changed[@]}
    change_sites 1
    refresh_run refresh-nightly "$dir/nightly.log" --changed-only
    REFRESH_NIGHTLY_CLASSIFY=$(classified "$dir/nightly.log")
    REFRESH_NIGHTLY=${#changed[@]}
    sql "DROP DATABASE bench_uat_refresh"
fi

# search-replace: the dump, repeated to at least 100 MB, streamed through.
STREAM=1
[ -n "${BENCH_SCALE_RUN:-}" ] && STREAM=0
if [ "$STREAM" = 1 ]; then
log "search-replace stream"
: >"$WORK/stream.sql"
while [ "$(stat -c %s "$WORK/stream.sql")" -lt 100000000 ]; do cat "$WORK/prod.sql" >>"$WORK/stream.sql"; done
STREAM_BYTES=$(stat -c %s "$WORK/stream.sql")
for rep in $(seq 1 "$REPEAT"); do
    time_it stream "$WORK/stream-$rep.log" bash -c '"$0" search-replace www.wfu.edu uat.wfu.edu .wfu.edu .uat.wfu.edu <"$1" >/dev/null' \
        "$BIN" "$WORK/stream.sql"
done
fi

# ------------------------------------------------------------------ media
MEDIA=${BENCH_MEDIA:-1}
if [ "$MEDIA" = 1 ]; then
    if [ "${BENCH_QUICK:-0}" = 1 ]; then
        M_SITES=${BENCH_MEDIA_SITES:-4}
        M_OBJECTS=${BENCH_MEDIA_OBJECTS:-10}
    else
        M_SITES=${BENCH_MEDIA_SITES:-20}
        M_OBJECTS=${BENCH_MEDIA_OBJECTS:-50}
    fi
    [ "$M_SITES" -lt "$SITES" ] || die "BENCH_MEDIA_SITES must be below BENCH_SITES"
    S3DIR="$WORK/s3"
    log "media: starting a moto S3 server"
    bash "$REPO/scripts/s3-sandbox.sh" start "$S3DIR" >"$WORK/s3.log" 2>&1 || { cat "$WORK/s3.log" >&2; die "S3 server did not start"; }
    S3_ENDPOINT=$(sed -n 's/^export WFUWP_TEST_S3_ENDPOINT=//p' "$S3DIR/env.sh")
    # Dummy credentials (moto accepts any); nothing of the machine's own AWS setup is read.
    export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
    export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"
    # The first sites after the main site (whose prefix would hold everyone's);
    # blog ids have gaps.
    M_IDS=$(sql "SELECT GROUP_CONCAT(blog_id ORDER BY blog_id) FROM (SELECT blog_id FROM bench_prod.wp_blogs \
        WHERE blog_id > 1 ORDER BY blog_id LIMIT $M_SITES) AS s")
    log "media: uploading $M_SITES sites × ($M_OBJECTS × 64 KiB + 4 MiB)"
    python3 - "$S3_ENDPOINT" "$M_IDS" "$M_OBJECTS" >"$WORK/media-seed.out" <<'PY'
import sys, os, boto3
from concurrent.futures import ThreadPoolExecutor
endpoint, ids, n = sys.argv[1], [int(i) for i in sys.argv[2].split(",")], int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=endpoint)
s3.create_bucket(Bucket="bench-src")
small, big = os.urandom(64 * 1024), os.urandom(4 * 1024 * 1024)
keys = [(f"wp-content/uploads/sites/{site}/2025/{i:03d} photo.jpg", small) for site in ids for i in range(n)]
keys += [(f"wp-content/uploads/sites/{site}/2025/lecture.pdf", big) for site in ids]
with ThreadPoolExecutor(8) as pool:
    list(pool.map(lambda kv: s3.put_object(Bucket="bench-src", Key=kv[0], Body=kv[1]), keys))
print(len(keys), sum(len(v) for _, v in keys))
PY
    read -r M_COUNT M_BYTES <"$WORK/media-seed.out"
    # --media-only touches no table, but a migration needs a target database.
    sql "CREATE DATABASE IF NOT EXISTS bench_media"
    : >"$WORK/media-results"
    M_RUN=0
    media_config() { # file bucket
        {
            echo 'logs_dir = "logs"'
            echo
            env_block prod bench_prod "${PROD_TOKENS[@]}"
            printf '[environments.prod.media]\nbucket = "bench-src"\nregion = "us-east-1"\nendpoint = "%s"\n\n' "$S3_ENDPOINT"
            env_block uat bench_media "${UAT_TOKENS[@]}"
            printf '[environments.uat.media]\nbucket = "%s"\nregion = "us-east-1"\nendpoint = "%s"\n\n' "$2" "$S3_ENDPOINT"
        } >"$1"
    }
    new_bucket() {
        M_RUN=$((M_RUN + 1))
        BUCKET="bench-dst-$M_RUN"
        python3 -c 'import sys, boto3; boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])' "$S3_ENDPOINT" "$BUCKET"
    }
    # media_time KIND CMD...: times CMD (wall seconds) into media-results.
    media_time() {
        local kind=$1 start end
        shift
        start=$(date +%s.%N)
        "$@" >"$WORK/media-$kind-$M_RUN.log" 2>&1 || { tail -n 20 "$WORK/media-$kind-$M_RUN.log" >&2; die "media $kind failed"; }
        end=$(date +%s.%N)
        echo "$kind $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')" >>"$WORK/media-results"
        log "media $kind: $(tail -n 1 "$WORK/media-results" | cut -d' ' -f2) s"
    }
    wfuwp_media() { # mode (server|stream)
        new_bucket
        local dir="$WORK/media-$M_RUN"
        mkdir -p "$dir"
        media_config "$dir/config.toml" "$BUCKET"
        local copy_mode=""
        [ "$1" = stream ] && copy_mode=stream
        media_time "wfuwp-$1" env WFUWP_MEDIA_COPY="$copy_mode" "$BIN" --config "$dir/config.toml" --logs-dir "$dir/logs" \
            --no-color env-migrate prod uat --media-only --force --include-sites "$M_IDS"
        local n
        n=$(python3 -c 'import sys, boto3; p = boto3.client("s3", endpoint_url=sys.argv[1]).get_paginator("list_objects_v2"); print(sum(pg.get("KeyCount", 0) for pg in p.paginate(Bucket=sys.argv[2], Prefix="wp-content/")))' "$S3_ENDPOINT" "$BUCKET")
        [ "$n" = "$M_COUNT" ] || die "wfuwp copied $n objects, expected $M_COUNT"
    }
    baseline_media() {
        new_bucket
        if command -v aws >/dev/null 2>&1; then
            M_BASE="aws s3 sync (AWS CLI, server-side, its default 10 requests at once)"
            media_time baseline aws --endpoint-url "$S3_ENDPOINT" s3 sync --only-show-errors \
                s3://bench-src/wp-content/uploads/sites/ "s3://$BUCKET/wp-content/uploads/sites/"
        else
            M_BASE="sequential server-side copy (boto3 copy_object, one object after the other; no AWS CLI here)"
            media_time baseline python3 - "$S3_ENDPOINT" "$BUCKET" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
for page in s3.get_paginator("list_objects_v2").paginate(Bucket="bench-src", Prefix="wp-content/uploads/sites/"):
    for o in page.get("Contents", []):
        s3.copy_object(Bucket=sys.argv[2], Key=o["Key"], CopySource={"Bucket": "bench-src", "Key": o["Key"]})
PY
        fi
    }
    for rep in $(seq 1 "$REPEAT"); do
        baseline_media
        wfuwp_media server
        wfuwp_media stream
    done
    bash "$REPO/scripts/s3-sandbox.sh" stop "$S3DIR" >/dev/null 2>&1 || true
fi

# ------------------------------------------------------------------ report
median() { # kind column → median of that column over the kind's lines
    awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$WORK/results" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
base=$(median baseline 2)
runs() { # kind → every wall time of that kind, in run order
    awk -v k="$1" '$1 == k { printf "%s%s", sep, $2; sep = " " }' "$WORK/results"
}
floor=$(median floor 2)
row() { # label kind
    local s kb
    s=$(median "$2" 2)
    kb=$(median "$2" 3)
    # The label goes through the environment: awk -v would eat its backslashes.
    [ -n "$s" ] || return 0
    [ -n "${BENCH_SCALE_RUN:-}" ] && echo "$2 $(awk -v s="$s" -v n="$SITES" 'BEGIN { printf "%.6f", s / n }')" >>"$BENCH_SCALE_RUN/per-site"
    LABEL=$1 RUNS=$(runs "$2") awk -v s="$s" -v kb="$kb" -v rows="$ROWS" -v b="$DUMP_BYTES" -v base="$base" -v floor="$floor" -v n="$SITES" 'BEGIN {
        printf "| %s | %.2f | %.4f | %.0f | %.2f | %.0f | %.2f | %.2f | %s |\n", ENVIRON["LABEL"], s, s / n, rows / s, b / 1e6 / s, kb / 1024, s / base, s / floor, ENVIRON["RUNS"] }'
}
breakdown() { # kind → median of each timing column
    local c out=""
    for c in $(seq 2 13); do
        out+=" $(awk -v k="$1" -v c="$c" '$1 == k { print $c }' "$WORK/timings" | sort -g |
            awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    done
    echo "$out"
}
stream_s=$(median stream 2)
stream_kb=$(median stream 3)
ELAPSED=$(( $(date +%s) - T0 ))

echo
echo "## wfuwp benchmark"
echo
echo "$SITES sites ($POSTS posts each$([ "$LARGE" = 1 ] && echo ", large values")): $NTABLES tables, $ROWS rows, $MB MB as a dump;"
echo "medians of $REPEAT run(s) on $(nproc) cores, MariaDB $(sql 'SELECT VERSION()'), $(date -u '+%Y-%m-%d %H:%M UTC'), load average now $(cut -d' ' -f1-3 /proc/loadavg)."
echo "server: $(sql "SELECT CONCAT('table_definition_cache ', @@table_definition_cache, ', table_open_cache ', @@table_open_cache, \
    ', innodb_open_files ', @@innodb_open_files, ', innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576, ' MB')")."
echo
echo "| run | wall s | s/site | rows/s | MB/s | peak RSS MB | ratio to (a) | ratio to (f) | every run, s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
row "(f) server-side floor: CREATE TABLE … LIKE + INSERT … SELECT, one session" floor
row "(a) mariadb-dump --single-transaction \\| mariadb" baseline
if [ "$HAVE_MYDUMPER" = 1 ]; then
    row "(m) mydumper -t 4 + myloader -t 4" mydumper
else
    echo "| (m) mydumper/myloader: not installed (apt-get install mydumper), skipped | | | | | | | | |"
fi
for c in $CONCS; do
    row "(b) wfuwp env-migrate --concurrency $c" "wfuwp-c$c"
    [ -n "${BENCH_BIN_B:-}" ] && row "(b′) the same with BENCH_BIN_B" "wfuwp-B-c$c"
    if [ "${BENCH_SCRUB:-0}" = 1 ]; then
        row "(s) wfuwp --concurrency $c, scrub + keep + set on" "wfuwp-scrub-c$c"
        row "(x) wfuwp --concurrency $c, scrub + keep + set, log table excluded" "wfuwp-excl-c$c"
    fi
done
for c in $INSERT_CONCS; do
    row "(c) wfuwp --concurrency $c, local_infile OFF (INSERT)" "wfuwp-insert-c$c"
done
if [ "$REFRESH" = 1 ]; then
    row "(r) wfuwp full migration --concurrency 4 (ledger checksums recorded)" refresh-full
    row "(r) wfuwp --changed-only after the full run, $REFRESH_CHANGED sites changed" refresh-changed
    row "(r) wfuwp --changed-only after a --changed-only (nightly), $REFRESH_NIGHTLY sites changed" refresh-nightly
fi
if [ -n "${BENCH_SCALE_RUN:-}" ]; then
    row "wfuwp --rollback of the last migration (DDL only)" rollback
    row "wfuwp --resume of a migration interrupted half-way" resume
fi
if [ "${BENCH_SCRUB:-0}" = 1 ]; then
    echo
    for c in $CONCS; do
        b=$(median "wfuwp-c$c" 2)
        s=$(median "wfuwp-scrub-c$c" 2)
        x=$(median "wfuwp-excl-c$c" 2)
        echo "scrub + keep at --concurrency $c: $s s against $b s without, cost $(awk -v s="$s" -v b="$b" 'BEGIN { printf "%+.1f %%", (s / b - 1) * 100 }') (goal: at most +5 %); with the log table excluded: $x s."
    done
fi
echo
echo "Where wfuwp's time goes (its own timers, the summary's \`timings\`; worker-seconds, medians):"
echo
echo "| run | wall s | stale-staging lookup | create staging | swap (rename, backup record) | rows (read, rewrite, write) | of which replacement CPU | state writes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for k in $(for c in $CONCS; do echo "wfuwp-c$c"; [ "${BENCH_SCRUB:-0}" = 1 ] && echo "wfuwp-scrub-c$c wfuwp-excl-c$c"; done) $(for c in $INSERT_CONCS; do echo "wfuwp-insert-c$c"; done); do
    read -r lookup create swap rows repl st _ <<<"$(breakdown "$k")"
    echo "| $k | $(median "$k" 2) | $lookup | $create | $swap | $rows | $repl | $st |"
done
echo
echo "Phases (wall s, medians; \"startup\" is the rest: connecting, discovery, selection, creating the state):"
echo
echo "| run | wall s | preflight | network tables | sites | post-migration (verification) | cleanup | startup |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for k in $(for c in $CONCS; do echo "wfuwp-c$c"; [ "${BENCH_SCRUB:-0}" = 1 ] && echo "wfuwp-scrub-c$c wfuwp-excl-c$c"; done) $(for c in $INSERT_CONCS; do echo "wfuwp-insert-c$c"; done); do
    read -r _ _ _ _ _ _ pre net sit post clean _ <<<"$(breakdown "$k")"
    wall=$(median "$k" 2)
    echo "| $k | $wall | $pre | $net | $sit | $post | $clean | $(awk -v w="$wall" -v a="$pre" -v b="$net" -v c="$sit" -v d="$post" -v e="$clean" 'BEGIN { printf "%.2f", w - a - b - c - d - e }') |"
done
echo
# The leftover audit (docs/hosts.md) scans every written value once more;
# its goal is at most 10 % of the migration's work (worker-seconds of rows).
for k in $(for c in $CONCS; do echo "wfuwp-c$c"; done); do
    read -r _ _ _ rows _ _ _ _ _ _ _ audit <<<"$(breakdown "$k")"
    [ -n "$audit" ] && awk -v k="$k" -v a="$audit" -v r="$rows" 'BEGIN {
        p = (r > 0 ? 100 * a / r : 0)
        printf "leftover audit %s: %.2f worker-s of %.2f worker-s of rows = %.1f %% (goal <= 10 %%: %s)\n", k, a, r, p, (p <= 10 ? "met" : "NOT met") }'
done
for c in $INSERT_CONCS; do
    ld=$(median "wfuwp-c$c" 2)
    ins=$(median "wfuwp-insert-c$c" 2)
    [ -n "$ld" ] && [ -n "$ins" ] && awk -v ld="$ld" -v ins="$ins" -v base="$base" -v c="$c" 'BEGIN {
        printf "write paths at --concurrency %s: LOAD DATA %.2f s (ratio %.2f), INSERT %.2f s (ratio %.2f); INSERT/LOAD DATA %.2f\n", c, ld, ld / base, ins, ins / base, ins / ld }'
done
[ "$STREAM" = 1 ] && RUNS=$(runs stream) awk -v s="$stream_s" -v kb="$stream_kb" -v b="$STREAM_BYTES" 'BEGIN {
    printf "search-replace stream (%.1f MB of dump): median %.2f s = **%.0f MB/s**, peak RSS %.0f MB (runs: %s s)\n", b / 1e6, s, b / 1e6 / s, kb / 1024, ENVIRON["RUNS"] }'
if [ "$REFRESH" = 1 ]; then
    refresh_col() { awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$WORK/refresh-checksums"; }
    full=$(median refresh-full 2)
    awk -v f="$full" -v fs="$(refresh_col refresh-full 2)" -v fc="$(refresh_col refresh-full 3)" 'BEGIN {
        printf "refresh: full %.2f s (of which %.2f worker-s checksums, cleanup %.2f s)\n", f, fs, fc }'
    for kind in refresh-changed refresh-nightly; do
        case $kind in
            refresh-changed) what="--changed-only after the full run"; n=$REFRESH_CHANGED cl=$REFRESH_CLASSIFY ;;
            *) what="--changed-only after a --changed-only (nightly)"; n=$REFRESH_NIGHTLY cl=$REFRESH_NIGHTLY_CLASSIFY ;;
        esac
        awk -v what="$what" -v f="$full" -v c="$(median "$kind" 2)" -v floor="$floor" -v n="$n" -v cl="$cl" \
            -v cs="$(refresh_col "$kind" 2)" -v cc="$(refresh_col "$kind" 3)" 'BEGIN {
            printf "refresh: %s, %d sites changed: %.2f s (%s; %.2f worker-s checksums of the copied sites; cleanup %.2f s, dropping the previous run'"'"'s backup tables): %.2fx the full run (goal <= 0.20: %s), %.2fx the server-side floor (goal < 1: %s)\n",
                what, n, c, cl, cs, cc, c / f, (c / f <= 0.2 ? "met" : "NOT met"), c / floor, (c < floor ? "met" : "NOT met") }'
    done
fi
if [ -n "${BENCH_BIN_B:-}" ]; then
    for c in $CONCS; do
        paste -d' ' <(runs "wfuwp-c$c" | tr ' ' '\n') <(runs "wfuwp-B-c$c" | tr ' ' '\n') | awk -v c="$c" \
            '{ r = $1 / $2; line = line sprintf(" %.2f", r); v[NR] = r } END { n = asort(v)
              printf "BENCH_BIN / BENCH_BIN_B at --concurrency %s, per repetition:%s (median %.2f; below 1: BENCH_BIN is faster)\n", c, line, (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2) }'
    done
fi
best=$(for c in $CONCS; do echo "$(median "wfuwp-c$c" 2) $c"; done | sort -g | head -n 1)
awk -v s="${best% *}" -v c="${best#* }" -v base="$base" -v floor="$floor" 'BEGIN {
    printf "best wfuwp: --concurrency %s, ratio %.2f to the dump pipeline (target ≤ 1.00: %s), %.2f to the server-side floor\n", c, s / base, (s / base <= 1.0 ? "met" : "NOT met"), s / floor }'
if [ "$MEDIA" = 1 ]; then
    mmedian() {
        awk -v k="$1" '$1 == k { print $2 }' "$WORK/media-results" | sort -g |
            awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
    }
    mbase=$(mmedian baseline)
    echo
    echo "### media"
    echo
    echo "$M_SITES sites' uploads, $M_COUNT objects, $(awk -v b="$M_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB, between two buckets of one local moto S3 server"
    echo "(moto is a single Python process: absolute rates are moto's, compare the ratios). Baseline: $M_BASE."
    echo
    echo "| run | wall s | objects/s | MB/s | ratio to baseline |"
    echo "|---|---:|---:|---:|---:|"
    for k in baseline wfuwp-server wfuwp-stream; do
        case $k in
            baseline) label="baseline" ;;
            wfuwp-server) label="wfuwp --media-only, server-side (CopyObject)" ;;
            wfuwp-stream) label="wfuwp --media-only, streamed (GET → PUT)" ;;
        esac
        awk -v l="$label" -v s="$(mmedian $k)" -v n="$M_COUNT" -v b="$M_BYTES" -v base="$mbase" 'BEGIN {
            printf "| %s | %.2f | %.0f | %.1f | %.2f |\n", l, s, n / s, b / 1e6 / s, s / base }'
    done
fi
echo "benchmark took $((ELAPSED / 60)) min $((ELAPSED % 60)) s"
