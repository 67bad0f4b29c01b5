#!/usr/bin/env bash
# A private MariaDB server for tests, the demo and benchmarks.
#
#   scripts/mariadb-sandbox.sh start  DIR [-- OPTION...]  # install if missing, init DIR, start, print settings
#   scripts/mariadb-sandbox.sh stop   DIR   # shut the server down
#   scripts/mariadb-sandbox.sh status DIR   # is it running, and where
#   scripts/mariadb-sandbox.sh certs  DIR   # test certificates (openssl) in DIR
#
# Everything lives under DIR: datadir, socket, pid file, logs, and env.sh, which
# exports WFUWP_TEST_DB_{HOST,PORT,USER,PASSWORD,SOCKET} for the tests.
# No system service is used or started; the TCP port is chosen free at start
# (loopback only), so several sandboxes can run side by side.
# OPTIONs after `--` go to mariadbd after the defaults (so they win): tests
# start servers configured like managed ones (e.g. --local-infile=OFF).
# MARIADB_SANDBOX_PASSWORD, when set, is the test user's password.
set -euo pipefail

die() { echo "mariadb-sandbox: $*" >&2; exit 1; }
say() { echo "mariadb-sandbox: $*" >&2; }

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# ---------------------------------------------------------------- binaries

# Debian keeps the server in /usr/sbin, which is not on a normal user's PATH.
find_bin() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        if [ -x "/usr/sbin/$name" ]; then echo "/usr/sbin/$name"; return 0; fi
    done
    return 1
}

# Installs the Debian packages when the server or client is missing.
ensure_installed() {
    if find_bin mariadbd mysqld >/dev/null && find_bin mariadb-install-db mysql_install_db >/dev/null \
        && find_bin mariadb-admin mysqladmin >/dev/null && find_bin mariadb mysql >/dev/null; then
        return 0
    fi
    say "MariaDB is not installed; installing mariadb-server and mariadb-client from Debian packages"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "need root (or sudo) to install mariadb-server; install it and run again"
        sudo="sudo"
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server mariadb-client >/dev/null
}

resolve_bins() {
    MARIADBD=$(find_bin mariadbd mysqld) || die "mariadbd not found after install"
    INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found"
    ADMIN=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found"
    CLIENT=$(find_bin mariadb mysql) || die "mariadb client not found"
}

# ---------------------------------------------------------------- helpers

# Absolute path of DIR (created if needed).
abs_dir() {
    mkdir -p "$1"
    (cd "$1" && pwd -P)
}

# A random TCP port the kernel reports free on 127.0.0.1. Without python3,
# a random high port; a collision is caught at start and retried anyway.
pick_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    else
        echo $(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    fi
}

random_password() {
    # 24 alphanumerics: no quoting issues in SQL, shell or TOML.
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 24 || true
}

root_sql() {
    "$CLIENT" --no-defaults --protocol=socket --socket="$SOCK" -uroot --batch --skip-column-names -e "$1"
}

is_alive() {
    "$ADMIN" --no-defaults --protocol=socket --socket="$SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

server_pid() {
    [ -s "$PIDFILE" ] && cat "$PIDFILE"
}

set_paths() {
    DIR=$(abs_dir "$1")
    DATADIR="$DIR/data"
    SOCK="$DIR/mysqld.sock"
    PIDFILE="$DIR/mariadbd.pid"
    ERRLOG="$DIR/error.log"
    PORTFILE="$DIR/port"
    ENVFILE="$DIR/env.sh"
    # A Unix socket path is limited to 108 bytes by the kernel.
    [ "${#SOCK}" -lt 100 ] || die "DIR is too deep for a Unix socket path ($SOCK); use a shorter DIR"
}

# ---------------------------------------------------------------- start

init_datadir() {
    [ -d "$DATADIR/mysql" ] && return 0
    say "initialising a private datadir in $DATADIR"
    mkdir -p "$DATADIR" "$DIR/tmp"
    local as_root=()
    [ "$(id -u)" -eq 0 ] && as_root=(--user=root)
    # --tmpdir: the bootstrap's temporary tables must not meet those of
    # another server initialising at the same time in a shared /tmp.
    "$INSTALL_DB" --no-defaults "${as_root[@]}" --datadir="$DATADIR" --tmpdir="$DIR/tmp" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$DIR/install-db.log" 2>&1 || { cat "$DIR/install-db.log" >&2; die "mariadb-install-db failed (log above)"; }
}

# Starts mariadbd on $1; returns 0 when it answers, 1 when the port was taken,
# and dies on any other failure.
launch_on_port() {
    local port=$1 as_root=() i
    [ "$(id -u)" -eq 0 ] && as_root=(--user=root)
    : >"$ERRLOG"
    # setsid: the server must outlive this script and ignore the terminal's Ctrl-C.
    setsid "$MARIADBD" --no-defaults "${as_root[@]}" \
        --datadir="$DATADIR" --tmpdir="$DIR/tmp" --socket="$SOCK" --pid-file="$PIDFILE" \
        --log-error="$ERRLOG" --port="$port" --bind-address=127.0.0.1 \
        --skip-name-resolve --local-infile=ON --max-connections=300 \
        --max-allowed-packet=64M --innodb-buffer-pool-size=512M \
        --innodb-flush-log-at-trx-commit=2 --innodb-log-file-size=256M \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_520_ci \
        --skip-log-bin --performance-schema=OFF \
        "${SERVER_OPTIONS[@]}" \
        </dev/null >>"$DIR/mariadbd.out" 2>&1 &
    local launcher=$!
    # Bounded poll (60 s): the server either answers, or its process ends.
    for i in $(seq 1 300); do
        if is_alive; then echo "$port" >"$PORTFILE"; return 0; fi
        if ! kill -0 "$launcher" 2>/dev/null; then
            wait "$launcher" 2>/dev/null || true
            if grep -qiE "address already in use|do you already have another" "$ERRLOG"; then
                return 1
            fi
            tail -n 30 "$ERRLOG" >&2
            die "mariadbd exited during start-up (log above, full log: $ERRLOG)"
        fi
        sleep 0.2
    done
    kill "$launcher" 2>/dev/null || true
    tail -n 30 "$ERRLOG" >&2
    die "mariadbd did not answer within 60 seconds (log: $ERRLOG)"
}

create_user() {
    local pw
    pw=${MARIADB_SANDBOX_PASSWORD:-$(random_password)}
    [ -n "$pw" ] || die "could not generate a password from /dev/urandom"
    root_sql "
        CREATE USER IF NOT EXISTS 'wfuwp'@'127.0.0.1' IDENTIFIED BY '$pw';
        CREATE USER IF NOT EXISTS 'wfuwp'@'localhost' IDENTIFIED BY '$pw';
        ALTER USER 'wfuwp'@'127.0.0.1' IDENTIFIED BY '$pw';
        ALTER USER 'wfuwp'@'localhost' IDENTIFIED BY '$pw';
        GRANT ALL PRIVILEGES ON *.* TO 'wfuwp'@'127.0.0.1' WITH GRANT OPTION;
        GRANT ALL PRIVILEGES ON *.* TO 'wfuwp'@'localhost' WITH GRANT OPTION;
        FLUSH PRIVILEGES;"
    local port
    port=$(cat "$PORTFILE")
    (
        umask 077
        cat >"$ENVFILE" <<EOF
# Connection settings of the MariaDB sandbox in $DIR (source this file).
export WFUWP_TEST_DB_HOST=127.0.0.1
export WFUWP_TEST_DB_PORT=$port
export WFUWP_TEST_DB_USER=wfuwp
export WFUWP_TEST_DB_PASSWORD=$pw
export WFUWP_TEST_DB_SOCKET=$SOCK
EOF
    )
}

print_settings() {
    # shellcheck disable=SC1090
    . "$ENVFILE"
    cat <<EOF
MariaDB sandbox running (pid $(server_pid), $("$ADMIN" --no-defaults --socket="$SOCK" -uroot version 2>/dev/null | awk '/Server version/ {print $3}'))
  host      127.0.0.1
  port      $WFUWP_TEST_DB_PORT
  socket    $WFUWP_TEST_DB_SOCKET
  user      $WFUWP_TEST_DB_USER (password in $ENVFILE)
Load the settings with:  . $ENVFILE
Stop the server with:    $0 stop $DIR
EOF
}

cmd_start() {
    set_paths "$1"
    ensure_installed
    resolve_bins
    if is_alive; then
        say "already running in $DIR"
        [ -s "$ENVFILE" ] || create_user
        print_settings
        return 0
    fi
    init_datadir
    local attempt port
    for attempt in 1 2 3 4 5 6 7 8; do
        # MARIADB_SANDBOX_TRY_PORT: first port to try (lets the collision retry be tested).
        port=${MARIADB_SANDBOX_TRY_PORT:-$(pick_port)}
        unset MARIADB_SANDBOX_TRY_PORT
        if launch_on_port "$port"; then
            create_user
            print_settings
            return 0
        fi
        say "port $port was taken by someone else; trying another (attempt $attempt)"
    done
    die "could not find a free port after 8 attempts"
}

# ---------------------------------------------------------------- certs

# Test certificates for TLS: a CA; a server certificate for localhost and
# 127.0.0.1; a client certificate (REQUIRE X509 accounts); for the failure
# cases an unrelated CA and a server certificate for another name; and a
# server and a client certificate of X.509 version 1 (no extensions, as
# older guides and MariaDB >= 11.4's own generated ones are).
# EC P-256 keys in PKCS#8: quick to make, read by MariaDB and by rustls.
cmd_certs() {
    local dir
    dir=$(abs_dir "$1")
    command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"
    (
        cd "$dir"
        key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
        ca() {
            key "$1.key"
            openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                -out "$1.pem" 2>/dev/null
        }
        # leaf NAME CN SAN EKU: a certificate signed by ca.pem
        leaf() {
            key "$1.key"
            openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
            printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n%s\n' \
                "$4" "$3" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
                -extfile "$1.ext" -out "$1.pem" 2>/dev/null
            rm -f "$1.csr" "$1.ext"
        }
        # leaf_v1 NAME CN: an X.509 v1 certificate signed by ca.pem. `openssl
        # x509 -req` makes v1 when it is given no extensions.
        leaf_v1() {
            key "$1.key"
            openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr" 2>/dev/null
            openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
                -out "$1.pem" 2>/dev/null || return 1
            rm -f "$1.csr"
            if ! openssl x509 -in "$1.pem" -noout -text | grep -q 'Version: 1 (0x0)'; then
                echo "$(openssl version) made $1.pem, but not as an X.509 v1 certificate" >&2
                return 1
            fi
        }
        ca ca "wfuwp test CA"
        ca other-ca "unrelated test CA"
        leaf server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1" serverAuth
        leaf wrong-name db.example.internal "subjectAltName=DNS:db.example.internal" serverAuth
        leaf client wfuwp-client "" clientAuth
        leaf_v1 server-v1 localhost || exit 1
        leaf_v1 client-v1 wfuwp-client-v1 || exit 1
        chmod 600 ./*.key
    ) || die "making certificates in $dir failed"
    say "certificates in $dir: ca.pem, server.{pem,key}, client.{pem,key}, other-ca.pem, wrong-name.{pem,key}," \
        "server-v1.{pem,key}, client-v1.{pem,key}"
}

# ---------------------------------------------------------------- stop / status

cmd_stop() {
    set_paths "$1"
    resolve_bins
    local pid i
    pid=$(server_pid || true)
    if is_alive; then
        "$ADMIN" --no-defaults --protocol=socket --socket="$SOCK" -uroot shutdown >/dev/null 2>&1 || true
    fi
    if [ -n "$pid" ]; then
        # Bounded wait for a clean InnoDB shutdown, then force it.
        for i in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            say "server $pid did not stop in 30 s; killing it"
            kill -TERM "$pid" 2>/dev/null || true
            sleep 2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$PIDFILE"
    say "stopped (data kept in $DATADIR; delete $DIR to discard it)"
}

cmd_status() {
    set_paths "$1"
    resolve_bins
    if is_alive; then
        print_settings
    else
        echo "MariaDB sandbox in $DIR is not running"
        return 1
    fi
}

# Extra server options: everything after `start DIR --`.
SERVER_OPTIONS=()
if [ $# -gt 2 ]; then
    [ "$1" = start ] && [ "$3" = -- ] || usage
    SERVER_OPTIONS=("${@:4}")
elif [ $# -ne 2 ]; then
    usage
fi
case "$1" in
    start) cmd_start "$2" ;;
    stop) cmd_stop "$2" ;;
    status) cmd_status "$2" ;;
    certs) cmd_certs "$2" ;;
    *) usage ;;
esac
