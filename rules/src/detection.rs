//! Compiling a Sigma `detection` block into matchers, and evaluating them on events.
//!
//! Semantics follow the Sigma specification:
//! - string comparisons are case-insensitive unless `|cased`;
//! - `*` and `?` are the only wildcards, `\` escapes them and itself;
//! - a field absent from the event makes its comparison false (so `not filter` is then true),
//!   except `field: null`, which matches exactly when the field is absent or null;
//! - numbers and booleans compare as values, not substrings;
//! - `|re` is an unanchored regular expression, case-sensitive unless `|re|i`;
//! - a list of values is an OR, or an AND with `|all`; a list of maps is an OR of ANDs;
//! - keywords (a list of plain values) search the event's `message`, or every field of an
//!   event that has no message.

use regex::{Regex, RegexBuilder};
use serde_yaml_ng::Value as Yaml;
use vigil_parsers::{Event, Value};

use crate::condition::{Expr, Quantifier};

/// Why a detection could not be compiled: a stable code and a message.
#[derive(Debug)]
pub(crate) struct CompileError {
    pub code: &'static str,
    pub message: String,
}

fn err(code: &'static str, message: impl Into<String>) -> CompileError {
    CompileError { code, message: message.into() }
}

/// How a literal compares with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Exact,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Lt,
    Lte,
    Gt,
    Gte,
}

#[derive(Debug)]
enum ValueMatcher {
    /// A literal without wildcards. Lowercased at compile time unless `cased`.
    Text {
        needle: String,
        cmp: Cmp,
        cased: bool,
    },
    /// Wildcards, or `|re`.
    Regex(Regex),
    Number(f64),
    Bool(bool),
    /// `null`: the field is absent or null.
    Null,
    Exists(bool),
    Compare(Order, f64),
}

impl ValueMatcher {
    fn matches(&self, value: &Value) -> bool {
        match self {
            ValueMatcher::Text { needle, cmp, cased } => {
                if value.is_null() {
                    return false;
                }
                let text = value.as_text();
                if *cased { compare(&text, needle, *cmp) } else { compare_ci(&text, needle, *cmp) }
            }
            ValueMatcher::Regex(re) => !value.is_null() && re.is_match(&value.as_text()),
            ValueMatcher::Number(n) => value.as_f64() == Some(*n),
            ValueMatcher::Bool(b) => match value {
                Value::Bool(v) => v == b,
                Value::Str(s) => s.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
                _ => false,
            },
            ValueMatcher::Null => value.is_null(),
            // Presence is decided by the caller, which sees absent fields.
            ValueMatcher::Exists(want) => *want,
            ValueMatcher::Compare(order, n) => value.as_f64().is_some_and(|v| match order {
                Order::Lt => v < *n,
                Order::Lte => v <= *n,
                Order::Gt => v > *n,
                Order::Gte => v >= *n,
            }),
        }
    }

    /// The result when the field is absent from the event.
    fn matches_absent(&self) -> bool {
        match self {
            ValueMatcher::Null => true,
            ValueMatcher::Exists(want) => !*want,
            _ => false,
        }
    }
}

fn compare(hay: &str, needle: &str, cmp: Cmp) -> bool {
    match cmp {
        Cmp::Exact => hay == needle,
        Cmp::Contains => hay.contains(needle),
        Cmp::StartsWith => hay.starts_with(needle),
        Cmp::EndsWith => hay.ends_with(needle),
    }
}

/// Case-insensitive comparison; `needle` is already lowercase.
fn compare_ci(hay: &str, needle: &str, cmp: Cmp) -> bool {
    if hay.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        match cmp {
            Cmp::Exact => h.eq_ignore_ascii_case(n),
            Cmp::StartsWith => h.len() >= n.len() && h[..n.len()].eq_ignore_ascii_case(n),
            Cmp::EndsWith => h.len() >= n.len() && h[h.len() - n.len()..].eq_ignore_ascii_case(n),
            Cmp::Contains => n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)),
        }
    } else {
        compare(&hay.to_lowercase(), needle, cmp)
    }
}

/// One `field|modifiers: values` item, or a keyword list (`field: None`).
#[derive(Debug)]
struct Item {
    field: Option<String>,
    values: Vec<ValueMatcher>,
    all: bool,
}

impl Item {
    fn matches(&self, event: &Event) -> bool {
        match &self.field {
            Some(name) => match event.field(name) {
                Some(v) => self.combine(|m| match m {
                    ValueMatcher::Exists(want) => *want,
                    m => m.matches(v),
                }),
                None => self.combine(ValueMatcher::matches_absent),
            },
            None => {
                let message = event.field("message").filter(|m| !m.as_text().is_empty());
                match message {
                    Some(m) => self.combine(|vm| vm.matches(m)),
                    None => self.combine(|vm| event.fields.values().any(|v| vm.matches(v))),
                }
            }
        }
    }

    fn combine(&self, f: impl Fn(&ValueMatcher) -> bool) -> bool {
        if self.all { self.values.iter().all(f) } else { self.values.iter().any(f) }
    }
}

/// A search identifier: an OR of alternatives, each an AND of items.
#[derive(Debug)]
pub(crate) struct Search {
    name: String,
    alternatives: Vec<Vec<Item>>,
}

impl Search {
    fn matches(&self, event: &Event) -> bool {
        self.alternatives.iter().any(|items| items.iter().all(|i| i.matches(event)))
    }
}

/// A condition with its identifiers resolved to search indexes.
#[derive(Debug)]
pub(crate) enum Cond {
    Search(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// A compiled `detection` block.
#[derive(Debug)]
pub(crate) struct Detection {
    searches: Vec<Search>,
    condition: Cond,
}

impl Detection {
    pub(crate) fn matches(&self, event: &Event) -> bool {
        self.eval(&self.condition, event)
    }

    fn eval(&self, cond: &Cond, event: &Event) -> bool {
        match cond {
            Cond::Search(i) => self.searches[*i].matches(event),
            Cond::Not(c) => !self.eval(c, event),
            Cond::And(cs) => cs.iter().all(|c| self.eval(c, event)),
            Cond::Or(cs) => cs.iter().any(|c| self.eval(c, event)),
        }
    }
}

pub(crate) fn compile(detection: &serde_yaml_ng::Mapping) -> Result<Detection, CompileError> {
    let mut searches = Vec::new();
    let mut conditions = Vec::new();
    for (key, value) in detection {
        let Some(name) = key.as_str() else {
            return Err(err("bad_detection", format!("detection key {key:?} is not a string")));
        };
        match name {
            "condition" => match value {
                Yaml::String(s) => conditions.push(s.clone()),
                Yaml::Sequence(seq) => {
                    for c in seq {
                        let Some(s) = c.as_str() else {
                            return Err(err("bad_condition", "condition list holds a non-string"));
                        };
                        conditions.push(s.to_owned());
                    }
                }
                _ => return Err(err("bad_condition", "condition must be a string")),
            },
            "timeframe" => {
                return Err(err(
                    "legacy_syntax",
                    "`timeframe` in a detection is the deprecated Sigma v1 aggregation; write a correlation rule",
                ));
            }
            _ => searches.push(compile_search(name, value)?),
        }
    }
    if conditions.is_empty() {
        return Err(err("missing_field", "detection has no condition"));
    }
    let mut resolved = Vec::new();
    for c in &conditions {
        let expr = crate::condition::parse(c).map_err(|m| err("bad_condition", m))?;
        resolved.push(resolve(&expr, &searches)?);
    }
    let condition = if resolved.len() == 1 { resolved.remove(0) } else { Cond::Or(resolved) };
    Ok(Detection { searches, condition })
}

fn resolve(expr: &Expr, searches: &[Search]) -> Result<Cond, CompileError> {
    Ok(match expr {
        Expr::Ident(name) => match searches.iter().position(|s| &s.name == name) {
            Some(i) => Cond::Search(i),
            None => {
                return Err(err(
                    "unknown_identifier",
                    format!("condition names `{name}`, which the detection does not define"),
                ));
            }
        },
        Expr::Of(q, pattern) => {
            let them = pattern == "*";
            let hits: Vec<Cond> = searches
                .iter()
                .enumerate()
                .filter(|(_, s)| if them { !s.name.starts_with('_') } else { glob(pattern, &s.name) })
                .map(|(i, _)| Cond::Search(i))
                .collect();
            if hits.is_empty() {
                return Err(err("unknown_identifier", format!("`of {pattern}` matches no search identifier")));
            }
            match q {
                Quantifier::Any => Cond::Or(hits),
                Quantifier::All => Cond::And(hits),
            }
        }
        Expr::Not(e) => Cond::Not(Box::new(resolve(e, searches)?)),
        Expr::And(es) => Cond::And(es.iter().map(|e| resolve(e, searches)).collect::<Result<_, _>>()?),
        Expr::Or(es) => Cond::Or(es.iter().map(|e| resolve(e, searches)).collect::<Result<_, _>>()?),
    })
}

/// Identifier patterns in `1 of sel_*`: `*` matches any run of characters.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else { return false };
            if tail.is_empty() {
                return true;
            }
            (0..=rest.len()).filter(|&i| rest.is_char_boundary(i)).any(|i| glob(tail, &rest[i..]))
        }
    }
}

fn compile_search(name: &str, value: &Yaml) -> Result<Search, CompileError> {
    let alternatives = match value {
        Yaml::Mapping(map) => vec![compile_map(map)?],
        Yaml::Sequence(seq) if seq.iter().all(|v| matches!(v, Yaml::Mapping(_))) && !seq.is_empty() => {
            seq.iter().filter_map(|v| v.as_mapping()).map(compile_map).collect::<Result<_, _>>()?
        }
        Yaml::Sequence(seq) => vec![vec![keywords(seq)?]],
        Yaml::String(_) | Yaml::Number(_) => vec![vec![keywords(std::slice::from_ref(value))?]],
        _ => {
            return Err(err(
                "bad_detection",
                format!("search identifier `{name}` is neither a map, a list nor a value"),
            ));
        }
    };
    Ok(Search { name: name.to_owned(), alternatives })
}

fn keywords(values: &[Yaml]) -> Result<Item, CompileError> {
    let mut matchers = Vec::new();
    for v in values {
        let text = match v {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            Yaml::Bool(b) => b.to_string(),
            _ => return Err(err("bad_detection", "a keyword list may only hold plain values")),
        };
        matchers.push(text_matcher(&text, Cmp::Contains, false)?);
    }
    Ok(Item { field: None, values: matchers, all: false })
}

fn compile_map(map: &serde_yaml_ng::Mapping) -> Result<Vec<Item>, CompileError> {
    let mut items = Vec::new();
    for (key, value) in map {
        let Some(key) = key.as_str() else {
            return Err(err("bad_detection", format!("field name {key:?} is not a string")));
        };
        items.push(compile_item(key, value)?);
    }
    if items.is_empty() {
        return Err(err("bad_detection", "empty selection"));
    }
    Ok(items)
}

#[derive(Default)]
struct Modifiers {
    cmp: Option<Cmp>,
    all: bool,
    cased: bool,
    re: bool,
    re_flags: (bool, bool, bool),
    exists: bool,
    windash: bool,
    order: Option<Order>,
}

fn compile_item(key: &str, value: &Yaml) -> Result<Item, CompileError> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let mut m = Modifiers::default();
    for modifier in parts {
        match modifier {
            "contains" => m.cmp = Some(Cmp::Contains),
            "startswith" => m.cmp = Some(Cmp::StartsWith),
            "endswith" => m.cmp = Some(Cmp::EndsWith),
            "all" => m.all = true,
            "cased" => m.cased = true,
            "re" => m.re = true,
            "i" if m.re => m.re_flags.0 = true,
            "m" if m.re => m.re_flags.1 = true,
            "s" if m.re => m.re_flags.2 = true,
            "exists" => m.exists = true,
            "windash" => m.windash = true,
            "lt" => m.order = Some(Order::Lt),
            "lte" => m.order = Some(Order::Lte),
            "gt" => m.order = Some(Order::Gt),
            "gte" => m.order = Some(Order::Gte),
            "base64" | "base64offset" | "utf16le" | "utf16be" | "utf16" | "wide" | "cidr" | "fieldref" | "expand"
            | "neq" | "minute" | "hour" | "day" | "week" | "month" | "year" => {
                return Err(err(
                    "unsupported_modifier",
                    format!("modifier `{modifier}` (in `{key}`) is not supported yet"),
                ));
            }
            other => return Err(err("unknown_modifier", format!("unknown modifier `{other}` in `{key}`"))),
        }
    }
    let values: Vec<&Yaml> = match value {
        Yaml::Sequence(seq) => seq.iter().collect(),
        v => vec![v],
    };
    if field.is_empty() {
        // `'|all': [...]`: keywords that must all appear.
        let owned: Vec<Yaml> = values.into_iter().cloned().collect();
        let mut item = keywords(&owned)?;
        item.all = m.all;
        return Ok(item);
    }
    let mut matchers = Vec::new();
    for v in values {
        value_matchers(v, &m, key, &mut matchers)?;
    }
    Ok(Item { field: Some(field.to_owned()), values: matchers, all: m.all })
}

fn value_matchers(v: &Yaml, m: &Modifiers, key: &str, out: &mut Vec<ValueMatcher>) -> Result<(), CompileError> {
    if m.exists {
        let Some(b) = v.as_bool() else {
            return Err(err("bad_value", format!("`{key}` needs true or false")));
        };
        out.push(ValueMatcher::Exists(b));
        return Ok(());
    }
    if let Some(order) = m.order {
        let Some(n) = v.as_f64() else {
            return Err(err("bad_value", format!("`{key}` needs a number")));
        };
        out.push(ValueMatcher::Compare(order, n));
        return Ok(());
    }
    let text = match v {
        Yaml::Null => {
            out.push(ValueMatcher::Null);
            return Ok(());
        }
        Yaml::Bool(b) if m.cmp.is_none() && !m.re => {
            out.push(ValueMatcher::Bool(*b));
            return Ok(());
        }
        Yaml::Number(n) if m.cmp.is_none() && !m.re && !m.windash => {
            match n.as_f64() {
                Some(f) => out.push(ValueMatcher::Number(f)),
                None => return Err(err("bad_value", format!("`{key}`: number {n} out of range"))),
            }
            return Ok(());
        }
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        _ => {
            return Err(err(
                "bad_value",
                format!("`{key}` holds a value that is not a string, number, boolean or null"),
            ));
        }
    };
    if m.re {
        let (i, multi, dot) = m.re_flags;
        let re = RegexBuilder::new(&text)
            .case_insensitive(i)
            .multi_line(multi)
            .dot_matches_new_line(dot)
            .size_limit(1 << 22)
            .build()
            .map_err(|e| err("bad_regex", format!("`{key}`: {e}")))?;
        out.push(ValueMatcher::Regex(re));
        return Ok(());
    }
    let cmp = m.cmp.unwrap_or(Cmp::Exact);
    if m.windash {
        let mut variants: Vec<String> =
            ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'].iter().map(|d| text.replace('-', &d.to_string())).collect();
        variants.dedup();
        for variant in variants {
            out.push(text_matcher(&variant, cmp, m.cased)?);
        }
        return Ok(());
    }
    out.push(text_matcher(&text, cmp, m.cased)?);
    Ok(())
}

enum Token {
    Lit(String),
    Star,
    One,
}

/// Splits a Sigma string into literals and wildcards: `\*`, `\?` and `\\` are literal; a `\`
/// before anything else is itself literal.
fn tokenize(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    chars.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Token::Lit(std::mem::take(&mut lit)));
                }
                out.push(if c == '*' { Token::Star } else { Token::One });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Token::Lit(lit));
    }
    out
}

fn text_matcher(text: &str, cmp: Cmp, cased: bool) -> Result<ValueMatcher, CompileError> {
    let tokens = tokenize(text);
    if tokens.iter().all(|t| matches!(t, Token::Lit(_))) {
        let mut needle: String =
            tokens.into_iter().map(|t| if let Token::Lit(s) = t { s } else { String::new() }).collect();
        if !cased {
            needle = needle.to_lowercase();
        }
        return Ok(ValueMatcher::Text { needle, cmp, cased });
    }
    let mut pattern = String::from(if cased { "(?s)" } else { "(?si)" });
    if matches!(cmp, Cmp::Exact | Cmp::StartsWith) {
        pattern.push('^');
    }
    for t in &tokens {
        match t {
            Token::Lit(s) => pattern.push_str(&regex::escape(s)),
            Token::Star => pattern.push_str(".*"),
            Token::One => pattern.push('.'),
        }
    }
    if matches!(cmp, Cmp::Exact | Cmp::EndsWith) {
        pattern.push('$');
    }
    Regex::new(&pattern)
        .map(ValueMatcher::Regex)
        .map_err(|e| err("bad_value", format!("wildcard pattern {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_parsers::{Fields, Format, LogSource};

    fn event(fields: &[(&str, Value)]) -> Event {
        let mut f = Fields::new();
        for (k, v) in fields {
            f.insert((*k).to_owned().into(), v.clone());
        }
        Event {
            time: chrono::DateTime::default(),
            received: chrono::DateTime::default(),
            host: None,
            structured_data: Vec::new(),
            fields: f,
            logsource: LogSource::default(),
            format: Format::Json,
            raw: String::new(),
            origin: None,
        }
    }

    fn det(yaml: &str) -> Detection {
        let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        compile(&map).unwrap_or_else(|e| panic!("{}: {}", e.code, e.message))
    }

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    #[test]
    fn case_insensitive_unless_cased_and_wildcards() {
        let d = det("sel:\n  Image|endswith: '\\CMD.exe'\ncondition: sel");
        assert!(d.matches(&event(&[("Image", s("C:\\Windows\\cmd.EXE"))])));
        let d = det("sel:\n  Image|cased: 'CMD.exe'\ncondition: sel");
        assert!(!d.matches(&event(&[("Image", s("cmd.exe"))])));
        let d = det("sel:\n  CommandLine: '*whoami ?all'\ncondition: sel");
        assert!(d.matches(&event(&[("CommandLine", s("cmd /c WHOAMI /all"))])));
        assert!(!d.matches(&event(&[("CommandLine", s("cmd /c whoami /all x"))])));
    }

    #[test]
    fn underscore_and_percent_are_literal_and_backslash_escapes() {
        let d = det("sel:\n  f: 'a_b%c'\ncondition: sel");
        assert!(d.matches(&event(&[("f", s("A_B%C"))])));
        assert!(!d.matches(&event(&[("f", s("axbxc"))])));
        let d = det("sel:\n  f: 'what\\?'\ncondition: sel");
        assert!(d.matches(&event(&[("f", s("what?"))])));
        assert!(!d.matches(&event(&[("f", s("whatx"))])));
    }

    #[test]
    fn absent_field_is_false_and_not_filter_is_true() {
        let d = det("sel:\n  a: x\nfilter:\n  b: y\ncondition: sel and not filter");
        assert!(d.matches(&event(&[("a", s("x"))])));
        assert!(!d.matches(&event(&[("a", s("x")), ("b", s("Y"))])));
        let d = det("sel:\n  b: null\ncondition: sel");
        assert!(d.matches(&event(&[("a", s("x"))])));
    }

    #[test]
    fn numbers_compare_as_values() {
        let d = det("sel:\n  EventID: 4688\ncondition: sel");
        assert!(d.matches(&event(&[("EventID", Value::Int(4688))])));
        assert!(d.matches(&event(&[("EventID", s("4688"))])));
        assert!(!d.matches(&event(&[("EventID", Value::Int(46880))])));
    }

    #[test]
    fn contains_all_and_re() {
        let d = det("sel:\n  c|contains|all: [foo, bar]\ncondition: sel");
        assert!(d.matches(&event(&[("c", s("xx BAR yy foo"))])));
        assert!(!d.matches(&event(&[("c", s("xx foo"))])));
        let d = det("sel:\n  c|re: 'o+b'\ncondition: sel");
        assert!(d.matches(&event(&[("c", s("xfooby"))])));
        assert!(!d.matches(&event(&[("c", s("xFOOBy"))])));
    }

    #[test]
    fn keywords_search_the_message() {
        let d = det("keywords:\n  - 'Invalid user'\n  - 'no such user'\ncondition: keywords");
        assert!(d.matches(&event(&[("message", s("invalid USER bob from 1.2.3.4"))])));
        assert!(!d.matches(&event(&[("message", s("Accepted password"))])));
    }

    #[test]
    fn one_of_and_all_of() {
        let d = det("sel_a:\n  a: 1\nsel_b:\n  b: 2\ncondition: 1 of sel_*");
        assert!(d.matches(&event(&[("b", Value::Int(2))])));
        let d = det("sel_a:\n  a: 1\nsel_b:\n  b: 2\ncondition: all of them");
        assert!(!d.matches(&event(&[("b", Value::Int(2))])));
        assert!(d.matches(&event(&[("a", Value::Int(1)), ("b", Value::Int(2))])));
    }

    #[test]
    fn bad_detections_are_errors() {
        for (yaml, code) in [
            ("sel:\n  a: 1\ncondition: nope", "unknown_identifier"),
            ("sel:\n  a|base64offset: x\ncondition: sel", "unsupported_modifier"),
            ("sel:\n  a|bogus: x\ncondition: sel", "unknown_modifier"),
            ("sel:\n  a|re: '('\ncondition: sel", "bad_regex"),
            ("sel:\n  a: 1", "missing_field"),
        ] {
            let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(compile(&map).map(|_| ()).map_err(|e| e.code), Err(code), "{yaml}");
        }
    }
}
