//! Every MySQL sample database in ../shared/datasets, loaded into the test MariaDB, copies with
//! exit 0 and arrives value for value (checked by `mysql_compare`, which shares no code with the
//! converter), with its foreign keys and identity positions.

use std::collections::BTreeMap;
use std::process::Command;

use crate::harness::{
    assert_fks_and_identity, copy_verified, datasets_dir, mysql_admin_url, one, source_url, TestDb,
};
use crate::mysql_compare::assert_same_mysql_data;

/// Loads a dataset with its own loader into `pgctit_<name>` databases. Returns false (skip) when
/// the datasets are absent and PGCUTOVER_ALLOW_MISSING_DATASETS is set.
pub fn load_dataset(name: &str) -> bool {
    load_dataset_with_prefix(name, "pgctit_")
}

/// As [`load_dataset`], into `<prefix><name>`: a test that must not share the dataset's
/// database with another test running at the same time loads its own.
pub fn load_dataset_with_prefix(name: &str, prefix: &str) -> bool {
    let Some(dir) = datasets_dir() else {
        return false;
    };
    let url = url::Url::parse(&mysql_admin_url()).expect("PGCUTOVER_TEST_MYSQL is a URL");
    let out = Command::new(dir.join("load-mysql.sh"))
        .arg(name)
        .env("DS_PREFIX", prefix)
        .env("MYSQL_HOST", url.host_str().unwrap_or("127.0.0.1"))
        .env("MYSQL_PORT", url.port().unwrap_or(3306).to_string())
        .env(
            "MYSQL_USER",
            if url.username().is_empty() {
                "root"
            } else {
                url.username()
            },
        )
        .env("MYSQL_PWD", url.password().unwrap_or(""))
        .output()
        .expect("run load-mysql.sh");
    assert!(
        out.status.success(),
        "load-mysql.sh {name} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Copies, compares, and checks the FK count, an identity's next value and `facts`
/// (SQL → the single value it must return).
async fn copies_exactly(
    db_name: &str,
    fks: usize,
    identity: Option<(&str, &str, i64)>,
    facts: &[(&str, &str)],
) -> serde_json::Value {
    let db = TestDb::new(&format!("my_{db_name}")).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let report = copy_verified(dir.path(), &source_url(db_name), &db.url, 0);
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["totals"]["rows_rejected"], 0);
    let client = db.client().await;
    let compared = assert_same_mysql_data(db_name, &client, &BTreeMap::new()).await;
    assert_eq!(
        compared as u64,
        report["totals"]["rows_written"].as_u64().expect("rows")
    );
    assert_fks_and_identity(&client, fks, identity).await;
    for (sql, want) in facts {
        assert_eq!(one(&client, sql).await.as_deref(), Some(*want), "{sql}");
    }
    db.drop().await;
    report
}

#[tokio::test]
async fn sakila() {
    if !load_dataset("sakila") {
        return;
    }
    // 22 FKs; AUTO_INCREMENT=16050 on payment (max 16049).
    let report = copies_exactly(
        "pgctit_sakila",
        22,
        Some(("payment", "payment_id", 16050)),
        &[
            // ENUM → enum type in label order; SET → text[]; YEAR → smallint; the FULLTEXT
            // index → GIN; ON UPDATE CURRENT_TIMESTAMP → a trigger.
            ("SELECT enum_range(NULL::film_rating)::text", "{G,PG,PG-13,R,NC-17}"),
            ("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'film'::regclass AND attname = 'special_features'", "text[]"),
            ("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'film'::regclass AND attname = 'release_year'", "smallint"),
            ("SELECT count(*)::text FROM pg_indexes WHERE indexname = 'idx_title_description' AND indexdef LIKE '%USING gin%to_tsvector%'", "1"),
            ("SELECT count(*)::text FROM pg_trigger WHERE tgrelid = 'film'::regclass AND NOT tgisinternal", "1"),
        ],
    )
    .await;
    let warnings = report["warnings"].as_array().expect("warnings");
    for what in [
        "view \"actor_info\"",
        "trigger \"rental_date\"",
        "index \"idx_location\"",
        "index \"idx_title_description\"",
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w["object"].as_str().is_some_and(|o| o.starts_with(what))),
            "warned about {what}"
        );
    }
}

#[tokio::test]
async fn world() {
    if load_dataset("world") {
        copies_exactly("pgctit_world", 2, None, &[]).await;
    }
}

#[tokio::test]
async fn world_x() {
    if load_dataset("world_x") {
        // countryinfo's JSON doc (MariaDB: LONGTEXT + json_valid) arrives as jsonb.
        copies_exactly(
            "pgctit_world_x",
            1,
            None,
            &[("SELECT data_type FROM information_schema.columns WHERE table_name = 'countryinfo' AND column_name = 'doc'", "jsonb")],
        )
        .await;
    }
}

#[tokio::test]
async fn chinook_both() {
    if load_dataset("chinook") {
        copies_exactly("pgctit_chinook", 11, None, &[]).await;
        copies_exactly(
            "pgctit_chinook_autoinc",
            11,
            Some(("Track", "TrackId", 3504)),
            &[],
        )
        .await;
    }
}

#[tokio::test]
async fn northwind() {
    if load_dataset("northwind") {
        copies_exactly("pgctit_northwind", 21, None, &[]).await;
    }
}
