//! How a name reaches MySQL's SQL.

/// A MySQL identifier in backquotes: the one way a name reaches the source's SQL.
pub fn mysql_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
