//! pgcutover's pipeline: everything a run does between the command line and the engines,
//! with no command-line parsing and no printing (what happens is told to an
//! [`observe::Observer`]).
//!
//! - [`source`]: opening SOURCE through the engines' registry, introspecting it with the
//!   run's selection and value options ([`source::Loaded`]);
//! - [`readers`]: the copy's side of the source readers, encoding rows into COPY batches;
//! - [`chunks`]: the data phase, chunks in parallel, each in its own transaction, with retries;
//! - [`data_only`]: matching the source onto tables someone else created;
//! - [`integrity`]: foreign-key orphans in the source;
//! - [`undo`]: what `reset` and `copy --restart` drop, and doing it;
//! - [`target`]: connecting to PostgreSQL and the one transaction helper;
//! - [`retry`]: which faults are worth another try, and the one retrying loop;
//! - [`rejects`]: the rejects file; [`paths`]: checking an output path up front;
//! - [`cancel`]: Ctrl-C and SIGTERM; [`exit`]: the documented exit codes and the error that
//!   carries one; [`process`]: time and peak memory; [`testpoint`]: where tests stop a run.
//!
//! The run-state tables are the target's: [`state`] is `pgcutover_postgres::state`.

pub mod cancel;
pub mod chunks;
pub mod create;
pub mod data_only;
pub mod exit;
pub mod integrity;
pub mod observe;
pub mod paths;
pub mod post_load;
pub mod process;
pub mod readers;
pub mod rejects;
pub mod report;
pub mod resume;
pub mod retry;
pub mod settings;
pub mod source;
pub mod target;
pub mod testpoint;
pub mod undo;

pub use pgcutover_postgres::state;
