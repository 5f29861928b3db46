//! pgcutover's MySQL/MariaDB source.
//!
//! - [`binlog`]: where the binary log is, and whether a server can be followed;
//! - [`binjson`]: MySQL 8's binary JSON (in its binary log) as the text a SELECT gives;
//! - [`connect`]: the `mysql://` URL, passwords, TLS, and what to check when a login fails;
//! - [`catalog`]: `information_schema` as plain rows (testable with other servers' rows);
//! - [`charset`]: a text column's stored bytes → Unicode, by the column's charset;
//! - [`types`]: column type → PostgreSQL type, and `--cast` rules;
//! - [`mod@introspect`]: catalog → [`pgcutover_core::Schema`], with warnings for everything not
//!   carried over;
//! - [`convert`]: each value → its target column's type, exactly or rejected;
//! - [`read`]: streams a table (or a key range of it) into a [`pgcutover_core::RowSink`];
//! - [`logged`]: what a statement in the binary log means for a follower (DDL, TRUNCATE);
//! - [`source`]: all of it behind [`pgcutover_core::source::Source`], with the reader pool.

pub mod binjson;
pub mod binlog;
pub mod catalog;
pub mod charset;
pub mod connect;
pub mod convert;
pub mod follow;
pub mod ident;
pub mod introspect;
pub mod logged;
pub mod read;
pub mod rows;
pub mod source;
pub mod types;

pub use connect::{ConnectError, MysqlSource, SslMode};
pub use convert::{SourceZone, ZeroDates};
pub use introspect::{introspect, mysql_ident, IntrospectOptions, MysqlSchema, TableRead};
pub use pgcutover_core::range::{split_range, KeyRange};
pub use read::{read_table, ReadError, ReadStats};
