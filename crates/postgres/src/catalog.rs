//! What the target's catalog says about an existing table's columns: each column's type
//! resolved through domains to what pgcutover can write ([`TargetType`]), for loading into a
//! schema someone else made.

use std::collections::HashMap;

use pgcutover_core::adapt::TargetType;
use tokio_postgres::{Client, Error};

/// Types by OID and modifier, read once: most columns share a few.
pub type TypeCache = HashMap<(u32, i32), (Option<TargetType>, bool)>;

#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    /// The type as `format_type` writes it.
    pub type_sql: String,
    /// The type as pgcutover can write it, or why it cannot.
    pub ty: Result<TargetType, String>,
    /// NOT NULL, by the column or a domain.
    pub not_null: bool,
    pub has_default: bool,
    pub generated: bool,
    pub identity: bool,
}

/// The columns of a target table, each with its type resolved through domains to what
/// pgcutover can write.
pub async fn columns(
    client: &Client,
    qualified: &str,
    types: &mut TypeCache,
) -> Result<Vec<TargetColumn>, Error> {
    let rows = client
        .query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef, \
                    a.attgenerated <> '', a.attidentity <> '', a.atttypid, a.atttypmod \
             FROM pg_attribute a WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&qualified],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let type_sql: String = r.get(1);
        let key: (u32, i32) = (r.get(6), r.get(7));
        let (ty, domain_not_null) = match types.get(&key) {
            Some(known) => known.clone(),
            None => {
                let resolved = resolve_type(client, key.0, key.1).await?;
                types.insert(key, resolved.clone());
                resolved
            }
        };
        out.push(TargetColumn {
            name: r.get(0),
            ty: ty.ok_or_else(|| format!("pgcutover cannot write values of type {type_sql}")),
            type_sql,
            not_null: r.get::<_, bool>(2) || domain_not_null,
            has_default: r.get(3),
            generated: r.get(4),
            identity: r.get(5),
        });
    }
    Ok(out)
}

/// A type by OID and modifier: domains by their base type (and whether one of them is NOT
/// NULL), enums with their labels, arrays by their element type. `None` for a type pgcutover
/// cannot write.
async fn resolve_type(
    client: &Client,
    oid: u32,
    typmod: i32,
) -> Result<(Option<TargetType>, bool), Error> {
    let (mut oid, mut typmod, mut not_null) = (oid, typmod, false);
    // Domains over domains, to a depth no real schema reaches.
    for _ in 0..32 {
        let r = client
            .query_one(
                "SELECT t.typtype::text, t.typbasetype, t.typtypmod, t.typname::text, t.typelem, \
                        t.typcategory::text, t.typnotnull, \
                        ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) \
                 FROM pg_type t WHERE t.oid = $1",
                &[&oid],
            )
            .await?;
        let (kind, name, elem, category): (String, String, u32, String) =
            (r.get(0), r.get(3), r.get(4), r.get(5));
        if kind == "d" {
            not_null |= r.get::<_, bool>(6);
            if typmod < 0 {
                typmod = r.get(2);
            }
            oid = r.get(1);
            continue;
        }
        let ty = if kind == "e" {
            Some(TargetType::Enum { labels: r.get(7) })
        } else if category == "A" && elem != 0 {
            let inner = Box::pin(resolve_type(client, elem, typmod)).await?.0;
            inner
                .filter(|e| matches!(e, TargetType::Text { .. } | TargetType::Enum { .. }))
                .map(|e| TargetType::Array {
                    elem_oid: elem,
                    elem: Box::new(e),
                })
        } else if name == "citext" {
            Some(TargetType::Text {
                max_chars: None,
                padded: false,
            })
        } else if name == "geometry" {
            Some(TargetType::Geometry)
        } else {
            TargetType::builtin(oid, typmod)
        };
        return Ok((ty, not_null));
    }
    Ok((None, not_null))
}
