//! pgcutover's PostgreSQL target.
//!
//! - [`connect`]: target settings resolved like libpq (URI, PG* variables, ~/.pgpass, sslmode);
//! - [`ddl`]: the schema model rendered as DDL, in load phases;
//! - [`copy_encoder`]: binary COPY encoding into reusable buffers;
//! - [`load`]: streaming encoded batches into COPY, running post-load steps.

pub mod connect;
pub mod copy_encoder;
pub mod ddl;
pub mod load;

pub use connect::{ConnectError, Target};
