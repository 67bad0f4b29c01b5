#!/usr/bin/env bash
# A private S3-compatible server for the media tests: moto's server (PyPI
# package `moto[server]`), on a free loopback port, in the background.
#
#   scripts/s3-sandbox.sh install     # install moto[server] (the tested version) if missing
#   scripts/s3-sandbox.sh start DIR   # install if missing, start, write DIR/env.sh
#   scripts/s3-sandbox.sh stop DIR    # stop it (the directory is left for the caller)
#   scripts/s3-sandbox.sh status DIR
#   scripts/s3-sandbox.sh user DIR NAME POLICY_JSON   # IAM user with that policy; prints "KEY SECRET"
#   scripts/s3-sandbox.sh auth DIR on|off             # enforce IAM permissions (moto's reset-auth) or not
#
# DIR/env.sh exports WFUWP_TEST_S3_ENDPOINT (http://127.0.0.1:PORT) and the
# dummy credentials moto accepts. The server keeps everything in memory: a
# restart starts from empty buckets. No system service is used.
set -euo pipefail

say() { echo "s3-sandbox: $*" >&2; }
die() { say "$*"; exit 1; }

usage() { die "usage: $0 install | start|stop|status|user|auth DIR ..."; }
if [ "${1:-}" = install ]; then
    set -- install "${TMPDIR:-/tmp}"
fi
[ "$#" -ge 2 ] || usage
CMD=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)
PIDFILE="$DIR/moto.pid"
LOG="$DIR/moto.log"
ENVFILE="$DIR/env.sh"

# The version the tests were written against: 5.2.1 answered
# CompleteMultipartUpload with an XML root the AWS SDKs reject.
MOTO_VERSION=5.2.5

have_moto() {
    python3 -c "import moto.server, flask, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" >/dev/null 2>&1
}

# moto's server comes from PyPI; install it for this user when missing (CI
# and fresh machines), the way mariadb-sandbox.sh installs MariaDB.
ensure_installed() {
    command -v python3 >/dev/null || die "python3 not found; install it (apt-get install python3 python3-pip) and run again"
    have_moto && return 0
    say "installing moto[server]==$MOTO_VERSION from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2 \
        || die "pip install 'moto[server]' failed (output above); install it by hand and run again"
    have_moto || die "moto installed but 'import moto.server' still fails"
}

pick_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive_pid() {
    [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && cat "$PIDFILE"
}

# Polls the server until it answers an S3 request or its process dies, with
# a deadline: returns 0 when ready, 1 when the process exited (port taken).
wait_ready() {
    local port=$1 pid=$2
    python3 - "$port" "$pid" <<'PY'
import os, sys, time, urllib.request, urllib.error
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # any HTTP answer means it is serving
    except Exception:
        time.sleep(0.05)
sys.exit(2)
PY
}

cmd_start() {
    ensure_installed
    if pid=$(alive_pid); then
        say "already running in $DIR (pid $pid)"
        return 0
    fi
    local attempt port pid rc
    for attempt in 1 2 3 4 5 6 7 8; do
        port=$(pick_port)
        # setsid: its own process group, so a test runner's Ctrl-C does not
        # race with `stop`, and stop can end the whole group.
        # moto recomputes request signatures from the URL it decoded, so any
        # signed request with a "/" in its query (every prefix listing)
        # fails once permissions are enforced (`auth on`). The signature
        # check is skipped; who is asking and what they may do are still
        # checked (the access key must belong to a user, its policy must
        # allow the action on the resource).
        setsid python3 -c '
import sys
from moto.iam.access_control import IAMRequestBase
IAMRequestBase.check_signature = lambda self: None
from moto.server import main
main(sys.argv[1:])
' -H 127.0.0.1 -p "$port" >"$LOG" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$PIDFILE"
        rc=0
        wait_ready "$port" "$pid" || rc=$?
        if [ "$rc" -eq 0 ]; then
            cat >"$ENVFILE" <<ENV
export WFUWP_TEST_S3_ENDPOINT=http://127.0.0.1:$port
export WFUWP_TEST_S3_PID=$pid
ENV
            say "moto S3 server on http://127.0.0.1:$port (pid $pid, log $LOG)"
            return 0
        fi
        kill "$pid" 2>/dev/null || true
        rm -f "$PIDFILE"
        [ "$rc" -eq 2 ] && { cat "$LOG" >&2; die "the server did not answer within 60 s (log above)"; }
        say "port $port was taken; trying another (attempt $attempt)"
    done
    cat "$LOG" >&2
    die "could not start the server after 8 attempts (log above)"
}

cmd_stop() {
    local pid
    pid=$(alive_pid) || { rm -f "$PIDFILE"; return 0; }
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    python3 - "$pid" <<'PY'
import os, signal, sys, time
pid = int(sys.argv[1])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(0)
    time.sleep(0.05)
try:
    os.killpg(pid, signal.SIGKILL)
except OSError:
    pass
PY
    rm -f "$PIDFILE"
}

endpoint() {
    [ -s "$ENVFILE" ] || die "no server in $DIR (run start first)"
    sed -n 's/^export WFUWP_TEST_S3_ENDPOINT=//p' "$ENVFILE"
}

# An IAM user of moto's, for tests of refused permissions (boto3 comes with
# moto). Run while permissions are not enforced.
cmd_user() {
    [ "$#" -eq 2 ] || die "usage: $0 user DIR NAME POLICY_JSON"
    python3 - "$(endpoint)" "$1" "$2" <<'PY'
import sys, boto3
endpoint, name, policy = sys.argv[1:]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName=name)
iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=policy)
key = iam.create_access_key(UserName=name)["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
}

# on: every request from now on must be signed by a user of `cmd_user` and
# allowed by its policy; off: anything goes again.
cmd_auth() {
    local count
    case "${1:-}" in
        on) count=0 ;;
        off) count=inf ;;
        *) die "usage: $0 auth DIR on|off" ;;
    esac
    python3 - "$(endpoint)" "$count" <<'PY'
import sys, urllib.request
endpoint, count = sys.argv[1:]
urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(), headers={"Content-Type": "text/plain"}, method="POST"), timeout=10).read()
PY
}

case "$CMD" in
    install) ensure_installed ;;
    start) cmd_start ;;
    user) shift 2; cmd_user "$@" ;;
    auth) shift 2; cmd_auth "$@" ;;
    stop) cmd_stop ;;
    status) if pid=$(alive_pid); then echo "running (pid $pid)"; else echo "stopped"; exit 1; fi ;;
    *) usage ;;
esac
