#!/usr/bin/env bash
# Benchmark of `copy --follow` and `cutover` (issue 15): see scripts/bench-follow.py. Starts a
# MariaDB of its own with its binary log on; needs PostgreSQL (started if none answers),
# mariadb-server's programs, psql and python3. Not a test: nothing here passes or fails on speed.
#   ROWS=200000 SMALL_TXNS=60000 RATE=2000 scripts/bench-follow.sh  (PERF=FILE: a perf profile)
set -euo pipefail
cd "$(dirname "$0")/.."
admin=$(scripts/ensure-services.sh | tail -1)
cargo build --release --quiet
PG_ADMIN="$admin" exec python3 scripts/bench-follow.py
