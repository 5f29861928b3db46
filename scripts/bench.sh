#!/usr/bin/env bash
# Benchmark: generate a SQLite database of $ROWS rows (default 1,000,000; mixed types, about
# 150 bytes a row), copy it into a fresh PostgreSQL database, and print rows/s, MB/s and peak
# memory. When pgloader is installed, run it on the same file in the same run and print ratios.
# Not a test: nothing here passes or fails on speed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
WORK=${BENCH_DIR:-/tmp/pgcutover-bench}
mkdir -p "$WORK"
admin=$(scripts/ensure-services.sh | tail -1)
base=${admin%/*}
cargo build --release --quiet
SOURCE=${SOURCE:-sqlite}
if [[ "$SOURCE" == mysql ]]; then
  # MariaDB: customers (1000) and orders (ROWS) with a foreign key and mixed types, made with
  # MariaDB's sequence engine; regenerated only when missing.
  scripts/ensure-services.sh --mariadb >/dev/null
  mdb="pgc_bench_$ROWS"
  my() { mariadb -h 127.0.0.1 -P 3306 -u root "$@"; }
  if [[ -z "$(my -N -e "SHOW DATABASES LIKE '$mdb'")" ]]; then
    echo "generating MariaDB database $mdb ($ROWS rows)…" >&2
    my -e "CREATE DATABASE $mdb CHARACTER SET utf8mb4"
    my "$mdb" <<SQL
CREATE TABLE customers (id INT UNSIGNED PRIMARY KEY, name VARCHAR(60) NOT NULL, email VARCHAR(80) NOT NULL, tier ENUM('free','pro','enterprise') NOT NULL);
CREATE TABLE orders (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  ratio DOUBLE,
  paid TINYINT(1) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  note VARCHAR(120),
  token VARBINARY(16),
  CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers(id)
) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('Customer ', seq), CONCAT('customer', seq, '@example.com'), ELT(1 + seq % 3, 'free','pro','enterprise') FROM seq_1_to_1000;
INSERT INTO orders (customer_id, amount, ratio, paid, created_at, updated_at, note, token)
SELECT 1 + seq % 1000, (seq * 37 % 10000000) / 100, seq / 7, seq % 2,
       FROM_UNIXTIME(1600000000 + seq * 37) + INTERVAL (seq % 1000000) MICROSECOND,
       FROM_UNIXTIME(1600000000 + seq * 41),
       SUBSTR('lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore', 1 + seq % 40),
       UNHEX(MD5(seq))
FROM seq_1_to_$ROWS;
SQL
  fi
  src="mysql://root@127.0.0.1:3306/$mdb"
  pgl_src="mysql://root@127.0.0.1:3306/$mdb"
  my -N "$mdb" -e "ANALYZE TABLE customers, orders" >/dev/null
  size_mb=$(my -N -e "SELECT ROUND(SUM(data_length + index_length) / 1048576) FROM information_schema.TABLES WHERE table_schema = '$mdb'")
else
command -v sqlite3 >/dev/null || { echo "bench: needs the sqlite3 CLI (apt-get install sqlite3)" >&2; exit 2; }

db="$WORK/bench-$ROWS.sqlite"
if [[ ! -f "$db" ]]; then
  echo "generating $db ($ROWS rows)…" >&2
  sqlite3 "$db" <<SQL
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email VARCHAR(80) NOT NULL);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  amount NUMERIC(12,2) NOT NULL,
  ratio REAL,
  paid BOOLEAN NOT NULL,
  created_at DATETIME NOT NULL,
  note TEXT,
  token BLOB
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO customers SELECT i, 'Customer ' || i, 'customer' || i || '@example.com' FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO orders (customer_id, amount, ratio, paid, created_at, note, token)
SELECT 1 + i % 1000, (i * 37 % 10000000) / 100.0, i / 7.0, i % 2,
       datetime(1600000000 + i * 37, 'unixepoch'),
       substr('lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore', 1 + i % 40),
       randomblob(16)
FROM n;
SQL
fi
src="$db"
pgl_src="sqlite://$db"
size_mb=$(du -m "$db" | cut -f1)
fi


fresh_db() { psql "$admin" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null 2>&1; }
# Wall seconds, peak KB, then user and system CPU seconds.
measure() { /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@"; }

fresh_db pgc_bench
echo "pgcutover: copying $ROWS rows ($size_mb MB of $SOURCE)…" >&2
measure ./target/release/pgcutover copy "$src" "$base/pgc_bench" --format json --report "$WORK/report.json" >/dev/null 2>"$WORK/pgcutover.log" || { cat "$WORK/pgcutover.log" >&2; exit 1; }
read -r pgc_s pgc_kb pgc_user pgc_sys < "$WORK/time"
pgc_rows=$(python3 -c "import json;print(json.load(open('$WORK/report.json'))['totals']['rows_written'])")
pgc_bytes=$(python3 -c "import json;print(json.load(open('$WORK/report.json'))['totals']['bytes'])")

report() { # name seconds peak_kb rows
  python3 - "$@" "$size_mb" "$pgc_bytes" <<'PY'
import sys
name, s, kb, rows, size_mb, copy_bytes = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
print(f"{name:10} {rows:>10} rows in {s:7.2f} s  {rows/s:>10,.0f} rows/s  {size_mb/s:7.1f} MB/s (source)  {copy_bytes/1e6/s:7.1f} MB/s (COPY)  peak memory {kb/1024:7.1f} MB")
PY
}
echo
report pgcutover "$pgc_s" "$pgc_kb" "$pgc_rows"
python3 -c "print(f'           pgcutover used {$pgc_user + $pgc_sys:.2f} s of CPU: {($pgc_user + $pgc_sys) / ($pgc_bytes / 1e8):.2f} s per 100 MB of COPY data')"

# The floor: what PostgreSQL alone takes for the same result, in the same run. The copied
# tables are written to local binary COPY files; a fresh database gets the same tables
# (pg_dump's pre-data, not timed), loads the files in $jobs psql streams, then builds the same
# keys, indexes and foreign keys (pg_dump's post-data, by pg_restore -j $jobs). A plain read of
# the source (its own client to /dev/null) is timed too: pgcutover cannot beat either.
jobs=$(nproc)
floor_dir="$WORK/floor"
rm -rf "$floor_dir" && mkdir -p "$floor_dir"
tables=$(psql "$base/pgc_bench" -Atc "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")
for t in $tables; do
  psql "$base/pgc_bench" -qc "\\copy public.\"$t\" TO '$floor_dir/$t.bin' WITH (FORMAT binary)"
done
pg_dump -Fc -n public -f "$floor_dir/schema.dump" "$base/pgc_bench" --schema-only
fresh_db pgc_bench_floor
# Every object but the schema itself (the new database has its public schema already).
pg_restore -l "$floor_dir/schema.dump" | grep -v ' SCHEMA - public ' >"$floor_dir/list"
pg_restore --section=pre-data -L "$floor_dir/list" -d "$base/pgc_bench_floor" "$floor_dir/schema.dump"
t0=$(date +%s.%N)
printf '%s\n' $tables | xargs -P "$jobs" -I{} psql "$base/pgc_bench_floor" -qc "\\copy public.\"{}\" FROM '$floor_dir/{}.bin' WITH (FORMAT binary)"
t1=$(date +%s.%N)
pg_restore --section=post-data -L "$floor_dir/list" -j "$jobs" -d "$base/pgc_bench_floor" "$floor_dir/schema.dump"
t2=$(date +%s.%N)
t3=$(date +%s.%N)
if [[ "$SOURCE" == mysql ]]; then
  for t in $tables; do my -N --quick "$mdb" -e "SELECT * FROM \`$t\`" >/dev/null; done
else
  for t in $tables; do sqlite3 "$db" "SELECT * FROM \"$t\"" >/dev/null; done
fi
t4=$(date +%s.%N)
python3 -c "
data, post, read = $t1 - $t0, $t2 - $t1, $t4 - $t3
floor = data + post
print(f'floor      PostgreSQL alone: {data:.2f} s of data ($jobs binary COPY streams from local files) + {post:.2f} s of post-data = {floor:.2f} s; pgcutover took {$pgc_s / floor:.2f}x that')
print(f'           a plain read of the source by its own client: {read:.2f} s')"
psql "$admin" -qc "DROP DATABASE IF EXISTS pgc_bench_floor WITH (FORCE)" >/dev/null

# A data-only load of the same SQLite rows into the schema an application's migrations would
# make (integer ids, timestamp(0), varchar(n), numeric(14,2)): every value goes through the
# conversion into the target's own type.
if [[ "$SOURCE" == sqlite ]]; then
  fresh_db pgc_bench_app
  psql "$base/pgc_bench_app" -q <<SQL
CREATE TABLE customers (id serial PRIMARY KEY, name varchar(255) NOT NULL, email varchar(80) NOT NULL);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id),
  amount numeric(14,2) NOT NULL, ratio double precision, paid boolean NOT NULL,
  created_at timestamp(0) NOT NULL, note varchar(120), token bytea);
SQL
  echo "pgcutover: loading the same rows with --data-only into an application's schema…" >&2
  measure ./target/release/pgcutover copy "$src" "$base/pgc_bench_app" --data-only --format json --report "$WORK/report-data-only.json" >/dev/null 2>"$WORK/data-only.log" || { cat "$WORK/data-only.log" >&2; exit 1; }
  read -r do_s do_kb _ < "$WORK/time"
  do_rows=$(python3 -c "import json;print(json.load(open('$WORK/report-data-only.json'))['totals']['rows_written'])")
  report data-only "$do_s" "$do_kb" "$do_rows"
  python3 -c "print(f'           the data-only load took {$do_s/$pgc_s:.2f}x the time of the full copy')"
fi

# Verification of the same copy: every row of both sides hashed (checksums), then counts only.
for mode in checksums counts; do
  echo "pgcutover verify --mode $mode…" >&2
  measure ./target/release/pgcutover verify "$src" "$base/pgc_bench" --mode "$mode" --format json >"$WORK/verify.json" 2>"$WORK/verify.log" || { cat "$WORK/verify.log" >&2; exit 1; }
  read -r v_s v_kb _ < "$WORK/time"
  [[ "$(python3 -c "import json;print(json.load(open('$WORK/verify.json'))['data']['outcome'])")" == identical ]] || { echo "verify found differences: $WORK/verify.json" >&2; exit 1; }
  report "verify-$mode" "$v_s" "$v_kb" "$pgc_rows" | sed 's/ (COPY)/ (as COPY)/'
  python3 -c "print(f'           verify --mode $mode took {$v_s/$pgc_s:.2f}x the time of the copy')"
done

if command -v pgloader >/dev/null; then
  fresh_db pgc_bench_pgloader
  echo "pgloader: copying the same source…" >&2
  if measure pgloader "$pgl_src" "$base/pgc_bench_pgloader" >"$WORK/pgloader.log" 2>&1; then :; else echo "(pgloader exited $?; see $WORK/pgloader.log)" >&2; fi
  read -r pgl_s pgl_kb _ < "$WORK/time"
  pgl_rows=$(psql "$base/pgc_bench_pgloader" -Atc "SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM customers)" 2>/dev/null || echo 0)
  report pgloader "$pgl_s" "$pgl_kb" "$pgl_rows"
  python3 -c "
pgc_rate, pgl_rate = $pgc_rows/$pgc_s, max($pgl_rows,1)/$pgl_s
print(f'ratio      pgcutover is {pgc_rate/pgl_rate:.1f}x pgloader in rows/s, using {$pgc_kb/$pgl_kb:.2f}x its peak memory')"
else
  echo "(pgloader not installed: apt-get install pgloader to compare)"
fi
