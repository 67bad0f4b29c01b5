#!/usr/bin/env bash
# A complete wfuwp demo on this machine, against a private MariaDB server:
#
#   scripts/demo.sh [--stop] [DEMO_DIR]      (default DEMO_DIR: target/demo)
#
#  1. builds wfuwp (release; WFUWP_DEMO_PROFILE=debug for a debug build),
#  2. starts a MariaDB sandbox in DEMO_DIR/mariadb (installs MariaDB if missing),
#  3. generates a 50-site "prod" multisite network and an empty "uat" database,
#  4. writes DEMO_DIR/config.toml (prod and uat, passwords via password_env),
#  5. runs: config check, env-migrate --dry-run, a full prod → uat migration
#     (its report ends with the leftover audit's line), wfuwp audit uat --source prod,
#     then a second migration that is killed (kill -9) part-way, lists it and
#     resumes it, and lists all migrations.
#
# The server is left running so you can explore (the script prints how to
# use and stop it); with --stop it is stopped at the end. Re-running the demo
# starts from a fresh network. Nothing outside DEMO_DIR is written.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STOP_AFTER=0
if [ "${1:-}" = "--stop" ]; then
    STOP_AFTER=1
    shift
fi
DEMO_DIR=${1:-$REPO/target/demo}
mkdir -p "$DEMO_DIR"
DEMO_DIR=$(cd "$DEMO_DIR" && pwd)
SANDBOX="$DEMO_DIR/mariadb"
CONFIG="$DEMO_DIR/config.toml"
PROFILE=${WFUWP_DEMO_PROFILE:-release}

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

# ------------------------------------------------------------------ build
step "Building wfuwp ($PROFILE)"
command -v cargo >/dev/null || { echo "demo: cargo not found; install Rust (https://rustup.rs) and run again" >&2; exit 1; }
# Built apart from target/release: this build carries the test machinery
# (the generator, the kill points), the production binary never does.
BUILD_DIR="${CARGO_TARGET_DIR:-$REPO/target}/with-test-machinery"
if [ "$PROFILE" = "release" ]; then
    (cd "$REPO" && cargo build --release --quiet --features failpoints,testbed --target-dir "$BUILD_DIR")
else
    (cd "$REPO" && cargo build --quiet --features failpoints,testbed --target-dir "$BUILD_DIR")
fi
BIN="$BUILD_DIR/$PROFILE/wfuwp"
[ -x "$BIN" ] || { echo "demo: $BIN was not built" >&2; exit 1; }

# ------------------------------------------------------------------ server
step "Starting a private MariaDB server in $SANDBOX"
bash "$REPO/scripts/mariadb-sandbox.sh" start "$SANDBOX"
# shellcheck disable=SC1091
. "$SANDBOX/env.sh"
if [ "$STOP_AFTER" = 1 ]; then
    trap 'bash "$REPO/scripts/mariadb-sandbox.sh" stop "$SANDBOX"' EXIT
fi

# The demo config names the password variable; its value never enters a file.
export WFUWP_DEMO_DB_PASSWORD="$WFUWP_TEST_DB_PASSWORD"
wfuwp() {
    show "wfuwp $*"
    "$BIN" --config "$CONFIG" "$@"
}

sql() {
    # MYSQL_PWD keeps the password off the process list.
    MYSQL_PWD="$WFUWP_TEST_DB_PASSWORD" mariadb --no-defaults -h "$WFUWP_TEST_DB_HOST" -P "$WFUWP_TEST_DB_PORT" \
        -u "$WFUWP_TEST_DB_USER" --batch -e "$1"
}

# ------------------------------------------------------------------ config
step "Writing the demo configuration $CONFIG"
cat >"$CONFIG" <<EOF
# wfuwp demo configuration (written by scripts/demo.sh).
# Export WFUWP_DEMO_DB_PASSWORD from $SANDBOX/env.sh (WFUWP_TEST_DB_PASSWORD) to use it.
logs_dir = "logs"

[environments.prod]
host = "$WFUWP_TEST_DB_HOST"
port = $WFUWP_TEST_DB_PORT
user = "$WFUWP_TEST_DB_USER"
password_env = "WFUWP_DEMO_DB_PASSWORD"
database = "wfuwp_demo_prod"

[environments.prod.replace]
main = "www.wfu.edu"
subdomains = ".wfu.edu"
cdn = "prod.wp.cdn.aws.wfu.edu"
bucket = "wordpress-prod-us"

[environments.uat]
host = "$WFUWP_TEST_DB_HOST"
port = $WFUWP_TEST_DB_PORT
user = "$WFUWP_TEST_DB_USER"
password_env = "WFUWP_DEMO_DB_PASSWORD"
database = "wfuwp_demo_uat"
post_migration = ["echo post-migration hook ran for uat"]

[environments.uat.replace]
main = "uat.wfu.edu"
subdomains = ".uat.wfu.edu"
cdn = "uat.wp.cdn.aws.wfu.edu"
bucket = "wordpress-uat-us"
EOF
cat "$CONFIG"
# A fresh demo: no migrations from an earlier run.
rm -rf "$DEMO_DIR/logs"

# ------------------------------------------------------------------ data
step "Generating a 50-site prod network and an empty uat database"
wfuwp seed-network --env prod --sites 50 --posts 10 --large --recreate
sql "DROP DATABASE IF EXISTS wfuwp_demo_uat; CREATE DATABASE wfuwp_demo_uat CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci"
echo "uat: empty database wfuwp_demo_uat created"

# ------------------------------------------------------------------ the job
# Each step may fail while parts of the tool are still being built; the demo
# reports the failure and goes on.
ran() {
    local status=$1 what=$2
    if [ "$status" -eq 0 ]; then
        echo "-- $what: OK"
    else
        echo "-- $what: exit $status (see the message above); continuing the demo"
    fi
}

step "Checking the configuration and both databases"
set +e
wfuwp config check
ran $? "config check"

step "Planning the migration (dry run: writes nothing)"
wfuwp env-migrate prod uat --dry-run
ran $? "dry run"

step "Migrating prod → uat"
wfuwp env-migrate prod uat --force
ran $? "migration"

step "What uat looks like now"
sql "SELECT blog_id, domain, archived, spam, deleted FROM wfuwp_demo_uat.wp_blogs ORDER BY blog_id LIMIT 6;
     SELECT option_name, option_value FROM wfuwp_demo_uat.wp_3_options WHERE option_name IN ('siteurl', 'home', 'upload_url_path')"

step "Auditing uat for anything of prod left behind (read-only)"
wfuwp audit uat --source prod
ran $? "audit"

step "A migration that crashes part-way (simulated kill -9 after the 15th site)"
show "WFUWP_FAILPOINT=site_swapped:15 wfuwp env-migrate prod uat --force"
WFUWP_FAILPOINT=site_swapped:15 "$BIN" --config "$CONFIG" env-migrate prod uat --force
echo "-- killed with exit $? (state was saved at every site)"

step "Incomplete migrations"
wfuwp env-migrate --list-migrations
ran $? "list"

ID=$("$BIN" --config "$CONFIG" env-migrate --list-migrations --json 2>/dev/null \
    | sed -n 's/.*"migrationId": *"\([^"]*\)".*/\1/p' | head -n 1)
if [ -n "$ID" ]; then
    step "Resuming $ID (completed sites are not redone)"
    wfuwp env-migrate --resume "$ID" --force
    ran $? "resume"
else
    echo "-- no resumable migration found to resume"
fi

step "All migrations"
wfuwp env-migrate --list-migrations --all
ran $? "list --all"
set -e

# ------------------------------------------------------------------ done
step "Done"
cat <<EOF
Demo files:     $DEMO_DIR (config.toml, logs/)
Try more:       export WFUWP_DEMO_DB_PASSWORD=\$(sed -n 's/^export WFUWP_TEST_DB_PASSWORD=//p' $SANDBOX/env.sh)
                $BIN --config $CONFIG env-migrate --list-migrations --all
EOF
if [ "$STOP_AFTER" = 1 ]; then
    echo "The MariaDB sandbox is stopped on exit (--stop)."
else
    echo "The MariaDB sandbox is still running. Stop it with:"
    echo "                bash $REPO/scripts/mariadb-sandbox.sh stop $SANDBOX"
fi
