#!/usr/bin/env bash
# Demo: copies the bundled SQLite fixture (fixtures/sqlite/demo.sqlite, a small bookshop) into
# a local PostgreSQL database `pgcutover_demo`, starting a throwaway PostgreSQL when none is
# reachable. Prints the plan's summary, the copy's progress and its summary.
set -euo pipefail
cd "$(dirname "$0")/.."

admin=$(scripts/ensure-services.sh | tail -1)
target="${admin%/*}/pgcutover_demo"
cargo build --release --quiet
psql "$admin" -qc 'DROP DATABASE IF EXISTS pgcutover_demo' -c 'CREATE DATABASE pgcutover_demo' 2>/dev/null
echo "\$ pgcutover copy fixtures/sqlite/demo.sqlite $target --report demo-report.json"
./target/release/pgcutover copy fixtures/sqlite/demo.sqlite "$target" --report demo-report.json
echo
echo "Look around: psql $target"
