//! Foreign-key orphans in the source: child rows whose parent is missing, for `plan`.
//!
//! Sources that never enforced a foreign key (MyISAM; SQLite without `PRAGMA foreign_keys`;
//! MySQL loaded with `FOREIGN_KEY_CHECKS=0`) can hold rows PostgreSQL will not accept under it.
//! `plan` counts them in the source, with the source's own comparison rules; `copy` counts them
//! again in PostgreSQL, exactly, just before it creates each key ([`crate::post_load`]), and
//! applies `--orphans`.

use pgcutover_core::show_ident;
use pgcutover_core::source::OrphanQuery;
use pgcutover_core::{ForeignKey, Table};
use serde::Serialize;

use crate::exit::Exit;
use crate::source::Loaded;

/// Orphans found for one foreign key.
#[derive(Debug, Serialize)]
pub struct Orphans {
    pub table: String,
    pub foreign_key: String,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub orphans: u64,
    /// Up to five distinct orphan keys, `column=value, …`.
    pub examples: Vec<String>,
}

/// A foreign key as the source names it. None when the parent is not part of this run (it
/// was filtered out).
fn source_names(loaded: &Loaded, t: &Table, fk: &ForeignKey) -> Option<OrphanQuery> {
    let parent = loaded
        .schema
        .tables
        .iter()
        .find(|p| p.name == fk.ref_table)?;
    let columns: Option<Vec<String>> = fk
        .columns
        .iter()
        .map(|c| t.column(c).map(|c| c.source_name.clone()))
        .collect();
    let ref_columns: Option<Vec<String>> = fk
        .ref_columns
        .iter()
        .map(|c| parent.column(c).map(|c| c.source_name.clone()))
        .collect();
    Some(OrphanQuery {
        child: t.source_name.clone(),
        columns: columns?,
        parent: parent.source_name.clone(),
        ref_columns: ref_columns?,
    })
}

/// Counts every foreign key's orphans in the source, in one session.
pub async fn source_orphans(loaded: &Loaded) -> Result<Vec<Orphans>, Exit> {
    let mut found = Vec::new();
    let mut session = loaded.reads.session().await?;
    for t in &loaded.schema.tables {
        for fk in &t.foreign_keys {
            let Some(query) = source_names(loaded, t, fk) else {
                continue;
            };
            let counted = session.orphans(&query).await.map_err(|e| {
                e.context(format!(
                    "counting orphans of foreign key {} in the source",
                    show_ident(&fk.name)
                ))
            });
            let counted = match counted {
                Ok(c) => c,
                Err(e) => {
                    session.close().await;
                    return Err(e.into());
                }
            };
            if counted.count > 0 {
                found.push(Orphans {
                    table: t.name.clone(),
                    foreign_key: fk.name.clone(),
                    columns: fk.columns.clone(),
                    ref_table: fk.ref_table.clone(),
                    ref_columns: fk.ref_columns.clone(),
                    orphans: counted.count,
                    examples: counted.examples,
                });
            }
        }
    }
    session.close().await;
    Ok(found)
}
