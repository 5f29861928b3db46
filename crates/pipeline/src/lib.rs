//! pgcutover's pipeline: everything a run does between the command line and the engines,
//! with no command-line parsing and no printing (what happens is told to an
//! [`observe::Observer`]).
//!
//! The copy, phase by phase:
//! - [`settings`]: what a copy is asked to do, resolved from the command line;
//! - [`source`]: opening SOURCE through the engines' registry, introspecting it with the
//!   run's selection and value options ([`source::Loaded`]);
//! - [`data_only`]: matching the source onto tables someone else created;
//! - [`resume`]: the run's fingerprint, and deciding between a new run and a resumed one;
//! - [`create`]: the types, tables and run state of a new run, in one transaction;
//! - [`readers`]: the source's readers for the run, each job into a COPY batch sink;
//! - [`chunks`]: the data phase, chunks in parallel, each in its own transaction, with retries;
//! - [`post_load`]: keys, indexes, constraints, foreign keys, sequences and ANALYZE;
//! - [`follow`]: the source's change log applied after the copy (`copy --follow`);
//! - [`verify`]: comparing source and target, by counts or by key-range checksums down to the
//!   differing rows;
//! - [`report`]: what each table and post-load step did.
//!
//! Around them:
//! - [`integrity`]: foreign-key orphans in the source (for `plan`);
//! - [`undo`]: what `reset` and `copy --restart` drop, and doing it;
//! - [`target`]: connecting to PostgreSQL and the one transaction helper;
//! - [`retry`]: which faults are worth another try, and the one retrying loop;
//! - [`rejects`]: the rejects file; [`paths`]: checking an output path up front;
//! - [`cancel`]: Ctrl-C and SIGTERM; [`exit`]: the documented exit codes and the error that
//!   carries one; [`process`]: time and peak memory; [`testpoint`]: where tests stop a run;
//! - [`observe`]: the [`observe::Observer`] the pipeline tells what it does.
//!
//! The run-state tables are the target's: [`state`] is `pgcutover_postgres::state`.

pub mod cancel;
pub mod chunks;
pub mod create;
pub mod data_only;
pub mod exit;
pub mod follow;
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
pub mod verify;

pub use pgcutover_postgres::state;
