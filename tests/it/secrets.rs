//! Secrets and hostile names (issue 12, section 3): a password typed in a SOURCE or TARGET of any
//! shape never reaches stdout, stderr, the report, the rejects file or the run state; a malformed
//! TARGET is refused (exit 2) before any connection; and names or values holding ESC sequences,
//! CR, LF or bidi overrides are escaped in everything printed, while they arrive exactly in
//! PostgreSQL. A successful run with real passwords (a MariaDB user the server checks, a
//! PostgreSQL role from a password file) keeps both out of its report, `status` and run state.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio_postgres::Client;

use crate::harness::{
    code, expect_code, one, pgcutover, query_strings, sqlite_from_sql, stderr, stdout, MyDb, TestDb,
};

/// A string that appears nowhere else, so finding it anywhere means it leaked.
const SECRET: &str = "Qx7-s3cr3t-pw-81";

/// Counts the connections made to a port nobody else uses. A malformed target or source that
/// reached a server would connect here.
struct Tripwire {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Tripwire {
    fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("address").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Tripwire { port, hits }
    }

    fn hits(&self) -> usize {
        // A connection made just before a process exited is accepted a moment later.
        std::thread::sleep(std::time::Duration::from_millis(200));
        self.hits.load(Ordering::SeqCst)
    }
}

/// Runs the binary with libpq's variables pointing at `port`: a target that is not refused but
/// read as something else (a database name, a socket) would connect there.
fn run_pointed_at(dir: &Path, port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PGPASSWORD")
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .output()
        .expect("run pgcutover")
}

fn all_output(out: &Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "{what}: the password leaked:\n{text}"
    );
}

/// Every row of every table of the run state, as text.
async fn run_state(client: &Client) -> String {
    let tables = query_strings(
        client,
        "SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = 'pgcutover'",
    )
    .await;
    let mut all = String::new();
    for t in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let rows = one(
            client,
            &format!("SELECT coalesce(string_agg(row_to_json(t)::text, E'\\n'), '') FROM pgcutover.{t} t"),
        )
        .await
        .unwrap_or_default();
        all.push_str(&rows);
        all.push('\n');
    }
    all
}

const SMALL: &str = "
CREATE TABLE author (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE book (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES author(id), pages INTEGER);
INSERT INTO author VALUES (1, 'Ann'), (2, 'Bo');
INSERT INTO book VALUES (10, 1, 100), (11, 2, 'many');
";

#[test]
fn a_malformed_target_exits_2_before_any_connection_and_never_shows_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("small.sqlite");
    sqlite_from_sql(&src, SMALL);
    let src = src.to_str().expect("path");
    let trip = Tripwire::new();
    let p = trip.port;
    let s = SECRET;
    let targets = [
        format!("postgres:/ann:{s}@127.0.0.1:{p}/db"),
        format!("postgresql:/ann:{s}@127.0.0.1:{p}/db"),
        format!("postgresql:ann:{s}@127.0.0.1:{p}/db"),
        format!("postgresql//ann:{s}@127.0.0.1:{p}/db"),
        format!("POSTGRESQL://ann:{s}@127.0.0.1:{p}/db"),
        format!("ann:{s}@127.0.0.1:{p}/db"),
        format!("//ann:{s}@127.0.0.1:{p}/db"),
        format!("postgresql:///ann:{s}@127.0.0.1:{p}/db"),
        format!("postgresql://127.0.0.1:{p}/ann:{s}@db"),
        format!("postgresql://ann:{s}@127.0.0.1:{p}:5432/db"),
        format!("postgresql://ann:{s}/db"),
        format!("postgresql://127.0.0.1:{p}/db?password={s}&bogus=1"),
        format!("postgresql://ann:{s}@127.0.0.1:{p}/db?sslmode=maybe"),
        format!("mysql://ann:{s}@127.0.0.1:{p}/db"),
        format!("host=127.0.0.1 port={p} password={s} dbname"),
        format!("host=127.0.0.1 port={p} password='{s}"),
        format!("host=127.0.0.1 port={p} password={s} bogus=1"),
        format!("host=127.0.0.1 port={p} password='{s} x' sslmode=maybe"),
        // Typos with a query string: not a URI, so keyword/value, whose first "key" holds the
        // password.
        format!("postgres:/ann:{s}@127.0.0.1:{p}/db?sslmode=require"),
        format!("postgresql:ann:{s}@127.0.0.1:{p}/db?sslmode=require"),
        format!("ann:{s}@127.0.0.1:{p}/db?sslmode=require"),
        format!("mysql://ann:{s}@127.0.0.1:{p}/db?ssl-mode=required"),
        // A ? or # in an unencoded password: url reads a query or a fragment.
        format!("postgresql://ann:12?{s}@127.0.0.1:{p}/db"),
        format!("postgresql://ann:12#{s}@127.0.0.1:{p}/db"),
    ];
    for target in &targets {
        let mut reset = vec!["reset", target.as_str()];
        reset.push("--yes");
        let runs: [Vec<&str>; 5] = [
            vec!["plan", src, target],
            vec!["copy", src, target],
            vec!["verify", src, target],
            vec!["status", target],
            reset,
        ];
        for args in runs {
            let out = run_pointed_at(dir.path(), p, &args);
            let what = format!("{} {target:?}", args[0]);
            expect_code(&out, 2);
            let all = all_output(&out);
            assert_no_secret(&what, &all);
            assert!(all.contains("hint:"), "{what}: {all}");
            if !all.contains("invalid PostgreSQL connection setting") {
                assert!(
                    all.contains("is not a PostgreSQL connection string")
                        && all.contains("postgresql://user@host")
                        && all.contains("host=… port=… dbname=…"),
                    "{what}: the refusal shows the accepted forms: {all}"
                );
            }
        }
    }
    assert!(
        !dir.path().join("pgcutover-rejects.jsonl").exists(),
        "nothing ran"
    );
    assert_eq!(trip.hits(), 0, "a malformed target reached a server");
}

#[tokio::test]
async fn a_malformed_source_is_refused_with_its_password_masked() {
    let db = TestDb::new("secrets_source").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let trip = Tripwire::new();
    let p = trip.port;
    let s = SECRET;
    let usage = [
        format!("mysql:/ann:{s}@127.0.0.1:{p}/db"),
        format!("mysql:ann:{s}@127.0.0.1:{p}/db"),
        format!("mariadb:/ann:{s}@127.0.0.1:{p}/db"),
        format!("mysql//ann:{s}@127.0.0.1:{p}/db"),
        format!("ann:{s}@127.0.0.1:{p}/db"),
        format!("//ann:{s}@127.0.0.1:{p}/db"),
        format!("mysql://ann:{s}@127.0.0.1:{p}"),
        format!("mysql://127.0.0.1:{p}/ann:{s}@db"),
        format!("mysql://ann:{s}@127.0.0.1:{p}/db?ssl-mode=maybe"),
        format!("mysql://ann@127.0.0.1:{p}/db?password={s}"),
        format!("mysql://ann:{s}@127.0.0.1:port/db"),
        format!("jdbc:mysql://ann:{s}@127.0.0.1:{p}/db"),
    ];
    let missing = [
        format!("sqlite:/nonexistent/ann:{s}@host/x.db"),
        format!("/nonexistent/ann:{s}@host/x.sqlite"),
    ];
    for (source, want) in usage
        .iter()
        .map(|s| (s, 2))
        .chain(missing.iter().map(|s| (s, 3)))
    {
        for command in ["plan", "copy", "verify"] {
            let out = pgcutover(dir.path(), &[command, source, &db.url]);
            let what = format!("{command} {source:?}");
            expect_code(&out, want);
            let all = all_output(&out);
            assert_no_secret(&what, &all);
            assert!(all.contains("hint:"), "{what}: {all}");
        }
    }
    assert_eq!(trip.hits(), 0, "a malformed source reached a server");

    // A well-formed MySQL URL with a wrong password: the server refuses it (exit 3).
    let source_db = MyDb::from_sql("pgctit_secrets", "CREATE TABLE t (id INT PRIMARY KEY);").await;
    let mysql = url::Url::parse(&crate::harness::mysql_admin_url()).expect("MySQL URL");
    let (host, port) = (
        mysql.host_str().unwrap_or("127.0.0.1"),
        mysql.port().unwrap_or(3306),
    );
    let url = format!("mysql://root:{s}@{host}:{port}/{}", source_db.name);
    for command in ["plan", "copy", "verify"] {
        let out = pgcutover(dir.path(), &[command, &url, &db.url]);
        expect_code(&out, 3);
        let all = all_output(&out);
        assert_no_secret(command, &all);
        assert!(all.contains("mysql://root@"), "{all}");
    }
    let client = db.client().await;
    assert_no_secret("run state", &run_state(&client).await);
    db.drop().await;
    source_db.drop().await;
}

#[tokio::test]
async fn a_keyword_value_target_copies_end_to_end_and_no_password_is_kept_anywhere() {
    let db = TestDb::new("secrets_kv").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sqlite/demo.sqlite");
    let demo = demo.to_str().expect("path");
    let report = dir.path().join("report.json");
    let report_arg = report.to_str().expect("path");
    let admin = url::Url::parse(&crate::harness::admin_url()).expect("PGCUTOVER_TEST_PG");
    // The server trusts this user: the password is sent nowhere, but it is given, and must not
    // be kept or shown.
    let kv = format!(
        "host={} port={} user={} dbname={} password='{SECRET}' application_name=pgct_kv",
        admin.host_str().unwrap_or("127.0.0.1"),
        admin.port().unwrap_or(5432),
        if admin.username().is_empty() {
            "postgres"
        } else {
            admin.username()
        },
        db.name
    );
    let plan = pgcutover(dir.path(), &["plan", demo, &kv]);
    expect_code(&plan, 0);
    assert!(
        stdout(&plan).contains(&format!("/{} (schema \"public\")", db.name)),
        "{}",
        stdout(&plan)
    );
    assert!(
        !stderr(&plan).contains("cannot connect"),
        "plan reads the target: {}",
        stderr(&plan)
    );
    let json = pgcutover(dir.path(), &["plan", demo, &kv, "--format", "json"]);
    expect_code(&json, 0);

    let copy = pgcutover(
        dir.path(),
        &[
            "copy",
            demo,
            &kv,
            "--report",
            report_arg,
            "--verify",
            "checksums",
        ],
    );
    expect_code(&copy, 0);
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*) FROM orders").await.as_deref(),
        Some("4950")
    );
    let verify = pgcutover(dir.path(), &["verify", demo, &kv, "--format", "json"]);
    expect_code(&verify, 0);
    let status = pgcutover(dir.path(), &["status", &kv]);
    expect_code(&status, 0);
    assert!(stdout(&status).contains("complete"), "{}", stdout(&status));

    // The same with the password in a URI, and with a row rejected so a rejects file exists.
    let src = dir.path().join("small.sqlite");
    sqlite_from_sql(&src, SMALL);
    let uri = db.url.replacen(
        "postgresql://postgres@",
        &format!("postgresql://postgres:{SECRET}@"),
        1,
    );
    assert!(
        uri.contains(SECRET),
        "the test URL has the expected shape: {uri}"
    );
    let uri_copy = pgcutover(
        dir.path(),
        &[
            "copy",
            src.to_str().expect("path"),
            &uri,
            "--target-schema",
            "small",
            "--report",
            dir.path().join("small.json").to_str().expect("path"),
        ],
    );
    expect_code(&uri_copy, 5);
    let rejects = std::fs::read_to_string(dir.path().join("pgcutover-rejects.jsonl"))
        .expect("a row was rejected");

    let mut seen = vec![
        ("plan", all_output(&plan)),
        ("plan --format json", all_output(&json)),
        ("copy", all_output(&copy)),
        ("verify", all_output(&verify)),
        ("status", all_output(&status)),
        ("copy (URI)", all_output(&uri_copy)),
        ("report", std::fs::read_to_string(&report).expect("report")),
        (
            "report (URI)",
            std::fs::read_to_string(dir.path().join("small.json")).expect("report"),
        ),
        ("rejects file", rejects),
        ("run state", run_state(&client).await),
    ];
    let mut reset = vec!["reset", kv.as_str(), "--target-schema", "public"];
    reset.push("--yes");
    let out = pgcutover(dir.path(), &reset);
    expect_code(&out, 0);
    seen.push(("reset", all_output(&out)));
    for (what, text) in &seen {
        assert_no_secret(what, text);
    }
    assert_eq!(
        one(
            &client,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        .await
        .as_deref(),
        Some("0"),
        "reset through the keyword/value target dropped the tables"
    );
    db.drop().await;
}

/// Names that would rewrite a terminal (colour, window title), move the cursor back (CR),
/// forge a line (LF), or reverse the text (U+202E).
const TABLE: &str = "t\x1b[31mred\x1b]0;pwned\x07\rCR\nerror: forged table\u{202e}evil";
const COLUMN: &str = "c\x1b[2J\nwarning: forged column\u{202e}";
const INDEX: &str = "ix\x1b[31m\r\nerror: forged index";
const VIEW: &str = "v\x1b]0;title\x07\nerror: forged view";
const PARENT_KEY: &str = "k\x1b[1m\nerror: forged key";

fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn hostile_source(path: &Path) {
    sqlite_from_sql(
        path,
        &format!(
            "
            PRAGMA foreign_keys = OFF;
            CREATE TABLE {t} (id INTEGER PRIMARY KEY, {c} TEXT NOT NULL, n INTEGER);
            CREATE INDEX {i} ON {t} ({c});
            CREATE VIEW {v} AS SELECT * FROM {t};
            CREATE TABLE parent ({k} TEXT PRIMARY KEY);
            CREATE TABLE child (id INTEGER PRIMARY KEY, p TEXT REFERENCES parent({k}));
            INSERT INTO {t} VALUES (1, 'plain', 1);
            INSERT INTO {t} VALUES (2, 'value' || char(27) || '[2J' || char(10) || 'error: forged value', 2);
            -- rejected: not an integer, and the reject is shown with its key and value
            INSERT INTO {t} VALUES (3, 'x', 'n' || char(27) || ']0;pwned' || char(7) || char(13) || char(10) || 'error: forged reject');
            INSERT INTO parent VALUES ('a');
            -- an orphan whose key is shown in the plan and the warning
            INSERT INTO child VALUES (1, 'a'), (2, 'z' || char(27) || '[2J' || char(10) || 'error: forged orphan' || char(8238));",
            t = q(TABLE),
            c = q(COLUMN),
            i = q(INDEX),
            v = q(VIEW),
            k = q(PARENT_KEY),
        ),
    );
}

/// No raw ESC, BEL, CR, U+202E or C1 control, and no line that starts like one of ours but
/// came from a name or a value.
fn assert_terminal_safe(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        for bad in ['\x1b', '\x07', '\r', '\u{202e}', '\u{9b}'] {
            assert!(
                !text.contains(bad),
                "{what}: raw {bad:?} on {stream}:\n{text}"
            );
        }
        for line in text.lines() {
            let start = line.trim_start();
            assert!(
                !(start.starts_with("error: forged") || start.starts_with("warning: forged")),
                "{what}: a forged line on {stream}: {line:?}\n{text}"
            );
        }
    }
}

async fn exists(client: &Client, sql: &str, name: &str) -> bool {
    client
        .query_one(sql, &[&name])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get::<_, i64>(0)
        > 0
}

/// The hostile names are in `client`'s database, exactly.
async fn assert_names_arrived(client: &Client, what: &str) {
    for (name, sql) in [
        (TABLE, "SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind = 'r'"),
        (INDEX, "SELECT count(*) FROM pg_class WHERE relname = $1 AND relkind = 'i'"),
        (
            COLUMN,
            "SELECT count(*) FROM pg_attribute WHERE attname = $1 AND attnum > 0 AND NOT attisdropped",
        ),
        (
            PARENT_KEY,
            "SELECT count(*) FROM pg_attribute WHERE attname = $1 AND attnum > 0 AND NOT attisdropped",
        ),
    ] {
        assert!(exists(client, sql, name).await, "{what}: {name:?} is not in PostgreSQL as named");
    }
}

#[tokio::test]
async fn hostile_names_and_values_are_escaped_on_the_terminal_and_arrive_exactly() {
    let db = TestDb::new("secrets_names").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("hostile.sqlite");
    hostile_source(&src);
    let src = src.to_str().expect("path");

    let plan = pgcutover(dir.path(), &["plan", src, &db.url]);
    expect_code(&plan, 0);
    assert_terminal_safe("plan", &plan);
    let text = stdout(&plan);
    assert!(
        text.contains(
            "\"t\\x1b[31mred\\x1b]0;pwned\\x07\\rCR\\nerror: forged table\\u{202e}evil\""
        ),
        "{text}"
    );
    assert!(
        text.contains("view \"v\\x1b]0;title\\x07\\nerror: forged view\""),
        "{text}"
    );
    assert!(text.contains("orphan row(s)"), "{text}");

    let report = dir.path().join("report.json");
    let copy = pgcutover(
        dir.path(),
        &[
            "copy",
            src,
            &db.url,
            "--orphans",
            "skip",
            "--jobs",
            "1",
            "--report",
            report.to_str().expect("path"),
        ],
    );
    expect_code(&copy, 5);
    assert_terminal_safe("copy", &copy);
    let err = stderr(&copy);
    assert!(
        err.contains("rejected table \"t\\x1b[31m"),
        "the reject is shown: {err}"
    );
    assert!(err.contains("\\nerror: forged reject"), "{err}");
    assert!(
        err.contains("copying t\\x1b[31mred"),
        "plain progress lines: {err}"
    );
    assert!(
        err.contains("orphan"),
        "the skipped key is a warning: {err}"
    );
    assert!(
        stdout(&copy).contains("outcome: rows_rejected"),
        "{}",
        stdout(&copy)
    );

    let client = db.client().await;
    assert_names_arrived(&client, "copy").await;
    assert_eq!(
        one(
            &client,
            &format!(
                "SELECT {c} FROM {t} WHERE id = 2",
                c = q(COLUMN),
                t = q(TABLE)
            )
        )
        .await
        .as_deref(),
        Some("value\x1b[2J\nerror: forged value"),
        "values arrive exactly"
    );

    for (what, args) in [
        ("verify", vec!["verify", src, &db.url]),
        ("status", vec!["status", &db.url]),
    ] {
        let out = pgcutover(dir.path(), &args);
        assert!(
            code(&out) == 0 || code(&out) == 5,
            "{what}: {}",
            all_output(&out)
        );
        assert_terminal_safe(what, &out);
    }

    // The DDL the plan prints is still SQL, and names the same objects.
    let fresh = TestDb::new("secrets_names_ddl").await;
    let ddl = text
        .split_once("-- Schema, before the data\n")
        .expect("the plan prints its DDL")
        .1;
    let fresh_client = fresh.client().await;
    fresh_client
        .batch_execute(ddl)
        .await
        .unwrap_or_else(|e| panic!("the printed DDL runs: {e}\n{ddl}"));
    assert_names_arrived(&fresh_client, "the plan's printed DDL").await;
    fresh.drop().await;

    let mut reset = vec!["reset", db.url.as_str()];
    reset.push("--yes");
    let out = pgcutover(dir.path(), &reset);
    expect_code(&out, 0);
    assert_terminal_safe("reset", &out);
    db.drop().await;
}

/// The MariaDB user's password (the server checks it) and the PostgreSQL role's (from a
/// password file); neither appears anywhere else.
const MY_SECRET: &str = "My4-src-pw-z8q-63";
const PG_SECRET: &str = "Pg9-role-pw-k3y-27";

/// Runs the binary with a password file for libpq and MYSQL_PWD unset.
fn run_with_passfile(dir: &Path, passfile: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PGPASSWORD")
        .env_remove("MYSQL_PWD")
        .env("PGPASSFILE", passfile)
        .output()
        .expect("run pgcutover")
}

#[tokio::test]
async fn a_successful_run_with_passwords_keeps_them_out_of_report_status_and_run_state() {
    use mysql_async::prelude::Queryable;

    // The source: a MariaDB user with a password, which the server checks (a wrong or missing
    // one is refused), so the copy succeeding means the password was read and sent.
    let my_db = "pgctit_secrets_ok";
    let source_db = MyDb::from_sql(
        my_db,
        "CREATE TABLE author (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);
         CREATE TABLE book (id INT PRIMARY KEY, author_id INT REFERENCES author (id), pages INT);
         INSERT INTO author VALUES (1, 'Ann'), (2, 'Bo');
         INSERT INTO book VALUES (10, 1, 100), (11, 2, 200);",
    )
    .await;
    let mut admin = crate::harness::mysql("mysql").await;
    admin
        .query_drop(format!(
            "DROP USER IF EXISTS 'pgct_pw'@'%'; CREATE USER 'pgct_pw'@'%' IDENTIFIED BY '{MY_SECRET}';
             GRANT SELECT, SHOW VIEW ON `{my_db}`.* TO 'pgct_pw'@'%'"
        ))
        .await
        .expect("create the password user");
    let _ = admin.disconnect().await;
    let my = url::Url::parse(&crate::harness::mysql_admin_url()).expect("mysql url");
    let source = format!(
        "mysql://pgct_pw@{}:{}/{my_db}",
        my.host_str().unwrap_or("127.0.0.1"),
        my.port().unwrap_or(3306)
    );

    // The target: a role with a password, given in a password file. The test cluster trusts
    // 127.0.0.1, so PostgreSQL does not ask for it; pgcutover still reads it from the file
    // (it fills in what the URI leaves out) and must keep it to itself.
    let db = TestDb::new("secrets_ok").await;
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "DO $$BEGIN
               IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgct_pw_role') THEN
                 EXECUTE 'DROP OWNED BY pgct_pw_role'; DROP ROLE pgct_pw_role;
               END IF;
             END$$;
             CREATE ROLE pgct_pw_role LOGIN PASSWORD '{PG_SECRET}';
             ALTER DATABASE \"{}\" OWNER TO pgct_pw_role;",
            db.name
        ))
        .await
        .expect("create the password role");
    let target = db
        .url
        .replacen("postgresql://postgres@", "postgresql://pgct_pw_role@", 1);
    assert!(
        target.contains("pgct_pw_role@"),
        "the test URL has the expected shape: {target}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let passfile = dir.path().join("pgpass");
    std::fs::write(&passfile, format!("*:*:*:pgct_pw_role:{PG_SECRET}\n")).expect("pgpass");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600))
            .expect("chmod pgpass");
    }
    let my_pw = dir.path().join("mysql-pw");
    std::fs::write(&my_pw, format!("{MY_SECRET}\n")).expect("mysql password file");
    let report = dir.path().join("report.json");

    let copy = run_with_passfile(
        dir.path(),
        &passfile,
        &[
            "copy",
            &source,
            &target,
            "--source-password-file",
            my_pw.to_str().expect("path"),
            "--report",
            report.to_str().expect("path"),
            "--verify",
            "checksums",
        ],
    );
    expect_code(&copy, 0);
    // The rows arrived, written by the role the password file was for.
    assert_eq!(
        one(
            &client,
            "SELECT (SELECT count(*) FROM book) || '/' || (SELECT tableowner FROM pg_tables WHERE tablename = 'book')"
        )
        .await
        .as_deref(),
        Some("2/pgct_pw_role")
    );
    let status = run_with_passfile(dir.path(), &passfile, &["status", &target]);
    expect_code(&status, 0);
    assert!(stdout(&status).contains("complete"), "{}", stdout(&status));
    let status_json = run_with_passfile(
        dir.path(),
        &passfile,
        &["status", &target, "--format", "json"],
    );
    expect_code(&status_json, 0);
    assert!(
        stdout(&status_json).contains("\"type\""),
        "{}",
        stdout(&status_json)
    );
    let state = run_state(&client).await;
    // What was searched is the real thing: the run state, the report and status name the
    // source and target, with their users and without their passwords.
    for (what, text) in [
        ("run state", &state),
        ("status", &stdout(&status)),
        ("status --format json", &stdout(&status_json)),
    ] {
        assert!(text.contains(&source), "{what} names the source: {text}");
    }
    assert!(
        state.contains(&target),
        "the run state names the target: {state}"
    );
    let report_text = std::fs::read_to_string(&report).expect("report");

    for (what, text) in [
        ("copy", all_output(&copy)),
        ("report", report_text),
        ("status", all_output(&status)),
        ("status --format json", all_output(&status_json)),
        ("run state", state),
    ] {
        for secret in [MY_SECRET, PG_SECRET] {
            assert!(!text.contains(secret), "{what}: a password leaked:\n{text}");
        }
    }
    db.drop().await;
    let (admin_pg, conn) =
        tokio_postgres::connect(&crate::harness::admin_url(), tokio_postgres::NoTls)
            .await
            .expect("admin connection");
    tokio::spawn(conn);
    admin_pg
        .batch_execute("DROP ROLE IF EXISTS pgct_pw_role")
        .await
        .expect("drop the role");
    source_db.drop().await;
}
