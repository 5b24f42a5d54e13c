//! Alert searches: the caller's query, the time range, the caller's scope and the page cursor,
//! made into one tantivy query.
//!
//! The query language is tantivy's (`field:value`, `"phrases"`, `AND`/`OR`/`NOT`, `-term`,
//! ranges `[a TO b]`, `/regex/` on a named field), plus `*` and `?` wildcards in a bare word
//! (`process:*\\cmd.exe`, `user:adm?n`), matched against the field's indexed terms (folded or
//! lowercased as the field is). The scope is a clause of its own, joined to the caller's query
//! with AND after that query is parsed: nothing in the query can remove or widen it.

use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::query_grammar::{self, UserInputAst, UserInputLeaf};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, Term};

use super::StoreError;
use super::schema::{Analysis, Fields, analysis};
use super::text::fold;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 4096;
/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 16;

/// Which alerts a caller may see. Applied inside every search, count and aggregation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every province (the national centre, the administrator, the engine itself).
    #[default]
    All,
    /// One province's alerts.
    Province(String),
    /// One agency's alerts.
    Agency(String),
}

/// Result order, by event time (then id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A search over alerts.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    /// The query language above; empty means every alert.
    pub q: String,
    /// Inclusive event-time bounds.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// How many alerts to return (0: only the total).
    pub limit: usize,
    pub sort: SortOrder,
    /// The `next` of the previous page: this page starts after it.
    pub cursor: Option<String>,
    pub scope: Scope,
}

/// A query-language error; `position` is the byte offset in the query where it was found, when
/// known.
pub(crate) fn invalid(message: impl Into<String>, position: Option<usize>) -> StoreError {
    StoreError::Query { message: message.into(), position }
}

/// Rejects what would cost the server rather than answer the analyst: very long queries and
/// deep nesting (the grammar is recursive).
fn check_shape(q: &str) -> Result<(), StoreError> {
    if q.len() > MAX_QUERY_LEN {
        return Err(invalid(format!("the query is longer than {MAX_QUERY_LEN} bytes"), Some(MAX_QUERY_LEN)));
    }
    // Every `(` counts, quoted or not: `"` does not quote inside a `'...'` phrase or a
    // `/regex/`, and a parenthesis too many in a phrase is a cheap refusal.
    let mut depth = 0usize;
    for (i, c) in q.char_indices() {
        match c {
            '(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(invalid(format!("parentheses are nested deeper than {MAX_DEPTH}"), Some(i)));
                }
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses the caller's query: `None` for an empty one.
pub(crate) fn parse_user(index: &Index, f: &Fields, q: &str) -> Result<Option<Box<dyn Query>>, StoreError> {
    if q.trim().is_empty() {
        return Ok(None);
    }
    check_shape(q)?;
    let ast = match query_grammar::parse_query(q) {
        Ok(ast) => ast,
        Err(_) => {
            let (_, errors) = query_grammar::parse_query_lenient(q);
            let first = errors.first();
            let message = first.map_or("syntax error".to_owned(), |e| format!("syntax error: {}", e.message));
            return Err(invalid(message, first.map(|e| e.pos.min(q.len()))));
        }
    };
    let ast = wildcards(ast, index.schema())?;
    let mut parser = QueryParser::for_index(index, vec![f.message, f.rule_title]);
    parser.set_conjunction_by_default();
    parser.allow_regexes();
    parser.build_query_from_user_input_ast(ast).map(Some).map_err(|e| {
        use tantivy::query::QueryParserError as E;
        let position = match &e {
            E::FieldDoesNotExist(name) | E::FieldNotIndexed(name) | E::FieldDoesNotHavePositionsIndexed(name) => {
                q.find(&format!("{name}:"))
            }
            _ => None,
        };
        let message = match &e {
            E::FieldDoesNotExist(name) => format!("unknown field `{name}`"),
            _ => e.to_string(),
        };
        invalid(message, position)
    })
}

/// The default fields a bare wildcard is looked for in.
const DEFAULT_FIELDS: &[&str] = &["message", "rule_title"];

/// Turns words with `*` or `?` into regexes over the field's terms, folded like the field, and
/// refuses `field:*` (exists) on a field that cannot answer it.
fn wildcards(ast: UserInputAst, schema: tantivy::schema::Schema) -> Result<UserInputAst, StoreError> {
    Ok(match ast {
        UserInputAst::Clause(clauses) => UserInputAst::Clause(
            clauses.into_iter().map(|(o, a)| wildcards(a, schema.clone()).map(|a| (o, a))).collect::<Result<_, _>>()?,
        ),
        UserInputAst::Boost(a, b) => UserInputAst::Boost(Box::new(wildcards(*a, schema)?), b),
        UserInputAst::Leaf(leaf) => match *leaf {
            // Ids are indexed as bytes, which the parser reads as base64.
            UserInputLeaf::Literal(mut lit) if matches!(lit.field_name.as_deref(), Some("id" | "member")) => {
                use base64::Engine as _;
                lit.phrase = base64::engine::general_purpose::STANDARD.encode(super::schema::id_bytes(&lit.phrase));
                lit.delimiter = query_grammar::Delimiter::DoubleQuotes;
                UserInputAst::Leaf(Box::new(UserInputLeaf::Literal(lit)))
            }
            UserInputLeaf::Exists { field } => {
                let fast = schema.get_field(&field).map(|f| schema.get_field_entry(f).is_fast());
                match fast {
                    Ok(true) => UserInputAst::Leaf(Box::new(UserInputLeaf::Exists { field })),
                    Ok(false) => {
                        return Err(invalid(format!("`{field}:*` (has a value) is not supported on `{field}`"), None));
                    }
                    Err(_) => return Err(invalid(format!("unknown field `{field}`"), None)),
                }
            }
            UserInputLeaf::Literal(lit)
                if lit.delimiter == query_grammar::Delimiter::None
                    && lit.phrase.contains(['*', '?'])
                    && lit.phrase != "*" =>
            {
                let fields: Vec<String> = match &lit.field_name {
                    Some(name) => vec![name.clone()],
                    None => DEFAULT_FIELDS.iter().map(|s| (*s).to_owned()).collect(),
                };
                let mut leaves = Vec::new();
                for field in fields {
                    let pattern = wildcard_regex(&field, &lit.phrase)?;
                    leaves.push((
                        Some(query_grammar::Occur::Should),
                        UserInputAst::Leaf(Box::new(UserInputLeaf::Regex { field: Some(field), pattern })),
                    ));
                }
                if leaves.len() == 1 { leaves.remove(0).1 } else { UserInputAst::Clause(leaves) }
            }
            leaf => UserInputAst::Leaf(Box::new(leaf)),
        },
    })
}

fn wildcard_regex(field: &str, word: &str) -> Result<String, StoreError> {
    let fold_piece = |piece: &str| -> String {
        match analysis(field) {
            Some(Analysis::Words) => fold(piece),
            Some(Analysis::Keyword) => piece.to_lowercase(),
            _ => piece.to_owned(),
        }
    };
    match analysis(field) {
        Some(Analysis::Words | Analysis::Keyword | Analysis::Exact) => {}
        Some(_) => return Err(invalid(format!("wildcards apply to text fields, not `{field}`"), None)),
        None => return Err(invalid(format!("unknown field `{field}`"), None)),
    }
    let mut pattern = String::new();
    let mut piece = String::new();
    for c in word.chars() {
        if c == '*' || c == '?' {
            pattern.push_str(&regex::escape(&fold_piece(&piece)));
            piece.clear();
            pattern.push_str(if c == '*' { ".*" } else { "." });
        } else {
            piece.push(c);
        }
    }
    pattern.push_str(&regex::escape(&fold_piece(&piece)));
    Ok(pattern)
}

/// Inclusive event-time range.
pub(crate) fn time_range(f: &Fields, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Box<dyn Query> {
    let bound = |t: Option<DateTime<Utc>>| match t {
        None => Bound::Unbounded,
        Some(t) => Bound::Included(Term::from_field_date(
            f.time,
            tantivy::DateTime::from_timestamp_micros(t.timestamp_micros()),
        )),
    };
    Box::new(RangeQuery::new(bound(from), bound(to)))
}

/// The scope's clause: `None` for [`Scope::All`].
pub(crate) fn scope_clause(f: &Fields, scope: &Scope) -> Option<Box<dyn Query>> {
    let term = match scope {
        Scope::All => return None,
        Scope::Province(p) => Term::from_field_text(f.province, p),
        Scope::Agency(a) => Term::from_field_text(f.agency, a),
    };
    Some(Box::new(TermQuery::new(term, IndexRecordOption::Basic)))
}

/// Page cursors: the sort key of the last alert of the page, in hex.
pub(crate) fn parse_cursor(cursor: &str) -> Result<u64, StoreError> {
    u64::from_str_radix(cursor, 16)
        .ok()
        .filter(|_| cursor.len() == 16)
        .ok_or_else(|| invalid("the cursor is not one this server gave", None))
}

pub(crate) fn cursor_text(key: u64) -> String {
    format!("{key:016x}")
}

/// Alerts after `key` in `order`.
pub(crate) fn after(f: &Fields, key: u64, order: SortOrder) -> Box<dyn Query> {
    let term = |k| Term::from_field_u64(f.sort, k);
    match order {
        SortOrder::NewestFirst => Box::new(RangeQuery::new(Bound::Unbounded, Bound::Excluded(term(key)))),
        SortOrder::OldestFirst => Box::new(RangeQuery::new(Bound::Excluded(term(key)), Bound::Unbounded)),
    }
}

/// Alerts with exactly this sort key.
pub(crate) fn at(f: &Fields, key: u64) -> Box<dyn Query> {
    let term = Term::from_field_u64(f.sort, key);
    Box::new(RangeQuery::new(Bound::Included(term.clone()), Bound::Included(term)))
}

/// All of `clauses` (every alert when there are none).
pub(crate) fn all_of(clauses: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    match clauses.len() {
        0 => Box::new(AllQuery),
        _ => Box::new(BooleanQuery::new(clauses.into_iter().map(|q| (Occur::Must, q)).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_limits_report_where() {
        assert!(check_shape("a AND (b OR (c))").is_ok());
        let deep = format!("{}x{}", "(".repeat(40), ")".repeat(40));
        match check_shape(&deep) {
            Err(StoreError::Query { position: Some(16), .. }) => {}
            other => panic!("{other:?}"),
        }
        // Quotes do not hide nesting: `"` is a plain character inside '...' or /.../.
        let hidden = format!("message:'\"' AND {}x{}", "(".repeat(40), ")".repeat(40));
        assert!(check_shape(&hidden).is_err());
        assert!(check_shape(&"a ".repeat(3000)).is_err());
    }

    #[test]
    fn wildcard_patterns_are_folded_like_their_field() {
        assert_eq!(wildcard_regex("user", "Adm?n*").ok().as_deref(), Some("adm.n.*"));
        assert_eq!(wildcard_regex("message", "Đăng*").ok().as_deref(), Some("dang.*"));
        assert_eq!(wildcard_regex("process", "*\\cmd.exe").ok().as_deref(), Some(".*\\\\cmd\\.exe"));
        assert_eq!(wildcard_regex("rule_id", "abc*").ok().as_deref(), Some("abc.*"));
        assert!(wildcard_regex("src_ip", "10.*").is_err());
        assert!(wildcard_regex("nope", "a*").is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_others() {
        assert_eq!(parse_cursor(&cursor_text(0x1234)).ok(), Some(0x1234));
        for bad in ["", "xyz", "12", "00000000000000000"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
