//! pgcutover's SQLite source.
//!
//! - [`mod@introspect`]: the catalog → [`pgcutover_core::Schema`], with every type decision
//!   explained and everything not carried over listed as a warning;
//! - [`types`]: declared type → PostgreSQL type (SQLite's affinity rules plus common names);
//! - [`convert`]: each value → its target column's type, exactly or rejected;
//! - [`defaults`] and [`expr`]: defaults, CHECKs and index expressions → PostgreSQL SQL;
//! - [`read`]: streams a table's rows into a [`pgcutover_core::RowSink`];
//! - [`source`]: all of it behind [`pgcutover_core::source::Source`], with the reader threads.
//!
//! The source file is only ever opened read-only.

pub mod convert;
pub mod defaults;
pub mod expr;
pub mod introspect;
pub mod read;
pub mod source;
pub mod types;

pub use convert::{EpochUnit, NulPolicy, Utf8Policy, ValuePolicy};
pub use introspect::{introspect, EpochSetting, IntrospectOptions, SqliteSchema, TableRead};
pub use read::{open_read_only, read_table, ReadError, ReadStats};
pub use source::SqliteSource;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open SQLite database {path}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("SQLite")]
    Sqlite(#[from] rusqlite::Error),
}
