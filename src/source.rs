//! Opening the source named on the command line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use globset::{Glob, GlobSet, GlobSetBuilder};
use pgcutover_core::{redact, Schema};
use pgcutover_mysql::types::{CastRule, MappingOptions};
use pgcutover_mysql::{MysqlSource, SourceZone, ZeroDates};
use pgcutover_postgres::Target;
use pgcutover_sqlite::{EpochSetting, IntrospectOptions, NulPolicy, Utf8Policy, ValuePolicy};

use crate::cli::{
    DatetimeAs, Endpoints, EnumAs, EpochArg, NulArg, SelectArgs, Utf8Arg, ValueArgs, ZeroDatesArg,
};
use crate::exit::{Exit, ExitCode};

#[derive(Debug, Clone)]
pub enum SourceSpec {
    Sqlite(PathBuf),
    Mysql(MysqlSource),
}

/// The source's schema, and what its readers need besides.
pub struct Loaded {
    pub schema: Schema,
    pub reads: Reads,
}

impl Loaded {
    /// The single integer key `table` can be cut into key ranges on, if it has one.
    pub fn split(&self, table: &str) -> Option<&pgcutover_core::range::SplitKey> {
        match &self.reads {
            Reads::Sqlite(r) => r.get(table)?.split.as_ref(),
            Reads::Mysql(r) => r.get(table)?.split.as_ref(),
        }
    }
}

pub enum Reads {
    Sqlite(HashMap<String, pgcutover_sqlite::TableRead>),
    Mysql(HashMap<String, pgcutover_mysql::TableRead>),
}

impl SourceSpec {
    pub fn parse(s: &str, password_file: Option<&Path>) -> Result<SourceSpec, Exit> {
        if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            return Ok(SourceSpec::Sqlite(PathBuf::from(path)));
        }
        let lower = s.to_ascii_lowercase();
        // Before the file extensions: mysql://u@h/shop.db is a MySQL database, and a mistyped
        // mysql:/… gets the MySQL URL's own error.
        if lower.starts_with("mysql:") || lower.starts_with("mariadb:") {
            return MysqlSource::parse(s, password_file, std::env::var("MYSQL_PWD").ok())
                .map(SourceSpec::Mysql)
                .map_err(|e| {
                    Exit::new(
                        ExitCode::USAGE,
                        e,
                        Some("write mysql://user@host[:port]/database; give the password in MYSQL_PWD or --source-password-file".to_owned()),
                    )
                });
        }
        if [".db", ".sqlite", ".sqlite3"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            return Ok(SourceSpec::Sqlite(PathBuf::from(s)));
        }
        Err(Exit::new(
            ExitCode::USAGE,
            anyhow!(
                "cannot tell what kind of source \"{}\" is",
                pgcutover_core::show(&redact(s))
            ),
            Some("write mysql://user@host/database, mariadb://…, sqlite:PATH, or a path ending in .db, .sqlite or .sqlite3".to_owned()),
        ))
    }

    pub fn display(&self) -> String {
        match self {
            SourceSpec::Sqlite(p) => format!("sqlite:{}", redact(&p.display().to_string())),
            SourceSpec::Mysql(m) => m.display(),
        }
    }
}

/// The SOURCE and TARGET arguments, parsed (nothing is opened yet).
pub fn resolve(e: &Endpoints) -> Result<(SourceSpec, Target), Exit> {
    let source = SourceSpec::parse(&e.source, e.source_password_file.as_deref())?;
    let target = parse_target(&e.target)?;
    Ok((source, target))
}

/// The TARGET argument: a libpq URI or keyword/value string, or a usage error (exit 2) that
/// echoes it with its password masked. Nothing is connected to.
pub fn parse_target(s: &str) -> Result<Target, Exit> {
    Target::parse(s).map_err(|e| {
        Exit::new(
            ExitCode::USAGE,
            e,
            Some(pgcutover_postgres::connect::TARGET_FORMS.to_owned()),
        )
    })
}

/// Opens one MySQL session, or says what to check.
pub async fn mysql_connect(m: &MysqlSource) -> Result<mysql_async::Conn, Exit> {
    m.connect().await.map_err(|e| {
        let hint = e.hint.clone();
        Exit::new(ExitCode::CANNOT_CONNECT, e, Some(hint))
    })
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

/// What the target has that changes the mapping.
#[derive(Debug, Default)]
pub struct TargetFacts {
    /// Where PostGIS is installed, when it is: MySQL geometry becomes `geometry`.
    pub postgis_schema: Option<String>,
}

impl TargetFacts {
    pub async fn read(client: &tokio_postgres::Client) -> Result<TargetFacts, Exit> {
        let postgis_schema = pgcutover_postgres::load::postgis_schema(client)
            .await
            .context("checking the target for PostGIS")?;
        Ok(TargetFacts { postgis_schema })
    }
}

/// Opens and introspects the source.
pub async fn load_schema(
    spec: &SourceSpec,
    select: &SelectArgs,
    values: &ValueArgs,
    target: &TargetFacts,
) -> Result<Loaded, Exit> {
    let filter = TableFilter::new(select)?;
    match spec {
        SourceSpec::Mysql(m) => {
            let casts = values
                .casts
                .iter()
                .map(|c| CastRule::parse(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Exit::new(ExitCode::USAGE, anyhow!(e), None))?;
            let zone = SourceZone::parse(&values.source_timezone)
                .map_err(|e| Exit::new(ExitCode::USAGE, anyhow!("--source-timezone: {e}"), None))?;
            let include = |name: &str| filter.matches(name);
            let opts = pgcutover_mysql::IntrospectOptions {
                mapping: MappingOptions {
                    datetime_as_timestamptz: values.datetime_as == DatetimeAs::Timestamptz,
                    enum_as_text: values.enum_as == EnumAs::Text,
                    postgis_schema: target.postgis_schema.clone(),
                },
                casts: &casts,
                zero_dates: match values.zero_dates {
                    ZeroDatesArg::Null => ZeroDates::Null,
                    ZeroDatesArg::Error => ZeroDates::Error,
                },
                zone,
                include: &include,
            };
            let mut conn = mysql_connect(m).await?;
            let built = pgcutover_mysql::introspect(&mut conn, &m.database, &opts).await;
            let _ = conn.disconnect().await;
            let built = built.map_err(|e| match e {
                pgcutover_mysql::introspect::IntrospectError::Mapping(msg) => Exit::new(
                    ExitCode::USAGE,
                    anyhow!(msg),
                    Some("see docs/type-mapping.md for the conversions --cast allows".to_owned()),
                ),
                other => Exit::new(
                    ExitCode::FAILED,
                    anyhow::Error::new(other).context(format!("reading the schema of {}", m.display())),
                    Some("the MySQL user needs SELECT on the database's tables and on information_schema".to_owned()),
                ),
            })?;
            Ok(Loaded {
                schema: built.schema,
                reads: Reads::Mysql(built.reads),
            })
        }
        SourceSpec::Sqlite(path) => {
            if !path.exists() {
                return Err(Exit::new(
                    ExitCode::CANNOT_CONNECT,
                    anyhow!(
                        "SQLite file {} does not exist",
                        redact(&path.display().to_string())
                    ),
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
            let built = pgcutover_sqlite::introspect(&conn, &opts).map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "reading the schema of {}",
                    redact(&path.display().to_string())
                ))
            })?;
            Ok(Loaded {
                schema: built.schema,
                reads: Reads::Sqlite(built.reads),
            })
        }
    }
}
