//! The MySQL source from a user's side: logins and their errors, secrets, --cast, --consistent.

use mysql_async::prelude::Queryable;

use crate::harness::{
    expect_code, mysql, mysql_admin_url, one, pgcutover, stderr, stdout, MyDb, TestDb,
};

const SMALL: &str =
    "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, flag TINYINT(1), n INT UNSIGNED);
INSERT INTO t (flag, n) VALUES (1, 4294967295), (0, 0), (7, 1);";

fn host_port() -> (String, u16) {
    let u = url::Url::parse(&mysql_admin_url()).expect("url");
    (
        u.host_str().unwrap_or("127.0.0.1").to_owned(),
        u.port().unwrap_or(3306),
    )
}

#[tokio::test]
async fn wrong_password_exits_3_with_a_hint_and_never_shows_the_password() {
    let my = MyDb::from_sql("pgctit_cli_pw", SMALL).await;
    let (host, port) = host_port();
    let db = TestDb::new("my_cli_pw").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "Sup3r-s3cret-pw";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args([
            "copy",
            &format!("mysql://nosuchuser@{host}:{port}/{}", my.name),
            &db.url,
        ])
        .env("MYSQL_PWD", secret)
        .current_dir(dir.path())
        .output()
        .expect("run");
    expect_code(&out, 3);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("error 1045"), "{all}");
    assert!(
        all.contains("hint: check the user \"nosuchuser\" and its password"),
        "{all}"
    );
    assert!(!all.contains(secret), "the password leaked: {all}");

    // Nothing listening: says what to check.
    let out = pgcutover(dir.path(), &["plan", "mysql://root@127.0.0.1:1/x", &db.url]);
    expect_code(&out, 3);
    assert!(
        stderr(&out).contains("is MySQL/MariaDB running and listening on 127.0.0.1:1?"),
        "{}",
        stderr(&out)
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn ed25519_login_with_a_password_file() {
    let my = MyDb::from_sql("pgctit_cli_ed", SMALL).await;
    let mut admin = mysql("mysql").await;
    if admin
        .query_drop("INSTALL SONAME 'auth_ed25519'")
        .await
        .is_err()
    {
        // Already installed (error 1968) is fine; anything else shows below as a failed login.
    }
    admin
        .query_drop("DROP USER IF EXISTS 'pgct_ed'@'%'")
        .await
        .expect("drop user");
    admin
        .query_drop("CREATE USER 'pgct_ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pass-1')")
        .await
        .expect("create ed25519 user");
    admin
        .query_drop(format!("GRANT SELECT ON `{}`.* TO 'pgct_ed'@'%'", my.name))
        .await
        .expect("grant");
    let _ = admin.disconnect().await;
    let (host, port) = host_port();
    let db = TestDb::new("my_cli_ed").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "ed-pass-1\n").expect("pw file");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &format!(
                "mariadb://pgct_ed@{host}:{port}/{}?ssl-mode=disabled",
                my.name
            ),
            &db.url,
            "--source-password-file",
            pw.to_str().expect("utf-8"),
            "--cast",
            "tinyint(1)=smallint",
        ],
    );
    // --cast keeps 7 as a number instead of rejecting it.
    expect_code(&out, 0);
    let client = db.client().await;
    assert_eq!(
        one(
            &client,
            "SELECT string_agg(flag::text, ',' ORDER BY id) FROM t"
        )
        .await
        .as_deref(),
        Some("1,0,7")
    );
    assert_eq!(
        one(&client, "SELECT max(n)::text FROM t").await.as_deref(),
        Some("4294967295")
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn consistent_snapshot_and_impossible_casts() {
    let my = MyDb::from_sql("pgctit_cli_cons", SMALL).await;
    let src = my.url.clone();
    let db = TestDb::new("my_cli_cons").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &src,
            &db.url,
            "--consistent",
            "--cast",
            "t.flag=integer",
            "--jobs",
            "3",
        ],
    );
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("--consistent: taking one snapshot"),
        "{}",
        stderr(&out)
    );
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT sum(flag)::text FROM t")
            .await
            .as_deref(),
        Some("8")
    );

    // A cast that can never be exact is refused before anything is written.
    let out = pgcutover(
        dir.path(),
        &["plan", &src, &db.url, "--cast", "int unsigned=date"],
    );
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("--cast to date is not possible from int(10) unsigned"),
        "{}",
        stderr(&out)
    );
    db.drop().await;
    my.drop().await;
}

/// A table big enough to be split into key ranges read by two sessions into one COPY, sent in
/// many small batches (a reader that blocked wrongly inside its runtime once spun forever here).
#[tokio::test]
async fn large_table_split_into_key_ranges_arrives_whole() {
    let my = MyDb::from_sql(
        "pgctit_cli_split",
        "CREATE TABLE big (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO big SELECT seq, CONCAT('v', seq) FROM seq_1_to_300000;",
    )
    .await;
    let db = TestDb::new("my_cli_split").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(
        dir.path(),
        &[
            "copy",
            &my.url,
            &db.url,
            "--jobs",
            "2",
            "--batch-rows",
            "10",
        ],
    );
    expect_code(&out, 0);
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT count(*)::text || ' ' || count(DISTINCT id)::text || ' ' || min(id)::text || ' ' || max(id)::text || ' ' || sum(id)::text FROM big").await.as_deref(),
        Some("300000 300000 1 300000 45000150000")
    );
    db.drop().await;
    my.drop().await;
}
