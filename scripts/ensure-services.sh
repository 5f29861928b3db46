#!/usr/bin/env bash
# Makes sure PostgreSQL (and, with --mariadb, MariaDB) answer on 127.0.0.1, for the demo and
# the tests. When nothing listens it starts what is installed, installing Debian's packages
# (postgresql, mariadb-server, and PostGIS for the MySQL geometry tests) if needed. A PostgreSQL it has to create itself is a throwaway
# cluster with trust auth in $PGCUTOVER_PGDATA (default /tmp/pgcutover-pgdata).
# Prints the PostgreSQL admin URL to use on its last line.
set -euo pipefail

PG_PORT=${PGCUTOVER_PG_PORT:-5432}
MY_PORT=${PGCUTOVER_MARIADB_PORT:-3306}
PGDATA_DIR=${PGCUTOVER_PGDATA:-/tmp/pgcutover-pgdata}
want_mariadb=0
[[ "${1:-}" == "--mariadb" ]] && want_mariadb=1

say() { echo "ensure-services: $*" >&2; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { for _ in $(seq 1 60); do listening "$1" && return 0; sleep 0.5; done; return 1; }
as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  say "installing $* from Debian's packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if listening "$PG_PORT"; then return; fi
  if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q .; then
    read -r ver name _ < <(pg_lsclusters -h | head -1)
    say "starting PostgreSQL cluster $ver/$name"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start || true
    wait_for "$PG_PORT" && can_login && return
  fi
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$bin" ]]; then
    apt_install postgresql
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    # The package's own cluster may already have started; if we can use it, we are done.
    wait_for "$PG_PORT" && can_login && return
  fi
  if listening "$PG_PORT"; then
    say "something listens on $PG_PORT but does not let postgres in without a password; set PGCUTOVER_TEST_PG"
    exit 1
  fi
  say "starting a throwaway PostgreSQL in $PGDATA_DIR on 127.0.0.1:$PG_PORT (trust auth)"
  run_pg=()
  if [[ $(id -u) == 0 ]]; then run_pg=(runuser -u postgres --); fi
  mkdir -p "$PGDATA_DIR"
  [[ $(id -u) == 0 ]] && chown postgres "$PGDATA_DIR"
  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    "${run_pg[@]}" "$bin/initdb" -D "$PGDATA_DIR" -U postgres --auth=trust >/dev/null
  fi
  "${run_pg[@]}" "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w \
    -o "-p $PG_PORT -k $PGDATA_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  wait_for "$PG_PORT"
}

can_login() {
  command -v psql >/dev/null || return 0
  psql "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" -Atqc 'SELECT 1' >/dev/null 2>&1
}

ensure_mariadb() {
  if listening "$MY_PORT"; then return; fi
  if [[ ! -x /usr/sbin/mariadbd ]]; then apt_install mariadb-server; fi
  if ! listening "$MY_PORT"; then
    say "starting MariaDB"
    as_root mkdir -p /run/mysqld
    as_root chown mysql: /run/mysqld 2>/dev/null || true
    as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  fi
  wait_for "$MY_PORT" || { say "MariaDB did not start"; exit 1; }
}

# The PostGIS tests need the extension available (not installed: each test database creates it).
ensure_postgis() {
  command -v psql >/dev/null || return 0
  local url="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  [[ -n $(psql "$url" -Atqc "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'" 2>/dev/null) ]] && return
  local major
  major=$(psql "$url" -Atqc 'SHOW server_version_num' 2>/dev/null | cut -c1-2)
  [[ -n "$major" ]] && apt_install "postgresql-$major-postgis-3" || say "PostGIS could not be installed; the PostGIS tests will say so"
}

ensure_postgres
[[ $want_mariadb == 1 ]] && { ensure_mariadb; ensure_postgis; }
echo "postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
