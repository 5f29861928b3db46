//! What a statement the binary log holds as text (a Query event: DDL, mostly) means for a
//! follower: nothing, a TRUNCATE it applies, or a change to a followed table's definition it
//! cannot apply. Decided on the statement parsed by `sqlparser` (MySQL dialect), with names
//! resolved against the event's default database.

use sqlparser::ast::{AlterTableOperation, ObjectName, ObjectNamePart, ObjectType, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// What a logged statement means for following.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// It touches no followed table.
    Skip,
    /// `TRUNCATE` of exactly this followed table (its source name).
    Truncate(String),
    /// It may change a followed table's definition (or its rows, in a way the log does not
    /// show row by row): following cannot go on.
    Stops,
}

/// The followed tables, for resolving a statement's names.
pub struct FollowedNames<'a> {
    /// The followed database.
    pub database: &'a str,
    /// The followed tables' source names.
    pub tables: &'a [&'a str],
}

/// Classifies `sql`, logged with `default_db` as its session's default database.
///
/// Names compare case-insensitively where that may stop following (a server with
/// `lower_case_table_names` set treats `T` and `t` as one table), but a TRUNCATE is applied
/// only to a table its name resolves to exactly; one that matches a followed table only up to
/// case stops instead. A statement the parser does not take is skipped when its first words
/// say it changes no table (`harmless_kind`); otherwise it stops when it mentions a followed
/// table's name anywhere (case-insensitively), and is skipped when it does not.
pub fn classify(sql: &str, default_db: &str, followed: &FollowedNames<'_>) -> Logged {
    let Ok(statements) = Parser::parse_sql(&MySqlDialect {}, sql) else {
        return if harmless_kind(sql) {
            Logged::Skip
        } else {
            mentions(sql, followed)
        };
    };
    let mut truncated = Vec::new();
    for statement in &statements {
        match one(statement, default_db, followed) {
            Logged::Skip => {}
            Logged::Stops => return Logged::Stops,
            Logged::Truncate(t) => truncated.push(t),
        }
    }
    match truncated.len() {
        0 => Logged::Skip,
        1 if statements.len() == 1 => Logged::Truncate(truncated.remove(0)),
        // Several statements in one event (a server does not log that): stop rather than guess.
        _ => Logged::Stops,
    }
}

/// For a statement the parser does not take (it leaves out much of MySQL's user, routine and
/// maintenance syntax): whether its first words say it is of a kind that changes no table's
/// definition or rows: users, roles and privileges, routines, triggers and events (what a
/// trigger changes is logged as rows), `ALTER`/`CREATE DATABASE`, `OPTIMIZE`.
fn harmless_kind(sql: &str) -> bool {
    // An executable comment (`/*!50100 …*/`, MariaDB's `/*M!…*/`) is SQL to the server but a
    // comment to the tokenizer.
    if sql.contains("/*!") || sql.contains("/*M!") {
        return false;
    }
    let Ok(tokens) = Tokenizer::new(&MySqlDialect {}, sql).tokenize() else {
        return false;
    };
    // Keywords only: a quoted name (`DEFINER=`root`@`localhost``) is no kind.
    let mut words = tokens.iter().filter_map(|t| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    });
    let Some(verb) = words.next() else {
        return false;
    };
    match verb.as_str() {
        "GRANT" | "REVOKE" | "OPTIMIZE" | "ANALYZE" | "FLUSH" | "SAVEPOINT" | "RELEASE" => true,
        "SET" => words.next().as_deref() == Some("PASSWORD"),
        "CREATE" | "ALTER" | "DROP" | "RENAME" => {
            const KINDS: [&str; 13] = [
                "TABLE",
                "VIEW",
                "INDEX",
                "SEQUENCE",
                "USER",
                "ROLE",
                "PROCEDURE",
                "FUNCTION",
                "TRIGGER",
                "EVENT",
                "DATABASE",
                "SCHEMA",
                "SERVER",
            ];
            match words.find(|w| KINDS.contains(&w.as_str())).as_deref() {
                Some(
                    "USER" | "ROLE" | "PROCEDURE" | "FUNCTION" | "TRIGGER" | "EVENT" | "SERVER",
                ) => true,
                Some("DATABASE" | "SCHEMA") => verb != "DROP",
                _ => false,
            }
        }
        _ => false,
    }
}

/// The old rule, for what the parser does not take: whether the text names a followed table.
fn mentions(sql: &str, followed: &FollowedNames<'_>) -> Logged {
    let lower = sql.to_lowercase();
    if followed
        .tables
        .iter()
        .any(|t| lower.contains(&t.to_lowercase()))
    {
        Logged::Stops
    } else {
        Logged::Skip
    }
}

/// How a name in a statement relates to the followed tables.
#[derive(Debug, PartialEq, Eq)]
enum Resolved<'a> {
    /// Not a followed table.
    Other,
    /// Exactly this followed table.
    Exactly(&'a str),
    /// A followed table up to case (of the table's or the database's name), or a name this
    /// cannot read: one that may be followed.
    Maybe,
}

fn resolve<'a>(name: &ObjectName, default_db: &str, followed: &FollowedNames<'a>) -> Resolved<'a> {
    let parts: Option<Vec<&str>> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i.value.as_str()),
            ObjectNamePart::Function(_) => None,
        })
        .collect();
    let (db, table) = match parts.as_deref() {
        Some([table]) => (default_db, *table),
        Some([db, table]) => (*db, *table),
        // MySQL names have at most two parts.
        _ => return Resolved::Maybe,
    };
    if db.to_lowercase() != followed.database.to_lowercase() {
        return Resolved::Other;
    }
    if db == followed.database {
        if let Some(t) = followed.tables.iter().find(|t| **t == table) {
            return Resolved::Exactly(t);
        }
    }
    if followed
        .tables
        .iter()
        .any(|t| t.to_lowercase() == table.to_lowercase())
    {
        Resolved::Maybe
    } else {
        Resolved::Other
    }
}

/// Stops when any of `names` may be a followed table.
fn stops_if_followed<'n>(
    names: impl IntoIterator<Item = &'n ObjectName>,
    default_db: &str,
    followed: &FollowedNames<'_>,
) -> Logged {
    if names
        .into_iter()
        .any(|n| resolve(n, default_db, followed) != Resolved::Other)
    {
        Logged::Stops
    } else {
        Logged::Skip
    }
}

fn one(statement: &Statement, default_db: &str, followed: &FollowedNames<'_>) -> Logged {
    let stops = |names: Vec<&ObjectName>| stops_if_followed(names, default_db, followed);
    match statement {
        Statement::Truncate(t) => {
            let mut exactly = Vec::new();
            for target in &t.table_names {
                match resolve(&target.name, default_db, followed) {
                    Resolved::Other => {}
                    Resolved::Maybe => return Logged::Stops,
                    Resolved::Exactly(name) => exactly.push(name),
                }
            }
            match exactly.as_slice() {
                [] => Logged::Skip,
                [name] if t.table_names.len() == 1 && t.partitions.is_none() => {
                    Logged::Truncate((*name).to_owned())
                }
                // MySQL truncates one table at a time; a partition's rows are not the table's.
                _ => Logged::Stops,
            }
        }
        Statement::AlterTable(a) => {
            // ALTER TABLE other RENAME TO followed replaces a followed table, too.
            let renamed = a.operations.iter().filter_map(|op| match op {
                AlterTableOperation::RenameTable { table_name } => Some(table_name),
                _ => None,
            });
            let names: Vec<&ObjectName> = std::iter::once(&a.name)
                .chain(renamed.map(|r| match r {
                    sqlparser::ast::RenameTableNameKind::As(n)
                    | sqlparser::ast::RenameTableNameKind::To(n) => n,
                }))
                .collect();
            stops(names)
        }
        Statement::RenameTable(renames) => stops(
            renames
                .iter()
                .flat_map(|r| [&r.old_name, &r.new_name])
                .collect(),
        ),
        // A temporary table hides a followed one for its session only, and its rows are not
        // logged in ROW format.
        Statement::CreateTable(c) if c.temporary => Logged::Skip,
        Statement::CreateTable(c) => stops(vec![&c.name]),
        Statement::CreateIndex(i) => stops(vec![&i.table_name]),
        Statement::CreateView(v) => stops(vec![&v.name]),
        Statement::AlterView(v) => stops(vec![&v.name]),
        Statement::CreateSequence { name, .. } => stops(vec![name]),
        Statement::Drop {
            temporary: true, ..
        } => Logged::Skip,
        Statement::Drop {
            object_type,
            names,
            table,
            ..
        } => match object_type {
            ObjectType::Table | ObjectType::View | ObjectType::Sequence => {
                stops(names.iter().collect())
            }
            // DROP INDEX i ON t.
            ObjectType::Index => match table {
                Some(t) => stops(vec![t]),
                None => mentions(&statement.to_string(), followed),
            },
            // DROP DATABASE drops every followed table with it.
            ObjectType::Database | ObjectType::Schema => {
                if names.iter().any(|n| {
                    n.0.last().is_some_and(|p| {
                        p.as_ident()
                            .is_none_or(|i| i.value.eq_ignore_ascii_case(followed.database))
                    })
                }) {
                    Logged::Stops
                } else {
                    Logged::Skip
                }
            }
            _ => Logged::Skip,
        },
        // What changes no table's definition or rows: transactions, sessions, users and
        // privileges, routines and triggers (a trigger's row changes are logged as rows), and
        // maintenance.
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Set(_)
        | Statement::Use(_)
        | Statement::Flush { .. }
        | Statement::Kill { .. }
        | Statement::LockTables { .. }
        | Statement::UnlockTables
        | Statement::Grant(_)
        | Statement::Revoke(_)
        | Statement::GrantRole(_)
        | Statement::RevokeRole(_)
        | Statement::CreateUser(_)
        | Statement::CreateRole(_)
        | Statement::CreateFunction(_)
        | Statement::DropFunction(_)
        | Statement::CreateProcedure { .. }
        | Statement::DropProcedure { .. }
        | Statement::CreateTrigger(_)
        | Statement::DropTrigger(_)
        | Statement::CreateDatabase { .. }
        | Statement::CreateSchema { .. }
        | Statement::Analyze(_)
        | Statement::OptimizeTable { .. } => Logged::Skip,
        // Anything else, row changes included (logged as a statement only where a session set
        // binlog_format to STATEMENT): stop if it names a followed table anywhere.
        _ => mentions(&statement.to_string(), followed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Followed: shop.items, shop.Orders, shop.order_lines.
    fn c(default_db: &str, sql: &str) -> Logged {
        classify(
            sql,
            default_db,
            &FollowedNames {
                database: "shop",
                tables: &["items", "Orders", "order_lines"],
            },
        )
    }

    fn truncate(t: &str) -> Logged {
        Logged::Truncate(t.to_owned())
    }

    use Logged::{Skip, Stops};

    #[test]
    fn truncate_of_a_followed_table_is_applied() {
        assert_eq!(c("shop", "TRUNCATE items"), truncate("items"));
        assert_eq!(c("shop", "TRUNCATE TABLE items"), truncate("items"));
        assert_eq!(c("shop", "truncate table `items`"), truncate("items"));
        assert_eq!(c("other", "TRUNCATE TABLE shop.items"), truncate("items"));
        assert_eq!(c("", "TRUNCATE TABLE `shop`.`Orders`"), truncate("Orders"));
        assert_eq!(
            c("shop", "/* by hand */ TRUNCATE order_lines"),
            truncate("order_lines")
        );
    }

    #[test]
    fn truncate_that_is_not_exactly_one_followed_table() {
        assert_eq!(c("shop", "TRUNCATE TABLE audit"), Skip);
        assert_eq!(c("other", "TRUNCATE TABLE items"), Skip);
        assert_eq!(c("shop", "TRUNCATE TABLE other.items"), Skip);
        // Up to case only: with lower_case_table_names=0 it is another (unfollowed) table.
        assert_eq!(c("shop", "TRUNCATE TABLE orders"), Stops);
        assert_eq!(c("shop", "TRUNCATE TABLE ITEMS"), Stops);
        assert_eq!(c("SHOP", "TRUNCATE TABLE items"), Stops);
    }

    #[test]
    fn definition_changes_of_a_followed_table_stop() {
        assert_eq!(c("shop", "ALTER TABLE items ADD COLUMN note TEXT"), Stops);
        assert_eq!(
            c("mysql", "ALTER TABLE shop.items ADD COLUMN note TEXT"),
            Stops
        );
        assert_eq!(c("shop", "ALTER TABLE `Orders` DROP COLUMN x"), Stops);
        assert_eq!(c("shop", "ALTER TABLE orders DROP COLUMN x"), Stops);
        assert_eq!(c("shop", "ALTER TABLE archive RENAME TO items"), Stops);
        assert_eq!(c("shop", "DROP TABLE items"), Stops);
        assert_eq!(c("shop", "DROP TABLE IF EXISTS audit, items"), Stops);
        assert_eq!(
            c("shop", "DROP TABLE `items` /* generated by server */"),
            Stops
        );
        assert_eq!(
            c(
                "shop",
                "DROP TABLE IF EXISTS `audit`,`order_lines` /* generated by server */"
            ),
            Stops
        );
        assert_eq!(
            c("shop", "RENAME TABLE items TO items_old, archive TO audit"),
            Stops
        );
        assert_eq!(c("shop", "RENAME TABLE a TO b, archive TO items"), Stops);
        assert_eq!(c("shop", "CREATE TABLE items (id INT PRIMARY KEY)"), Stops);
        assert_eq!(c("shop", "CREATE TABLE items LIKE archive"), Stops);
        assert_eq!(
            c("shop", "CREATE TABLE items AS SELECT * FROM archive"),
            Stops
        );
        assert_eq!(c("shop", "CREATE INDEX by_name ON items (name)"), Stops);
        assert_eq!(
            c("shop", "CREATE UNIQUE INDEX by_name ON shop.Orders (name)"),
            Stops
        );
        assert_eq!(c("shop", "DROP INDEX by_name ON items"), Stops);
        assert_eq!(c("other", "DROP DATABASE shop"), Stops);
        assert_eq!(c("shop", "DROP SCHEMA IF EXISTS `shop`"), Stops);
    }

    #[test]
    fn statements_on_other_tables_or_databases_are_skipped() {
        assert_eq!(c("shop", "ALTER TABLE audit ADD COLUMN note TEXT"), Skip);
        assert_eq!(
            c("shop", "ALTER TABLE items_archive ADD COLUMN note TEXT"),
            Skip
        );
        assert_eq!(
            c("shop", "ALTER TABLE other.items ADD COLUMN note TEXT"),
            Skip
        );
        assert_eq!(c("other", "ALTER TABLE items ADD COLUMN note TEXT"), Skip);
        assert_eq!(c("other", "DROP TABLE IF EXISTS items, Orders"), Skip);
        assert_eq!(
            c(
                "shop",
                "DROP TABLE IF EXISTS `audit` /* generated by server */"
            ),
            Skip
        );
        assert_eq!(c("shop", "CREATE TABLE audit (id INT PRIMARY KEY)"), Skip);
        assert_eq!(c("shop", "CREATE TABLE audit LIKE items"), Skip);
        assert_eq!(c("shop", "CREATE TABLE audit AS SELECT * FROM items"), Skip);
        assert_eq!(
            c(
                "shop",
                "CREATE TABLE audit (id INT, FOREIGN KEY (id) REFERENCES items (id))"
            ),
            Skip
        );
        assert_eq!(c("shop", "RENAME TABLE a TO b, c TO d"), Skip);
        assert_eq!(c("shop", "RENAME TABLE shop.a TO other.items"), Skip);
        assert_eq!(c("shop", "CREATE INDEX i ON audit (items)"), Skip);
        assert_eq!(c("shop", "CREATE TEMPORARY TABLE items (id INT)"), Skip);
        assert_eq!(c("shop", "DROP TEMPORARY TABLE IF EXISTS items"), Skip);
        assert_eq!(c("shop", "CREATE DATABASE items"), Skip);
        assert_eq!(c("shop", "DROP DATABASE other"), Skip);
    }

    #[test]
    fn statements_that_change_no_table_are_skipped() {
        assert_eq!(
            c("shop", "CREATE USER 'items'@'%' IDENTIFIED BY 'pw'"),
            Skip
        );
        assert_eq!(c("shop", "ALTER USER items IDENTIFIED BY 'pw'"), Skip);
        assert_eq!(c("shop", "SET PASSWORD FOR items = PASSWORD('x')"), Skip);
        assert_eq!(c("shop", "DROP USER items"), Skip);
        assert_eq!(c("shop", "GRANT SELECT ON shop.items TO 'app'@'%'"), Skip);
        assert_eq!(c("shop", "CREATE VIEW v AS SELECT * FROM items"), Skip);
        assert_eq!(c("shop", "CREATE VIEW items AS SELECT 1"), Stops);
        assert_eq!(
            c("shop", "CREATE PROCEDURE p() BEGIN DELETE FROM items; END"),
            Skip
        );
        assert_eq!(
            c("shop", "CREATE DEFINER=`root`@`localhost` PROCEDURE `items`() BEGIN DELETE FROM items; END"),
            Skip
        );
        assert_eq!(
            c(
                "shop",
                "CREATE TRIGGER tr BEFORE INSERT ON items FOR EACH ROW SET NEW.a = 1"
            ),
            Skip
        );
        assert_eq!(c("shop", "ALTER DATABASE shop CHARACTER SET utf8mb4"), Skip);
        assert_eq!(c("shop", "SAVEPOINT items"), Skip);
        assert_eq!(c("shop", "FLUSH PRIVILEGES"), Skip);
        assert_eq!(c("shop", "ANALYZE TABLE items"), Skip);
        assert_eq!(c("shop", "OPTIMIZE TABLE items"), Skip);
    }

    #[test]
    fn row_changes_logged_as_statements_stop() {
        assert_eq!(c("shop", "INSERT INTO items VALUES (1)"), Stops);
        assert_eq!(c("shop", "DELETE FROM Orders WHERE id = 1"), Stops);
        assert_eq!(c("shop", "UPDATE audit SET n = 1"), Skip);
    }

    #[test]
    fn what_does_not_parse_stops_only_when_it_mentions_a_followed_table() {
        assert_eq!(c("shop", "ALTER ONLINE TABLE items ADD x INT ?!"), Stops);
        assert_eq!(c("shop", "FROBNICATE ORDERS"), Stops);
        assert_eq!(c("shop", "FROBNICATE audit"), Skip);
        assert_eq!(c("shop", "ALTER TABLE items ENGINE=InnoDB"), Stops);
        assert_eq!(
            c(
                "shop",
                "ALTER TABLE Orders CONVERT TO CHARACTER SET utf8mb4"
            ),
            Stops
        );
        assert_eq!(
            c("shop", "ALTER TABLE audit ADD COLUMN IF NOT EXISTS x INT"),
            Skip
        );
        // Conservative: an executable comment hides nothing, and names are matched as text.
        assert_eq!(
            c("shop", "ALTER TABLE audit ENGINE=InnoDB, RENAME TO items"),
            Stops
        );
        assert_eq!(c("shop", "CREATE /*!50001 VIEW items AS */ USER x"), Stops);
    }
}
