//! `pgcutover plan`: what `copy` would do, written to stdout; nothing is written to the target.

use std::io::Write;

use pgcutover_core::{show, show_ident, show_sql, Schema, Warning};
use pgcutover_postgres::ddl::{self, Step};
use pgcutover_postgres::Target;
use serde::Serialize;

use crate::cli::{Format, OrphanPolicy, PlanArgs};
use crate::exit::{Exit, ExitCode};
use crate::integrity::Orphans;
use crate::output::Printer;
use crate::source::{load_schema, TargetFacts};
use pgcutover_core::source::Source;

#[derive(Serialize)]
pub struct Plan<'a> {
    pub source: String,
    pub target: String,
    pub target_schema: &'a str,
    pub tables: Vec<PlanTable<'a>>,
    pub load_order: Vec<String>,
    pub fk_cycles: Vec<Vec<String>>,
    pub warnings: &'a [Warning],
    pub existing_tables: Vec<String>,
    pub schema_ddl: Vec<String>,
    pub post_load: Vec<Step>,
    /// Foreign keys with orphans in the source, and what `copy --orphans` will do with them.
    pub orphans: Vec<Orphans>,
    pub orphan_policy: OrphanPolicy,
    /// `--data-only`: how the source maps onto the target's existing tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_only: Option<DataOnlyPlan>,
    /// `--follow`: what keeps the source from being followed (empty: nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<Vec<pgcutover_pipeline::follow::FollowProblem>>,
}

#[derive(Serialize)]
pub struct DataOnlyPlan {
    #[serde(flatten)]
    pub findings: crate::data_only::Findings,
    /// Load groups in foreign-key order; `replica` groups load with triggers off.
    pub load_groups: Vec<(Vec<String>, bool)>,
}

#[derive(Serialize)]
pub struct PlanTable<'a> {
    pub source_name: &'a str,
    pub name: &'a str,
    pub source_rows: Option<u64>,
    pub columns: Vec<PlanColumn<'a>>,
}

#[derive(Serialize)]
pub struct PlanColumn<'a> {
    pub source_name: &'a str,
    pub name: &'a str,
    pub source_type: &'a str,
    pub target_type: String,
    pub nullable: bool,
    pub identity: bool,
    pub default: Option<&'a str>,
    pub note: &'a str,
}

pub fn build<'a>(
    source: &dyn Source,
    target: &Target,
    schema_name: &'a str,
    schema: &'a Schema,
    existing: Vec<String>,
) -> Plan<'a> {
    let order = pgcutover_plan::load_order(schema);
    let mut schema_ddl = vec![ddl::create_schema(schema_name)];
    schema_ddl.extend(
        schema
            .enums
            .iter()
            .map(|e| ddl::create_enum(schema_name, e)),
    );
    for t in &schema.tables {
        schema_ddl.push(ddl::create_table(schema_name, t));
        schema_ddl.extend(ddl::comments(schema_name, t));
    }
    Plan {
        source: source.display(),
        target: target.display().to_owned(),
        target_schema: schema_name,
        tables: schema
            .tables
            .iter()
            .map(|t| PlanTable {
                source_name: &t.source_name,
                name: &t.name,
                source_rows: t.source_rows,
                columns: t
                    .columns
                    .iter()
                    .map(|c| PlanColumn {
                        source_name: &c.source_name,
                        name: &c.name,
                        source_type: &c.source_type,
                        target_type: c.pg_type.sql_in(schema_name),
                        nullable: c.nullable,
                        identity: c.identity.is_some(),
                        default: c.default.as_deref(),
                        note: &c.mapping_note,
                    })
                    .collect(),
            })
            .collect(),
        load_order: order.order,
        fk_cycles: order.cycles,
        warnings: &schema.warnings,
        existing_tables: existing,
        schema_ddl,
        post_load: ddl::post_load_steps(schema_name, schema),
        orphans: Vec::new(),
        orphan_policy: OrphanPolicy::Fail,
        data_only: None,
        follow: None,
    }
}

pub async fn run(args: PlanArgs, printer: &Printer) -> Result<ExitCode, Exit> {
    let (source, target) = args.endpoints.resolve()?;
    let schema_name = args.select.target_schema.as_str();
    // The target is only read, to say what a copy would find there (existing tables, PostGIS);
    // plan works without it.
    let client = match target.connect().await {
        Ok(client) => Some(client),
        Err(e) => {
            printer.warn(&format!(
                "{:#} (the plan does not show which tables already exist, and maps as if PostGIS were not installed)",
                anyhow::Error::new(e)
            ));
            None
        }
    };
    let facts = match &client {
        Some(c) => TargetFacts::read(c).await?,
        None => TargetFacts::default(),
    };
    let mut loaded = load_schema(
        &*source,
        &args.select.selection(),
        &args.values.options(),
        &facts,
    )
    .await?;
    // On stderr too: the plan on stdout may go to a file or a pipe unread.
    for w in loaded.option_warnings() {
        printer.warn(&format!("{}: {}", w.object, w.message));
    }
    let data_only = match (&client, args.data_only) {
        (Some(c), true) => {
            let options = crate::source::adapt_options(&args.values.options())?;
            let (d, findings) =
                crate::data_only::inspect(c, schema_name, &mut loaded, &options).await?;
            Some(DataOnlyPlan {
                findings,
                load_groups: d
                    .groups
                    .into_iter()
                    .map(|g| (g.tables, g.replica))
                    .collect(),
            })
        }
        _ => None,
    };
    let names: Vec<&str> = loaded
        .schema
        .tables
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let existing = match &client {
        Some(c) => pgcutover_postgres::load::existing_tables(c, schema_name, &names)
            .await
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let mut plan = build(&*source, &target, schema_name, &loaded.schema, existing);
    plan.orphans = crate::integrity::source_orphans(&loaded).await?;
    plan.orphan_policy = args.orphans;
    plan.data_only = data_only;
    if args.follow {
        plan.follow = Some(pgcutover_pipeline::follow::problems(&loaded).await?);
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => crate::output::print_json(&mut out, "plan", &plan)?,
        Format::Text => write_text(&mut crate::output::TerminalText(&mut out), &plan)?,
    }
    match &plan.follow {
        Some(problems) if !problems.is_empty() => {
            Err(pgcutover_pipeline::follow::refusal(problems))
        }
        _ => Ok(ExitCode::OK),
    }
}

/// The plan as text for a person, section by section: the tables, the type mapping, foreign-key
/// cycles, what is not carried over, source orphans, tables already in the target, the
/// data-only mapping, and the SQL. A section with nothing to say is left out, except what is
/// not carried over, which says "nothing".
fn write_text(out: &mut impl Write, plan: &Plan<'_>) -> std::io::Result<()> {
    write_tables(out, plan)?;
    write_type_mapping(out, plan)?;
    write_fk_cycles(out, &plan.fk_cycles)?;
    write_warnings(out, plan.warnings)?;
    write_orphans(out, &plan.orphans, plan.orphan_policy)?;
    write_existing_tables(out, plan.target_schema, &plan.existing_tables)?;
    if let Some(d) = &plan.data_only {
        write_data_only(out, plan.target_schema, d)?;
    }
    if let Some(problems) = &plan.follow {
        write_follow(out, problems)?;
    }
    write_sql(out, plan)
}

/// `--follow`: whether the source can be followed after the copy, and what to change if not.
fn write_follow(
    out: &mut impl Write,
    problems: &[pgcutover_pipeline::follow::FollowProblem],
) -> std::io::Result<()> {
    if problems.is_empty() {
        return writeln!(
            out,
            "\nFollowing (--follow): the source can be followed after the copy"
        );
    }
    writeln!(
        out,
        "\nFollowing (--follow): the source cannot be followed yet"
    )?;
    for p in problems {
        writeln!(out, "  - {}\n    {}", show(&p.problem), show(&p.hint))?;
    }
    Ok(())
}

/// The heading (source, target, schema) and each table with its row count, and its source
/// name when it was renamed.
fn write_tables(out: &mut impl Write, plan: &Plan<'_>) -> std::io::Result<()> {
    let total: u64 = plan.tables.iter().filter_map(|t| t.source_rows).sum();
    writeln!(
        out,
        "Plan: {} → {} (schema {})",
        show(&plan.source),
        show(&plan.target),
        show_ident(plan.target_schema)
    )?;
    writeln!(out, "\nTables: {} with {} rows", plan.tables.len(), total)?;
    let width = plan
        .tables
        .iter()
        .map(|t| show_ident(t.name).len())
        .max()
        .unwrap_or(0);
    for t in &plan.tables {
        let rows = t.source_rows.map_or("?".to_owned(), |r| r.to_string());
        let renamed = if t.name != t.source_name {
            format!("  (source {})", show_ident(t.source_name))
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:width$}  {rows:>10} rows{renamed}",
            show_ident(t.name)
        )?;
    }
    Ok(())
}

/// One line per column: source type → target type (with identity or NOT NULL), and why.
fn write_type_mapping(out: &mut impl Write, plan: &Plan<'_>) -> std::io::Result<()> {
    writeln!(out, "\nType mapping:")?;
    for t in &plan.tables {
        for c in &t.columns {
            let declared = if c.source_type.is_empty() {
                "(none)"
            } else {
                c.source_type
            };
            let mut target = c.target_type.clone();
            if c.identity {
                target.push_str(" identity");
            } else if !c.nullable {
                target.push_str(" not null");
            }
            let renamed = if c.name != c.source_name {
                format!(" (source {})", show_ident(c.source_name))
            } else {
                String::new()
            };
            writeln!(
                out,
                "  {}.{}{renamed}  {} → {}  -- {}",
                show_ident(t.name),
                show_ident(c.name),
                show(declared),
                show(&target),
                show(c.note)
            )?;
        }
    }
    Ok(())
}

/// The foreign-key cycles, whose tables load without constraints; nothing when there are none.
fn write_fk_cycles(out: &mut impl Write, cycles: &[Vec<String>]) -> std::io::Result<()> {
    if cycles.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nForeign-key cycles (loaded without constraints; keys are added after the data):"
    )?;
    for c in cycles {
        writeln!(
            out,
            "  {}",
            c.iter()
                .map(|n| show_ident(n))
                .collect::<Vec<_>>()
                .join(" ↔ ")
        )?;
    }
    Ok(())
}

/// What is not carried over, or not exactly: always written, "nothing" when it is empty.
fn write_warnings(out: &mut impl Write, warnings: &[Warning]) -> std::io::Result<()> {
    writeln!(
        out,
        "\nNot carried over, or not exactly ({}):",
        warnings.len()
    )?;
    if warnings.is_empty() {
        writeln!(out, "  nothing")?;
    }
    for w in warnings {
        writeln!(out, "  warning: {}: {}", show(&w.object), show(&w.message))?;
    }
    Ok(())
}

/// Foreign keys with orphans in the source, and what `--orphans` makes copy do with them;
/// nothing when there are none.
fn write_orphans(
    out: &mut impl Write,
    orphans: &[Orphans],
    policy: OrphanPolicy,
) -> std::io::Result<()> {
    if orphans.is_empty() {
        return Ok(());
    }
    let policy = match policy {
        OrphanPolicy::Fail => "copy will not create these keys and will exit 6 (--orphans fail)",
        OrphanPolicy::Skip => "copy will skip these keys with a warning (--orphans skip)",
        OrphanPolicy::NotValid => "copy will create these keys NOT VALID (--orphans not-valid)",
    };
    writeln!(out, "\nForeign-key orphans in the source ({policy}):")?;
    for o in orphans {
        writeln!(
            out,
            "  {} on {} ({}) → {} ({}): {} orphan row(s), e.g. {}{}",
            show_ident(&o.foreign_key),
            show_ident(&o.table),
            o.columns
                .iter()
                .map(|c| show_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            show_ident(&o.ref_table),
            o.ref_columns
                .iter()
                .map(|c| show_ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            o.orphans,
            show(&o.examples.join("; ")),
            if o.examples.len() >= 5 { "; …" } else { "" }
        )?;
    }
    Ok(())
}

/// The tables a copy would find already in the target (it refuses them); nothing when none.
fn write_existing_tables(
    out: &mut impl Write,
    schema: &str,
    existing: &[String],
) -> std::io::Result<()> {
    if existing.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nAlready in the target (copy refuses unless --drop-existing or --data-only):"
    )?;
    for t in existing {
        writeln!(out, "  {}.{}", show_ident(schema), show_ident(t))?;
    }
    Ok(())
}

/// `--data-only`: which table loads into which, each column's conversion, the tables left out
/// or alone, mismatches and warnings, then the load order, or that copy refuses while there
/// are mismatches.
fn write_data_only(out: &mut impl Write, schema: &str, d: &DataOnlyPlan) -> std::io::Result<()> {
    writeln!(
        out,
        "\nData-only: loading into the existing tables of {}",
        show_ident(schema)
    )?;
    let findings = &d.findings;
    for (from, to) in &findings.renamed {
        writeln!(
            out,
            "  {} loads into {} (matched ignoring case)",
            show_ident(from),
            show_ident(to)
        )?;
    }
    write_column_loads(out, &findings.columns)?;
    for t in &findings.migration_history {
        writeln!(
            out,
            "  left out: {}, the source's migration history (the target keeps its own)",
            show_ident(t)
        )?;
    }
    let history = &findings.migration_history;
    for t in findings.target_only.iter().filter(|t| !history.contains(t)) {
        writeln!(out, "  left alone: {} is only in the target", show_ident(t))?;
    }
    for p in &findings.problems {
        writeln!(out, "  mismatch: {}", show(p))?;
    }
    for w in &findings.warnings {
        writeln!(out, "  warning: {}", show(w))?;
    }
    if findings.problems.is_empty() {
        write_load_groups(out, &d.load_groups)
    } else {
        writeln!(
            out,
            "  copy --data-only refuses until these mismatches are resolved"
        )
    }
}

/// Each loaded column under its table: source type → target type, the conversion, and whether
/// it may reject values.
fn write_column_loads(
    out: &mut impl Write,
    columns: &[crate::data_only::ColumnLoad],
) -> std::io::Result<()> {
    let mut table = None;
    for c in columns {
        if table != Some(&c.table) {
            writeln!(out, "  {}:", show_ident(&c.table))?;
            table = Some(&c.table);
        }
        writeln!(
            out,
            "    {:<24} {} → {}: {}{}",
            show_ident(&c.column),
            c.source_type,
            show(&c.target_type),
            c.conversion,
            if c.may_reject { "  [may reject]" } else { "" }
        )?;
    }
    Ok(())
}

/// The data-only load groups in foreign-key order, a group loaded with triggers off marked.
fn write_load_groups(out: &mut impl Write, groups: &[(Vec<String>, bool)]) -> std::io::Result<()> {
    writeln!(out, "  load order (foreign keys):")?;
    for (tables, replica) in groups {
        writeln!(
            out,
            "    {}{}",
            tables
                .iter()
                .map(|t| show_ident(t))
                .collect::<Vec<_>>()
                .join(", "),
            if *replica {
                "  (a cycle or self-reference: loaded with triggers off, foreign keys checked after)"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// The SQL: the schema before the data, and the steps after it.
fn write_sql(out: &mut impl Write, plan: &Plan<'_>) -> std::io::Result<()> {
    writeln!(out, "\n-- Schema, before the data")?;
    for s in &plan.schema_ddl {
        writeln!(out, "{};", show_sql(s))?;
    }
    writeln!(out, "\n-- After the data")?;
    for s in &plan.post_load {
        writeln!(out, "{};", show_sql(&s.sql))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data_only::{ColumnLoad, Findings};
    use pgcutover_postgres::ddl::StepKind;

    fn column<'a>(name: &'a str, source_type: &'a str, target_type: &str) -> PlanColumn<'a> {
        PlanColumn {
            source_name: name,
            name,
            source_type,
            target_type: target_type.to_owned(),
            nullable: true,
            identity: false,
            default: None,
            note: "",
        }
    }

    /// A plan with something in every section.
    fn full_plan(warnings: &[Warning]) -> Plan<'_> {
        Plan {
            source: "mysql://shop@db/shop".into(),
            target: "postgres://app@pg/app".into(),
            target_schema: "public",
            tables: vec![
                PlanTable {
                    source_name: "Customers",
                    name: "customers",
                    source_rows: Some(42),
                    columns: vec![
                        PlanColumn {
                            identity: true,
                            nullable: false,
                            note: "int → bigint; AUTO_INCREMENT → identity",
                            ..column("id", "int", "bigint")
                        },
                        PlanColumn {
                            source_name: "E-mail",
                            nullable: false,
                            note: "varchar(80) → varchar(80)",
                            ..column("e_mail", "varchar(80)", "varchar(80)")
                        },
                        PlanColumn {
                            note: "no declared type → text",
                            ..column("misc", "", "text")
                        },
                    ],
                },
                PlanTable {
                    source_name: "orders",
                    name: "orders",
                    source_rows: None,
                    columns: vec![PlanColumn {
                        note: "int → bigint",
                        ..column("customer_id", "int", "bigint")
                    }],
                },
            ],
            load_order: vec!["customers".into(), "orders".into()],
            fk_cycles: vec![vec!["a".into(), "b".into()]],
            warnings,
            existing_tables: vec!["orders".into()],
            schema_ddl: vec![
                "CREATE SCHEMA IF NOT EXISTS \"public\"".into(),
                "CREATE TABLE \"public\".\"orders\" (\"customer_id\" bigint)".into(),
            ],
            post_load: vec![Step {
                kind: StepKind::ForeignKey,
                table: "orders".into(),
                object: "orders_customer".into(),
                sql: "ALTER TABLE \"public\".\"orders\" ADD CONSTRAINT \"orders_customer\" FOREIGN KEY (\"customer_id\") REFERENCES \"public\".\"customers\" (\"id\")".into(),
                orphan_check: None,
            }],
            orphans: vec![Orphans {
                table: "orders".into(),
                foreign_key: "orders_customer".into(),
                columns: vec!["customer_id".into()],
                ref_table: "customers".into(),
                ref_columns: vec!["id".into()],
                orphans: 7,
                examples: (1..=5).map(|i| format!("customer_id={i}")).collect(),
            }],
            orphan_policy: OrphanPolicy::Skip,
            follow: None,
            data_only: Some(DataOnlyPlan {
                findings: Findings {
                    renamed: vec![("Customers".into(), "customers".into())],
                    columns: vec![
                        ColumnLoad {
                            table: "customers".into(),
                            column: "id".into(),
                            source_type: "int".into(),
                            target_type: "integer".into(),
                            conversion: "as is".into(),
                            may_reject: false,
                        },
                        ColumnLoad {
                            table: "customers".into(),
                            column: "e_mail".into(),
                            source_type: "varchar(80)".into(),
                            target_type: "varchar(40)".into(),
                            conversion: "checked length".into(),
                            may_reject: true,
                        },
                        ColumnLoad {
                            table: "orders".into(),
                            column: "customer_id".into(),
                            source_type: "int".into(),
                            target_type: "integer".into(),
                            conversion: "as is".into(),
                            may_reject: false,
                        },
                    ],
                    target_only: vec!["audit".into(), "schema_migrations".into()],
                    migration_history: vec!["schema_migrations".into()],
                    problems: vec![],
                    warnings: vec!["a trigger on orders will not fire".into()],
                },
                load_groups: vec![
                    (vec!["customers".into()], false),
                    (vec!["a".into(), "b".into()], true),
                ],
            }),
        }
    }

    fn text(plan: &Plan<'_>) -> String {
        let mut out = Vec::new();
        write_text(&mut out, plan).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_plan_has_every_section_in_order() {
        let warnings = [Warning::new("view \"v\"", "views are not carried over")];
        let plan = full_plan(&warnings);
        assert_eq!(
            text(&plan),
            r#"Plan: mysql://shop@db/shop → postgres://app@pg/app (schema "public")

Tables: 2 with 42 rows
  "customers"          42 rows  (source "Customers")
  "orders"              ? rows

Type mapping:
  "customers"."id"  int → bigint identity  -- int → bigint; AUTO_INCREMENT → identity
  "customers"."e_mail" (source "E-mail")  varchar(80) → varchar(80) not null  -- varchar(80) → varchar(80)
  "customers"."misc"  (none) → text  -- no declared type → text
  "orders"."customer_id"  int → bigint  -- int → bigint

Foreign-key cycles (loaded without constraints; keys are added after the data):
  "a" ↔ "b"

Not carried over, or not exactly (1):
  warning: view "v": views are not carried over

Foreign-key orphans in the source (copy will skip these keys with a warning (--orphans skip)):
  "orders_customer" on "orders" ("customer_id") → "customers" ("id"): 7 orphan row(s), e.g. customer_id=1; customer_id=2; customer_id=3; customer_id=4; customer_id=5; …

Already in the target (copy refuses unless --drop-existing or --data-only):
  "public"."orders"

Data-only: loading into the existing tables of "public"
  "Customers" loads into "customers" (matched ignoring case)
  "customers":
    "id"                     int → integer: as is
    "e_mail"                 varchar(80) → varchar(40): checked length  [may reject]
  "orders":
    "customer_id"            int → integer: as is
  left out: "schema_migrations", the source's migration history (the target keeps its own)
  left alone: "audit" is only in the target
  warning: a trigger on orders will not fire
  load order (foreign keys):
    "customers"
    "a", "b"  (a cycle or self-reference: loaded with triggers off, foreign keys checked after)

-- Schema, before the data
CREATE SCHEMA IF NOT EXISTS "public";
CREATE TABLE "public"."orders" ("customer_id" bigint);

-- After the data
ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_customer" FOREIGN KEY ("customer_id") REFERENCES "public"."customers" ("id");
"#
        );
    }

    #[test]
    fn text_plan_says_what_is_empty_and_why_data_only_refuses() {
        let mut plan = full_plan(&[]);
        plan.fk_cycles.clear();
        plan.orphans.clear();
        plan.existing_tables.clear();
        let d = plan.data_only.as_mut().unwrap();
        d.findings
            .problems
            .push("orders.customer_id: text cannot load into integer".into());
        assert_eq!(
            text(&plan),
            r#"Plan: mysql://shop@db/shop → postgres://app@pg/app (schema "public")

Tables: 2 with 42 rows
  "customers"          42 rows  (source "Customers")
  "orders"              ? rows

Type mapping:
  "customers"."id"  int → bigint identity  -- int → bigint; AUTO_INCREMENT → identity
  "customers"."e_mail" (source "E-mail")  varchar(80) → varchar(80) not null  -- varchar(80) → varchar(80)
  "customers"."misc"  (none) → text  -- no declared type → text
  "orders"."customer_id"  int → bigint  -- int → bigint

Not carried over, or not exactly (0):
  nothing

Data-only: loading into the existing tables of "public"
  "Customers" loads into "customers" (matched ignoring case)
  "customers":
    "id"                     int → integer: as is
    "e_mail"                 varchar(80) → varchar(40): checked length  [may reject]
  "orders":
    "customer_id"            int → integer: as is
  left out: "schema_migrations", the source's migration history (the target keeps its own)
  left alone: "audit" is only in the target
  mismatch: orders.customer_id: text cannot load into integer
  warning: a trigger on orders will not fire
  copy --data-only refuses until these mismatches are resolved

-- Schema, before the data
CREATE SCHEMA IF NOT EXISTS "public";
CREATE TABLE "public"."orders" ("customer_id" bigint);

-- After the data
ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_customer" FOREIGN KEY ("customer_id") REFERENCES "public"."customers" ("id");
"#
        );
    }
}
