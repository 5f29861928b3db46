//! Issue 13: `copy --data-only` into the schema an application's own migration tool made, from
//! that application's old database, with the real artefacts of three tools
//! (fixtures/migrations/README.md says how each was made):
//!
//! - Alembic: a real `alembic upgrade head` (fixtures/migrations/alembic/run.sh builds a pinned
//!   venv once) makes named enum types, timestamptz, jsonb; the source is the same app on MariaDB.
//! - Prisma: the migration.sql Prisma 2.x generates for PostgreSQL (SERIAL, TIMESTAMP(3)) for
//!   each sample dev.db, whose dates are integer milliseconds and whose introspection-sqlite
//!   `author` ids are TEXT.
//! - Laravel: the DDL Laravel 10's schema builder emits (bigserial, timestamp(0), decimal(8, 2),
//!   json, uuid, char(3)); the source is the same app on SQLite (REAL prices by affinity).
//!
//! Each test makes the target with the tool's artefact, then runs `plan`, `copy` and `verify`
//! with `--data-only` as a user would, and checks values in PostgreSQL with SQL of its own. The
//! migration tool's bookkeeping table (`alembic_version`, `_prisma_migrations`, `migrations`)
//! exists on both sides where the old app used the same tool: a data-only load leaves the
//! source's out by itself (the Prisma and Laravel tests), or the user does with `--exclude`
//! (the Alembic test), and the target's must come out of the load untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use mysql_async::prelude::Queryable;
use tokio_postgres::Client;

use crate::harness::{
    datasets_dir, expect_code, mysql, one, pgcutover, query_strings, read_json, sqlite_from_sql,
    stdout, MyDb, TestDb,
};
use crate::mysql_compare::assert_same_mysql_data;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/migrations")
        .join(rel)
}

fn fixture_text(rel: &str) -> String {
    let path = fixture(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a data-only load must do, as the user runs it.
struct Load<'a> {
    source: &'a str,
    target: &'a str,
    /// The source's own copy of the migration tool's table, left out with --exclude.
    exclude: Option<&'a str>,
    /// The target's migration-tool table, which only the target has once the source's is
    /// excluded: `plan` lists it as left alone.
    bookkeeping: &'a str,
    tables: u64,
    rows: u64,
}

impl Load<'_> {
    fn args<'a>(&'a self, head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
        let mut args = head.to_vec();
        args.extend([self.source, self.target]);
        args.extend_from_slice(tail);
        if let Some(x) = self.exclude {
            args.extend(["--exclude", x]);
        }
        args
    }

    /// `plan --data-only`, `copy --data-only --report`, `verify --mode checksums`: each exits 0,
    /// the copy writes every row and rejects none, verify finds every table identical, and the
    /// plan names the bookkeeping table.
    fn plan_copy_verify(&self, dir: &Path) {
        let plan = pgcutover(dir, &self.args(&["plan"], &["--data-only"]));
        expect_code(&plan, 0);

        let report_path = dir.join("copy-report.json");
        let report_arg = report_path.to_str().expect("utf-8 path");
        let copy = pgcutover(
            dir,
            &self.args(&["copy"], &["--data-only", "--report", report_arg]),
        );
        expect_code(&copy, 0);
        let report = read_json(&report_path);
        assert_eq!(report["outcome"], "ok", "{report:#}");
        assert_eq!(report["totals"]["rows_rejected"], 0, "{report:#}");
        assert_eq!(report["totals"]["rows_written"], self.rows, "{report:#}");
        assert_eq!(report["totals"]["tables"], self.tables, "{report:#}");
        assert!(
            !dir.join("pgcutover-rejects.jsonl").exists(),
            "no rejects file when nothing is rejected"
        );

        let verify_path = dir.join("verify-report.json");
        let verify_arg = verify_path.to_str().expect("utf-8 path");
        let verify = pgcutover(
            dir,
            &self.args(
                &["verify"],
                &["--mode", "checksums", "--report", verify_arg],
            ),
        );
        expect_code(&verify, 0);
        let v = read_json(&verify_path);
        assert_eq!(v["outcome"], "identical", "{v:#}");
        let tables = v["tables"].as_array().expect("tables");
        assert_eq!(tables.len() as u64, self.tables, "{v:#}");
        for t in tables {
            assert_eq!(t["status"], "identical", "{t:#}");
        }

        // Checked last, so that while the engine is unfinished a run shows how copy fails.
        assert!(
            stdout(&plan).contains(self.bookkeeping),
            "plan lists the target-only table {} as left alone\n{}",
            self.bookkeeping,
            stdout(&plan)
        );
    }
}

/// Each `(sql, value)`: the query returns that single value.
async fn assert_facts(client: &Client, facts: &[(&str, &str)]) {
    for (sql, want) in facts {
        assert_eq!(one(client, sql).await.as_deref(), Some(*want), "{sql}");
    }
}

/// The sequence behind each table's `id` hands out a value past every loaded id.
async fn assert_sequences_moved_past_ids(client: &Client, tables: &[&str]) {
    for t in tables {
        let q = format!("\"{}\"", t.replace('"', "\"\""));
        let sql = format!(
            "SELECT nextval(pg_get_serial_sequence('public.{}', 'id'))::text, (SELECT max(id) FROM public.{q})::text",
            q.replace('\'', "''")
        );
        let row = query_strings(client, &sql).await.remove(0);
        let next: i64 = row[0].as_deref().expect("nextval").parse().expect("int");
        let max: i64 = row[1]
            .as_deref()
            .expect("rows loaded")
            .parse()
            .expect("int");
        assert!(
            next > max,
            "{t}: the sequence hands out {next}, but ids go up to {max}"
        );
    }
}

/// Every `(id, column as text)` of `table`, in id order, from the SQLite file and from
/// PostgreSQL: text arrives as the same text (trailing spaces, newlines, JSON as written).
async fn assert_text_columns_same(sqlite: &Path, client: &Client, table: &str, columns: &[&str]) {
    let conn =
        rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open sqlite");
    for c in columns {
        let sql = format!("SELECT id, \"{c}\" FROM \"{table}\" ORDER BY id");
        let mut stmt = conn.prepare(&sql).expect("prepare");
        let want: Vec<Vec<Option<String>>> = stmt
            .query_map([], |r| {
                Ok(vec![
                    Some(r.get::<_, i64>(0)?.to_string()),
                    r.get::<_, Option<String>>(1)?,
                ])
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let got = query_strings(
            client,
            &format!("SELECT id::text AS key, \"{c}\"::text FROM public.\"{table}\" ORDER BY id"),
        )
        .await;
        assert_eq!(
            got, want,
            "{table}.{c}: PostgreSQL (left) vs SQLite (right)"
        );
    }
}

#[tokio::test]
async fn alembic_hotel_app_from_mariadb_loads_into_its_alembic_schema() {
    let db = TestDb::new("mt_alembic").await;
    let dir = tempfile::tempdir().expect("tempdir");

    // The target: the app's own migration, run by Alembic itself.
    let run = Command::new(fixture("alembic/run.sh"))
        .arg(&db.url)
        .env("CARGO_TARGET_TMPDIR", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run fixtures/migrations/alembic/run.sh");
    assert!(
        run.status.success(),
        "alembic upgrade head failed:\n{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let client = db.client().await;
    let version = "SELECT string_agg(version_num, ',') FROM alembic_version";
    assert_facts(
        &client,
        &[
            (version, "0001"),
            ("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'users'::regclass AND attname = 'role'", "user_role"),
            ("SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'movement_type'::regtype", "in,out,adjustment"),
        ],
    )
    .await;

    // The source: the same app on MariaDB.
    let source_db = "pgctit_mt_alembic";
    let my = MyDb::from_sql(source_db, &fixture_text("alembic/source-mysql.sql")).await;
    let source = my.url.clone();

    Load {
        source: &source,
        target: &db.url,
        exclude: Some("alembic_version"),
        bookkeeping: "alembic_version",
        tables: 5,
        rows: 54,
    }
    .plan_copy_verify(dir.path());

    assert_facts(
        &client,
        &[
            // Alembic's revision, not the MySQL-era one.
            (version, "0001"),
            // ENUM labels into the app's named enum types.
            ("SELECT role::text || '/' || pg_typeof(role)::text FROM users WHERE id = 1", "admin/user_role"),
            ("SELECT string_agg(id::text, ',' ORDER BY id) FROM stock_movements WHERE movement_type = 'adjustment'", "6,9,15"),
            // TIMESTAMP and DATETIME(6) (read as UTC) into timestamptz: the same instants.
            ("SELECT (created_at = '2021-03-01 08:00:00+00')::text FROM users WHERE id = 1", "true"),
            ("SELECT to_char(last_login_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM users WHERE id = 2", "2024-02-29 23:59:59.999999"),
            ("SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM audit_logs WHERE id = 2147483652", "2024-06-30 23:59:59.999999"),
            ("SELECT count(*)::text FROM users WHERE last_login_at IS NULL", "2"),
            // DATETIME(6) into timestamp: the wall-clock time, to the microsecond.
            ("SELECT to_char(occurred_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM stock_movements WHERE id = 3", "2024-03-04 10:02:11.000001"),
            // DECIMAL(10,2) into numeric(10,2).
            ("SELECT nightly_rate::text FROM rooms WHERE id = 9", "99999999.99"),
            ("SELECT quantity::text FROM stock_movements WHERE id = 9", "-0.25"),
            ("SELECT sum(quantity_on_hand)::text FROM stock_items", "1964.75"),
            // TINYINT(1) into boolean.
            ("SELECT string_agg(id::text, ',' ORDER BY id) FROM rooms WHERE is_out_of_service", "5,10"),
            ("SELECT string_agg(id::text, ',' ORDER BY id) FROM users WHERE NOT is_active", "5"),
            // JSON (LONGTEXT on MariaDB) into jsonb.
            ("SELECT payload #>> '{deep,a,b,c,d,e,1,1,1,f}' FROM audit_logs WHERE id = 2147483651", "ز"),
            ("SELECT payload -> 'delivery' -> 'supplier' -> 'contact' ->> 'phone' FROM audit_logs WHERE id = 2147483643", "+46 8 123 45 67"),
            ("SELECT jsonb_typeof(payload -> 'discrepancies') FROM audit_logs WHERE id = 2147483647", "object"),
            // Strings at their varchar(n) limit, in characters.
            ("SELECT char_length(email) || '/' || char_length(full_name) || '/' || octet_length(full_name) FROM users WHERE id = 6", "255/120/137"),
            ("SELECT char_length(note)::text FROM stock_movements WHERE id = 6", "255"),
            ("SELECT floor::text FROM rooms WHERE number = 'B1-STORE'", "-1"),
        ],
    )
    .await;
    assert_eq!(
        one(
            &client,
            "SELECT payload ->> 'escaped' FROM audit_logs WHERE id = 2147483650"
        )
        .await
        .as_deref(),
        Some("line1\nline2 \"quoted\" \\ back\\slash é")
    );
    assert_sequences_moved_past_ids(
        &client,
        &[
            "users",
            "rooms",
            "stock_items",
            "stock_movements",
            "audit_logs",
        ],
    )
    .await;

    // Value by value, by a comparison that shares no code with the converter. It compares
    // every table of the MariaDB database, so the MySQL-era alembic_version goes first.
    let mut c = mysql(source_db).await;
    c.query_drop("DROP TABLE alembic_version")
        .await
        .expect("drop the source's alembic_version");
    let _ = c.disconnect().await;
    assert_eq!(
        assert_same_mysql_data(source_db, &client, &Default::default()).await,
        54
    );

    db.drop().await;
    my.drop().await;
}

/// Applies a Prisma fixture (its `_prisma_migrations` row, then its migration.sql) to `db` and
/// returns the `_prisma_migrations` rows it holds.
async fn prisma_target(client: &Client, app: &str) -> Vec<Vec<Option<String>>> {
    for file in ["_prisma_migrations.sql", "migration.sql"] {
        client
            .batch_execute(&fixture_text(&format!("prisma/{app}/{file}")))
            .await
            .unwrap_or_else(|e| panic!("prisma/{app}/{file}: {e}"));
    }
    query_strings(client, PRISMA_MIGRATIONS).await
}

const PRISMA_MIGRATIONS: &str = "SELECT * FROM _prisma_migrations ORDER BY id";

/// A sample dev.db, copied into `dir` so the test never touches the shared file.
fn dev_db(dir: &Path, name: &str) -> Option<PathBuf> {
    let src = datasets_dir()?.join("prisma-examples").join(name);
    let dst = dir.join(name);
    std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    Some(dst)
}

#[tokio::test]
async fn prisma_graphql_auth_dev_db_loads_into_its_prisma_migrate_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(file) = dev_db(dir.path(), "graphql-auth.dev.db") else {
        return;
    };
    let db = TestDb::new("mt_prisma_graphql_auth").await;
    let client = db.client().await;
    let migrations = prisma_target(&client, "graphql-auth").await;
    assert_eq!(migrations.len(), 1);

    let source = format!("sqlite:{}", file.display());
    Load {
        source: &source,
        target: &db.url,
        // The dev.db has its own, recording the SQLite migration.
        exclude: None,
        bookkeeping: "_prisma_migrations",
        tables: 2,
        rows: 9,
    }
    .plan_copy_verify(dir.path());

    assert_eq!(
        query_strings(&client, PRISMA_MIGRATIONS).await,
        migrations,
        "_prisma_migrations is the target's, untouched"
    );
    assert_facts(
        &client,
        &[
            // Prisma's SQLite DateTime is integer milliseconds (UTC) → TIMESTAMP(3).
            ("SELECT to_char(\"createdAt\", 'YYYY-MM-DD HH24:MI:SS.MS') FROM \"Post\" WHERE id = 1", "2021-02-22 13:21:03.586"),
            ("SELECT to_char(\"updatedAt\", 'YYYY-MM-DD HH24:MI:SS.MS') FROM \"Post\" WHERE id = 5", "2021-02-22 13:24:12.751"),
            ("SELECT string_agg(id::text, ',' ORDER BY id) FROM \"Post\" WHERE published", "1,2,3"),
            ("SELECT sum(\"viewCount\") || '/' || pg_typeof(min(\"viewCount\")) FROM \"Post\"", "170/integer"),
            ("SELECT string_agg(id || ':' || \"authorId\", ',' ORDER BY id) FROM \"Post\"", "1:1,2:2,3:3,4:3,5:1"),
            ("SELECT count(*)::text FROM \"User\" WHERE name IS NOT NULL", "4"),
        ],
    )
    .await;
    assert_text_columns_same(&file, &client, "User", &["email", "password", "name"]).await;
    assert_text_columns_same(&file, &client, "Post", &["title", "content"]).await;
    assert_sequences_moved_past_ids(&client, &["User", "Post"]).await;
    db.drop().await;
}

#[tokio::test]
async fn prisma_introspection_dev_db_text_author_loads_into_integer_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(file) = dev_db(dir.path(), "introspection-sqlite.dev.db") else {
        return;
    };
    let db = TestDb::new("mt_prisma_introspection").await;
    let client = db.client().await;
    let migrations = prisma_target(&client, "introspection-sqlite").await;

    let source = format!("sqlite:{}", file.display());
    Load {
        source: &source,
        target: &db.url,
        exclude: None,
        bookkeeping: "_prisma_migrations",
        tables: 2,
        rows: 5,
    }
    .plan_copy_verify(dir.path());

    assert_eq!(query_strings(&client, PRISMA_MIGRATIONS).await, migrations);
    assert_facts(
        &client,
        &[
            // "author" is TEXT in SQLite and holds '2', '1', '1': INTEGER in the target.
            ("SELECT string_agg(id || ':' || author, ',' ORDER BY id) || '/' || pg_typeof(min(author))::text FROM \"Post\"", "1:2,2:1,3:1/integer"),
            ("SELECT string_agg(id::text, ',' ORDER BY id) FROM \"Post\" WHERE published", "2"),
            ("SELECT count(*)::text FROM \"Post\" p JOIN \"User\" u ON u.id = p.author", "3"),
        ],
    )
    .await;
    // Post 2's title ends in a space.
    assert_text_columns_same(&file, &client, "Post", &["title", "content"]).await;
    assert_text_columns_same(&file, &client, "User", &["email", "name"]).await;
    assert_sequences_moved_past_ids(&client, &["User", "Post"]).await;
    db.drop().await;
}

#[tokio::test]
async fn laravel_marketplace_from_sqlite_loads_into_its_artisan_migrate_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("database.sqlite");
    sqlite_from_sql(&file, &fixture_text("laravel/source-sqlite.sql"));
    let db = TestDb::new("mt_laravel").await;
    let client = db.client().await;
    client
        .batch_execute(&fixture_text("laravel/schema.sql"))
        .await
        .expect("laravel/schema.sql");
    let bookkeeping = "SELECT * FROM migrations ORDER BY id";
    let sequence = "SELECT last_value || '/' || is_called FROM migrations_id_seq";
    let migrations = query_strings(&client, bookkeeping).await;
    assert_eq!(migrations.len(), 7);
    let migrations_seq = one(&client, sequence).await;

    let source = format!("sqlite:{}", file.display());
    Load {
        source: &source,
        target: &db.url,
        // The SQLite app's own migrations rows (batches 1 to 3) stay behind.
        exclude: None,
        bookkeeping: "migrations",
        tables: 7,
        rows: 40,
    }
    .plan_copy_verify(dir.path());

    assert_eq!(query_strings(&client, bookkeeping).await, migrations);
    assert_eq!(one(&client, sequence).await, migrations_seq);
    assert_facts(
        &client,
        &[
            // REAL and INTEGER (by numeric affinity) into numeric(8,2) and numeric(10,2).
            ("SELECT string_agg(id || '=' || price, ',' ORDER BY id) FROM products", "1=19.99,2=24.50,3=20.00,4=89.00,5=15.75,6=0.00,7=999999.99,8=12.95,9=145.10,10=50.00"),
            ("SELECT total::text FROM orders WHERE id = 4", "1000176.59"),
            ("SELECT bool_and(o.total = s.sum)::text FROM orders o JOIN (SELECT order_id, sum(quantity * unit_price) FROM order_items GROUP BY order_id) s ON s.order_id = o.id", "true"),
            // tinyint(1) 0/1 into boolean.
            ("SELECT string_agg(id::text, ',' ORDER BY id) FROM products WHERE NOT is_active", "3,8"),
            // 'YYYY-MM-DD HH:MM:SS' text into timestamp(0).
            ("SELECT to_char(deleted_at, 'YYYY-MM-DD HH24:MI:SS') FROM products WHERE id = 8", "2024-01-31 18:00:00"),
            ("SELECT to_char(failed_at, 'YYYY-MM-DD HH24:MI:SS') FROM failed_jobs WHERE id = 1", "2024-03-02 14:07:31"),
            ("SELECT count(*)::text FROM users WHERE email_verified_at IS NULL", "1"),
            // varchar into uuid, char(3), and a varchar(255) with an enum CHECK.
            ("SELECT uuid::text || '/' || pg_typeof(uuid)::text FROM orders WHERE id = 4", "f47ac10b-58cc-4372-a567-0e02b2c3d479/uuid"),
            ("SELECT string_agg(currency, ',' ORDER BY id) FROM orders", "EUR,EUR,EUR,EUR,GBP,EUR"),
            ("SELECT string_agg(status, ',' ORDER BY id) FROM orders", "delivered,paid,cancelled,shipped,pending,delivered"),
            // JSON text into json: paths resolve, escapes and all.
            ("SELECT attributes -> 'care' ->> 'note' FROM products WHERE id = 4", "Hand wash only / nur Handwäsche"),
            ("SELECT shipping_address -> 'delivery' -> 'window' ->> 'to' FROM orders WHERE id = 4", "2024-03-22"),
            ("SELECT char_length(name)::text FROM products WHERE id = 4", "255"),
            ("SELECT tokenable_type FROM personal_access_tokens WHERE id = 1", "App\\Models\\User"),
        ],
    )
    .await;
    // json keeps its text as written; text columns keep theirs.
    for (table, columns) in [
        (
            "users",
            &["name", "email", "password", "remember_token"][..],
        ),
        (
            "products",
            &["sku", "name", "description", "attributes"][..],
        ),
        ("orders", &["shipping_address", "notes"][..]),
        ("order_items", &["options"][..]),
        ("failed_jobs", &["uuid", "payload", "exception"][..]),
        ("personal_access_tokens", &["token", "abilities"][..]),
    ] {
        assert_text_columns_same(&file, &client, table, columns).await;
    }
    assert_sequences_moved_past_ids(
        &client,
        &[
            "users",
            "failed_jobs",
            "personal_access_tokens",
            "products",
            "orders",
            "order_items",
        ],
    )
    .await;
    db.drop().await;
}
