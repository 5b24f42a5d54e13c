//! The rewrite pass: from a detection as the rule writes it (what the reference interpreter
//! evaluates) to what the compiled matcher runs. Every rewrite keeps the result on every event
//! (`rules/tests/prefilter_equivalence.rs` and `rules/tests/properties.rs` hold this):
//!
//! - regular expressions to plain comparisons where exact: a wildcard pattern whose only `*`
//!   are at its ends (`*\whoami.exe`, `*mimikatz*`) becomes `endswith`/`contains`/..., and a
//!   `|re` without metacharacters becomes `contains`, on ASCII text (other text keeps the
//!   regular expression, whose Unicode case folding the plain comparison does not copy);
//! - an item's case-insensitive `contains` values, two or more, as one Aho-Corasick automaton
//!   (SigmaHQ has items with a thousand);
//! - the items of each alternative ordered cheapest first (numbers and presence before text,
//!   text before regular expressions), so that a failing `EventID` stops the alternative
//!   before a `CommandLine` is read;
//! - constant folding of the condition: nested `and`/`or` flattened, `not not x` is `x`, a
//!   one-operand `and`/`or` is its operand.

use vigil_parsers::{Event, Value};

use super::{Cmp, Cond, Item, Search, ValueMatcher, item_matches};

/// A detection after the rewrite pass.
#[derive(Debug)]
pub(crate) struct Compiled {
    /// Per search identifier, its alternatives, each an AND of items.
    searches: Vec<Vec<Vec<CompiledItem>>>,
    condition: Cond,
}

#[derive(Debug)]
struct CompiledItem {
    field: Option<String>,
    values: Vec<ValueMatcher>,
    all: bool,
    any: Option<ContainsAny>,
}

impl CompiledItem {
    fn matches(&self, event: &Event) -> bool {
        item_matches(self.field.as_deref(), &self.values, self.all, self.any.as_ref(), event)
    }
}

impl Compiled {
    pub(crate) fn matches(&self, event: &Event) -> bool {
        self.eval(&self.condition, event)
    }

    fn eval(&self, cond: &Cond, event: &Event) -> bool {
        match cond {
            Cond::Search(i) => self
                .searches
                .get(*i)
                .is_some_and(|alternatives| alternatives.iter().any(|items| items.iter().all(|i| i.matches(event)))),
            Cond::Not(c) => !self.eval(c, event),
            Cond::And(cs) => cs.iter().all(|c| self.eval(c, event)),
            Cond::Or(cs) => cs.iter().any(|c| self.eval(c, event)),
        }
    }
}

/// The rewrite pass over a compiled detection's searches and condition.
pub(crate) fn compile(searches: &[Search], condition: &Cond) -> Compiled {
    let searches = searches
        .iter()
        .map(|search| {
            search
                .alternatives
                .iter()
                .map(|items| {
                    let mut items: Vec<CompiledItem> = items.iter().map(item).collect();
                    items.sort_by_key(|i| i.values.iter().map(cost).max().unwrap_or(0));
                    items
                })
                .collect()
        })
        .collect();
    Compiled { searches, condition: fold(condition.clone()) }
}

fn item(item: &Item) -> CompiledItem {
    let values: Vec<ValueMatcher> = item.values.iter().map(value).collect();
    let any = if item.all { None } else { ContainsAny::of(&values) };
    CompiledItem { field: item.field.clone(), values, all: item.all, any }
}

/// A value matcher with its regular expressions made plain where exact.
fn value(m: &ValueMatcher) -> ValueMatcher {
    match m {
        ValueMatcher::Regex(re, _, Some(plain)) => ValueMatcher::AsciiText { plain: plain.clone(), re: re.clone() },
        ValueMatcher::Any(ms) => ValueMatcher::Any(ms.iter().map(value).collect()),
        ValueMatcher::Not(m) => ValueMatcher::Not(Box::new(value(m))),
        ValueMatcher::Time(part, m) => ValueMatcher::Time(*part, Box::new(value(m))),
        other => other.clone(),
    }
}

/// How costly a value matcher is to evaluate, roughly: an order, not a measure.
fn cost(m: &ValueMatcher) -> u8 {
    match m {
        ValueMatcher::Number(_)
        | ValueMatcher::Bool(_)
        | ValueMatcher::Null
        | ValueMatcher::Exists(_)
        | ValueMatcher::Compare(..) => 0,
        ValueMatcher::Text { cmp: Cmp::Exact | Cmp::StartsWith | Cmp::EndsWith, .. } => 1,
        ValueMatcher::Text { .. } | ValueMatcher::AsciiText { .. } | ValueMatcher::Cidr(_) => 2,
        ValueMatcher::FieldRef { .. } | ValueMatcher::Time(..) => 3,
        ValueMatcher::Regex(..) => 4,
        ValueMatcher::Not(m) => cost(m),
        ValueMatcher::Any(ms) => ms.iter().map(cost).max().unwrap_or(0),
    }
}

/// Constant folding of a condition.
fn fold(cond: Cond) -> Cond {
    match cond {
        Cond::Search(i) => Cond::Search(i),
        Cond::Not(c) => match fold(*c) {
            Cond::Not(inner) => *inner,
            c => Cond::Not(Box::new(c)),
        },
        Cond::And(cs) => flatten(cs, true),
        Cond::Or(cs) => flatten(cs, false),
    }
}

fn flatten(cs: Vec<Cond>, and: bool) -> Cond {
    let mut out = Vec::with_capacity(cs.len());
    for c in cs.into_iter().map(fold) {
        match c {
            Cond::And(inner) if and => out.extend(inner),
            Cond::Or(inner) if !and => out.extend(inner),
            c => out.push(c),
        }
    }
    match (out.len(), and) {
        (1, _) => out.remove(0),
        (_, true) => Cond::And(out),
        (_, false) => Cond::Or(out),
    }
}

/// A rewrite of an item's value list (any of them): its case-insensitive `contains` needles,
/// two or more, as one Aho-Corasick automaton, so that a value is read once rather than once
/// per needle (SigmaHQ has an item with a thousand); its case-insensitive exact, `startswith`
/// and `endswith` needles, four or more of a kind, as hash sets by length, so that a value
/// costs one lookup per distinct needle length rather than one comparison per needle (a
/// SigmaHQ rule lists hundreds of DLL names under `endswith`). The other values stay as they
/// are, in `rest`.
#[derive(Debug)]
pub(super) struct ContainsAny {
    automaton: Option<aho_corasick::AhoCorasick>,
    /// Exact, `startswith`, `endswith`.
    sets: [Option<NeedleSet>; 3],
    rest: Vec<usize>,
}

/// Lowercase needles, and their distinct lengths in bytes.
#[derive(Debug)]
struct NeedleSet {
    needles: std::collections::HashSet<Box<[u8]>, foldhash::fast::RandomState>,
    lengths: Vec<usize>,
}

const SET_KINDS: [Cmp; 3] = [Cmp::Exact, Cmp::StartsWith, Cmp::EndsWith];

impl ContainsAny {
    /// The rewrite of `values`, when it pays (the needles are lowercase already).
    fn of(values: &[ValueMatcher]) -> Option<ContainsAny> {
        let needles_of = |kind: Cmp| -> Vec<&str> {
            values
                .iter()
                .filter_map(|m| match m {
                    ValueMatcher::Text { needle, cmp, cased: false } if *cmp == kind && !needle.is_empty() => {
                        Some(needle.as_str())
                    }
                    _ => None,
                })
                .collect()
        };
        let contains = needles_of(Cmp::Contains);
        let automaton = if contains.len() >= 2 {
            aho_corasick::AhoCorasick::builder().ascii_case_insensitive(true).build(&contains).ok()
        } else {
            None
        };
        let sets = SET_KINDS.map(|kind| {
            let needles = needles_of(kind);
            (needles.len() >= 4).then(|| {
                let mut lengths: Vec<usize> = needles.iter().map(|n| n.len()).collect();
                lengths.sort_unstable();
                lengths.dedup();
                NeedleSet { needles: needles.iter().map(|n| Box::from(n.as_bytes())).collect(), lengths }
            })
        });
        if automaton.is_none() && sets.iter().all(Option::is_none) {
            return None;
        }
        let covered = |m: &ValueMatcher| match m {
            ValueMatcher::Text { needle, cmp, cased: false } if !needle.is_empty() => match cmp {
                Cmp::Contains => automaton.is_some(),
                kind => SET_KINDS.iter().position(|k| k == kind).is_some_and(|i| sets[i].is_some()),
            },
            _ => false,
        };
        let rest = (0..values.len()).filter(|&i| !covered(&values[i])).collect();
        Some(ContainsAny { automaton, sets, rest })
    }

    /// Whether any of the item's values matches `value` (as `ValueMatcher::matches` would).
    pub(super) fn matches(&self, values: &[ValueMatcher], value: &Value, event: &Event) -> bool {
        if let Value::List(items) = value {
            // A list-valued field: any element (`ValueMatcher::matches` does the same).
            return items.iter().any(|item| self.matches(values, item, event));
        }
        if !value.is_null() {
            let text = value.as_text();
            // As `compare_ci`: ASCII text compared ASCII-case-insensitively, other text
            // lowercased (a non-ASCII needle never matches ASCII text either way).
            let lowered: Vec<u8> =
                if text.is_ascii() { text.as_bytes().to_ascii_lowercase() } else { text.to_lowercase().into_bytes() };
            if self.automaton.as_ref().is_some_and(|a| a.is_match(&lowered[..])) {
                return true;
            }
            let n = lowered.len();
            for (set, kind) in self.sets.iter().zip(SET_KINDS) {
                let Some(set) = set else { continue };
                let hit = match kind {
                    Cmp::Exact => set.needles.contains(&lowered[..]),
                    Cmp::StartsWith => set.lengths.iter().any(|&l| l <= n && set.needles.contains(&lowered[..l])),
                    _ => set.lengths.iter().any(|&l| l <= n && set.needles.contains(&lowered[n - l..])),
                };
                if hit {
                    return true;
                }
            }
        }
        self.rest.iter().any(|&i| values.get(i).is_some_and(|m| m.matches(value, event)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Ctx, Detection, Placeholders, compile as compile_detection};
    use super::*;

    fn det(yaml: &str) -> Detection {
        let map: serde_yaml_ng::Mapping = serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
        compile_detection(&map, &Ctx::new(&Placeholders::new())).unwrap_or_else(|e| panic!("{}: {}", e.code, e.message))
    }

    #[test]
    fn the_rewrites_apply() {
        let d = det(concat!(
            "sel:\n",
            "  Image: '*\\whoami.exe'\n",
            "  CommandLine|contains: ['/all', '/priv']\n",
            "  User|re: 'admin'\n",
            "  Path: '*đ*'\n",
            "  EventID: 1\n",
            "condition: not not (sel and (sel and sel))\n",
        ));
        let items = &d.compiled().searches[0][0];
        // Cheapest first: the number.
        assert!(matches!(items[0].values[0], ValueMatcher::Number(_)), "{items:?}");
        let plain = |cmp: Cmp, cased: bool| {
            items.iter().any(|i| {
                matches!(&i.values[0], ValueMatcher::AsciiText { plain, .. } if plain.cmp == cmp && plain.cased == cased)
            })
        };
        assert!(plain(Cmp::EndsWith, false), "`*\\whoami.exe` is an endswith: {items:?}");
        assert!(plain(Cmp::Contains, true), "`|re: admin` is a cased contains: {items:?}");
        // A non-ASCII literal keeps its regular expression.
        assert!(
            items.iter().any(|i| i.field.as_deref() == Some("Path") && matches!(i.values[0], ValueMatcher::Regex(..)))
        );
        assert!(items.iter().any(|i| i.field.as_deref() == Some("CommandLine") && i.any.is_some()));
        // `not not` folded away, the nested `and` flattened.
        assert!(matches!(&d.compiled().condition, Cond::And(cs) if cs.len() == 3), "{:?}", d.compiled().condition);
    }
}
