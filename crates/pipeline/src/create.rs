//! Creating what a new run writes before its rows. First the check that the target can take
//! the run (none of the tables, types and functions it creates already there; a data-only
//! load's tables empty), made before anything is written; then one transaction with the
//! schema, enum types and tables (or, data-only, emptying the tables with `truncate`) and the
//! run's record with every chunk planned: all of it or none.

use anyhow::{anyhow, Context};
use pgcutover_core::{quote_qualified, show_ident, show_qualified, Schema};
use pgcutover_postgres::ddl::{self, Step, StepKind};
use pgcutover_postgres::load;
use tokio_postgres::Client;

use crate::data_only::DataOnly;
use crate::exit::{Exit, ExitCode};
use crate::settings::CopySettings;
use crate::source::Loaded;
use crate::state;
use crate::target::{transaction, End};

/// Before a new run writes anything: the tables it would create must not exist (unless
/// `drop_existing`); a data-only load's tables must be empty (unless `truncate`).
pub async fn check_target(
    client: &Client,
    settings: &CopySettings,
    schema: &Schema,
    steps: &[Step],
    data_only: Option<&DataOnly>,
) -> Result<(), Exit> {
    let schema_name = settings.target_schema.as_str();
    if let Some(d) = data_only {
        if settings.truncate {
            return Ok(());
        }
        let full = d.non_empty(client, schema_name).await?;
        if !full.is_empty() {
            return Err(Exit::new(
                ExitCode::TARGET_NOT_EMPTY,
                anyhow!("--data-only: {} already hold(s) rows: {}", full.len(), full.iter().map(|n| show_ident(n)).collect::<Vec<_>>().join(", ")),
                Some("nothing was written. Add --truncate to empty the tables first, or load into empty tables".to_owned()),
            ));
        }
        return Ok(());
    }
    if settings.drop_existing {
        return Ok(());
    }
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    let existing = load::existing_tables(client, schema_name, &names)
        .await
        .context("checking the target for existing tables")?;
    if !existing.is_empty() {
        return Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!("the target already has {} table(s) this copy would create: {}", existing.len(), existing.iter().map(|n| show_ident(n)).collect::<Vec<_>>().join(", ")),
            Some("nothing was written. Use --drop-existing to replace them, --data-only to load into them, or --target-schema to copy elsewhere".to_owned()),
        ));
    }
    // The enum types and trigger functions a copy creates (left behind by a run whose tables
    // were dropped by hand) would make it fail half-way through its first transaction.
    let mut others = Vec::new();
    for e in &schema.enums {
        let q = quote_qualified(schema_name, &e.name);
        let row = client
            .query_one("SELECT to_regtype($1) IS NOT NULL", &[&q])
            .await
            .context("checking the target for existing types")?;
        if row.get(0) {
            others.push(format!("type {}", show_qualified(schema_name, &e.name)));
        }
    }
    for s in steps.iter().filter(|s| s.kind == StepKind::Trigger) {
        let q = format!("{}()", quote_qualified(schema_name, &s.object));
        let row = client
            .query_one("SELECT to_regprocedure($1) IS NOT NULL", &[&q])
            .await
            .context("checking the target for existing functions")?;
        if row.get(0) {
            others.push(format!(
                "function {}()",
                show_qualified(schema_name, &s.object)
            ));
        }
    }
    if !others.is_empty() {
        return Err(Exit::new(
            ExitCode::TARGET_NOT_EMPTY,
            anyhow!(
                "the target already has {} object(s) this copy would create: {}",
                others.len(),
                others.join(", ")
            ),
            Some("nothing was written. Use --drop-existing to replace them, or --target-schema to copy elsewhere".to_owned()),
        ));
    }
    Ok(())
}

/// What a new run's record holds besides its chunks.
pub struct NewRun<'a> {
    pub fingerprint: &'a state::Fingerprint,
    pub steps: &'a [Step],
    /// What the complete run this one replaces (`drop_existing`) had created.
    pub replaced: Option<&'a state::Created>,
    /// Where the source's change log was at the copy's snapshot, when known.
    pub follow_from: Option<&'a str>,
}

/// One transaction: the schema, enums and tables (or, data-only, emptying the tables with
/// `truncate`), and the run's record with every chunk planned. All of it or none.
pub async fn create(
    client: &Client,
    settings: &CopySettings,
    loaded: &Loaded,
    run: NewRun<'_>,
    data_only: Option<&DataOnly>,
) -> Result<(), Exit> {
    let NewRun {
        fingerprint,
        steps,
        replaced,
        follow_from,
    } = run;
    let schema_name = settings.target_schema.as_str();
    let schema_existed: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema_name],
        )
        .await
        .context("checking the target schema")?
        .get(0);
    let schema = &loaded.schema;
    let mut sql = Vec::new();
    let mut created = state::Created::default();
    match data_only {
        Some(_) => {
            created.loaded = schema.tables.iter().map(|t| t.name.clone()).collect();
            if settings.truncate && !schema.tables.is_empty() {
                sql.push(format!(
                    "TRUNCATE {}",
                    schema
                        .tables
                        .iter()
                        .map(|t| quote_qualified(schema_name, &t.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        None => {
            // A run that replaces one which created the schema inherits it: reset still
            // removes the schema it finds empty.
            created.schema = replaced
                .and_then(|r| r.schema.clone())
                .or_else(|| (!schema_existed).then(|| schema_name.to_owned()));
            created.tables = schema.tables.iter().map(|t| t.name.clone()).collect();
            created.enums = schema.enums.iter().map(|e| e.name.clone()).collect();
            created.functions = steps
                .iter()
                .filter(|s| s.kind == StepKind::Trigger)
                .map(|s| s.object.clone())
                .collect();
            sql.push(ddl::create_schema(schema_name));
            if settings.drop_existing {
                sql.extend(drop_existing(schema_name, &created, replaced));
            }
            for e in &schema.enums {
                sql.push(ddl::create_enum(schema_name, e));
            }
            for t in &schema.tables {
                sql.push(ddl::create_table(schema_name, t));
                sql.extend(ddl::comments(schema_name, t));
            }
        }
    }
    let plans: Vec<state::TablePlan> = if settings.schema_only() {
        Vec::new()
    } else {
        loaded
            .schema
            .tables
            .iter()
            .map(|t| state::TablePlan {
                table: &t.name,
                source_table: &t.source_name,
                source_rows: t.source_rows,
                chunks: crate::chunks::plan(t, loaded.split(&t.name), settings.chunk_rows),
            })
            .collect()
    };
    let result = transaction(client, async || {
        if !sql.is_empty() {
            client.batch_execute(&sql.join(";\n")).await?;
        }
        state::start(client, fingerprint, &created, &plans).await?;
        if let Some(position) = follow_from {
            state::followed_to(client, schema_name, position, state::Applied::default()).await?;
        }
        Ok(End::Commit(()))
    })
    .await;
    if let Err(e) = result {
        return Err(Exit::new(
            ExitCode::FAILED,
            e.context(if data_only.is_some() {
                "preparing the tables (nothing was kept)"
            } else {
                "creating the tables (nothing was kept)"
            }),
            None,
        ));
    }
    Ok(())
}

/// `drop_existing`: drops what this run creates and what the run it replaces had created,
/// whatever exists of it (after `reset --keep-data` there is no record, and only this run's
/// names are known), with CASCADE as dropping the tables has always done.
fn drop_existing(
    schema_name: &str,
    mine: &state::Created,
    replaced: Option<&state::Created>,
) -> Vec<String> {
    let union = |pick: fn(&state::Created) -> &Vec<String>| -> Vec<String> {
        let mut out = pick(mine).clone();
        for n in replaced.map(pick).into_iter().flatten() {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    };
    state::Created {
        tables: union(|c| &c.tables),
        functions: union(|c| &c.functions),
        enums: union(|c| &c.enums),
        ..state::Created::default()
    }
    .drop_sql(schema_name, true)
}
