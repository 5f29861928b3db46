//! SQLite column defaults → PostgreSQL DEFAULT expressions.
//!
//! SQLite's `CURRENT_TIMESTAMP`, `datetime('now')` and friends are UTC wall-clock values, so a
//! `timestamp` column gets `(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')`, not `LOCALTIMESTAMP` (which
//! follows the session's TimeZone). Literals go through the same converter as the data, so a
//! default of `0` on a BOOLEAN column becomes `false`. Anything else is dropped with a warning.

use pgcutover_core::PgType;
use rusqlite::types::ValueRef;

use crate::convert::{convert, ColumnConv, EpochUnit, ValuePolicy};
use crate::expr::{tokenize, Token};

const UTC_NOW: &str = "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')";

/// Translates a default as SQLite's `PRAGMA table_info` reports it (`dflt_value`).
/// `Ok(None)` means no default (e.g. `NULL`); `Err` explains why it was dropped.
pub fn translate_default(
    sqlite: &str,
    ty: &PgType,
    epoch: EpochUnit,
) -> Result<Option<String>, String> {
    let tokens = tokenize(sqlite)?;
    let mut t: &[Token] = &tokens;
    while let [Token::Op(open), inner @ .., Token::Op(close)] = t {
        if open == "(" && close == ")" {
            t = inner
        } else {
            break;
        }
    }
    let literal = |v: ValueRef<'_>| -> Result<Option<String>, String> {
        let conv = ColumnConv {
            pg_type: ty.clone(),
            nullable: true,
            epoch,
        };
        let value = convert(&conv, &ValuePolicy::default(), v).map_err(|p| {
            format!(
                "literal default {sqlite} does not fit {}: {}",
                ty.sql(),
                p.reason
            )
        })?;
        Ok(Some(value.to_sql_literal(ty)))
    };
    match t {
        [Token::Word(w)] if w.eq_ignore_ascii_case("NULL") => Ok(None),
        [Token::Word(w)] if w.eq_ignore_ascii_case("TRUE") => literal(ValueRef::Integer(1)),
        [Token::Word(w)] if w.eq_ignore_ascii_case("FALSE") => literal(ValueRef::Integer(0)),
        [Token::Word(w)] if w.eq_ignore_ascii_case("CURRENT_TIMESTAMP") => {
            now("%Y-%m-%d %H:%M:%S", ty, sqlite)
        }
        [Token::Word(w)] if w.eq_ignore_ascii_case("CURRENT_DATE") => now("%Y-%m-%d", ty, sqlite),
        [Token::Word(w)] if w.eq_ignore_ascii_case("CURRENT_TIME") => now("%H:%M:%S", ty, sqlite),
        [Token::Str(s)] => literal(ValueRef::Text(s.as_bytes())),
        [Token::Number(n)] | [Token::Op(_), Token::Number(n)] => {
            let negative = matches!(t.first(), Some(Token::Op(o)) if o == "-");
            if t.len() == 2 && !matches!(t.first(), Some(Token::Op(o)) if o == "-" || o == "+") {
                return Err(format!("default {sqlite} is not a literal"));
            }
            let text = if negative { format!("-{n}") } else { n.clone() };
            if let Ok(i) = text.parse::<i64>() {
                literal(ValueRef::Integer(i))
            } else if let Ok(f) = text.parse::<f64>() {
                literal(ValueRef::Real(f))
            } else {
                Err(format!("number {text} is not a SQLite literal we can read"))
            }
        }
        // datetime('now'), date('now'), time('now'), strftime(fmt, 'now')
        [Token::Word(f), Token::Op(o), args @ .., Token::Op(c)] if o == "(" && c == ")" => {
            let strings: Vec<&str> = args
                .iter()
                .filter_map(|a| match a {
                    Token::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            let commas = args
                .iter()
                .filter(|a| matches!(a, Token::Op(x) if x == ","))
                .count();
            if strings.len() != args.len() - commas {
                return Err(format!(
                    "default {sqlite} is an expression pgcutover cannot translate"
                ));
            }
            match (f.to_ascii_lowercase().as_str(), strings.as_slice()) {
                ("datetime", ["now"]) => now("%Y-%m-%d %H:%M:%S", ty, sqlite),
                ("date", ["now"]) => now("%Y-%m-%d", ty, sqlite),
                ("time", ["now"]) => now("%H:%M:%S", ty, sqlite),
                ("strftime", [fmt, "now"]) => now(fmt, ty, sqlite),
                _ => Err(format!(
                    "default {sqlite} is an expression pgcutover cannot translate"
                )),
            }
        }
        _ => Err(format!(
            "default {sqlite} is an expression pgcutover cannot translate"
        )),
    }
}

/// "Now", rendered in `strftime` format `fmt`, as a default for a column of type `ty`.
fn now(fmt: &str, ty: &PgType, original: &str) -> Result<Option<String>, String> {
    let sql =
        match ty {
            PgType::Timestamp => UTC_NOW.to_owned(),
            PgType::Timestamptz => "CURRENT_TIMESTAMP".to_owned(),
            PgType::Date => format!("{UTC_NOW}::date"),
            PgType::Time => format!("{UTC_NOW}::time(0)"),
            PgType::BigInt | PgType::Integer if fmt == "%s" => {
                "extract(epoch FROM CURRENT_TIMESTAMP)::bigint".to_owned()
            }
            PgType::Text | PgType::Varchar { .. } => {
                format!(
                    "to_char({UTC_NOW}, {})",
                    pgcutover_core::quote_literal(&to_char_format(fmt).ok_or_else(|| format!(
                        "strftime format {fmt:?} has no to_char equivalent"
                    ))?)
                )
            }
            other => {
                return Err(format!(
                    "default {original} makes no sense for a {} column",
                    other.sql()
                ))
            }
        };
    Ok(Some(sql))
}

/// strftime → to_char. Literal text is double-quoted, as to_char wants.
fn to_char_format(fmt: &str) -> Option<String> {
    let mut out = String::new();
    let mut literal = String::new();
    let mut chars = fmt.chars();
    let flush = |out: &mut String, literal: &mut String| {
        if !literal.is_empty() {
            if literal.chars().all(|c| "-:. /".contains(c)) {
                out.push_str(literal);
            } else {
                out.push('"');
                out.push_str(literal);
                out.push('"');
            }
            literal.clear();
        }
    };
    while let Some(c) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        flush(&mut out, &mut literal);
        out.push_str(match chars.next()? {
            'Y' => "YYYY",
            'm' => "MM",
            'd' => "DD",
            'H' => "HH24",
            'M' => "MI",
            'S' => "SS",
            'f' => "SS.MS",
            'j' => "DDD",
            _ => return None,
        });
    }
    flush(&mut out, &mut literal);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(sqlite: &str, ty: PgType) -> Result<Option<String>, String> {
        translate_default(sqlite, &ty, EpochUnit::Seconds)
    }

    #[test]
    fn translates_common_defaults() {
        assert_eq!(
            d("CURRENT_TIMESTAMP", PgType::Timestamp).unwrap().unwrap(),
            UTC_NOW
        );
        assert_eq!(
            d("current_timestamp", PgType::Timestamp).unwrap().unwrap(),
            UTC_NOW
        );
        assert_eq!(
            d("(datetime('now'))", PgType::Timestamp).unwrap().unwrap(),
            UTC_NOW
        );
        assert_eq!(
            d("CURRENT_DATE", PgType::Date).unwrap().unwrap(),
            format!("{UTC_NOW}::date")
        );
        assert_eq!(
            d("strftime('%Y-%m-%dT%H:%M:%fZ','now')", PgType::Text)
                .unwrap()
                .unwrap(),
            format!("to_char({UTC_NOW}, 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
        );
        assert_eq!(
            d("strftime('%s','now')", PgType::BigInt).unwrap().unwrap(),
            "extract(epoch FROM CURRENT_TIMESTAMP)::bigint"
        );
        assert_eq!(d("false", PgType::Boolean).unwrap().unwrap(), "false");
        assert_eq!(d("0", PgType::Boolean).unwrap().unwrap(), "false");
        assert_eq!(d("-1", PgType::BigInt).unwrap().unwrap(), "-1");
        assert_eq!(
            d(
                "0",
                PgType::Numeric {
                    precision_scale: None
                }
            )
            .unwrap()
            .unwrap(),
            "0"
        );
        assert_eq!(d("'it''s'", PgType::Text).unwrap().unwrap(), "'it''s'");
        assert_eq!(d("NULL", PgType::Text).unwrap(), None);
        assert_eq!(
            d("'2020-01-01'", PgType::Date).unwrap().unwrap(),
            "'2020-01-01'::date"
        );
    }

    #[test]
    fn drops_what_it_cannot_translate() {
        assert!(d("random()", PgType::BigInt).is_err());
        assert!(d("'abc'", PgType::BigInt).is_err());
        assert!(d("lower(hex(randomblob(16)))", PgType::Text).is_err());
    }
}
