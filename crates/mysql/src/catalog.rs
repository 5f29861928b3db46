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
    /// Kinds of objects the user cannot see for want of a privilege (see [`unseen_objects`]).
    pub unseen: Vec<Unseen>,
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
///
/// The phases, each one query (or a few) of `information_schema`: the server, its tables (and
/// views and sequences), columns, indexes, foreign keys, CHECKs, the kinds of objects the
/// user's grants hide, and the triggers, routines and events that are not carried over.
pub async fn read_catalog(conn: &mut Conn, database: &str) -> Result<Catalog, mysql_async::Error> {
    let flavor = read_flavor(conn).await?;
    let (tables, mut others) = read_tables(conn, database).await?;
    let columns = read_columns(conn, database).await?;
    let indexes = read_indexes(conn, database).await?;
    let foreign_keys = read_foreign_keys(conn, database).await?;
    let checks = read_checks(conn, database, &flavor).await?;
    let unseen = read_unseen(conn, database).await?;
    others.extend(read_programs(conn, database).await?);
    Ok(Catalog {
        flavor,
        database: database.to_owned(),
        tables,
        columns,
        indexes,
        foreign_keys,
        checks,
        others,
        unseen,
        charsets: Default::default(),
    })
}

/// Which server this is; on MySQL 8 it also makes the session's catalog statistics fresh.
async fn read_flavor(conn: &mut Conn) -> Result<Flavor, mysql_async::Error> {
    // MySQL 8 caches information_schema statistics (AUTO_INCREMENT!) for a day by default.
    let version: Option<String> = conn.query_first("SELECT VERSION()").await?;
    let flavor = Flavor::parse(version.as_deref().unwrap_or(""));
    if !flavor.mariadb && flavor.version >= (8, 0, 0) {
        conn.query_drop("SET SESSION information_schema_stats_expiry = 0")
            .await?;
    }
    Ok(flavor)
}

/// The base tables, and the views and sequences (not carried over), in name order.
async fn read_tables(
    conn: &mut Conn,
    database: &str,
) -> Result<(Vec<TableRow>, Vec<OtherObject>), mysql_async::Error> {
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
    Ok((table_rows, others))
}

/// Every column of every table and view, in table and ordinal order.
async fn read_columns(
    conn: &mut Conn,
    database: &str,
) -> Result<Vec<ColumnRow>, mysql_async::Error> {
    Ok(rows(
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
    .collect())
}

/// Every index's key parts, in table, index and key-part order.
async fn read_indexes(
    conn: &mut Conn,
    database: &str,
) -> Result<Vec<IndexRow>, mysql_async::Error> {
    Ok(rows(
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
    .collect())
}

/// Every foreign key's column pairs with its rules, in table, constraint and column order.
async fn read_foreign_keys(
    conn: &mut Conn,
    database: &str,
) -> Result<Vec<ForeignKeyRow>, mysql_async::Error> {
    Ok(rows(
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
    .collect())
}

/// Every CHECK constraint with its table; none on a server without them (MySQL 5.7).
async fn read_checks(
    conn: &mut Conn,
    database: &str,
    flavor: &Flavor,
) -> Result<Vec<CheckRow>, mysql_async::Error> {
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
    match rows(conn, check_sql, database).await {
        Ok(rs) => Ok(rs
            .iter()
            .map(|r| CheckRow {
                table: text(r, 0).unwrap_or_default(),
                name: text(r, 1).unwrap_or_default(),
                clause: text(r, 2).unwrap_or_default(),
            })
            .collect()),
        // 1109: unknown table (MySQL 5.7 has no CHECK constraints to read).
        Err(mysql_async::Error::Server(e)) if e.code == 1109 => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The kinds of objects the user's grants hide from it (see [`unseen_objects`]).
async fn read_unseen(conn: &mut Conn, database: &str) -> Result<Vec<Unseen>, mysql_async::Error> {
    // What the user may not see: information_schema leaves it out without a word.
    let user: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    let user = user.unwrap_or_default();
    // A server that will not say (a proxy, an old server) gets no warnings: better none than
    // four that may be wrong.
    Ok(match conn.query::<String, _>("SHOW GRANTS").await {
        Ok(grants) => unseen_objects(&grants, database, &user),
        Err(_) => Vec::new(),
    })
}

/// The triggers, routines and events (none is carried over), by kind, in name order.
async fn read_programs(
    conn: &mut Conn,
    database: &str,
) -> Result<Vec<OtherObject>, mysql_async::Error> {
    let mut others = Vec::new();
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
    Ok(others)
}

/// A kind of object `information_schema` hides from a user without a privilege: it lists
/// none of them, whether the database has some or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    /// `triggers`, `routines`, `events`, `view definitions`.
    pub what: &'static str,
    /// The privilege that would show them (`TRIGGER`).
    pub privilege: &'static str,
    /// The user, as the server names it (`ro@%`).
    pub user: String,
    /// The user has roles, whose privileges SHOW GRANTS does not list (MySQL 8): one of them
    /// may grant the privilege after all.
    pub has_roles: bool,
}

/// What `information_schema` shows only with a privilege on the database (MariaDB and MySQL
/// alike): TRIGGERS needs TRIGGER; ROUTINES lists a routine to its definer or to a user with
/// EXECUTE, CREATE ROUTINE or ALTER ROUTINE; EVENTS needs EVENT; VIEWS' definitions need SHOW
/// VIEW (the views themselves are listed with SELECT).
const NEEDED: &[(&str, &[&str], &str)] = &[
    ("triggers", &["TRIGGER"], "TRIGGER"),
    (
        "routines",
        &["EXECUTE", "CREATE ROUTINE", "ALTER ROUTINE"],
        "EXECUTE",
    ),
    ("events", &["EVENT"], "EVENT"),
    ("view definitions", &["SHOW VIEW"], "SHOW VIEW"),
];

/// The kinds of objects of `database` that the user's grants (the lines of `SHOW GRANTS`)
/// do not let it see. Privileges on `*.*` and on database patterns that match (`db`.*,
/// `app\_%`.*) count; table-level grants do not (they would show only some).
pub fn unseen_objects(grants: &[String], database: &str, user: &str) -> Vec<Unseen> {
    let mut held = std::collections::BTreeSet::new();
    // `GRANT role TO user` (MariaDB) or `GRANT `role`@`%` TO …` (MySQL 8): no ON.
    let has_roles = grants
        .iter()
        .any(|l| l.trim().starts_with("GRANT ") && !l.contains(" ON "));
    for line in grants {
        let Some((privileges, object)) = parse_grant(line) else {
            continue;
        };
        let applies = match object.split_once('.') {
            Some(("*", "*")) => true,
            Some((db, "*")) => db_pattern_matches(db, database),
            _ => false,
        };
        if applies {
            held.extend(privileges);
        }
    }
    if held.contains("ALL PRIVILEGES") || held.contains("ALL") {
        return Vec::new();
    }
    NEEDED
        .iter()
        .filter(|(_, any_of, _)| !any_of.iter().any(|p| held.contains(*p)))
        .map(|(what, _, privilege)| Unseen {
            what,
            privilege,
            user: user.to_owned(),
            has_roles,
        })
        .collect()
}

/// `GRANT SELECT, SHOW VIEW ON `db`.* TO `u`@`%`` → (["SELECT", "SHOW VIEW"], "db.*"), the
/// object's names unquoted. None for a line that grants no privileges on an object (a role).
fn parse_grant(line: &str) -> Option<(Vec<String>, String)> {
    let rest = line.trim().strip_prefix("GRANT ")?;
    let on = rest.find(" ON ")?;
    let (list, after) = (&rest[..on], &rest[on + 4..]);
    // Column lists in parentheses hold commas of their own.
    let mut privileges = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                privileges.push(list[start..i].to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    privileges.push(list[start..].to_owned());
    let privileges = privileges
        .iter()
        .filter(|p| !p.contains('('))
        .map(|p| p.trim().to_ascii_uppercase())
        .collect();
    // The object: `*.*`, `db`.*, `db`.`table`; PROCEDURE/FUNCTION objects are not databases.
    let mut object = String::new();
    let mut chars = after.chars().peekable();
    loop {
        match chars.next()? {
            '`' => loop {
                match chars.next()? {
                    '`' if chars.peek() == Some(&'`') => {
                        chars.next();
                        object.push('`');
                    }
                    '`' => break,
                    c => object.push(c),
                }
            },
            ' ' => break,
            c => object.push(c),
        }
    }
    Some((privileges, object))
}

/// A database name in a grant is a LIKE pattern: `%` and `_` are wildcards unless escaped with
/// a backslash (`app\_db`).
fn db_pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('%', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('_', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                n.first() == Some(&rest[0]) && go(&rest[1..], &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_that_hide_objects() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let what = |u: Vec<Unseen>| u.iter().map(|u| u.privilege).collect::<Vec<_>>();
        // A SELECT-only user, as MariaDB 10.11 writes its grants (read off the server).
        let ro = lines(&[
            "GRANT USAGE ON *.* TO `ro`@`%`",
            "GRANT SELECT ON `privtest`.* TO `ro`@`%`",
        ]);
        assert_eq!(
            what(unseen_objects(&ro, "privtest", "ro@%")),
            ["TRIGGER", "EXECUTE", "EVENT", "SHOW VIEW"]
        );
        let all = lines(&[
            "GRANT SELECT, EXECUTE, SHOW VIEW, EVENT, TRIGGER ON `privtest`.* TO `ro2`@`%`",
        ]);
        assert!(unseen_objects(&all, "privtest", "ro2@%").is_empty());
        // Another database's grant does not count; a pattern that matches does; ALL does.
        let other = lines(&["GRANT TRIGGER ON `other`.* TO `u`@`%`"]);
        assert!(what(unseen_objects(&other, "privtest", "u")).contains(&"TRIGGER"));
        let pattern = lines(&["GRANT TRIGGER, EVENT ON `priv\\_t%`.* TO `u`@`%`"]);
        assert_eq!(
            what(unseen_objects(&pattern, "priv_test", "u")),
            ["EXECUTE", "SHOW VIEW"]
        );
        assert!(what(unseen_objects(&pattern, "privXtest", "u")).contains(&"TRIGGER"));
        let root = lines(&[
            "GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
            "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION",
        ]);
        assert!(unseen_objects(&root, "privtest", "root@localhost").is_empty());
        // MySQL 8: a column grant, a role, dynamic privileges on their own line.
        let mysql8 = lines(&[
            "GRANT USAGE ON *.* TO `app`@`%`",
            "GRANT BACKUP_ADMIN,BINLOG_ADMIN ON *.* TO `app`@`%`",
            "GRANT SELECT (`a`, `b`), TRIGGER ON `shop`.`t` TO `app`@`%`",
            "GRANT SELECT, EXECUTE ON `shop`.* TO `app`@`%`",
            "GRANT `reader`@`%` TO `app`@`%`",
        ]);
        let unseen = unseen_objects(&mysql8, "shop", "app@%");
        assert!(unseen.iter().all(|u| u.has_roles));
        assert_eq!(what(unseen), ["TRIGGER", "EVENT", "SHOW VIEW"]);
        assert!(unseen_objects(&ro, "privtest", "ro@%")
            .iter()
            .all(|u| !u.has_roles));
    }

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
