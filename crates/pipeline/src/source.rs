//! Opening the source named on the command line.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use pgcutover_core::adapt::{AdaptOptions, Fractions};

use anyhow::{anyhow, Context};
use globset::{Glob, GlobSet, GlobSetBuilder};
use pgcutover_core::policy::{NulPolicy, Utf8Policy, ValuePolicy};
use pgcutover_core::source::{EpochSetting, IntrospectOptions, Reads, Source, ZeroDates};
use pgcutover_core::zone::SourceZone;
use pgcutover_core::{redact, show_ident, Schema, Warning};
use pgcutover_postgres::Target;

use crate::exit::{Exit, ExitCode};

/// Which of the source's tables a run takes: globs over source table names.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

/// How values are read, converted, and where they may be rejected: the options that change
/// what arrives.
#[derive(Debug, Clone)]
pub struct ValueOptions {
    /// `--cast` rules as written (MySQL only).
    pub casts: Vec<String>,
    pub datetime_as_timestamptz: bool,
    pub enum_as_text: bool,
    pub zero_dates: ZeroDates,
    pub epoch: EpochSetting,
    pub nul_bytes: NulPolicy,
    pub invalid_utf8: Utf8Policy,
    /// `--source-timezone` as written (checked by [`adapt_options`]).
    pub source_timezone: String,
    pub fractions: Fractions,
}

/// The source's schema, and what its readers need besides.
pub struct Loaded {
    pub schema: Schema,
    /// How each table is read, by the source's engine.
    pub reads: Box<dyn Reads>,
    /// Per table (target name), per copied column: the conversion into a column type the
    /// target chose (a data-only load, a verification), where it differs from the mapping's.
    pub adapters: HashMap<String, TableAdapters>,
    /// What the command line asks for that does nothing (an `--exclude` that matches no
    /// table, a `--cast` type no column has): not yet in `schema.warnings`, see
    /// [`Loaded::option_warnings`].
    option_warnings: Vec<Warning>,
}

pub use pgcutover_core::adapt::{TableAdapters, TargetTypes};

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
        self.reads.split(table)
    }
}

/// The engines pgcutover reads, each asked in turn whether SOURCE is one of its own. MySQL
/// comes first: `mysql://u@h/shop.db` is a MySQL database, not a file.
pub fn open_source(argument: &str, password_file: Option<&Path>) -> Result<Box<dyn Source>, Exit> {
    if let Some(opened) = pgcutover_mysql::source::open(argument, password_file) {
        return opened.map_err(Exit::from);
    }
    if let Some(opened) = pgcutover_sqlite::source::open(argument) {
        return Ok(opened);
    }
    Err(Exit::new(
        ExitCode::USAGE,
        anyhow!(
            "cannot tell what kind of source \"{}\" is",
            pgcutover_core::show(&redact(argument))
        ),
        Some("write mysql://user@host/database, mariadb://…, sqlite:PATH, or a path ending in .db, .sqlite or .sqlite3".to_owned()),
    ))
}

/// The SOURCE and TARGET arguments, parsed (nothing is opened yet).
pub fn resolve(
    source: &str,
    source_password_file: Option<&Path>,
    target: &str,
) -> Result<(Box<dyn Source>, Target), Exit> {
    let source = open_source(source, source_password_file)?;
    let target = parse_target(target)?;
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

/// Include/exclude globs over source table names. It remembers every name it was asked about
/// and which globs matched one, so that after introspection `TableFilter::check` can refuse an
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
    pub fn new(args: &Selection) -> Result<TableFilter, Exit> {
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
    fn check(&self, schema: &Schema, source: &str) -> Result<Vec<Warning>, Exit> {
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
                    source
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
                    anyhow!("--include/--exclude leave no table of {} to copy", source),
                    Some(format!(
                        "nothing was written. The source has: {}",
                        listing()
                    )),
                )
            } else {
                Exit::new(
                    ExitCode::USAGE,
                    anyhow!("{} has no table to copy", source),
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

/// How values go into column types the target chose (`--data-only`, and verify after one).
pub fn adapt_options(v: &ValueOptions) -> Result<AdaptOptions, Exit> {
    Ok(AdaptOptions {
        fractions: v.fractions,
        zone: SourceZone::parse(&v.source_timezone)
            .map_err(|e| Exit::new(ExitCode::USAGE, anyhow!("--source-timezone: {e}"), None))?,
    })
}

pub fn value_policy(v: &ValueOptions) -> ValuePolicy {
    ValuePolicy {
        nul_bytes: v.nul_bytes,
        invalid_utf8: v.invalid_utf8,
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
    source: &dyn Source,
    select: &Selection,
    values: &ValueOptions,
    target: &TargetFacts,
) -> Result<Loaded, Exit> {
    let filter = TableFilter::new(select)?;
    // An unreadable --source-timezone is a usage error, whatever the source.
    let zone = adapt_options(values)?.zone;
    let include = |name: &str| filter.matches(name);
    let options = IntrospectOptions {
        include: &include,
        casts: &values.casts,
        datetime_as_timestamptz: values.datetime_as_timestamptz,
        enum_as_text: values.enum_as_text,
        zero_dates: values.zero_dates,
        epoch: values.epoch,
        zone,
        postgis_schema: target.postgis_schema.clone(),
    };
    let introspected = source.introspect(&options).await?;
    let mut option_warnings = filter.check(&introspected.schema, &source.display())?;
    option_warnings
        .extend(source.check_casts(&values.casts, &introspected, &|t| filter.source_has(t))?);
    Ok(Loaded {
        schema: introspected.schema,
        reads: introspected.reads,
        adapters: HashMap::new(),
        option_warnings,
    })
}
