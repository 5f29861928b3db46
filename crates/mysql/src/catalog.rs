//! The source's catalog as rows of `information_schema`, read once.
//!
//! These structs are plain data so that the mapping can be tested on catalog rows of servers we
//! cannot run here (MySQL 8: no display widths, utf8mb4_0900 collations, `DEFAULT_GENERATED`).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

/// Which server, and what its catalog looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flavor {
    pub mariadb: bool,
    /// (major, minor, patch) of the server.
    pub version: (u32, u32, u32),
}

impl Flavor {
    pub fn parse(version: &str) -> Flavor {
        let mariadb = version.to_ascii_lowercase().contains("mariadb");
        // Old MariaDB servers advertise "5.5.5-10.x" so that old clients accept them.
        let version = if mariadb {
            version.strip_prefix("5.5.5-").unwrap_or(version)
        } else {
            version
        };
        let mut nums = version
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap_or(0));
        let v = (
            nums.next().unwrap_or(0),
            nums.next().unwrap_or(0),
            nums.next().unwrap_or(0),
        );
        Flavor {
            mariadb,
            version: v,
        }
    }

    /// MariaDB ≥ 10.2.7 writes literal defaults quoted in `COLUMN_DEFAULT` and a default of
    /// NULL as the word `NULL`; MySQL writes literals bare and expressions bare too.
    pub fn quotes_default_literals(&self) -> bool {
        self.mariadb && self.version >= (10, 2, 7)
    }

    pub fn describe(&self) -> String {
        let (a, b, c) = self.version;
        format!(
            "{} {a}.{b}.{c}",
            if self.mariadb { "MariaDB" } else { "MySQL" }
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct TableRow {
    pub name: String,
    pub engine: Option<String>,
    pub auto_increment: Option<u64>,
    pub comment: String,
    pub create_options: String,
}

#[derive(Debug, Clone, Default)]
pub struct ColumnRow {
    pub table: String,
    pub name: String,
    pub position: u32,
    /// `COLUMN_DEFAULT` as the server writes it (see [`Flavor::quotes_default_literals`]).
    pub default: Option<String>,
    pub nullable: bool,
    /// `DATA_TYPE`, e.g. `int`.
    pub data_type: String,
    /// `COLUMN_TYPE`, e.g. `int(10) unsigned zerofill`, `enum('a','b')`.
    pub column_type: String,
    pub char_max_length: Option<u64>,
    pub numeric_precision: Option<u64>,
    pub numeric_scale: Option<u64>,
    pub datetime_precision: Option<u64>,
    pub charset: Option<String>,
    pub collation: Option<String>,
    /// `EXTRA`: `auto_increment`, `on update current_timestamp()`, `STORED GENERATED`, …
    pub extra: String,
    pub comment: String,
    pub generation_expression: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct IndexRow {
    pub table: String,
    pub name: String,
    pub non_unique: bool,
    pub seq: u32,
    /// None for a functional key part (MySQL 8.0.13+).
    pub column: Option<String>,
    /// Prefix length in characters (bytes for binary columns).
    pub sub_part: Option<u32>,
    /// `BTREE`, `HASH`, `FULLTEXT`, `SPATIAL`.
    pub index_type: String,
    /// `D` for descending (MySQL 8).
    pub descending: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ForeignKeyRow {
    pub table: String,
    pub name: String,
    pub seq: u32,
    pub column: String,
    pub ref_schema: String,
    pub ref_table: String,
    pub ref_column: String,
    pub update_rule: String,
    pub delete_rule: String,
}

#[derive(Debug, Clone, Default)]
pub struct CheckRow {
    pub table: String,
    pub name: String,
    pub clause: String,
}

/// Objects that are not tables: listed in `plan` as not carried over.
#[derive(Debug, Clone, Default)]
pub struct OtherObject {
    pub kind: &'static str,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub flavor: Flavor,
    pub database: String,
    pub tables: Vec<TableRow>,
    pub columns: Vec<ColumnRow>,
    pub indexes: Vec<IndexRow>,
    pub foreign_keys: Vec<ForeignKeyRow>,
    pub checks: Vec<CheckRow>,
    pub others: Vec<OtherObject>,
    /// The charsets the copied text columns are stored in, learned from the server (see
    /// [`crate::charset::learn`]); the built-in ones need no entry.
    pub charsets: std::collections::HashMap<String, crate::charset::Charset>,
}

fn text(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

fn num(row: &Row, i: usize) -> Option<u64> {
    text(row, i).and_then(|s| s.trim().parse().ok())
}

async fn rows(conn: &mut Conn, sql: &str, db: &str) -> Result<Vec<Row>, mysql_async::Error> {
    conn.exec(sql, (db,)).await
}

/// Reads the catalog of `database`. Text protocol where possible: information_schema is small.
pub async fn read_catalog(conn: &mut Conn, database: &str) -> Result<Catalog, mysql_async::Error> {
    // MySQL 8 caches information_schema statistics (AUTO_INCREMENT!) for a day by default.
    let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
    let flavor = Flavor::parse(version.as_deref().unwrap_or(""));
    if !flavor.mariadb && flavor.version >= (8, 0, 0) {
        conn.query_drop("SET SESSION information_schema_stats_expiry = 0")
            .await?;
    }

    let tables = rows(
        conn,
        "SELECT TABLE_NAME, ENGINE, AUTO_INCREMENT, TABLE_COMMENT, CREATE_OPTIONS, TABLE_TYPE \
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
        database,
    )
    .await?;
    let mut others = Vec::new();
    let mut table_rows = Vec::new();
    for r in &tables {
        let name = text(r, 0).unwrap_or_default();
        match text(r, 5).as_deref() {
            Some("BASE TABLE") => table_rows.push(TableRow {
                name,
                engine: text(r, 1),
                auto_increment: num(r, 2),
                comment: text(r, 3).unwrap_or_default(),
                create_options: text(r, 4).unwrap_or_default(),
            }),
            Some("VIEW") => others.push(OtherObject { kind: "view", name }),
            Some("SEQUENCE") => others.push(OtherObject {
                kind: "sequence",
                name,
            }),
            _ => {}
        }
    }

    let columns = rows(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, \
         COLUMN_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, \
         CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, COLUMN_COMMENT, GENERATION_EXPRESSION \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
        database,
    )
    .await?
    .iter()
    .map(|r| ColumnRow {
        table: text(r, 0).unwrap_or_default(),
        name: text(r, 1).unwrap_or_default(),
        position: num(r, 2).unwrap_or(0) as u32,
        default: text(r, 3),
        nullable: text(r, 4).as_deref() == Some("YES"),
        data_type: text(r, 5).unwrap_or_default().to_ascii_lowercase(),
        column_type: text(r, 6).unwrap_or_default(),
        char_max_length: num(r, 7),
        numeric_precision: num(r, 8),
        numeric_scale: num(r, 9),
        datetime_precision: num(r, 10),
        charset: text(r, 11),
        collation: text(r, 12),
        extra: text(r, 13).unwrap_or_default(),
        comment: text(r, 14).unwrap_or_default(),
        generation_expression: text(r, 15).filter(|s| !s.is_empty()),
    })
    .collect();

    let indexes = rows(
        conn,
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME, SUB_PART, INDEX_TYPE, COLLATION \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        database,
    )
    .await?
    .iter()
    .map(|r| IndexRow {
        table: text(r, 0).unwrap_or_default(),
        name: text(r, 1).unwrap_or_default(),
        non_unique: num(r, 2).unwrap_or(1) != 0,
        seq: num(r, 3).unwrap_or(0) as u32,
        column: text(r, 4),
        sub_part: num(r, 5).map(|n| n as u32),
        index_type: text(r, 6).unwrap_or_default(),
        descending: text(r, 7).as_deref() == Some("D"),
    })
    .collect();

    let foreign_keys = rows(
        conn,
        "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION, k.COLUMN_NAME, \
         k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, \
         r.UPDATE_RULE, r.DELETE_RULE \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
           ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
          AND r.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
        database,
    )
    .await?
    .iter()
    .map(|r| ForeignKeyRow {
        table: text(r, 0).unwrap_or_default(),
        name: text(r, 1).unwrap_or_default(),
        seq: num(r, 2).unwrap_or(0) as u32,
        column: text(r, 3).unwrap_or_default(),
        ref_schema: text(r, 4).unwrap_or_default(),
        ref_table: text(r, 5).unwrap_or_default(),
        ref_column: text(r, 6).unwrap_or_default(),
        update_rule: text(r, 7).unwrap_or_default(),
        delete_rule: text(r, 8).unwrap_or_default(),
    })
    .collect();

    // CHECK_CONSTRAINTS exists from MariaDB 10.2 and MySQL 8.0.16. MariaDB names checks per
    // table and has a TABLE_NAME column; MySQL names them per schema and has not.
    let check_sql = if flavor.mariadb {
        "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \
         WHERE CONSTRAINT_SCHEMA = ? ORDER BY TABLE_NAME, CONSTRAINT_NAME"
    } else {
        "SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS c \
         JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA \
          AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME AND t.CONSTRAINT_TYPE = 'CHECK' \
         WHERE c.CONSTRAINT_SCHEMA = ? ORDER BY 1, 2"
    };
    let checks = match rows(conn, check_sql, database).await {
        Ok(rs) => rs
            .iter()
            .map(|r| CheckRow {
                table: text(r, 0).unwrap_or_default(),
                name: text(r, 1).unwrap_or_default(),
                clause: text(r, 2).unwrap_or_default(),
            })
            .collect(),
        // 1109: unknown table (MySQL 5.7 has no CHECK constraints to read).
        Err(mysql_async::Error::Server(e)) if e.code == 1109 => Vec::new(),
        Err(e) => return Err(e),
    };

    for (kind, sql) in [
        (
            "trigger",
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY 1",
        ),
        (
            "routine",
            "SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 1",
        ),
        (
            "event",
            "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY 1",
        ),
    ] {
        for r in rows(conn, sql, database).await? {
            others.push(OtherObject {
                kind,
                name: text(&r, 0).unwrap_or_default(),
            });
        }
    }

    Ok(Catalog {
        flavor,
        database: database.to_owned(),
        tables: table_rows,
        columns,
        indexes,
        foreign_keys,
        checks,
        others,
        charsets: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flavors() {
        let m = Flavor::parse("10.11.19-MariaDB-0+deb12u1");
        assert!(m.mariadb && m.version == (10, 11, 19) && m.quotes_default_literals());
        let m = Flavor::parse("8.0.36");
        assert!(!m.mariadb && m.version == (8, 0, 36) && !m.quotes_default_literals());
        // MariaDB before 10.2.7 wrote defaults as MySQL does.
        assert!(!Flavor::parse("10.1.48-MariaDB").quotes_default_literals());
        // MySQL 5.5.5- prefix that some proxies send in front of MariaDB versions.
        assert_eq!(Flavor::parse("5.5.5-10.6.12-MariaDB").version, (10, 6, 12));
    }
}
