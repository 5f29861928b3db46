//! The foreign-key graph and the order tables can load in.
//!
//! A table must load after every table it references when the target enforces foreign keys
//! during the load (data-only loads into an existing schema). Tables in a cycle (sakila's
//! store ↔ staff) or that reference themselves (an employee's manager) cannot be ordered; they
//! are reported so the loader can defer or disable constraint checks for them.

use std::collections::HashMap;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use pgcutover_core::Schema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOrder {
    /// Every table, parents before children; members of a cycle are adjacent.
    pub order: Vec<String>,
    /// Groups of two or more tables that reference each other in a cycle.
    pub cycles: Vec<Vec<String>>,
    /// Tables with a foreign key to themselves.
    pub self_referencing: Vec<String>,
}

/// Orders the schema's tables by their foreign keys. Stable: tables with no constraint between
/// them keep the schema's order.
pub fn load_order(schema: &Schema) -> LoadOrder {
    let tables: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    let references: Vec<(&str, &str)> = schema
        .tables
        .iter()
        .flat_map(|t| {
            t.foreign_keys
                .iter()
                .map(move |fk| (t.name.as_str(), fk.ref_table.as_str()))
        })
        .collect();
    order_tables(&tables, &references)
}

/// Orders `tables` so that each comes after the tables it references: `references` holds
/// (child, parent) pairs; a parent outside `tables` is taken as already loaded. Stable:
/// tables with no constraint between them keep their order in `tables`.
pub fn order_tables(tables: &[&str], references: &[(&str, &str)]) -> LoadOrder {
    let mut graph = DiGraph::<&str, ()>::new();
    let nodes: HashMap<&str, _> = tables.iter().map(|&t| (t, graph.add_node(t))).collect();
    let position: HashMap<&str, usize> = tables.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    let mut self_referencing: Vec<String> = Vec::new();
    for &(child, parent) in references {
        if child == parent {
            if nodes.contains_key(child) && !self_referencing.iter().any(|s| s == child) {
                self_referencing.push(child.to_owned());
            }
            continue;
        }
        if let (Some(&p), Some(&c)) = (nodes.get(parent), nodes.get(child)) {
            graph.update_edge(p, c, ());
        }
    }
    // tarjan_scc yields components in reverse topological order.
    let mut components = tarjan_scc(&graph);
    components.reverse();
    let mut order = Vec::with_capacity(tables.len());
    let mut cycles = Vec::new();
    // Kahn's algorithm over the condensation, choosing the earliest schema position first, so
    // unrelated tables keep their order.
    let comp_of: HashMap<_, usize> = components
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| c.iter().map(move |&n| (n, ci)))
        .collect();
    let mut indegree = vec![0usize; components.len()];
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); components.len()];
    for e in graph.raw_edges() {
        let (a, b) = (comp_of[&e.source()], comp_of[&e.target()]);
        if a != b && !edges[a].contains(&b) {
            edges[a].push(b);
            indegree[b] += 1;
        }
    }
    let key = |ci: usize| {
        components[ci]
            .iter()
            .map(|&n| position[graph[n]])
            .min()
            .unwrap_or(usize::MAX)
    };
    let mut ready: Vec<usize> = (0..components.len())
        .filter(|&c| indegree[c] == 0)
        .collect();
    while !ready.is_empty() {
        ready.sort_by_key(|&c| std::cmp::Reverse(key(c)));
        let c = ready.pop().expect("not empty");
        let mut members: Vec<&str> = components[c].iter().map(|&n| graph[n]).collect();
        members.sort_by_key(|m| position[m]);
        if members.len() > 1 {
            cycles.push(members.iter().map(|s| s.to_string()).collect());
        }
        order.extend(members.iter().map(|s| s.to_string()));
        for &next in &edges[c] {
            indegree[next] -= 1;
            if indegree[next] == 0 {
                ready.push(next);
            }
        }
    }
    LoadOrder {
        order,
        cycles,
        self_referencing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgcutover_core::{FkAction, ForeignKey, Table};

    fn table(name: &str, refs: &[&str]) -> Table {
        Table {
            source_name: name.into(),
            name: name.into(),
            columns: vec![],
            primary_key: None,
            uniques: vec![],
            indexes: vec![],
            foreign_keys: refs
                .iter()
                .map(|r| ForeignKey {
                    name: format!("{name}_{r}_fkey"),
                    columns: vec!["x".into()],
                    ref_table: r.to_string(),
                    ref_columns: vec!["id".into()],
                    on_delete: FkAction::NoAction,
                    on_update: FkAction::NoAction,
                })
                .collect(),
            checks: vec![],
            source_rows: None,
            comment: None,
        }
    }

    #[test]
    fn parents_first_cycles_grouped_self_references_noted() {
        let schema = Schema {
            tables: vec![
                table("rental", &["customer", "staff"]),
                table("customer", &["store"]),
                table("staff", &["store"]),
                table("store", &["staff"]),
                table("employee", &["employee"]),
                table("country", &[]),
            ],
            warnings: vec![],
            enums: vec![],
        };
        let o = load_order(&schema);
        let pos = |n: &str| o.order.iter().position(|x| x == n).unwrap();
        assert_eq!(o.order.len(), 6);
        assert!(pos("store") < pos("customer"));
        assert!(pos("customer") < pos("rental"));
        assert!(pos("staff") < pos("rental"));
        assert_eq!(
            o.cycles,
            vec![vec!["staff".to_string(), "store".to_string()]]
        );
        assert_eq!(o.self_referencing, vec!["employee".to_string()]);
        // unrelated tables keep schema order
        assert!(pos("employee") < pos("country"));
    }
}
