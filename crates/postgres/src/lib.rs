//! pgcutover's PostgreSQL target.
//!
//! - [`apply`]: a source transaction's row changes applied to a table (net effect, staged COPY);
//! - [`batch`]: converted rows into COPY batches, through a bounded channel to the COPY;
//! - [`catalog`]: an existing table's columns and their types, as pgcutover can write them;
//! - [`connect`]: target settings resolved like libpq (URI, PG* variables, ~/.pgpass, sslmode);
//! - [`ddl`]: the schema model rendered as DDL, in load phases;
//! - [`copy_encoder`]: binary COPY encoding into reusable buffers;
//! - [`load`]: streaming encoded batches into COPY, running post-load steps;
//! - [`state`]: the run-state tables (runs, tables, chunks, steps) that make a run resumable.

pub mod apply;
pub mod batch;
pub mod catalog;
pub mod connect;
pub mod copy_encoder;
pub mod ddl;
pub mod load;
pub mod state;

pub use connect::{ConnectError, Target};
