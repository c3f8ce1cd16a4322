#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite (used by `make test` and CI).
#
#   scripts/postgres.sh start     initdb a fresh cluster and start it on 127.0.0.1
#   scripts/postgres.sh url       print the SQLAlchemy URL of the running test server
#   scripts/postgres.sh stop      stop it (the data stays until the next start)
#   scripts/postgres.sh destroy   stop it and delete its files
#   scripts/postgres.sh run -- CMD ...
#                                 start, run CMD with TEST_DATABASE_URL set, always stop;
#                                 exits with CMD's status
#
# Why a private server instead of the system one: CI machines run no services, and a
# developer's own PostgreSQL must never see test databases. The server listens only on
# 127.0.0.1, keeps its unix socket inside its data directory, trusts local connections
# (it holds nothing but throwaway test data) and runs with fsync off for speed.
#
# Settings (environment):
#   PGTEST_PORT   first port to try (default 55432; the next free one is used if it is taken)
#   PGTEST_DIR    where the cluster lives (default: var/pgtest, or a directory under /tmp
#                 when running as root, because the postgres user must be able to reach it)
#   PGTEST_BIN    directory holding initdb and pg_ctl (default: found automatically)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIRST_PORT="${PGTEST_PORT:-55432}"

# PostgreSQL refuses to run as root. As root we run its programs as the `postgres` user,
# which cannot enter root's home (where CI clones usually live), so the cluster goes to
# /tmp under a name derived from the checkout path. As anyone else, it stays in var/.
if [[ $(id -u) -eq 0 ]]; then
    DEFAULT_DIR="${TMPDIR:-/tmp}/denialflow-pgtest-$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)"
else
    DEFAULT_DIR="$REPO/var/pgtest"
fi
BASE="${PGTEST_DIR:-$DEFAULT_DIR}"
if [[ -z "$BASE" || "$BASE" == "/" ]]; then
    echo "postgres.sh: refusing to use '$BASE' as the cluster directory" >&2
    exit 2
fi
DATA="$BASE/data"
LOG="$BASE/postgres.log"
PORT_FILE="$BASE/port"

say() { echo "postgres.sh: $*" >&2; }

# Run a PostgreSQL program as the account that owns the cluster. `cd /` first: the
# postgres user may not be allowed to read the current directory.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

find_bin() {
    if [[ -n "${PGTEST_BIN:-}" ]]; then
        echo "$PGTEST_BIN"
        return 0
    fi
    # Debian and Ubuntu keep the server programs off PATH, one directory per major
    # version; take the newest. Elsewhere (Homebrew, Fedora) they are on PATH.
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
        return 0
    fi
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    return 1
}

# A fresh CI machine may lack PostgreSQL: install the Debian package when we can do so
# without asking anyone (root, apt present). Otherwise explain what is missing.
ensure_bin() {
    if BIN="$(find_bin)"; then
        return 0
    fi
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL server programs not found; installing the Debian package 'postgresql'"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq </dev/null
        apt-get install -y -qq --no-install-recommends postgresql </dev/null >/dev/null
        if BIN="$(find_bin)"; then
            return 0
        fi
    fi
    say "PostgreSQL server programs (initdb, pg_ctl) not found."
    say "Install them (Debian/Ubuntu: sudo apt-get install postgresql) or set PGTEST_BIN."
    exit 1
}

port_in_use() {
    # bash's /dev/tcp: the connect succeeds only if something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

is_running() {
    [[ -f "$DATA/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

cmd_stop() {
    # Without server programs there is no server of ours to stop (and nothing to install).
    if ! BIN="$(find_bin)"; then
        rm -f "$PORT_FILE"
        return 0
    fi
    if is_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
        say "stopped the test server ($DATA)"
    fi
    rm -f "$PORT_FILE"
}

cmd_start() {
    ensure_bin
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        say "running as root needs a 'postgres' user to run the server as (apt-get install postgresql creates it)"
        exit 1
    fi

    # A server left running by an interrupted run is stopped, and its cluster replaced:
    # every run starts from an empty, known state.
    cmd_stop
    rm -rf "$BASE"
    mkdir -p "$BASE"
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$BASE"
        chmod 700 "$BASE"
    fi

    # The usual port may be held by something that is not ours (another checkout's test
    # server, say); then take the next free one and remember it for `url`.
    local port="$FIRST_PORT"
    while port_in_use "$port"; do
        port=$((port + 1))
        if ((port > FIRST_PORT + 100)); then
            say "no free port in $FIRST_PORT..$port"
            exit 1
        fi
    done

    # --auth=trust: no passwords for a server that only ever holds throwaway test data
    # and answers only on loopback. --no-sync and fsync=off: nothing here must survive a
    # crash, and the suite creates a database per test, which is slow when fsynced.
    as_owner "$BIN/initdb" -D "$DATA" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync >"$BASE/initdb.log" 2>&1 || {
        cat "$BASE/initdb.log" >&2
        say "initdb failed"
        exit 1
    }
    as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- added by scripts/postgres.sh: a private, throwaway server for tests ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DATA'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null; then
        tail -n 30 "$LOG" >&2 || true
        say "PostgreSQL did not start (log: $LOG)"
        exit 1
    fi
    echo "$port" >"$PORT_FILE"
    say "test server running: $(cmd_url) (data: $DATA, log: $LOG)"
}

cmd_url() {
    if [[ ! -f "$PORT_FILE" ]]; then
        say "no test server is running (scripts/postgres.sh start)"
        exit 1
    fi
    echo "postgresql+psycopg://postgres@127.0.0.1:$(cat "$PORT_FILE")/postgres"
}

cmd_run() {
    [[ "${1:-}" == "--" ]] && shift
    if [[ $# -eq 0 ]]; then
        say "usage: scripts/postgres.sh run -- COMMAND [ARGS...]"
        exit 2
    fi
    cmd_start
    # Stop the server however we leave: success, failure, Ctrl-C or kill.
    trap 'cmd_stop || say "could not stop the test server in $DATA"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TEST_DATABASE_URL="$(cmd_url)"
    export TEST_DATABASE_URL
    local status=0
    "$@" || status=$?
    exit "$status"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
destroy)
    cmd_stop
    rm -rf "$BASE"
    ;;
run)
    shift
    cmd_run "$@"
    ;;
*)
    echo "usage: $0 start|stop|url|destroy|run -- COMMAND..." >&2
    exit 2
    ;;
esac
