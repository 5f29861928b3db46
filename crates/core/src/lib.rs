//! pgcutover's engine-neutral vocabulary.
//!
//! This crate owns the words every other crate speaks: the schema model that a source's
//! introspection produces and the target renders ([`schema`]), the PostgreSQL types a column can
//! be given ([`schema::PgType`]), the converted values that flow from a source to the target
//! ([`value::Value`]), rejected rows ([`reject::Reject`]), the one function through which an
//! identifier reaches SQL ([`ident::quote_ident`]) and the ones through which names, values and
//! connection strings reach a human ([`ident::show_ident`], [`ident::show`], [`redact::redact`]).
//!
//! It does no I/O and knows no driver. Data flows source → [`RowSink`] → target: a source reader
//! converts each value to its target column's type and hands whole rows (or rejects) to a sink;
//! the binary's sink encodes them for PostgreSQL's binary COPY.

pub mod adapt;
pub mod ident;
pub mod numeric;
pub mod policy;
pub mod range;
pub mod redact;
pub mod reject;
pub mod schema;
pub mod source;
pub mod temporal;
pub mod value;
pub mod zone;

pub use ident::{
    column_names, quote_ident, quote_literal, quote_qualified, show, show_ident, show_lines,
    show_qualified, show_sql, NameAllocator, Renamed,
};
pub use redact::redact;
pub use reject::Reject;
pub use schema::{
    harmonize_fk_types, Check, Column, EnumType, FkAction, ForeignKey, Index, IndexPart, Key,
    PgType, Schema, Table, Warning,
};
pub use value::Value;

/// Where a source reader delivers rows, already converted to the types pgcutover maps the
/// source's columns to.
///
/// `row` receives one value per copied column of the table, in column order; the sink may
/// convert them further (into the types of a schema the target already has, see [`adapt`]),
/// and says when one of them cannot arrive: the reader then rejects the row with its key, as
/// it rejects a value it could not convert itself. `reject` receives a row that could not be
/// converted exactly; the sink decides where it goes (rejects file, counters). Returning an
/// error stops the reader (e.g. the writer went away, or the run was cancelled).
pub trait RowSink {
    type Error;
    fn row(&mut self, values: &mut [Value<'_>]) -> Result<RowOutcome, Self::Error>;
    fn reject(&mut self, reject: Reject) -> Result<(), Self::Error>;
}

/// What a sink did with a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowOutcome {
    Written,
    /// The value at this position (among the values handed over) cannot arrive.
    Refused {
        value: usize,
        problem: policy::Problem,
    },
}
