#!/usr/bin/env bash
# Make a throw-away local PostgreSQL server available for the test suite and
# print its URL as the last line (tests read it from INGESTSPEC_TEST_PG):
#
#   export INGESTSPEC_TEST_PG="$(scripts/postgres.sh | tail -n1)"
#
# Idempotent: a cluster that is already running is reused, so a second call
# costs one connection. Installs PostgreSQL from apt when it is missing and we
# are root, so it works on a fresh Debian machine.
set -euo pipefail

PGDATA_DIR="${INGESTSPEC_PG_DIR:-/tmp/ingestspec-pg}"
PORT="${INGESTSPEC_PG_PORT:-54329}"
URL="postgresql://ingestspec:ingestspec@127.0.0.1:${PORT}/ingestspec"

log() { echo "postgres.sh: $*" >&2; }

# Several test workers may call this at once; one of them does the work. The
# server must not inherit fd 9 (see pg_ctl below) or it would hold the lock.
exec 9>"${PGDATA_DIR}.lock"
flock 9

find_bindir() {
    local initdb
    if initdb="$(command -v initdb 2>/dev/null)"; then
        # /usr/local/bin/initdb may be a symlink into /usr/lib/postgresql/N/bin,
        # where pg_ctl lives too.
        dirname "$(readlink -f "$initdb")"
        return 0
    fi
    # Debian keeps the server binaries off PATH.
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    [[ -n "$dir" && -x "$dir/initdb" ]] && echo "$dir"
}

BINDIR="$(find_bindir || true)"
if [[ -z "$BINDIR" ]]; then
    if [[ "$(id -u)" != 0 ]]; then
        log "PostgreSQL is not installed and we are not root; install the 'postgresql' package"
        exit 1
    fi
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    BINDIR="$(find_bindir || true)"
    [[ -n "$BINDIR" ]] || { log "PostgreSQL binaries not found after install"; exit 1; }
fi

# initdb and postgres refuse to run as root, so root runs them as 'postgres'.
if [[ "$(id -u)" == 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin postgres
    fi
    as_owner() { runuser -u postgres -- "$@"; }
    OWNER=postgres
else
    as_owner() { "$@"; }
    OWNER="$(id -un)"
fi

# Superuser connection over the Unix socket in the data dir (trust auth), so it
# needs no password and no writable /var/run/postgresql.
psql_admin() {
    as_owner "$BINDIR/psql" -h "$PGDATA_DIR" -p "$PORT" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -qAt "$@"
}

app_ready() {
    PGPASSWORD=ingestspec PGCONNECT_TIMEOUT=2 "$BINDIR/psql" "$URL" -qAt -c 'SELECT 1' >/dev/null 2>&1
}

if app_ready; then
    echo "$URL"
    exit 0
fi

major="$("$BINDIR/pg_ctl" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')"
if [[ ! -f "$PGDATA_DIR/PG_VERSION" || "$(cat "$PGDATA_DIR/PG_VERSION")" != "$major" ]]; then
    # A half-made or other-version cluster holds nothing worth keeping.
    rm -rf "$PGDATA_DIR"
    mkdir -p "$PGDATA_DIR"
    chown "$OWNER" "$PGDATA_DIR"
    chmod 700 "$PGDATA_DIR"
    as_owner "$BINDIR/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$PGDATA_DIR.initdb.log" 2>&1 \
        || { log "initdb failed, see $PGDATA_DIR.initdb.log"; exit 1; }
fi

if ! as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
    as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDATA_DIR" start >/dev/null 9>&- \
        || { log "server did not start, see $PGDATA_DIR/server.log"; exit 1; }
fi

if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'ingestspec'")" ]]; then
    psql_admin -c "CREATE ROLE ingestspec LOGIN PASSWORD 'ingestspec'"
fi
if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'ingestspec'")" ]]; then
    psql_admin -c "CREATE DATABASE ingestspec OWNER ingestspec"
fi

app_ready || { log "server is up but $URL does not accept connections"; exit 1; }
echo "$URL"
