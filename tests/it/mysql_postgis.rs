//! MySQL geometry into a target with PostGIS: `geometry` with the SRID kept, SPATIAL indexes as
//! GiST. Needs PostGIS available to PostgreSQL (Debian's postgresql-15-postgis-3, which
//! scripts/ensure-services.sh installs); each test database creates the extension.

use std::collections::BTreeMap;

use crate::harness::{
    column_type, expect_code, one, pgcutover, query_strings, source_url, stdout, MyDb, TestDb,
};
use crate::mysql_compare::assert_same_mysql_data;
use crate::mysql_datasets::load_dataset_with_prefix;

async fn postgis_db(tag: &str) -> TestDb {
    let db = TestDb::new(tag).await;
    db.client()
        .await
        .batch_execute("CREATE EXTENSION postgis")
        .await
        .unwrap_or_else(|e| {
            panic!("these tests need PostGIS in the test PostgreSQL (Debian: postgresql-15-postgis-3; scripts/ensure-services.sh installs it): {e}")
        });
    db
}

#[tokio::test]
async fn geometry_keeps_its_srid_and_spatial_indexes_become_gist() {
    let name = "pgctit_gis";
    let my = MyDb::from_sql(
        name,
        "CREATE TABLE places (
           id INT PRIMARY KEY,
           pos POINT NOT NULL,
           area GEOMETRY NULL,
           SPATIAL INDEX pos_idx (pos)
         );
         INSERT INTO places VALUES
           (1, ST_GeomFromText('POINT(2.3522 48.8566)', 4326),
               ST_GeomFromText('POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 3 2, 3 3, 2 2))', 4326)),
           (2, ST_GeomFromText('POINT(-0.1 51.5)'), NULL),
           (3, ST_GeomFromText('POINT(1e-7 -179.999999)', 3857),
               ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1), MULTILINESTRING((0 0, 1 1), (2 2, 3 3)))', 3857));",
    )
    .await;
    let db = postgis_db("my_gis").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(
        dir.path(),
        &["copy", &my.url, &db.url, "--verify", "checksums"],
    );
    expect_code(&out, 0);
    // Geometry (EWKB with its SRID) hashes the same on both sides.
    assert!(
        stdout(&out).contains(" table(s) identical, 0 differing row(s)"),
        "{}",
        stdout(&out)
    );
    let client = db.client().await;
    assert_eq!(
        query_strings(
            &client,
            "SELECT id::text, ST_SRID(pos)::text, ST_AsText(pos), ST_SRID(area)::text, ST_AsText(area) \
             FROM places ORDER BY id"
        )
        .await,
        vec![
            vec![
                Some("1".into()),
                Some("4326".into()),
                Some("POINT(2.3522 48.8566)".into()),
                Some("4326".into()),
                Some("POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))".into()),
            ],
            vec![
                Some("2".into()),
                Some("0".into()),
                Some("POINT(-0.1 51.5)".into()),
                None,
                None
            ],
            vec![
                Some("3".into()),
                Some("3857".into()),
                Some("POINT(0.0000001 -179.999999)".into()),
                Some("3857".into()),
                Some("GEOMETRYCOLLECTION(POINT(1 1),MULTILINESTRING((0 0,1 1),(2 2,3 3)))".into()),
            ],
        ]
    );
    // Byte for byte, with the SRID, against MySQL's own WKB.
    assert_eq!(
        assert_same_mysql_data(name, &client, &BTreeMap::new()).await,
        3
    );
    assert_eq!(
        one(
            &client,
            "SELECT am.amname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'pos_idx'"
        )
        .await
        .as_deref(),
        Some("gist")
    );
    assert_eq!(
        one(
            &client,
            "SELECT count(*)::text FROM places WHERE ST_DWithin(pos, ST_SetSRID(ST_MakePoint(2.35, 48.85), 4326), 0.01)"
        )
        .await
        .as_deref(),
        Some("1")
    );
    db.drop().await;
    my.drop().await;
}

#[tokio::test]
async fn sakila_into_postgis_copies_exactly() {
    if !load_dataset_with_prefix("sakila", "pgctit_gis_") {
        return;
    }
    let name = "pgctit_gis_sakila";
    let db = postgis_db("my_sakila_gis").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = pgcutover(
        dir.path(),
        &["copy", &source_url(name), &db.url, "--verify", "checksums"],
    );
    expect_code(&out, 0);
    // Geometry (EWKB with its SRID) hashes the same on both sides.
    assert!(
        stdout(&out).contains(" table(s) identical, 0 differing row(s)"),
        "{}",
        stdout(&out)
    );
    let client = db.client().await;
    assert_eq!(
        column_type(&client, "address", "location").await.as_deref(),
        Some("geometry")
    );
    assert_eq!(
        one(
            &client,
            "SELECT am.amname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = 'address'::regclass AND am.amname = 'gist'"
        )
        .await
        .as_deref(),
        Some("gist")
    );
    assert!(assert_same_mysql_data(name, &client, &BTreeMap::new()).await > 40_000);
    db.drop().await;
}
