//! `--data-only`: loading into tables someone else created (Alembic, Prisma migrate, Laravel
//! migrations).
//!
//! - Each source table and column is matched to the target's by name: exactly first, then
//!   ignoring case when exactly one target name matches.
//! - Types must be ones binary COPY can carry unchanged (the same type, or text-like to
//!   text-like); anything else is a mismatch, reported by `plan` and refused by `copy`.
//! - Tables load in the target's foreign-key order (petgraph). Tables in a cycle, or that
//!   reference themselves, load with triggers off (`session_replication_role = replica`,
//!   which needs a superuser); their foreign keys are checked for orphans afterwards.
//! - Afterwards every identity and serial sequence is moved past the loaded rows.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, Context};

use pgcutover_core::adapt::{self, AdaptOptions, Adapter};
use pgcutover_core::show_ident;
use pgcutover_core::{quote_qualified, FkAction, ForeignKey, PgType, Schema};
use pgcutover_postgres::catalog;
use pgcutover_postgres::ddl::{self, OrphanCheck, Step, StepKind};
use tokio_postgres::Client;

use crate::chunks::Group;
use crate::exit::{Exit, ExitCode};
use crate::source::{Loaded, TargetTypes};

/// How a data-only load goes.
#[derive(Debug, Clone)]
pub struct DataOnly {
    /// Load groups in foreign-key order.
    pub groups: Vec<Group>,
    /// After the data: foreign-key checks of the tables loaded with triggers off, identity
    /// and sequence restarts, ANALYZE.
    pub steps: Vec<Step>,
}

/// What `plan` reports and `copy` refuses (problems) or warns about.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Findings {
    /// Source table → target table, where the names differ (matched ignoring case).
    pub renamed: Vec<(String, String)>,
    /// Per loaded column: source type → target type, and what happens to the values.
    pub columns: Vec<ColumnLoad>,
    /// The target's tables no source table loads into; left alone.
    pub target_only: Vec<String>,
    /// Source tables that hold an application's migration history; never loaded (the target's
    /// own history says which migrations made its schema).
    pub migration_history: Vec<String>,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// How one column's values go into the target's column.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnLoad {
    pub table: String,
    pub column: String,
    pub source_type: String,
    pub target_type: String,
    /// What happens to each value.
    pub conversion: String,
    /// Whether some values may be rejected (with their keys, in the rejects file).
    pub may_reject: bool,
}

/// Tables in which migration tools record which migrations ran, with the columns each tool
/// gives its table: Prisma, Alembic, Laravel, Rails, Django, Flyway, Knex, Sequelize, Doctrine,
/// Entity Framework, goose. A source table is taken for one only when both name and columns
/// match, so an application's own `migrations` table (of birds, say) still loads.
const MIGRATION_HISTORY: &[(&str, &[&str])] = &[
    ("_prisma_migrations", &["id", "checksum", "migration_name"]),
    ("alembic_version", &["version_num"]),
    ("migrations", &["migration", "batch"]),
    ("schema_migrations", &["version"]),
    ("ar_internal_metadata", &["key", "value"]),
    ("django_migrations", &["app", "name", "applied"]),
    ("flyway_schema_history", &["installed_rank", "script"]),
    ("knex_migrations", &["name", "batch"]),
    ("knex_migrations_lock", &["is_locked"]),
    ("SequelizeMeta", &["name"]),
    ("doctrine_migration_versions", &["version", "executed_at"]),
    ("__EFMigrationsHistory", &["MigrationId", "ProductVersion"]),
    ("goose_db_version", &["version_id", "is_applied"]),
];

fn is_migration_history(table: &pgcutover_core::Table) -> bool {
    MIGRATION_HISTORY.iter().any(|(name, columns)| {
        name.eq_ignore_ascii_case(&table.source_name)
            && columns.iter().all(|want| {
                table
                    .columns
                    .iter()
                    .any(|c| c.source_name.eq_ignore_ascii_case(want))
            })
    })
}

struct TargetFk {
    name: String,
    child: String,
    parent: String,
    columns: Vec<String>,
    ref_columns: Vec<String>,
}

/// Matches `name` among `candidates`: exactly, else ignoring case when that is unambiguous.
pub fn match_name<'a>(name: &str, candidates: &'a [String]) -> Result<&'a String, String> {
    if let Some(c) = candidates.iter().find(|c| *c == name) {
        return Ok(c);
    }
    let folded: Vec<&String> = candidates
        .iter()
        .filter(|c| c.to_lowercase() == name.to_lowercase())
        .collect();
    match folded.as_slice() {
        [one] => Ok(one),
        [] => Err("no such name".to_owned()),
        many => Err(format!(
            "ambiguous: {} all match ignoring case",
            many.iter()
                .map(|m| show_ident(m))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Maps the source's tables and columns onto the target's (renaming the source's to the
/// target's names) and decides, per column, how values go into the target column's type: the
/// conversions go into `loaded`, what `plan` shows and `copy` refuses into the findings. With
/// `data_only`, a source table holding a migration history is taken out of the load.
pub async fn match_target(
    client: &Client,
    schema_name: &str,
    loaded: &mut Loaded,
    options: &AdaptOptions,
    data_only: bool,
    findings: &mut Findings,
) -> Result<(), Exit> {
    let target_tables: Vec<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind IN ('r','p') ORDER BY 1",
            &[&schema_name],
        )
        .await
        .context("reading the target's tables")?
        .iter()
        .map(|r| r.get(0))
        .collect();

    let history: Vec<String> = loaded
        .schema
        .tables
        .iter()
        .filter(|t| data_only && is_migration_history(t))
        .map(|t| t.name.clone())
        .collect();
    loaded.schema.tables.retain(|t| !history.contains(&t.name));
    for h in &history {
        loaded.schema.warnings.push(pgcutover_core::Warning::new(
            format!("table {}", show_ident(h)),
            "the source's migration history: left out of a data-only load (the target keeps its own)",
        ));
    }
    findings.migration_history = history;

    let mut renames: HashMap<String, String> = HashMap::new();
    let mut used: Vec<String> = Vec::new();
    // Types by OID and modifier: most columns share a few.
    let mut known_types = catalog::TypeCache::new();
    for t in &mut loaded.schema.tables {
        let target = match match_name(&t.name, &target_tables) {
            Ok(n) => n.clone(),
            Err(why) => {
                findings.problems.push(format!(
                    "table {}: the target schema {} has no table to load it into ({why})",
                    show_ident(&t.name),
                    show_ident(schema_name)
                ));
                continue;
            }
        };
        used.push(target.clone());
        if target != t.name {
            findings.renamed.push((t.name.clone(), target.clone()));
            renames.insert(t.name.clone(), target.clone());
        }
        let qt = quote_qualified(schema_name, &target);
        let target_cols = catalog::columns(client, &qt, &mut known_types)
            .await
            .with_context(|| format!("reading the columns of {qt}"))?;
        let names: Vec<String> = target_cols.iter().map(|c| c.name.clone()).collect();
        let mut matched = vec![false; target_cols.len()];
        let mut types = TargetTypes {
            adapters: Vec::new(),
            shapes: Vec::new(),
        };
        for (ci, c) in t.columns.iter_mut().enumerate() {
            if !c.is_copied() {
                // The source computes it and PostgreSQL would too; a plain column in the
                // target gets nothing from the load.
                if let Ok(n) = match_name(&c.name, &names) {
                    if target_cols.iter().any(|tc| tc.name == *n && !tc.generated) {
                        findings.warnings.push(format!(
                            "column {}.{}: computed in the source (a generated column), so not copied; the target's column is not computed, and gets its default (or NULL)",
                            show_ident(&target),
                            show_ident(n)
                        ));
                    }
                }
                continue;
            }
            let here = format!("{}.{}", show_ident(&target), show_ident(&c.name));
            let i = match match_name(&c.name, &names) {
                Ok(n) => names
                    .iter()
                    .position(|x| x == n)
                    .expect("matched a name in the list"),
                Err(why) => {
                    // A column renamed for PostgreSQL (a system column's name, a name too long)
                    // is looked for under the name a full copy gives it.
                    let source = if c.source_name != c.name {
                        format!(" (source column {})", show_ident(&c.source_name))
                    } else {
                        String::new()
                    };
                    findings.problems.push(format!(
                        "column {here}{source}: the target table has no such column ({why}); its values would be lost"
                    ));
                    types.adapters.push(None);
                    types.shapes.push(c.pg_type.clone());
                    continue;
                }
            };
            matched[i] = true;
            let tc = &target_cols[i];
            let here = format!("{}.{}", show_ident(&target), show_ident(&tc.name));
            if tc.generated {
                findings.problems.push(format!(
                    "column {here}: the target computes it (GENERATED ALWAYS), so it cannot be loaded"
                ));
            }
            // The source may read the column differently for the target's type: a boolean of
            // integers as its numbers into an integer column; a SQLite date as an instant
            // (its epoch or offset as it is, offset-less text in --source-timezone) into
            // timestamptz.
            let mut read_in_zone = false;
            if let Ok(ty) = &tc.ty {
                if let Some(read_as) = loaded.reads.read_for_target(&t.name, ci, &c.pg_type, ty) {
                    read_in_zone = c.pg_type == PgType::Timestamp && read_as == PgType::Timestamptz;
                    c.pg_type = read_as;
                }
            }
            let planned = tc.ty.as_ref().map_err(Clone::clone).and_then(|ty| {
                let plan = if data_only {
                    adapt::Step::plan_data_only
                } else {
                    adapt::Step::plan
                };
                plan(&c.pg_type, ty).map(|conv| (ty, conv))
            });
            match planned {
                Ok((ty, conv)) => {
                    findings.columns.push(ColumnLoad {
                        table: target.clone(),
                        column: tc.name.clone(),
                        source_type: c.pg_type.sql(),
                        target_type: tc.type_sql.clone(),
                        conversion: if read_in_zone {
                            format!("{}; Unix epochs and text with an offset are instants, text without one is read in --source-timezone (a time that zone skips or repeats is rejected)", conv.how)
                        } else {
                            conv.how.clone()
                        },
                        may_reject: conv.may_reject || read_in_zone || (tc.not_null && c.nullable),
                    });
                    types.adapters.push(Adapter::new(
                        &conv,
                        &c.pg_type,
                        c.nullable,
                        tc.not_null,
                        options,
                    ));
                    types.shapes.push(ty.shape());
                }
                Err(why) => {
                    findings.problems.push(format!(
                        "column {here}: the source's values map to {}, but the target column is {}: {why}",
                        c.pg_type.sql(),
                        tc.type_sql
                    ));
                    types.adapters.push(None);
                    types.shapes.push(c.pg_type.clone());
                }
            }
            if tc.not_null && c.nullable {
                findings.warnings.push(format!(
                    "column {here}: NOT NULL in the target but nullable in the source; a row with a NULL there is rejected"
                ));
            }
            c.name = tc.name.clone();
        }
        for (tc, m) in target_cols.iter().zip(&matched) {
            if !m && tc.not_null && !tc.has_default && !tc.identity && !tc.generated {
                findings.problems.push(format!(
                    "column {}.{}: NOT NULL without a default in the target, and the source has no such column",
                    show_ident(&target),
                    show_ident(&tc.name)
                ));
            }
        }
        let copied_types = t
            .columns
            .iter()
            .filter(|c| c.is_copied())
            .map(|c| &c.pg_type);
        let differs = types.adapters.iter().any(Option::is_some)
            || types.shapes.iter().zip(copied_types).any(|(s, c)| s != c);
        if differs {
            loaded.adapters.insert(target.clone(), Arc::new(types));
        }
        t.name = target;
    }
    findings.target_only = target_tables
        .into_iter()
        .filter(|t| !used.contains(t))
        .collect();
    loaded.reads.rename_tables(&renames);
    Ok(())
}

/// Maps the source schema onto the target's tables ([`match_target`]) and plans the load.
/// Problems come back in the findings; `copy` refuses when there are any.
pub async fn inspect(
    client: &Client,
    schema_name: &str,
    loaded: &mut Loaded,
    options: &AdaptOptions,
) -> Result<(DataOnly, Findings), Exit> {
    let mut findings = Findings::default();
    match_target(client, schema_name, loaded, options, true, &mut findings).await?;
    if findings.problems.iter().any(|p| p.starts_with("table ")) {
        // Without every table, there is no load to plan.
        let empty = DataOnly {
            groups: Vec::new(),
            steps: Vec::new(),
        };
        return Ok((empty, findings));
    }
    let plan = plan_load(client, schema_name, &loaded.schema, &mut findings).await?;
    Ok((plan, findings))
}

/// `copy --data-only`: [`inspect`], refusing on any problem.
pub async fn prepare(
    client: &Client,
    schema_name: &str,
    loaded: &mut Loaded,
    options: &AdaptOptions,
    observer: &dyn crate::observe::Observer,
) -> Result<DataOnly, Exit> {
    let (plan, findings) = inspect(client, schema_name, loaded, options).await?;
    if !findings.problems.is_empty() {
        return Err(Exit::new(
            ExitCode::USAGE,
            anyhow!(
                "--data-only cannot load into schema {}:\n  - {}",
                show_ident(schema_name),
                findings.problems.join("\n  - ")
            ),
            Some("nothing was written. Create the tables first (your migration tool, or `pgcutover copy --schema-only`); `pgcutover plan --data-only SOURCE TARGET` lists every mismatch, which your migrations or the mapping (--cast, --include/--exclude) can resolve".to_owned()),
        ));
    }
    for w in &findings.warnings {
        observer.warn(w);
    }
    Ok(plan)
}

/// The target's foreign keys among the loaded tables decide the order and which tables load
/// with triggers off.
async fn plan_load(
    client: &Client,
    schema_name: &str,
    schema: &Schema,
    findings: &mut Findings,
) -> Result<DataOnly, Exit> {
    let rows = client
        .query(
            "SELECT con.conname::text, cl.relname::text, pl.relname::text, \
               ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), \
               ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o) \
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) \
             FROM pg_constraint con \
             JOIN pg_class cl ON cl.oid = con.conrelid \
             JOIN pg_class pl ON pl.oid = con.confrelid \
             JOIN pg_namespace n ON n.oid = cl.relnamespace \
             WHERE con.contype = 'f' AND n.nspname = $1 ORDER BY 1",
            &[&schema_name],
        )
        .await
        .context("reading the target's foreign keys")?;
    let loaded: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    let fks: Vec<TargetFk> = rows
        .iter()
        .map(|r| TargetFk {
            name: r.get(0),
            child: r.get(1),
            parent: r.get(2),
            columns: r.get(3),
            ref_columns: r.get(4),
        })
        .filter(|f| loaded.contains(&f.child.as_str()))
        .collect();
    let refs: Vec<(&str, &str)> = fks
        .iter()
        .map(|f| (f.child.as_str(), f.parent.as_str()))
        .collect();
    let order = pgcutover_plan::order_tables(&loaded, &refs);

    let superuser: bool = client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .context("reading the target role")?
        .get(0);
    let mut groups: Vec<Group> = Vec::new();
    let mut replica_tables: Vec<String> = Vec::new();
    let mut placed: Vec<String> = Vec::new();
    for name in &order.order {
        if placed.contains(name) {
            continue;
        }
        let cycle = order.cycles.iter().find(|c| c.contains(name));
        let members: Vec<String> = match cycle {
            Some(c) => c.clone(),
            None => vec![name.clone()],
        };
        let replica = cycle.is_some() || members.iter().any(|m| order.self_referencing.contains(m));
        if replica {
            replica_tables.extend(members.iter().cloned());
            if !superuser {
                findings.problems.push(format!(
                    "{} reference{} {} in a cycle of foreign keys; loading them needs the checks off for the load, which needs a superuser",
                    members.iter().map(|m| show_ident(m)).collect::<Vec<_>>().join(", "),
                    if members.len() == 1 { "s" } else { "" },
                    if members.len() == 1 { "itself" } else { "each other" },
                ));
            }
        }
        placed.extend(members.iter().cloned());
        groups.push(Group {
            tables: members,
            replica,
        });
    }

    let mut steps = Vec::new();
    // The foreign keys PostgreSQL did not check during the load: any orphan fails the run.
    for f in fks.iter().filter(|f| replica_tables.contains(&f.child)) {
        let Some(table) = schema.tables.iter().find(|t| t.name == f.child) else {
            continue;
        };
        let fk = ForeignKey {
            name: f.name.clone(),
            columns: f.columns.clone(),
            ref_table: f.parent.clone(),
            ref_columns: f.ref_columns.clone(),
            on_delete: FkAction::NoAction,
            on_update: FkAction::NoAction,
        };
        let list = |c: &[String]| {
            c.iter()
                .map(|x| show_ident(x))
                .collect::<Vec<_>>()
                .join(", ")
        };
        steps.push(Step {
            kind: StepKind::ForeignKey,
            table: f.child.clone(),
            object: f.name.clone(),
            // The constraint exists; checking is all there is to do.
            sql: "SELECT 1".to_owned(),
            orphan_check: Some(OrphanCheck {
                sql: ddl::orphan_query(schema_name, table, &fk),
                subject: format!(
                    "{} ({}) → {} ({})",
                    show_ident(&f.child),
                    list(&f.columns),
                    show_ident(&f.parent),
                    list(&f.ref_columns)
                ),
                parent: f.parent.clone(),
                exists: true,
            }),
        });
    }
    // Identities and serials, past the loaded rows and the source's own high-water mark.
    for t in &schema.tables {
        let qt = quote_qualified(schema_name, &t.name);
        let seqs = client
            .query(
                "SELECT a.attname::text FROM pg_attribute a \
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
                   AND pg_get_serial_sequence($1::text, a.attname::text) IS NOT NULL ORDER BY a.attnum",
                &[&qt],
            )
            .await
            .with_context(|| format!("reading the sequences of {qt}"))?;
        for r in seqs {
            let col: String = r.get(0);
            let source_next = t
                .column(&col)
                .and_then(|c| c.identity.as_ref())
                .and_then(|i| i.source_next);
            steps.push(Step {
                kind: StepKind::Identity,
                table: t.name.clone(),
                object: col.clone(),
                sql: ddl::identity_restart(schema_name, t, &col, source_next),
                orphan_check: None,
            });
        }
        steps.push(Step {
            kind: StepKind::Analyze,
            table: t.name.clone(),
            object: t.name.clone(),
            sql: format!("ANALYZE {qt}"),
            orphan_check: None,
        });
    }
    Ok(DataOnly { groups, steps })
}

impl DataOnly {
    /// The tables that already hold rows.
    pub async fn non_empty(&self, client: &Client, schema_name: &str) -> Result<Vec<String>, Exit> {
        let mut out = Vec::new();
        for t in self.groups.iter().flat_map(|g| g.tables.iter()) {
            let qt = quote_qualified(schema_name, t);
            let row = client
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {qt})"), &[])
                .await
                .with_context(|| format!("looking into {qt}"))?;
            if row.get::<_, bool>(0) {
                out.push(t.clone());
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly_first_then_ignoring_case_when_unambiguous() {
        let c: Vec<String> = ["User", "user", "Post", "tag"].map(String::from).to_vec();
        assert_eq!(match_name("user", &c).unwrap(), "user");
        assert_eq!(match_name("User", &c).unwrap(), "User");
        assert_eq!(match_name("post", &c).unwrap(), "Post");
        assert_eq!(match_name("TAG", &c).unwrap(), "tag");
        assert!(match_name("USER", &c).unwrap_err().contains("ambiguous"));
        assert_eq!(match_name("comment", &c).unwrap_err(), "no such name");
    }
}
