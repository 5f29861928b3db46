#!/usr/bin/env bash
# The whole test suite: starts (installing if needed) PostgreSQL and MariaDB when none is
# reachable, then runs formatting and lint checks and every test against the real servers.
# The dataset tests read ../shared/datasets (or PGCUTOVER_DATASETS); without it they fail
# with a message saying so, unless PGCUTOVER_ALLOW_MISSING_DATASETS=1.
set -euo pipefail
cd "$(dirname "$0")/.."

admin=$(scripts/ensure-services.sh --mariadb | tail -1)
export PGCUTOVER_TEST_PG=${PGCUTOVER_TEST_PG:-$admin}

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
