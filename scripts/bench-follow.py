#!/usr/bin/env python3
"""Benchmark of following (issue 15): `copy --follow` while a writer loads the source, then
`cutover`. Starts a MariaDB of its own with its binary log on (ROW) on a free port, makes a
shop of ROWS orders, and prints:

- the copy's time;
- changes applied per second, for many small transactions (one to three changes each) and
  for one big UPDATE (every order), with the follower's peak memory;
- the follower's lag while the writer runs at a fixed rate (p50/p95, seconds from a change's
  commit on the source to its commit in PostgreSQL, sampled by position);
- the cutover window with --verify counts and with --verify checksums.

Not a test: nothing here passes or fails on speed. Run by scripts/bench-follow.sh."""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROWS = int(os.environ.get("ROWS", "200000"))
SMALL = int(os.environ.get("SMALL_TXNS", "60000"))
RATE = int(os.environ.get("RATE", "2000"))  # changes/s for the lag measure
PG = os.environ["PG_ADMIN"]  # postgresql://postgres@127.0.0.1:5432/postgres
BIN = os.path.abspath(os.environ.get("PGCUTOVER", "target/release/pgcutover"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def program(name):
    for d in ("", "/usr/sbin/", "/usr/bin/"):
        p = shutil.which(d + name) if not d else (d + name if os.path.exists(d + name) else None)
        if p:
            return p
    sys.exit(f"bench-follow: needs {name} (apt-get install mariadb-server)")


class Mariadb:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pgcutover-bench-follow-")
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run([program("mariadb-install-db"), "--no-defaults", f"--datadir={data}",
                        "--auth-root-authentication-method=normal", "--skip-test-db", *user],
                       check=True, capture_output=True)
        self.proc = subprocess.Popen([
            program("mariadbd"), "--no-defaults", f"--datadir={data}", *user,
            f"--port={self.port}", "--bind-address=127.0.0.1",
            f"--socket={self.dir}/sock", f"--pid-file={self.dir}/pid",
            f"--log-bin={self.dir}/binlog", "--binlog-format=ROW", "--binlog-row-image=FULL",
            "--server-id=1", "--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0", "--max-allowed-packet=64M",
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if self.sql("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("bench-follow: the private MariaDB did not start")

    def sql(self, text, db=None, check=True):
        args = ["mariadb", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root", "-N", "-B"]
        if db:
            args.append(db)
        return subprocess.run(args, input=text, text=True, capture_output=True, check=check)

    def value(self, text, db="shop"):
        return self.sql(text, db).stdout.strip()

    def position(self):
        f, p = self.sql("SHOW MASTER STATUS").stdout.split()[:2]
        return f, int(p)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_seconds(pid):
    """User and system CPU seconds a process has used."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def psql(url, text):
    return subprocess.run(["psql", url, "-XAtqc", text], capture_output=True, text=True).stdout.strip()


def applied(url):
    out = psql(url, "SELECT position, changes FROM pgcutover.follow")
    if "|" not in out:
        return None, 0
    pos, changes = out.split("|")
    f, p = pos.rsplit(":", 1)
    return (f, int(p)), int(changes)


def wait_changes(url, want, timeout=600):
    start = time.time()
    while time.time() - start < timeout:
        _, c = applied(url)
        if c >= want:
            return time.time()
        time.sleep(0.05)
    sys.exit(f"bench-follow: the follower did not apply {want} changes in {timeout}s")


SHOP = f"""
CREATE DATABASE shop CHARACTER SET utf8mb4;
USE shop;
CREATE TABLE customers (id INT UNSIGNED PRIMARY KEY, name VARCHAR(60) NOT NULL, tier ENUM('free','pro','enterprise') NOT NULL);
CREATE TABLE orders (
  id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
  customer_id INT UNSIGNED NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  paid TINYINT(1) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  note VARCHAR(120),
  CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE
) ENGINE=InnoDB;
INSERT INTO customers SELECT seq, CONCAT('Customer ', seq), ELT(1 + seq % 3, 'free','pro','enterprise') FROM seq_1_to_1000;
INSERT INTO orders (customer_id, amount, paid, created_at, note)
SELECT 1 + seq % 1000, (seq * 37 % 10000000) / 100, seq % 2,
       FROM_UNIXTIME(1600000000 + seq * 37) + INTERVAL (seq % 1000000) MICROSECOND,
       SUBSTR('lorem ipsum dolor sit amet, consectetur adipiscing elit', 1 + seq % 40)
FROM seq_1_to_{ROWS};
"""


def small_transactions(n, start):
    """n transactions, in turn: an insert; an update of two columns; an insert and a delete."""
    lines = []
    changes = 0
    for i in range(n):
        k = start + i
        c = 1 + k % 1000
        if i % 3 == 0:
            lines.append(f"INSERT INTO orders (customer_id, amount, paid, created_at, note) VALUES ({c}, {k % 997}.25, 1, NOW(6), 'bench {k}');")
            changes += 1
        elif i % 3 == 1:
            lines.append(f"UPDATE orders SET amount = amount + 1, paid = 1 - paid WHERE id = {1 + (k * 7919) % ROWS};")
            changes += 1
        else:
            lines.append(f"START TRANSACTION; INSERT INTO orders (customer_id, amount, paid, created_at) VALUES ({c}, 1.00, 0, NOW(6)); DELETE FROM orders WHERE id = LAST_INSERT_ID(); COMMIT;")
            changes += 2
    return "\n".join(lines), changes


def main():
    my = Mariadb()
    try:
        my.sql(SHOP)
        src = f"mysql://root@127.0.0.1:{my.port}/shop"
        for verify in ("counts", "checksums"):
            run(my, src, verify)
    finally:
        my.stop()


def run(my, src, verify):
    base = PG.rsplit("/", 1)[0]
    dbname = f"pgc_bench_follow_{verify}"
    psql(PG, f"DROP DATABASE IF EXISTS {dbname}")
    psql(PG, f"CREATE DATABASE {dbname}")
    tgt = f"{base}/{dbname}"
    work = tempfile.mkdtemp(prefix="pgcutover-bench-follow-run-")
    timefile = os.path.join(work, "time")
    t0 = time.time()
    follower = subprocess.Popen(["/usr/bin/time", "-f", "%e %M", "-o", timefile, BIN, "copy", src, tgt, "--follow"],
                                cwd=work, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "stderr"), "w"))
    while psql(tgt, "SELECT status FROM pgcutover.runs") != "complete":
        if follower.poll() is not None:
            sys.exit(f"bench-follow: copy --follow ended: {open(os.path.join(work, 'stderr')).read()}")
        time.sleep(0.05)
    copy_s = time.time() - t0
    print(f"[{verify}] copy of {ROWS:,} orders: {copy_s:.1f}s (to the run complete; following from there)")
    _, base_changes = applied(tgt)

    # What the follower can apply: it is paused (SIGSTOP) while the source takes the writes,
    # then let go (SIGCONT) and timed until it has applied them all.
    pid = int(subprocess.run(["pgrep", "-P", str(follower.pid)], capture_output=True, text=True).stdout.split()[0])

    def catch_up(what, write, changes):
        _, before = applied(tgt)
        os.kill(pid, signal.SIGSTOP)
        t = time.time()
        write()
        written = time.time() - t
        perf = None
        if os.environ.get("PERF"):
            # PERF=FILE: a perf profile of the follower while it catches up (perf record -g).
            perf = subprocess.Popen(["perf", "record", "-F", "499", "--call-graph", "dwarf,16384", "-o", f"{os.environ['PERF']}.{verify}.{len(what)}", "-p", str(pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)
        cpu = cpu_seconds(pid)
        t = time.time()
        os.kill(pid, signal.SIGCONT)
        done = wait_changes(tgt, before + changes)
        cpu = cpu_seconds(pid) - cpu
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        print(f"[{verify}] {what}: written in {written:.1f}s (follower paused), then applied in {done - t:.1f}s: {changes / (done - t):,.0f} changes/s, follower CPU {cpu:.1f}s")

    sql, changes = small_transactions(SMALL, 10_000_000)
    catch_up(f"{SMALL:,} small transactions ({changes:,} changes)", lambda: my.sql(sql, "shop"), changes)
    n = int(my.value("SELECT COUNT(*) FROM orders"))
    catch_up(f"one UPDATE of {n:,} rows", lambda: my.sql("UPDATE orders SET amount = amount + 0.01", "shop"), n)

    # Lag at a steady rate: RATE changes/s for 10 s, in transactions of 10 written every 0.1 s.
    # After each write the source's position is noted, and the run state is polled until the
    # follower has committed past it: the lag is that time (to within a psql call, ~20 ms).
    lags = []
    start = time.time()
    sent = 0
    k = 20_000_000
    while time.time() - start < 10:
        began = time.time()
        batch = []
        for _ in range(RATE // 10 // 10):
            rows = ", ".join(f"({1 + (k + j) % 1000}, 2.50, 0, NOW(6), 'steady')" for j in range(10))
            batch.append(f"INSERT INTO orders (customer_id, amount, paid, created_at, note) VALUES {rows};")
            k += 10
            sent += 10
        my.sql("\n".join(batch), "shop")
        written, position = time.time(), my.position()
        while True:
            pos, _ = applied(tgt)
            if pos is not None and pos >= position:
                break
            if time.time() - written > 60:
                sys.exit(f"bench-follow: the follower did not reach {position} within 60 s")
            time.sleep(0.005)
        lags.append(time.time() - written)
        time.sleep(max(0.0, 0.1 - (time.time() - began)))
    elapsed = time.time() - start
    lags.sort()
    p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))]
    print(f"[{verify}] lag at {sent / elapsed:,.0f} changes/s for {elapsed:.0f} s: p50 {statistics.median(lags):.2f}s, p95 {p95:.2f}s ({len(lags)} samples)")

    # The window: writes stop, cutover.
    t = time.time()
    out = subprocess.run([BIN, "cutover", src, tgt, "--verify", verify], cwd=work, capture_output=True, text=True)
    window = time.time() - t
    follower.wait(timeout=60)
    secs, kb = open(timefile).read().split()[:2]
    print(f"[{verify}] cutover --verify {verify}: exit {out.returncode}, window {window:.1f}s; follower exit {follower.returncode}, peak memory {int(kb) / 1024:.1f} MB over {float(secs):.0f}s")
    if out.returncode != 0:
        print(out.stdout, out.stderr)
    psql(PG, f"DROP DATABASE IF EXISTS {dbname}")
    # The next run copies again from a source that is no longer the one this run copied.
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
