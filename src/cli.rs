//! Command-line arguments (clap derive). Resolved into settings in `settings.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pgcutover_core::adapt::Fractions;
use pgcutover_core::policy::{NulPolicy, Utf8Policy};
use pgcutover_core::source::{EpochSetting, ZeroDates};
use pgcutover_pipeline::post_load::Orphans;
use pgcutover_pipeline::source::{Selection, ValueOptions};

#[derive(Debug, Parser)]
#[command(
    name = "pgcutover",
    version,
    about = "Move a whole MySQL/MariaDB or SQLite database into PostgreSQL: schema, data, indexes, constraints and sequences, exactly."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy schema and data from SOURCE into TARGET.
    Copy(CopyArgs),
    /// Print what `copy` would do (DDL, type mapping, row counts, warnings); writes nothing.
    Plan(PlanArgs),
    /// Prove that TARGET holds exactly what SOURCE holds: row counts, then checksums of every
    /// row through the copy's own type mapping, down to the keys of the rows that differ.
    Verify(VerifyArgs),
    /// Once writes to SOURCE have stopped: apply its last changes to TARGET (or wait for the
    /// running `copy --follow` to), move identities past the source's, verify, and mark the
    /// run as cut over. Exit 0 only when TARGET is proved identical.
    Cutover(CutoverArgs),
    /// Show the progress of the copy runs recorded in a target database.
    Status(StatusArgs),
    /// Remove everything a run created (its tables, types and schema, or the rows a data-only
    /// load put in) and its run state: the rollback.
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The target database: `postgresql://user@host[:port]/database` (password in PGPASSWORD or
    /// ~/.pgpass).
    pub target: String,
    /// Only the run that loads this schema.
    #[arg(long, value_name = "NAME")]
    pub target_schema: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The target database: `postgresql://user@host[:port]/database`.
    pub target: String,
    /// The run that loads this schema (needed when the database holds more than one run).
    #[arg(long, value_name = "NAME")]
    pub target_schema: Option<String>,
    /// Forget the run but keep its tables and rows (once a cutover is done and accepted).
    #[arg(long)]
    pub keep_data: bool,
    /// Go ahead without asking. Without it, reset lists what it will drop and asks you to type
    /// the schema's name (on a terminal), or refuses (no terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// List what reset would drop or empty, and the rows that would be lost; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Reset even though the run's tables were written after the run completed (after a
    /// cutover, the application's rows live there, and reset destroys them).
    #[arg(long)]
    pub force: bool,
    /// The list and the result on stdout as text, or as JSON `{"type": "reset", "data": …}`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct Endpoints {
    /// The source: `mysql://user@host[:port]/database[?ssl-mode=…&ssl-ca=…&socket=…]` (also
    /// `mariadb://`), or `sqlite:PATH` / a path ending in .db, .sqlite or .sqlite3 (read-only).
    /// The MySQL password comes from MYSQL_PWD or --source-password-file, never the command line.
    pub source: String,
    /// The target: `postgresql://[user@]host[:port]/database[?sslmode=…]`. PGHOST, PGPORT, PGUSER,
    /// PGPASSWORD, PGDATABASE, PGSSLMODE and ~/.pgpass fill in what the URI leaves out.
    pub target: String,
    /// A file holding the MySQL source's password (first line).
    #[arg(long, value_name = "FILE")]
    pub source_password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// PostgreSQL schema to create the tables in.
    #[arg(long, default_value = "public", value_name = "NAME")]
    pub target_schema: String,
    /// Only tables whose source name matches this glob (repeatable, or comma-separated).
    #[arg(long, value_name = "GLOB", value_delimiter = ',')]
    pub include: Vec<String>,
    /// Leave out tables whose source name matches this glob (repeatable, or comma-separated).
    #[arg(long, value_name = "GLOB", value_delimiter = ',')]
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ValueArgs {
    /// How integers in SQLite date/time columns are read: Unix seconds, milliseconds (Prisma),
    /// or `auto` (milliseconds when a value is ≥ 10^11).
    #[arg(long, value_enum, default_value_t = EpochArg::Auto)]
    pub sqlite_epoch: EpochArg,
    /// Text containing NUL bytes, which PostgreSQL text cannot hold: reject the row, or strip them.
    #[arg(long, value_enum, default_value_t = NulArg::Reject)]
    pub nul_bytes: NulArg,
    /// Text that is not valid UTF-8: reject the row, or replace bad bytes with U+FFFD.
    #[arg(long, value_enum, default_value_t = Utf8Arg::Reject)]
    pub invalid_utf8: Utf8Arg,
    /// MySQL: override the type mapping, per MySQL type (`tinyint(1)=smallint`,
    /// `bigint unsigned=bigint`) or per column (`orders.status=text`). Repeatable.
    #[arg(long = "cast", value_name = "RULE")]
    pub casts: Vec<String>,
    /// MySQL: DATETIME becomes timestamp (wall-clock, the default) or timestamptz (read in
    /// --source-timezone).
    #[arg(long, value_enum, default_value_t = DatetimeAs::Timestamp)]
    pub datetime_as: DatetimeAs,
    /// The zone the source's wall-clock times are in: MySQL DATETIME for --datetime-as
    /// timestamptz; SQLite dates (an instant shown in a timestamp column, offset-less text read
    /// into a timestamptz one); and any wall-clock time (or instant) going into a target column
    /// with (or without) a time zone in a --data-only load. An IANA name (Europe/Paris) or an
    /// offset (+02:00).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub source_timezone: String,
    /// --data-only: a fraction of a second finer than the target column keeps (timestamp(0),
    /// time(3)): reject the row, or round it as PostgreSQL rounds.
    #[arg(long, value_enum, default_value_t = FractionsArg::Reject)]
    pub fractional_seconds: FractionsArg,
    /// MySQL: zero and partial dates (0000-00-00, 2020-00-15): NULL (counted in the report; the
    /// column becomes nullable) or reject the row.
    #[arg(long, value_enum, default_value_t = ZeroDatesArg::Null)]
    pub zero_dates: ZeroDatesArg,
    /// MySQL: ENUM becomes a PostgreSQL enum type (label order kept) or text with a CHECK.
    #[arg(long, value_enum, default_value_t = EnumAs::Enum)]
    pub enum_as: EnumAs,
}

/// What happens to a foreign key whose child rows reference parents that do not exist (common
/// where the source never enforced it: MyISAM, SQLite without `PRAGMA foreign_keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrphanPolicy {
    /// Do not create it; the copy ends with exit 6, naming the orphans.
    Fail,
    /// Do not create it; warn (in the output and the report) and go on.
    Skip,
    /// Create it NOT VALID: enforced for new rows, the orphans stay; warn.
    NotValid,
}

impl OrphanPolicy {
    /// The policy as the pipeline takes it.
    pub fn orphans(self) -> Orphans {
        match self {
            OrphanPolicy::Fail => Orphans::Fail,
            OrphanPolicy::Skip => Orphans::Skip,
            OrphanPolicy::NotValid => Orphans::NotValid,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatetimeAs {
    Timestamp,
    Timestamptz,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FractionsArg {
    Reject,
    Round,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZeroDatesArg {
    Null,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnumAs {
    Enum,
    Text,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub endpoints: Endpoints,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub values: ValueArgs,
    /// What `copy` will do with a foreign key that has orphans (plan counts them in the source).
    #[arg(long, value_enum, default_value_t = OrphanPolicy::Fail)]
    pub orphans: OrphanPolicy,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Plan a data-only load into the target's existing tables: how names match, how each
    /// column's values go into the target's type (and which may be rejected), mismatches, and
    /// the foreign-key load order.
    #[arg(long)]
    pub data_only: bool,
    /// Also check that the source can be followed after the copy (`copy --follow`): its
    /// binary log's settings, the user's privileges, a key on every table. Exit 2 when not.
    #[arg(long)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub endpoints: Endpoints,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub values: ValueArgs,
    /// Create the tables, keys, indexes and constraints, but copy no rows.
    #[arg(long, conflicts_with = "data_only")]
    pub schema_only: bool,
    /// Copy rows into tables that already exist in the target (made by your migrations):
    /// matched by name, each value converted into the target column's own type or rejected.
    #[arg(long)]
    pub data_only: bool,
    /// Drop target tables that have the same names first. Without it, existing tables make the
    /// copy stop before it writes anything.
    #[arg(long, conflicts_with = "data_only")]
    pub drop_existing: bool,
    /// Rows per batch handed from a reader to its COPY stream.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_rows: u32,
    /// Chunks copied (and indexes built) in parallel. Default: the number of CPU cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Where rejected rows are written, one JSON object per line.
    #[arg(long, value_name = "FILE", default_value = "pgcutover-rejects.jsonl")]
    pub rejects: PathBuf,
    /// Also write the run's summary as JSON to FILE (attach it to the change ticket).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// A foreign key whose child rows reference missing parents (orphans, counted before the
    /// key is created): fail (exit 6), skip it with a warning, or create it NOT VALID.
    #[arg(long, value_enum, default_value_t = OrphanPolicy::Fail)]
    pub orphans: OrphanPolicy,
    /// Verify the copy when it is done (see `pgcutover verify`); the result is in the report
    /// and a mismatch sets the exit code.
    #[arg(long, value_enum, value_name = "MODE")]
    pub verify: Option<VerifyMode>,
    /// With --verify: differing rows listed per table (all are counted).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_diffs: u32,
    /// MySQL: every reader sees one snapshot of the source (FLUSH TABLES WITH READ LOCK for a
    /// moment, then a consistent-snapshot transaction per connection). Needs the RELOAD privilege.
    #[arg(long)]
    pub consistent: bool,
    /// MySQL/MariaDB: after the copy, follow the source's binary log and apply its changes,
    /// until Ctrl-C or SIGTERM; the same command goes on from where it stopped. Implies
    /// --consistent; needs the binary log in ROW format with FULL row images, and the
    /// REPLICATION SLAVE and REPLICATION CLIENT privileges.
    #[arg(long, conflicts_with_all = ["schema_only", "data_only"])]
    pub follow: bool,
    /// Data-only: empty the target tables before loading (once, when the run starts).
    #[arg(long, requires = "data_only")]
    pub truncate: bool,
    /// Throw away the unfinished (or finished) run recorded in the target and start over.
    /// It lists what it removes; tables written after the run completed need --force.
    #[arg(long)]
    pub restart: bool,
    /// With --restart, --drop-existing or --data-only --truncate: go on even though the earlier
    /// run's tables were written after it completed (after a cutover, the application's rows
    /// live there).
    #[arg(long)]
    pub force: bool,
    /// Rows per chunk: a table with a single integer key is copied and checkpointed in key
    /// ranges of about this many rows.
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_rows: u64,
    /// How many times a chunk or step that fails on a transient fault (a lost connection, a
    /// restarting server) is tried again, with exponential backoff, before the run stops
    /// resumably.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub retries: u32,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub endpoints: Endpoints,
    #[command(flatten)]
    pub select: SelectArgs,
    /// The options the copy was run with: verify converts source values the same way.
    #[command(flatten)]
    pub values: ValueArgs,
    /// `checksums`: counts and every row's canonical content, naming the rows that differ;
    /// `counts`: `count(*)` on both servers only (fast, proves no row was lost or doubled).
    #[arg(long, value_enum, default_value_t = VerifyMode::Checksums)]
    pub mode: VerifyMode,
    /// The target was loaded with `copy --data-only` (leave the source's migration history
    /// out). Known from the target's run state, unless `reset` forgot the run.
    #[arg(long)]
    pub data_only: bool,
    /// Differing rows listed per table (all are counted).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_diffs: u32,
    /// The copy's rejects file: with --mode counts, the rows it lists are expected to be missing.
    #[arg(long, value_name = "FILE", default_value = "pgcutover-rejects.jsonl")]
    pub rejects: PathBuf,
    /// Tables verified in parallel. Default: the number of CPU cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Also write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CutoverArgs {
    #[command(flatten)]
    pub endpoints: Endpoints,
    #[command(flatten)]
    pub select: SelectArgs,
    /// The options the copy was run with: the last changes and the proof convert source
    /// values the same way.
    #[command(flatten)]
    pub values: ValueArgs,
    /// Set the source read-only first (`SET GLOBAL read_only = ON`; needs SUPER or
    /// READ_ONLY ADMIN). Without it, stop the application's writes yourself before.
    #[arg(long)]
    pub set_read_only: bool,
    /// The proof before the run is marked cut over: `counts` (fast) or `checksums` (every
    /// row's content, naming the rows that differ).
    #[arg(long, value_enum, default_value_t = VerifyMode::Counts)]
    pub verify: VerifyMode,
    /// How long to wait for a running `copy --follow` to apply the source's last changes.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub wait: u64,
    /// Differing rows listed per table (all are counted).
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub max_diffs: u32,
    /// The run's rejects file (what the copy and the follower rejected).
    #[arg(long, value_name = "FILE", default_value = "pgcutover-rejects.jsonl")]
    pub rejects: PathBuf,
    /// Tables verified in parallel. Default: the number of CPU cores.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Also write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

impl CutoverArgs {
    /// The `verify` the cutover runs as its proof.
    pub fn verify_args(&self) -> VerifyArgs {
        VerifyArgs {
            endpoints: self.endpoints.clone(),
            select: self.select.clone(),
            values: self.values.clone(),
            mode: self.verify,
            data_only: false,
            max_diffs: self.max_diffs,
            rejects: self.rejects.clone(),
            jobs: self.jobs,
            report: None,
            format: self.format,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    Counts,
    Checksums,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EpochArg {
    Auto,
    #[value(name = "s")]
    Seconds,
    #[value(name = "ms")]
    Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NulArg {
    Reject,
    Strip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Utf8Arg {
    Reject,
    Replace,
}

/// `--jobs`, or the number of CPU cores.
pub fn jobs_or_cores(jobs: Option<u32>) -> usize {
    jobs.map(|j| j as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// This invocation as a command to copy and paste, without the arguments `drop` names (e.g.
/// `--restart`, which must not be repeated to resume). A password written into a URL or a
/// `password=` parameter is masked: it never reaches the screen. Arguments are quoted for a
/// POSIX shell, control characters included (`$'…'`), so a name cannot forge a line.
pub fn command_without(args: impl IntoIterator<Item = String>, drop: &[&str]) -> String {
    let mut out = vec!["pgcutover".to_owned()];
    out.extend(
        args.into_iter()
            .skip(1)
            .filter(|a| !drop.contains(&a.as_str()))
            // The one redaction every echoed argument goes through (pgcutover_core::redact).
            .map(|a| shell_quote(&pgcutover_core::redact(&a))),
    );
    out.join(" ")
}

fn shell_quote(a: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !a.is_empty() && a.chars().all(plain) {
        return a.to_owned();
    }
    // Controls (C0, DEL, C1) and the characters that reorder or break a line on screen.
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if a.chars().any(hidden) {
        let mut q = String::from("$'");
        for c in a.chars() {
            match c {
                '\'' => q.push_str("\\'"),
                '\\' => q.push_str("\\\\"),
                c if hidden(c) && c.is_ascii() => q.push_str(&format!("\\x{:02x}", c as u32)),
                // \u, not \x: bash's \x9b is the byte 0x9B, not the character U+009B.
                c if hidden(c) => q.push_str(&format!("\\u{:04x}", c as u32)),
                c => q.push(c),
            }
        }
        q.push('\'');
        return q;
    }
    format!("'{}'", a.replace('\'', r"'\''"))
}

impl Endpoints {
    /// SOURCE and TARGET, parsed (nothing is opened yet).
    pub fn resolve(
        &self,
    ) -> Result<
        (
            Box<dyn pgcutover_core::source::Source>,
            pgcutover_postgres::Target,
        ),
        pgcutover_pipeline::exit::Exit,
    > {
        pgcutover_pipeline::source::resolve(
            &self.source,
            self.source_password_file.as_deref(),
            &self.target,
        )
    }
}

impl From<VerifyMode> for pgcutover_pipeline::verify::Mode {
    fn from(m: VerifyMode) -> Self {
        match m {
            VerifyMode::Counts => pgcutover_pipeline::verify::Mode::Counts,
            VerifyMode::Checksums => pgcutover_pipeline::verify::Mode::Checksums,
        }
    }
}

impl SelectArgs {
    pub fn selection(&self) -> Selection {
        Selection {
            include: self.include.clone(),
            exclude: self.exclude.clone(),
        }
    }
}

impl ValueArgs {
    /// The value options as the pipeline takes them.
    pub fn options(&self) -> ValueOptions {
        ValueOptions {
            casts: self.casts.clone(),
            datetime_as_timestamptz: self.datetime_as == DatetimeAs::Timestamptz,
            enum_as_text: self.enum_as == EnumAs::Text,
            zero_dates: match self.zero_dates {
                ZeroDatesArg::Null => ZeroDates::Null,
                ZeroDatesArg::Error => ZeroDates::Error,
            },
            epoch: match self.sqlite_epoch {
                EpochArg::Auto => EpochSetting::Auto,
                EpochArg::Seconds => EpochSetting::Seconds,
                EpochArg::Millis => EpochSetting::Millis,
            },
            nul_bytes: match self.nul_bytes {
                NulArg::Reject => NulPolicy::Reject,
                NulArg::Strip => NulPolicy::Strip,
            },
            invalid_utf8: match self.invalid_utf8 {
                Utf8Arg::Reject => Utf8Policy::Reject,
                Utf8Arg::Replace => Utf8Policy::Replace,
            },
            source_timezone: self.source_timezone.clone(),
            fractions: match self.fractional_seconds {
                FractionsArg::Reject => Fractions::Reject,
                FractionsArg::Round => Fractions::Round,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_resume_command_leaves_out_restart_and_quotes_what_needs_it() {
        let got = command_without(
            args(&[
                "/usr/local/bin/pgcutover",
                "copy",
                "my data.sqlite",
                "postgresql://postgres@db:5432/app",
                "--restart",
                "--include",
                "it's",
                "--target-schema",
                "a\u{1b}[2Jb",
                "--exclude",
                "c1\u{9b}x\u{202e}y",
            ]),
            &["--restart"],
        );
        assert_eq!(
            got,
            r"pgcutover copy 'my data.sqlite' postgresql://postgres@db:5432/app --include 'it'\''s' --target-schema $'a\x1b[2Jb' --exclude $'c1\u009bx\u202ey'"
        );
    }

    #[test]
    fn passwords_are_masked() {
        let got = command_without(
            args(&[
                "pgcutover",
                "copy",
                "mysql://app:s3cret@db:3306/shop?ssl-mode=required",
                "host=h PASSWORD='x y' user=u",
                "--restart",
            ]),
            &["--restart"],
        );
        assert_eq!(
            got,
            "pgcutover copy 'mysql://app:***@db:3306/shop?ssl-mode=required' 'host=h PASSWORD=*** user=u'"
        );
    }
}
