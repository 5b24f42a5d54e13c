//! What a detection requires of every event it matches, for the prefilter
//! (`crate::prefilter`): clauses of literals (an AND of sets, one literal of each set in the
//! event) and a numeric gate (a field that must be one of a few numbers). Each is a superset
//! test, never the verdict: whatever a detection matches meets its requirements, so skipping
//! an event that does not meet them never misses a match (the prefilter equivalence tests).

use vigil_parsers::Value;

use super::{Cond, Detection, Item, Search, ValueMatcher};

/// A string that occurs, case-insensitively, in an event a rule matches: in the value of
/// `field`, or for a keyword (`field: None`) in the message, or in any value of an event that
/// has no message. What the prefilter scans for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Literal {
    pub field: Option<String>,
    pub text: String,
}

/// What the prefilter requires of an event a detection matches: clauses, each a set of
/// literals one of which occurs in the event. Every clause must hold (an AND of ORs), so a
/// rule is evaluated only when, say, its `Image` literal and one of its `CommandLine`
/// literals were both found, not whenever `\\Windows\\` is. Empty: nothing is required (the
/// rule is evaluated on every event of its logsource).
pub(crate) type Clauses = Vec<Vec<Literal>>;

/// The most clauses kept for a rule (the most selective ones): the prefilter tracks them in a
/// byte per rule.
pub(crate) const MAX_CLAUSES: usize = 8;

/// How selective a clause is: its shortest literal's length (longer is better), then how few
/// literals it has.
fn score(clause: &[Literal]) -> (usize, usize) {
    (clause.iter().map(|l| l.text.len()).min().unwrap_or(0), usize::MAX - clause.len())
}

/// Clauses deduplicated, most selective first, at most [`MAX_CLAUSES`] of them (dropping a
/// clause only weakens what is required: never a missed match).
fn trim(mut clauses: Clauses) -> Clauses {
    for clause in &mut clauses {
        clause.sort();
        clause.dedup();
    }
    clauses.retain(|c| !c.is_empty());
    clauses.sort_by(|a, b| score(b).cmp(&score(a)).then_with(|| a.cmp(b)));
    clauses.dedup();
    clauses.truncate(MAX_CLAUSES);
    clauses
}

/// What an AND requires: every part's clauses.
fn all_of(parts: impl Iterator<Item = Clauses>) -> Clauses {
    trim(parts.flatten().collect())
}

/// What an OR requires: `(a1 and a2) or b` is `(a1 or b) and (a2 or b)` while that stays
/// within [`MAX_CLAUSES`], then the union of each part's most selective clause. Nothing when
/// a part requires nothing.
fn any_of(parts: impl Iterator<Item = Clauses>) -> Clauses {
    let mut acc: Option<Clauses> = None;
    for part in parts {
        let part = trim(part);
        if part.is_empty() {
            return Vec::new();
        }
        let joined = match acc {
            None => part,
            Some(acc) if acc.len() * part.len() <= MAX_CLAUSES => {
                acc.iter().flat_map(|a| part.iter().map(move |p| a.iter().chain(p).cloned().collect())).collect()
            }
            Some(acc) => vec![acc[0].iter().chain(&part[0]).cloned().collect()],
        };
        acc = Some(trim(joined));
    }
    acc.unwrap_or_default()
}

/// A field whose value must be one of a few numbers for a detection to match (`EventID: 27`,
/// `EventID: [4624, 4625]`): numbers give the prefilter no literal, so rules such as Sysmon's
/// `EventID: 27` alone were evaluated on every Sysmon event. The prefilter checks the gate
/// first, from data it keeps hot, instead of evaluating the rule.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Gate {
    pub field: String,
    pub values: Vec<f64>,
}

impl Gate {
    /// The gate of an OR: every part's gate on one field, their numbers together; `None` when
    /// a part has none, or they name different fields.
    fn union(mut gates: impl Iterator<Item = Option<Gate>>) -> Option<Gate> {
        let first = gates.next()??;
        gates.try_fold(first, |acc, g| acc.or(g?))
    }

    /// The union of two gates on the same field; `None` when their fields differ.
    fn or(mut self, other: Gate) -> Option<Gate> {
        if self.field != other.field {
            return None;
        }
        for v in other.values {
            if !self.values.contains(&v) {
                self.values.push(v);
            }
        }
        Some(self)
    }

    /// Whether an event whose gated field is `seen` may match: `false` only when the
    /// detection cannot.
    pub(crate) fn admits(values: &[f64], seen: Seen) -> bool {
        match seen {
            Seen::Absent | Seen::NotANumber => false,
            Seen::List => true,
            Seen::Number(x) => values.contains(&x),
        }
    }
}

/// What a gate sees of an event's field, as [`ValueMatcher::Number`] compares it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Seen {
    /// No such field: a number comparison is false.
    Absent,
    /// A list may match through any element: it passes.
    List,
    Number(f64),
    /// A value that is not a number (nor text that reads as one): the comparison is false.
    NotANumber,
}

impl Seen {
    pub(crate) fn of(value: Option<&Value>) -> Seen {
        match value {
            None => Seen::Absent,
            Some(Value::List(_)) => Seen::List,
            Some(v) => v.as_f64().map_or(Seen::NotANumber, Seen::Number),
        }
    }
}

/// [`best`] for the literal texts of one item's values.
fn best_text(sets: impl Iterator<Item = Vec<String>>) -> Option<Vec<String>> {
    sets.max_by_key(|set| (set.iter().map(String::len).min().unwrap_or(0), usize::MAX - set.len()))
}

impl Item {
    /// The gate of an item on a field whose values are all numbers: the event's value must
    /// be one of them (with `|all`, all of them: one of them is still required).
    fn gate(&self) -> Option<Gate> {
        let field = self.field.as_ref()?;
        if self.values.is_empty() {
            return None;
        }
        let values = self
            .values
            .iter()
            .map(|v| match v {
                ValueMatcher::Number(n) => Some(*n),
                _ => None,
            })
            .collect::<Option<Vec<f64>>>()?;
        Some(Gate { field: field.clone(), values })
    }

    /// Literals one of which occurs in the item's field (for keywords: in the message, or in
    /// any value of an event without one) whenever the item matches.
    fn literals(&self) -> Option<Vec<Literal>> {
        if self.values.is_empty() {
            return None;
        }
        let texts = if self.all {
            // Every value must match: any one value's literals will do; take the best.
            best_text(self.values.iter().filter_map(ValueMatcher::literals))?
        } else {
            let mut all = Vec::new();
            for v in &self.values {
                all.extend(v.literals()?);
            }
            all
        };
        Some(texts.into_iter().map(|text| Literal { field: self.field.clone(), text }).collect())
    }
}

impl Search {
    /// The gate every alternative has on one field (an item whose values are all numbers),
    /// their numbers together.
    fn gate(&self) -> Option<Gate> {
        Gate::union(self.alternatives.iter().map(|items| items.iter().find_map(Item::gate)))
    }

    /// What the prefilter requires of an event the search matches: each alternative's items'
    /// literals, ORed over the alternatives.
    fn clauses(&self) -> Clauses {
        any_of(self.alternatives.iter().map(|items| all_of(items.iter().filter_map(Item::literals).map(|c| vec![c]))))
    }
}

impl Detection {
    /// What the prefilter requires of an event the detection matches ([`Clauses`]). Empty when
    /// the condition gives nothing (a `not` alone, comparisons, patterns without a literal):
    /// the rule is then evaluated on every event of its logsource.
    pub(crate) fn requirements(&self) -> Clauses {
        fn cond(c: &Cond, searches: &[Search]) -> Clauses {
            match c {
                Cond::Search(i) => searches.get(*i).map(Search::clauses).unwrap_or_default(),
                Cond::Not(_) => Vec::new(),
                Cond::And(cs) => all_of(cs.iter().map(|c| cond(c, searches))),
                Cond::Or(cs) => any_of(cs.iter().map(|c| cond(c, searches))),
            }
        }
        cond(&self.condition, &self.searches)
    }

    /// A field whose numeric value the detection requires to be one of a few numbers
    /// ([`Gate`]), when the condition gives one: through `and`, from any part; through `or`,
    /// from every part, on the same field.
    pub(crate) fn gate(&self) -> Option<Gate> {
        fn cond(c: &Cond, searches: &[Search]) -> Option<Gate> {
            match c {
                Cond::Search(i) => searches.get(*i).and_then(Search::gate),
                Cond::Not(_) => None,
                Cond::And(cs) => cs.iter().find_map(|c| cond(c, searches)),
                Cond::Or(cs) => Gate::union(cs.iter().map(|c| cond(c, searches))),
            }
        }
        cond(&self.condition, &self.searches)
    }
}
