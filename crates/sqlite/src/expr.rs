//! SQLite SQL text → PostgreSQL SQL text, for the small expressions a schema carries: CHECK
//! constraints, partial-index predicates, index expressions and defaults.
//!
//! This is a token-level translator with an allow-list, not a parser: identifiers are resolved
//! against the table's columns and re-quoted with [`quote_ident`], literals are re-quoted, and a
//! few spellings are changed (`==` → `=`, `LIKE` → `ILIKE`, because SQLite's LIKE ignores ASCII
//! case, `ifnull` → `coalesce`). Anything outside the allow-list makes the whole expression
//! untranslatable, and the caller reports it instead of guessing.

use pgcutover_core::{quote_ident, quote_literal};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word: keyword, function name or unquoted identifier.
    Word(String),
    /// A quoted identifier (`"x"`, `[x]` or `` `x` ``), unquoted.
    Quoted(String),
    Str(String),
    Number(String),
    Blob(String),
    Op(String),
}

/// Splits SQLite SQL into tokens, skipping white space and comments.
pub fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '"' || c == '`' || c == '[' {
            let close = if c == '[' { ']' } else { c };
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated {c} in {sql:?}")),
                    Some(&ch) if ch == close => {
                        if close != ']' && chars.get(i + 1) == Some(&close) {
                            s.push(close);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(if c == '\'' {
                Token::Str(s)
            } else {
                Token::Quoted(s)
            });
        } else if (c == 'x' || c == 'X') && chars.get(i + 1) == Some(&'\'') {
            let start = i + 2;
            let end = chars[start..]
                .iter()
                .position(|&ch| ch == '\'')
                .ok_or("unterminated blob")?;
            out.push(Token::Blob(chars[start..start + end].iter().collect()));
            i = start + end + 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || ((chars[i] == '+' || chars[i] == '-') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["||", "<=", ">=", "<>", "!=", "==", "<<", ">>"].contains(&two.as_str()) {
                out.push(Token::Op(two));
                i += 2;
            } else {
                out.push(Token::Op(c.to_string()));
                i += 1;
            }
        }
    }
    Ok(out)
}

const KEYWORDS: &[&str] = &[
    "AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END",
    "TRUE", "FALSE", "ESCAPE", "DISTINCT", "FROM",
];

/// Functions that mean the same in both engines (or have a direct equivalent).
fn function(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "lower" => "lower",
        "upper" => "upper",
        "length" => "length",
        "abs" => "abs",
        "coalesce" => "coalesce",
        "ifnull" => "coalesce",
        "nullif" => "nullif",
        "trim" => "btrim",
        "ltrim" => "ltrim",
        "rtrim" => "rtrim",
        "replace" => "replace",
        "substr" | "substring" => "substr",
        _ => return None,
    })
}

/// Translates an expression. `column` resolves a name the way SQLite does (case-insensitively)
/// to the target column name, or `None` if the table has no such column.
pub fn translate(
    tokens: &[Token],
    column: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut parts: Vec<String> = Vec::with_capacity(tokens.len());
    for (i, tok) in tokens.iter().enumerate() {
        let next_is_paren = matches!(tokens.get(i + 1), Some(Token::Op(o)) if o == "(");
        let part = match tok {
            Token::Quoted(name) => column(name)
                .map(|n| quote_ident(&n))
                .ok_or_else(|| format!("unknown column {name:?}"))?,
            Token::Word(w) => {
                let up = w.to_ascii_uppercase();
                if next_is_paren {
                    function(w)
                        .map(str::to_owned)
                        .ok_or_else(|| format!("function {w}() has no PostgreSQL translation"))?
                } else if up == "LIKE" {
                    "ILIKE".to_owned()
                } else if KEYWORDS.contains(&up.as_str()) {
                    up
                } else if let Some(n) = column(w) {
                    quote_ident(&n)
                } else {
                    return Err(format!("{w:?} is not a column or a known keyword"));
                }
            }
            Token::Str(s) => quote_literal(s),
            Token::Number(n) => {
                if n.parse::<f64>().is_err() || n.starts_with("0x") || n.starts_with("0X") {
                    return Err(format!("number {n} has no PostgreSQL spelling"));
                }
                n.clone()
            }
            Token::Blob(_) => return Err("blob literal".into()),
            Token::Op(o) => match o.as_str() {
                "==" => "=".into(),
                "(" | ")" | "," | "+" | "-" | "*" | "/" | "%" | "<" | ">" | "=" | "<=" | ">="
                | "<>" | "!=" | "||" => o.clone(),
                _ => return Err(format!("operator {o} has no PostgreSQL translation")),
            },
        };
        parts.push(part);
    }
    // Join readably: no space inside parentheses or before commas, or between a function and "(".
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        let prev = if i > 0 { parts[i - 1].as_str() } else { "(" };
        let glue = !(prev == "(" || p == ")" || p == "," || (p == "(" && function_like(prev)));
        if glue && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(p);
    }
    Ok(out)
}

fn function_like(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !s.is_empty()
}

/// Returns the tokens inside the parenthesis that opens at `open` and the index after its close.
pub fn balanced(tokens: &[Token], open: usize) -> Option<(&[Token], usize)> {
    let mut depth = 0usize;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::Op(o) if o == "(" => depth += 1,
            Token::Op(o) if o == ")" => {
                depth -= 1;
                if depth == 0 {
                    return Some((&tokens[open + 1..i], i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits tokens at top-level commas.
pub fn split_commas(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Op(o) if o == "(" => depth += 1,
            Token::Op(o) if o == ")" => depth = depth.saturating_sub(1),
            Token::Op(o) if o == "," && depth == 0 => {
                out.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&tokens[start..]);
    out
}

pub fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(name: &str) -> Option<String> {
        ["Discount", "Quantity", "UnitPrice", "email", "deleted"]
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map(|c| c.to_string())
    }

    fn tr(sql: &str) -> Result<String, String> {
        translate(&tokenize(sql)?, &cols)
    }

    #[test]
    fn translates_northwind_checks() {
        assert_eq!(
            tr("[Discount]>=(0) AND [Discount]<=(1)").unwrap(),
            r#""Discount" >= (0) AND "Discount" <= (1)"#
        );
        assert_eq!(tr("quantity == 1").unwrap(), r#""Quantity" = 1"#);
        assert_eq!(tr("email LIKE '%@%'").unwrap(), r#""email" ILIKE '%@%'"#);
        assert_eq!(
            tr("lower(email) IS NOT NULL").unwrap(),
            r#"lower("email") IS NOT NULL"#
        );
        assert_eq!(
            tr("ifnull(deleted, 0) = 0").unwrap(),
            r#"coalesce("deleted", 0) = 0"#
        );
    }

    #[test]
    fn refuses_what_it_cannot_translate() {
        assert!(tr("typeof(email) = 'text'").is_err());
        assert!(tr("email GLOB '*x'").is_err());
        assert!(tr("nosuchcolumn > 1").is_err());
        assert!(tr("x'00' = email").is_err());
    }

    #[test]
    fn literals_are_requoted() {
        assert_eq!(tr("email = 'it''s'").unwrap(), r#""email" = 'it''s'"#);
        assert_eq!(
            tr(r#""email" = "deleted""#).unwrap(),
            r#""email" = "deleted""#
        );
    }

    #[test]
    fn tokenizer_handles_comments_and_quotes() {
        let t = tokenize("a -- note\n /* x */ [b c] `d``e`").unwrap();
        assert_eq!(
            t,
            vec![
                Token::Word("a".into()),
                Token::Quoted("b c".into()),
                Token::Quoted("d`e".into())
            ]
        );
    }
}
