//! Opening the source named on the command line.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pgcutover_core::adapt::{AdaptOptions, Fractions};

use anyhow::{anyhow, Context};
use globset::{Glob, GlobSet, GlobSetBuilder};
use pgcutover_core::{redact, show_ident, Schema, Warning};
use pgcutover_mysql::types::{CastMatch, CastRule, MappingOptions};
use pgcutover_mysql::{MysqlSource, SourceZone, ZeroDates};
use pgcutover_postgres::Target;
use pgcutover_sqlite::{EpochSetting, IntrospectOptions, NulPolicy, Utf8Policy, ValuePolicy};

use crate::cli::{
    DatetimeAs, Endpoints, EnumAs, EpochArg, FractionsArg, NulArg, SelectArgs, Utf8Arg, ValueArgs,
    ZeroDatesArg,
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
    /// Per table (target name), per copied column: the conversion into a column type the
    /// target chose (a data-only load, a verification), where it differs from the mapping's.
    pub adapters: HashMap<String, TableAdapters>,
    /// What the command line asks for that does nothing (an `--exclude` that matches no
    /// table, a `--cast` type no column has): not yet in `schema.warnings`, see
    /// [`Loaded::option_warnings`].
    option_warnings: Vec<Warning>,
}

/// How a table's values go into the column types the target chose, per copied column.
#[derive(Debug)]
pub struct TargetTypes {
    /// `None` where a value goes as the mapping converted it.
    pub adapters: Vec<Option<pgcutover_core::adapt::Adapter>>,
    /// The types the target holds the values as (what a verification hashes).
    pub shapes: Vec<pgcutover_core::PgType>,
}

pub type TableAdapters = Arc<TargetTypes>;

impl Loaded {
    /// Moves the warnings about the command line to the front of the schema's warnings (so
    /// plan and the report list them) and returns them, for a command that does not print
    /// the schema's warnings on stderr itself.
    pub fn option_warnings(&mut self) -> Vec<Warning> {
        let w = std::mem::take(&mut self.option_warnings);
        self.schema.warnings.splice(0..0, w.iter().cloned());
        w
    }

    /// The single integer key `table` can be cut into key ranges on, if it has one.
    pub fn split(&self, table: &str) -> Option<&pgcutover_core::range::SplitKey> {
        match &self.reads {
            Reads::Sqlite { tables, .. } => tables.get(table)?.split.as_ref(),
            Reads::Mysql { tables, .. } => tables.get(table)?.split.as_ref(),
        }
    }
}

/// Where the rows come from and how each table is read: one engine's source and its tables'
/// read plans together, so the two cannot disagree.
pub enum Reads {
    Sqlite {
        path: PathBuf,
        tables: Arc<HashMap<String, pgcutover_sqlite::TableRead>>,
    },
    Mysql {
        source: MysqlSource,
        tables: Arc<HashMap<String, pgcutover_mysql::TableRead>>,
    },
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

/// Include/exclude globs over source table names. It remembers every name it was asked about
/// and which globs matched one, so that after introspection [`TableFilter::check`] can refuse an
/// `--include` that matches nothing (as pg_dump does for `-t`) and warn about such an
/// `--exclude`.
pub struct TableFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
    include_globs: Vec<String>,
    exclude_globs: Vec<String>,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Every table (SQLite: and view) name of the source the filter was asked about.
    names: BTreeSet<String>,
    include_hits: Vec<bool>,
    exclude_hits: Vec<bool>,
}

impl TableFilter {
    pub fn new(args: &SelectArgs) -> Result<TableFilter, Exit> {
        let build = |option: &str, globs: &[String]| -> Result<GlobSet, Exit> {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                b.add(Glob::new(g).map_err(|e| {
                    Exit::new(
                        ExitCode::USAGE,
                        anyhow!("{option} {g:?}: not a table glob: {e}"),
                        None,
                    )
                })?);
            }
            b.build().map_err(|e| Exit::new(ExitCode::USAGE, e, None))
        };
        Ok(TableFilter {
            include: if args.include.is_empty() {
                None
            } else {
                Some(build("--include", &args.include)?)
            },
            exclude: build("--exclude", &args.exclude)?,
            include_globs: args.include.clone(),
            exclude_globs: args.exclude.clone(),
            seen: Mutex::new(Seen {
                names: BTreeSet::new(),
                include_hits: vec![false; args.include.len()],
                exclude_hits: vec![false; args.exclude.len()],
            }),
        })
    }

    pub fn matches(&self, table: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.names.insert(table.to_owned());
        let included = match &self.include {
            None => true,
            Some(g) => {
                let hits = g.matches(table);
                for &i in &hits {
                    seen.include_hits[i] = true;
                }
                !hits.is_empty()
            }
        };
        let excluded = self.exclude.matches(table);
        for &i in &excluded {
            seen.exclude_hits[i] = true;
        }
        included && excluded.is_empty()
    }

    /// After the source was introspected through [`TableFilter::matches`]: every `--include`
    /// glob must have matched a table of the source, and something must be left to copy.
    /// An `--exclude` glob that matched nothing is a warning. A copy of no table would record a
    /// run that did nothing as complete, and `verify` would prove nothing: both are refused.
    fn check(&self, schema: &Schema, source: &SourceSpec) -> Result<Vec<Warning>, Exit> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let listing = || {
            const SHOWN: usize = 20;
            let mut names: Vec<String> = seen
                .names
                .iter()
                .take(SHOWN)
                .map(|n| show_ident(n))
                .collect();
            if seen.names.len() > SHOWN {
                names.push(format!("… ({} in all)", seen.names.len()));
            }
            names.join(", ")
        };
        let unmatched: Vec<&String> = self
            .include_globs
            .iter()
            .zip(&seen.include_hits)
            .filter(|(_, hit)| !**hit)
            .map(|(g, _)| g)
            .collect();
        if !unmatched.is_empty() {
            return Err(Exit::new(
                ExitCode::USAGE,
                anyhow!(
                    "--include {} matches no table of {}",
                    unmatched
                        .iter()
                        .map(|g| format!("{g:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    source.display()
                ),
                Some(if seen.names.is_empty() {
                    "nothing was written. The source has no tables: is it the right database?"
                        .to_owned()
                } else {
                    format!(
                        "nothing was written. Table names are matched exactly, case included; the source has: {}",
                        listing()
                    )
                }),
            ));
        }
        if schema.tables.is_empty() {
            let filtered = !self.include_globs.is_empty() || !self.exclude_globs.is_empty();
            return Err(if filtered {
                Exit::new(
                    ExitCode::USAGE,
                    anyhow!(
                        "--include/--exclude leave no table of {} to copy",
                        source.display()
                    ),
                    Some(format!(
                        "nothing was written. The source has: {}",
                        listing()
                    )),
                )
            } else {
                Exit::new(
                    ExitCode::USAGE,
                    anyhow!("{} has no table to copy", source.display()),
                    Some(if seen.names.is_empty() {
                        "nothing was written. Is it the right database (or file)?".to_owned()
                    } else {
                        format!(
                            "nothing was written. It has only objects that are not copied (views, virtual tables): {}",
                            listing()
                        )
                    }),
                )
            });
        }
        Ok(self
            .exclude_globs
            .iter()
            .zip(&seen.exclude_hits)
            .filter(|(_, hit)| !**hit)
            .map(|(g, _)| {
                Warning::new(
                    format!("--exclude {g:?}"),
                    "matches no table of the source, so it leaves nothing out",
                )
            })
            .collect())
    }

    /// Whether the source has a table of this name (compared as `--cast` compares it).
    fn source_has(&self, table: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.names.iter().any(|n| n.eq_ignore_ascii_case(table))
    }
}

/// Every `--cast` rule must name something of the source: a column rule's table and column
/// exist (matched ignoring case, as the rule is applied), and a type rule matches a column of
/// a table that is copied. A rule that names nothing is a typo that would silently leave the
/// mapping as it was. A column rule for a table left out by --include/--exclude, and a type
/// rule no column has, do no harm and only warn.
fn check_casts(
    rules: &[CastRule],
    raw: &[String],
    used: &[bool],
    schema: &Schema,
    filter: &TableFilter,
) -> Result<Vec<Warning>, Exit> {
    let mut warnings = Vec::new();
    for ((rule, text), &used) in rules.iter().zip(raw).zip(used) {
        match &rule.matcher {
            CastMatch::Column { table, column } => {
                let copied = schema
                    .tables
                    .iter()
                    .find(|t| t.source_name.eq_ignore_ascii_case(table));
                match copied {
                    Some(t) => {
                        if !t
                            .columns
                            .iter()
                            .any(|c| c.source_name.eq_ignore_ascii_case(column))
                        {
                            return Err(Exit::new(
                                ExitCode::USAGE,
                                anyhow!(
                                    "--cast {text:?}: table {} has no column {}",
                                    show_ident(&t.source_name),
                                    show_ident(column)
                                ),
                                Some(format!(
                                    "nothing was written. Its columns are: {}",
                                    t.columns
                                        .iter()
                                        .map(|c| show_ident(&c.source_name))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )),
                            ));
                        }
                    }
                    None if filter.source_has(table) => warnings.push(Warning::new(
                        format!("--cast {text:?}"),
                        format!(
                            "table {} is left out by --include/--exclude, so the rule does nothing",
                            show_ident(table)
                        ),
                    )),
                    None => {
                        return Err(Exit::new(
                            ExitCode::USAGE,
                            anyhow!(
                                "--cast {text:?}: the source has no table {}",
                                show_ident(table)
                            ),
                            Some(
                                "nothing was written. Write TABLE.COLUMN=PGTYPE with the source's names, or TYPE=PGTYPE for every column of a MySQL type"
                                    .to_owned(),
                            ),
                        ))
                    }
                }
            }
            // The mapping says which rules decided a column's type.
            CastMatch::Type(mysql_type) if !used => warnings.push(Warning::new(
                format!("--cast {text:?}"),
                format!(
                    "no column of the tables copied has the MySQL type {mysql_type} without a more specific rule deciding it, so the rule does nothing"
                ),
            )),
            CastMatch::Type(_) => {}
        }
    }
    Ok(warnings)
}

/// How values go into column types the target chose (`--data-only`, and verify after one).
pub fn adapt_options(v: &ValueArgs) -> Result<AdaptOptions, Exit> {
    Ok(AdaptOptions {
        fractions: match v.fractional_seconds {
            FractionsArg::Reject => Fractions::Reject,
            FractionsArg::Round => Fractions::Round,
        },
        zone: SourceZone::parse(&v.source_timezone)
            .map_err(|e| Exit::new(ExitCode::USAGE, anyhow!("--source-timezone: {e}"), None))?,
    })
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
        // Checked when the schema is loaded (`load_schema`), which every command does first.
        zone: SourceZone::parse(&v.source_timezone).unwrap_or_default(),
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
    // An unreadable --source-timezone is a usage error, whatever the source.
    adapt_options(values)?;
    match spec {
        SourceSpec::Mysql(m) => {
            let casts = values
                .casts
                .iter()
                .map(|c| CastRule::parse(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Exit::new(ExitCode::USAGE, anyhow!(e), None))?;
            let zone = adapt_options(values)?.zone;
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
            let mut option_warnings = filter.check(&built.schema, spec)?;
            option_warnings.extend(check_casts(
                &casts,
                &values.casts,
                &built.casts_used,
                &built.schema,
                &filter,
            )?);
            Ok(Loaded {
                schema: built.schema,
                reads: Reads::Mysql {
                    source: m.clone(),
                    tables: Arc::new(built.reads),
                },
                adapters: HashMap::new(),
                option_warnings,
            })
        }
        SourceSpec::Sqlite(path) => {
            if let Some(rule) = values.casts.first() {
                return Err(Exit::new(
                    ExitCode::USAGE,
                    anyhow!("--cast {rule:?}: --cast applies to MySQL sources only, and the source is SQLite"),
                    Some("nothing was written. A SQLite column's type comes from its declared type and its values (see docs/type-mapping.md); leave --cast out".to_owned()),
                ));
            }
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
            let option_warnings = filter.check(&built.schema, spec)?;
            Ok(Loaded {
                schema: built.schema,
                reads: Reads::Sqlite {
                    path: path.clone(),
                    tables: Arc::new(built.reads),
                },
                adapters: HashMap::new(),
                option_warnings,
            })
        }
    }
}
