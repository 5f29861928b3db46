//! Opening the source named on the command line.

use std::path::PathBuf;

use anyhow::anyhow;
use globset::{Glob, GlobSet, GlobSetBuilder};
use pgcutover_sqlite::{
    EpochSetting, IntrospectOptions, NulPolicy, SqliteSchema, Utf8Policy, ValuePolicy,
};

use crate::cli::{EpochArg, NulArg, SelectArgs, Utf8Arg, ValueArgs};
use crate::exit::{Exit, ExitCode};

#[derive(Debug, Clone)]
pub enum SourceSpec {
    Sqlite(PathBuf),
}

impl SourceSpec {
    pub fn parse(s: &str) -> Result<SourceSpec, Exit> {
        if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            return Ok(SourceSpec::Sqlite(PathBuf::from(path)));
        }
        let lower = s.to_ascii_lowercase();
        if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            return Ok(SourceSpec::Sqlite(PathBuf::from(s)));
        }
        if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            return Err(Exit::new(
                ExitCode::USAGE,
                anyhow!("MySQL/MariaDB sources are not supported yet"),
                Some("this build copies SQLite sources only".to_owned()),
            ));
        }
        Err(Exit::new(
            ExitCode::USAGE,
            anyhow!("cannot tell what kind of source {s:?} is"),
            Some("write sqlite:PATH, or give a path ending in .db, .sqlite or .sqlite3".to_owned()),
        ))
    }

    pub fn display(&self) -> String {
        match self {
            SourceSpec::Sqlite(p) => format!("sqlite:{}", p.display()),
        }
    }
}

/// Include/exclude globs over source table names.
pub struct TableFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl TableFilter {
    pub fn new(args: &SelectArgs) -> Result<TableFilter, Exit> {
        let build = |globs: &[String]| -> Result<GlobSet, Exit> {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(Glob::new(g).map_err(|e| {
                    Exit::new(ExitCode::USAGE, anyhow!("bad table glob {g:?}: {e}"), None)
                })?);
            }
            b.build().map_err(|e| Exit::new(ExitCode::USAGE, e, None))
        };
        Ok(TableFilter {
            include: if args.include.is_empty() {
                None
            } else {
                Some(build(&args.include)?)
            },
            exclude: build(&args.exclude)?,
        })
    }

    pub fn matches(&self, table: &str) -> bool {
        self.include.as_ref().is_none_or(|g| g.is_match(table)) && !self.exclude.is_match(table)
    }
}

pub fn value_policy(v: &ValueArgs) -> ValuePolicy {
    ValuePolicy {
        nul_bytes: match v.nul_bytes {
            NulArg::Reject => NulPolicy::Reject,
            NulArg::Strip => NulPolicy::Strip,
        },
        invalid_utf8: match v.invalid_utf8 {
            Utf8Arg::Reject => Utf8Policy::Reject,
            Utf8Arg::Replace => Utf8Policy::Replace,
        },
    }
}

/// Opens and introspects the source.
pub fn load_schema(
    spec: &SourceSpec,
    select: &SelectArgs,
    values: &ValueArgs,
) -> Result<SqliteSchema, Exit> {
    let filter = TableFilter::new(select)?;
    match spec {
        SourceSpec::Sqlite(path) => {
            if !path.exists() {
                return Err(Exit::new(
                    ExitCode::CANNOT_CONNECT,
                    anyhow!("SQLite file {} does not exist", path.display()),
                    Some("check the path; pgcutover never creates a source".to_owned()),
                ));
            }
            let conn = pgcutover_sqlite::open_read_only(path).map_err(|e| {
                Exit::new(
                    ExitCode::CANNOT_CONNECT,
                    e,
                    Some("is it a SQLite 3 database file, and readable?".to_owned()),
                )
            })?;
            let epoch = match values.sqlite_epoch {
                EpochArg::Auto => EpochSetting::Auto,
                EpochArg::Seconds => EpochSetting::Seconds,
                EpochArg::Millis => EpochSetting::Millis,
            };
            let include = |name: &str| filter.matches(name);
            let opts = IntrospectOptions {
                epoch,
                include: &include,
                count_rows: true,
            };
            let schema = pgcutover_sqlite::introspect(&conn, &opts).map_err(|e| {
                anyhow::Error::new(e).context(format!("reading the schema of {}", path.display()))
            })?;
            Ok(schema)
        }
    }
}
