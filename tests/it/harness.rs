//! Test databases, running the binary, and small query helpers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as J;

use mysql_async::prelude::Queryable;
use tokio_postgres::{Client, NoTls};

pub fn admin_url() -> String {
    std::env::var("PGCUTOVER_TEST_PG")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of the test's own, dropped and re-created at the start (so a failed test leaves
/// its database behind for a look) and dropped when the test passes.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to test PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    client
}

impl TestDb {
    pub async fn new(tag: &str) -> TestDb {
        let name = format!("pgct_{tag}");
        let admin = connect(&admin_url()).await;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
            .expect("drop old test db");
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test db");
        let base = admin_url();
        let url = format!(
            "{}/{name}",
            base.rsplit_once('/').expect("URL has a database").0
        );
        TestDb { name, url }
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    pub async fn drop(self) {
        let admin = connect(&admin_url()).await;
        let _ = admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

/// Runs `pgcutover` with `args` in `dir` (so the rejects file lands there).
pub fn pgcutover(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PGPASSWORD")
        .output()
        .expect("run pgcutover")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts the exit code, showing everything the binary said if it differs.
pub fn expect_code(out: &Output, want: i32) {
    assert_eq!(
        code(out),
        want,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        stdout(out),
        stderr(out)
    );
}

pub fn datasets_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PGCUTOVER_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("PGCUTOVER_ALLOW_MISSING_DATASETS").is_some() {
        eprintln!(
            "SKIPPED: sample datasets not found at {} (PGCUTOVER_ALLOW_MISSING_DATASETS is set)",
            dir.display()
        );
        return None;
    }
    panic!(
        "the sample datasets are not at {}: put the shared/ folder beside the checkout, set PGCUTOVER_DATASETS, \
         or set PGCUTOVER_ALLOW_MISSING_DATASETS=1 to skip these tests",
        dir.display()
    );
}

/// Builds a SQLite file from SQL text.
pub fn sqlite_from_sql(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).expect("create sqlite file");
    conn.execute_batch(sql).expect("fixture SQL runs");
}

pub async fn query_strings(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let rows = client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect()
}

pub async fn one(client: &Client, sql: &str) -> Option<String> {
    query_strings(client, sql)
        .await
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten())
}

/// Waits (at most 10 s) until no other session is connected to `client`'s database: after a
/// kill -9, PostgreSQL may still be finishing a COMMIT the killed run sent, and what the state
/// holds is settled only once its sessions are gone.
pub async fn settled(client: &Client) {
    let others = "SELECT count(*)::text FROM pg_stat_activity \
                  WHERE datname = current_database() AND pid <> pg_backend_pid()";
    for _ in 0..200 {
        if one(client, others).await.as_deref() == Some("0") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("a killed run's sessions are still connected after 10 s");
}

/// Reads a JSON file the binary wrote (a `--report`).
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("{} was not written: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A column's type as PostgreSQL writes it (`character varying(3)`, `geometry`).
pub async fn column_type(client: &Client, table: &str, column: &str) -> Option<String> {
    let row = client
        .query_opt(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = quote_ident($1)::regclass AND attname = $2",
            &[&table, &column],
        )
        .await
        .expect("column type");
    row.map(|r| r.get(0))
}

/// After a whole-database copy: `fks` foreign keys were created, and the identity column
/// `(table, column, next)` hands out `next` as its next value.
pub async fn assert_fks_and_identity(
    client: &Client,
    fks: usize,
    identity: Option<(&str, &str, i64)>,
) {
    assert_eq!(
        one(
            client,
            "SELECT count(*)::text FROM pg_constraint WHERE contype = 'f' AND connamespace::regnamespace::text <> 'pgcutover' AND connamespace::regnamespace::text <> 'pgcutover'"
        )
        .await
        .as_deref(),
        Some(fks.to_string().as_str()),
        "foreign keys created"
    );
    if let Some((table, column, next)) = identity {
        let sql =
            format!("SELECT nextval(pg_get_serial_sequence('public.\"{table}\"', '{column}'))");
        assert_eq!(
            one(client, &sql).await,
            Some(next.to_string()),
            "next identity value of {table}.{column}"
        );
    }
}

/// The rejects file a run in `dir` wrote, one JSON object per line.
pub fn read_rejects(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("pgcutover-rejects.jsonl"))
        .expect("rejects file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// (table, key, column, reason) of every reject in `dir`'s rejects file, sorted.
pub fn rejected_rows(dir: &Path) -> Vec<(String, String, String, String)> {
    let mut got: Vec<_> = read_rejects(dir)
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().expect("string field").to_owned();
            (s("table"), s("key"), s("column"), s("reason"))
        })
        .collect();
    got.sort();
    got
}

/// The entry for `name` in a report's (or a verification's) `tables`.
pub fn report_table<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no table {name} in the report"))
}

/// `copy SOURCE TARGET --verify checksums --report …` in `dir`: asserts the exit code and that
/// verify found no difference the copy did not make, and returns the report.
pub fn copy_verified(dir: &Path, source: &str, target: &str, code: i32) -> serde_json::Value {
    let report_path = dir.join("report.json");
    let out = pgcutover(
        dir,
        &[
            "copy",
            source,
            target,
            "--verify",
            "checksums",
            "--report",
            report_path.to_str().expect("utf-8 path"),
        ],
    );
    expect_code(&out, code);
    let report = read_json(&report_path);
    assert_no_false_positives(&report);
    report
}

/// A copy's `--verify checksums` found every table identical (or different only by the rows the
/// copy rejected), after comparing every row.
pub fn assert_no_false_positives(report: &serde_json::Value) {
    let v = &report["verification"];
    assert_eq!(v["mode"], "checksums", "the copy ran --verify checksums");
    for t in v["tables"].as_array().expect("verified tables") {
        assert!(
            t["status"] == "identical" || t["status"] == "rejected_only",
            "verify reports a difference the copy did not make: {t:#}"
        );
        assert_eq!(t["rows_differing"], 0, "{t:#}");
        assert_eq!(
            t["source_rows"].as_u64().expect("rows"),
            t["target_rows"].as_u64().expect("rows") + t["rejected"].as_u64().expect("rejected"),
            "{t:#}"
        );
    }
    assert_eq!(
        v["tables"].as_array().map(Vec::len),
        report["tables"].as_array().map(Vec::len),
        "every copied table was verified"
    );
}

/// A PostgreSQL cluster of the test's own: initdb into a temporary folder, its own free port,
/// trust auth. For a setup the shared server cannot give (a restart, TLS only). Stopped when
/// dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

impl PgCluster {
    /// Makes the cluster's files; [`PgCluster::start`] starts it, after the test has changed
    /// what it needs in [`PgCluster::data`].
    pub fn init(prefix: &str) -> PgCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect(
                "PostgreSQL's server binaries in /usr/lib/postgresql (Debian's postgresql package)",
            )
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("an initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/tmp")
            .expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let c = PgCluster { dir, bin, port };
        let _ = Command::new("chown")
            .args(["postgres", c.dir.path().to_str().expect("path")])
            .status();
        let data = c.data();
        let ok = c
            .command("initdb")
            .args(["-D", data.to_str().expect("path")])
            .args(["-U", "postgres", "--auth=trust", "--no-sync"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("initdb");
        assert!(ok.success(), "initdb failed");
        c
    }

    /// The data directory, where pg_hba.conf and certificates go.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts it listening on 127.0.0.1, with `settings` (`-c name=value …`) added.
    pub fn start(&self, settings: &str) {
        let data = self.data();
        self.ctl(&[
            "start",
            "-o",
            &format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off {settings}",
                self.port,
                data.to_str().expect("path")
            ),
        ]);
    }

    /// Runs `pg_ctl` with `args` (`restart -m fast`, …) and waits for it.
    pub fn ctl(&self, args: &[&str]) {
        let ok = self
            .command("pg_ctl")
            .args(["-D", self.data().to_str().expect("path"), "-w", "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl");
        assert!(ok.success(), "pg_ctl {args:?} failed");
    }

    /// A URL to its `postgres` database, with `query` (`sslmode=…`) when not empty.
    pub fn url(&self, query: &str) -> String {
        let q = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("postgresql://postgres@127.0.0.1:{}/postgres{q}", self.port)
    }

    /// One of the server's programs, run as `postgres` when the tests run as root (initdb and
    /// the server refuse root).
    fn command(&self, program: &str) -> Command {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let path = self.bin.join(program);
        if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data().to_str().expect("path"),
                "-m",
                "immediate",
                "stop",
            ])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("path")
}

/// A PostgreSQL cluster of the test's own with TLS on and only TLS connections allowed
/// (`hostssl` in pg_hba.conf), its certificate for `otherhost.invalid` signed by a CA the
/// test makes.
pub struct TlsCluster {
    pub cluster: PgCluster,
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
}

impl TlsCluster {
    pub fn start() -> TlsCluster {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let cluster = PgCluster::init("pgcutover-tls-");
        let data = cluster.data();
        let ca_path = data.parent().expect("the cluster's folder").join("ca.pem");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "pgcutover test CA");
        let ca =
            CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");
        let key = KeyPair::generate().expect("server key");
        let mut server =
            CertificateParams::new(vec!["otherhost.invalid".to_owned()]).expect("params");
        server
            .distinguished_name
            .push(DnType::CommonName, "otherhost.invalid");
        let cert = server.signed_by(&key, &ca).expect("server certificate");
        std::fs::write(&ca_path, ca.pem()).expect("write CA");
        std::fs::write(data.join("server.crt"), cert.pem()).expect("write cert");
        std::fs::write(data.join("server.key"), key.serialize_pem()).expect("write key");
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
        )
        .expect("pg_hba.conf");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod key");
        let _ = Command::new("chown")
            .args([
                "postgres",
                path_str(&data.join("server.crt")),
                path_str(&data.join("server.key")),
                path_str(&data.join("pg_hba.conf")),
            ])
            .status();
        cluster.start("-c ssl=on");
        TlsCluster {
            cluster,
            ca: ca_path,
        }
    }

    pub fn url(&self, query: &str) -> String {
        self.cluster.url(query)
    }
}

impl PgCluster {
    /// A client over the cluster's Unix socket (which pg_hba.conf lets in even when TCP
    /// takes only TLS).
    pub async fn socket_client(&self) -> Client {
        let config = format!(
            "host={} port={} user=postgres dbname=postgres",
            self.data().to_str().expect("path"),
            self.port
        );
        connect(&config).await
    }
}

// Stopping a run at an exact point, through the binary's test hook (`src/testpoint.rs`):
// PGCUTOVER_TEST_STOP_AT=POINT:N makes it write a file and wait there; the test then kills it,
// signals it, or lets it go on.

/// Starts `pgcutover` that stops at `point`'s `nth` pass and waits there.
pub fn spawn_stopping(dir: &Path, args: &[&str], point: &str, nth: u64) -> (Child, PathBuf) {
    let stop = dir.join(format!("stopped-{point}-{nth}"));
    let _ = std::fs::remove_file(&stop);
    let child = Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PGCUTOVER_TEST_STOP_AT", format!("{point}:{nth}"))
        .env("PGCUTOVER_TEST_STOP_FILE", &stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pgcutover");
    (child, stop)
}

pub enum Stop {
    /// The run is waiting at the point.
    AtPoint,
    /// The run ended before it got there.
    Exited(i32),
}

pub fn wait_for_stop(child: &mut Child, stop: &Path) -> Stop {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if stop.exists() {
            return Stop::AtPoint;
        }
        if let Some(status) = child.try_wait().expect("poll child") {
            return Stop::Exited(status.code().unwrap_or(-1));
        }
        assert!(
            Instant::now() < deadline,
            "pgcutover neither stopped nor ended"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `pgcutover` until its `nth` pass of `point`, and kills it there with SIGKILL.
pub fn kill_at(dir: &Path, args: &[&str], point: &str, nth: u64) {
    let (mut child, stop) = spawn_stopping(dir, args, point, nth);
    assert!(
        matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint),
        "the run ended before {point}:{nth}"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// Runs `pgcutover` until its `nth` pass of `point`, sends it SIGINT there, lets it go on, and
/// returns how it ended.
pub fn interrupt_at(dir: &Path, args: &[&str], point: &str, nth: u64) -> std::process::Output {
    let (mut child, stop) = spawn_stopping(dir, args, point, nth);
    assert!(
        matches!(wait_for_stop(&mut child, &stop), Stop::AtPoint),
        "the run ended before {point}:{nth}"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(&stop).expect("let it go on");
    output_of(child)
}

pub fn output_of(child: Child) -> std::process::Output {
    child.wait_with_output().expect("wait for pgcutover")
}

/// `verify --format json`: asserts every table is identical (no missing, extra or duplicate
/// row) and returns the report.
pub fn assert_identical(dir: &Path, source: &str, target: &str) -> J {
    let out = pgcutover(dir, &["verify", source, target, "--format", "json"]);
    let v: J = serde_json::from_str(stdout(&out).trim())
        .unwrap_or_else(|e| panic!("verify printed no JSON ({e}): {}", stderr(&out)));
    expect_code(&out, 0);
    for t in v["data"]["tables"].as_array().expect("tables") {
        assert_eq!(t["status"], "identical", "{t:#}");
    }
    v
}

// MariaDB/MySQL: the server the tests use (PGCUTOVER_TEST_MYSQL), and databases of their own
// (`pgctit_*`), the counterpart of TestDb.

/// The MySQL server the tests use, as a URL without a database.
pub fn mysql_admin_url() -> String {
    std::env::var("PGCUTOVER_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A session on database `db`, in UTF-8 and UTC.
pub async fn mysql(db: &str) -> mysql_async::Conn {
    let url = format!("{}/{db}", mysql_admin_url());
    let opts = mysql_async::Opts::from_url(&url).expect("mysql url");
    let mut c = mysql_async::Conn::new(opts)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to test MariaDB at {url}: {e}"));
    c.query_drop("SET NAMES utf8mb4").await.expect("names");
    c.query_drop("SET time_zone = '+00:00'").await.expect("tz");
    c
}

/// A `mysql://` URL to database `db` of the test server.
pub fn source_url(db: &str) -> String {
    format!("{}/{db}", mysql_admin_url())
}

/// A MariaDB/MySQL database of the test's own, the counterpart of [`TestDb`]: made empty or
/// from SQL text (dropped first, so a failed test leaves it behind for a look), and dropped
/// when the test passes.
pub struct MyDb {
    pub name: String,
    /// The `mysql://` URL a test gives pgcutover as SOURCE.
    pub url: String,
}

impl MyDb {
    /// (Re)creates database `name`, empty, in utf8mb4, for a test that fills it itself.
    pub async fn new(name: &str) -> MyDb {
        let mut admin = mysql("mysql").await;
        admin
            .query_drop(format!(
                "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
            ))
            .await
            .expect("create mysql db");
        let _ = admin.disconnect().await;
        MyDb {
            name: name.to_owned(),
            url: source_url(name),
        }
    }

    /// (Re)creates database `name` from SQL text.
    pub async fn from_sql(name: &str, sql: &str) -> MyDb {
        let db = MyDb::new(name).await;
        let mut c = mysql(name).await;
        c.query_drop(sql).await.expect("load fixture");
        let _ = c.disconnect().await;
        db
    }

    pub async fn drop(self) {
        let mut admin = mysql("mysql").await;
        let _ = admin
            .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .await;
        let _ = admin.disconnect().await;
    }
}

/// A mariadbd of the test's own on a free port (for a setup the shared server does not have:
/// TLS, a binary log), stopped when dropped, its files removed with its directory. Needs the
/// `mariadbd` and `mariadb-install-db` programs (Debian's mariadb-server package).
pub struct PrivateMariadb {
    dir: tempfile::TempDir,
    child: Child,
    pub port: u16,
    /// How mariadbd was started, to start it again.
    args: Vec<String>,
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mariadb_program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "this test starts a MariaDB of its own and needs {name} (Debian package mariadb-server)"
    );
}

impl PrivateMariadb {
    /// Starts a server with the options `options` returns; it may first write files into the
    /// server's directory (certificates).
    pub async fn start(options: impl FnOnce(&Path) -> Vec<String>) -> PrivateMariadb {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let extra = options(d);
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let user: &[&str] = if root { &["--user=root"] } else { &[] };
        let data = d.join("data");
        // A temporary directory of its own: two servers set up at once in /tmp can delete
        // each other's temporary tables.
        let tmp = d.join("tmp");
        std::fs::create_dir(&tmp).expect("tmpdir");
        let out = Command::new(mariadb_program("mariadb-install-db"))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .args(user)
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let path = |f: &str| d.join(f).display().to_string();
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", data.display()),
        ];
        args.extend(user.iter().map(|u| u.to_string()));
        args.extend([
            format!("--port={port}"),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--socket={}", path("sock")),
            format!("--pid-file={}", path("pid")),
            format!("--tmpdir={}", tmp.display()),
            "--innodb-buffer-pool-size=16M".to_owned(),
        ]);
        args.extend(extra);
        let child = Self::spawn(d, &args);
        let server = PrivateMariadb {
            dir,
            child,
            port,
            args,
        };
        server.ready().await;
        server
    }

    fn spawn(dir: &Path, args: &[String]) -> Child {
        Command::new(mariadb_program("mariadbd"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("error.log"))
                    .expect("log"),
            )
            .spawn()
            .expect("start mariadbd")
    }

    /// Waits (at most 30 s) until the server takes logins.
    async fn ready(&self) {
        for _ in 0..300 {
            if let Ok(c) = mysql_async::Conn::from_url(self.root_url()).await {
                let _ = c.disconnect().await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the test MariaDB did not start: {}",
            std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
        );
    }

    /// Kills the server at once, as a crash or a power cut would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the killed server again, on the same port and data.
    pub async fn start_again(&mut self) {
        self.child = Self::spawn(self.dir.path(), &self.args);
        self.ready().await;
    }

    pub fn root_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/mysql", self.port)
    }

    /// A file in the server's directory.
    pub fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}
