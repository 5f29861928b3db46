//! Every SQLite sample database in ../shared/datasets copies with exit 0 and arrives value for
//! value, with its keys, foreign keys and identity positions.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compare::assert_same_data;
use crate::harness::{assert_fks_and_identity, copy_verified, datasets_dir, TestDb};

async fn copies_exactly(tag: &str, file: &Path, fks: usize, identity: Option<(&str, &str, i64)>) {
    let db = TestDb::new(tag).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let source = format!("sqlite:{}", file.display());
    let report = copy_verified(dir.path(), &source, &db.url, 0);
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["totals"]["rows_rejected"], 0);
    assert!(
        !dir.path().join("pgcutover-rejects.jsonl").exists(),
        "no rejects file when nothing is rejected"
    );

    let client = db.client().await;
    let compared = assert_same_data(file, &client, &db.url, &BTreeMap::new()).await;
    assert_eq!(
        compared as u64,
        report["totals"]["rows_written"].as_u64().expect("rows")
    );
    assert_fks_and_identity(&client, fks, identity).await;
    db.drop().await;
}

#[tokio::test]
async fn chinook() {
    let Some(d) = datasets_dir() else { return };
    copies_exactly(
        "ds_chinook",
        &d.join("chinook/Chinook_Sqlite.sqlite"),
        11,
        Some(("Track", "TrackId", 3504)),
    )
    .await;
}

#[tokio::test]
async fn chinook_autoincrement() {
    let Some(d) = datasets_dir() else { return };
    copies_exactly(
        "ds_chinook_ai",
        &d.join("chinook/Chinook_Sqlite_AutoIncrementPKs.sqlite"),
        11,
        Some(("Invoice", "InvoiceId", 413)),
    )
    .await;
}

#[tokio::test]
async fn northwind() {
    let Some(d) = datasets_dir() else { return };
    copies_exactly(
        "ds_northwind",
        &d.join("northwind/northwind.sqlite"),
        13,
        Some(("Categories", "CategoryID", 9)),
    )
    .await;
}

#[tokio::test]
async fn northwind_populated_600k_rows() {
    let Some(d) = datasets_dir() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("northwind-populated.sqlite");
    let gz =
        std::fs::File::open(d.join("northwind/northwind-populated.sqlite.gz")).expect("open .gz");
    let status = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(gz)
        .stdout(std::fs::File::create(&file).expect("create"))
        .status()
        .expect("gzip");
    assert!(status.success());
    copies_exactly("ds_northwind_pop", &file, 13, None).await;
}

#[tokio::test]
async fn prisma_graphql_auth() {
    let Some(d) = datasets_dir() else { return };
    copies_exactly(
        "ds_prisma_auth",
        &d.join("prisma-examples/graphql-auth.dev.db"),
        1,
        Some(("Post", "id", 6)),
    )
    .await;
}

#[tokio::test]
async fn prisma_introspection() {
    let Some(d) = datasets_dir() else { return };
    copies_exactly(
        "ds_prisma_intro",
        &d.join("prisma-examples/introspection-sqlite.dev.db"),
        1,
        Some(("User", "id", 3)),
    )
    .await;
}
