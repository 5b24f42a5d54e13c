//! The whole-ruleset prefilter: the literals of every rule in one Vectorscan (Hyperscan)
//! database, so that an event is scanned once and only the rules whose required literals occur
//! in it are evaluated exactly.
//!
//! A rule's literals ([`crate::detection::Detection::literals`]) are a set one of which occurs
//! in the event's field values whenever the rule matches; the scan is a superset test, never
//! the verdict. Rules without such a set (conditions that are a `not`, numeric comparisons,
//! regular expressions) are evaluated on every event of their logsource.
//!
//! The scanned text is every field value, separated by line feeds: ASCII values as they are
//! (the literals are matched case-insensitively), other values lowercased as the exact matcher
//! lowercases them, so that both see the same text.

use std::collections::HashMap;

use vectorscan_rs::{BlockDatabase, BlockScanner, Flag, Pattern, Scan};
use vigil_parsers::{Event, LogSource};

/// Below this many rules there is no prefilter: every rule of the event's logsource is
/// evaluated.
pub(crate) const MIN_RULES: usize = 64;

/// The compiled prefilter of a rule set.
pub(crate) struct Prefilter {
    db: Option<BlockDatabase>,
    /// Literal id -> the rules that need it.
    rules_of: Vec<Vec<u32>>,
    /// Rules with no literal set: evaluated on every event of their logsource.
    always: Vec<u32>,
    pub(crate) literals: usize,
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter").field("literals", &self.literals).field("always", &self.always.len()).finish()
    }
}

/// A literal as a Hyperscan pattern: every byte that is not a letter or digit escaped.
fn pattern(literal: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(literal.len() * 2);
    for b in literal.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(b);
        } else {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
    out
}

impl Prefilter {
    /// Builds the prefilter from each rule's literal set (`None`: no prefilter for that rule).
    /// Whether there is a database to scan (enough rules with literals).
    pub(crate) fn scans(&self) -> bool {
        self.db.is_some()
    }

    pub(crate) fn always_count(&self) -> usize {
        self.always.len()
    }

    pub(crate) fn build(requirements: &[Option<Vec<String>>]) -> Result<Prefilter, String> {
        // A few rules are cheaper to evaluate than an event is to scan (BENCHMARKS.md).
        if requirements.len() < MIN_RULES {
            let always = (0..requirements.len() as u32).collect();
            return Ok(Prefilter { db: None, rules_of: Vec::new(), always, literals: 0 });
        }
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut rules_of: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        let mut patterns = Vec::new();
        for (rule, req) in requirements.iter().enumerate() {
            let rule = rule as u32;
            match req {
                None => always.push(rule),
                Some(literals) => {
                    for literal in literals {
                        // The scanned text has `ſ` as `s`: so must the literals.
                        let literal = literal.replace('ſ', "s");
                        let id = *ids.entry(literal.clone()).or_insert_with(|| {
                            let id = rules_of.len() as u32;
                            rules_of.push(Vec::new());
                            patterns.push(Pattern::new(
                                pattern(&literal),
                                Flag::CASELESS | Flag::SINGLEMATCH,
                                Some(id),
                            ));
                            id
                        });
                        if rules_of[id as usize].last() != Some(&rule) {
                            rules_of[id as usize].push(rule);
                        }
                    }
                }
            }
        }
        let literals = patterns.len();
        let db = if patterns.is_empty() {
            None
        } else {
            Some(BlockDatabase::new(patterns).map_err(|e| format!("cannot compile the prefilter: {e}"))?)
        };
        Ok(Prefilter { db, rules_of, always, literals })
    }
}

/// Per-worker matching state: Vectorscan scratch space, the scan text, the candidate marks and
/// the rules that apply to each logsource seen. Create one per thread with
/// [`crate::RuleSet::scratch`].
pub struct Scratch<'a> {
    scanner: Option<BlockScanner<'a>>,
    /// No scanner although the rule set has literals (scratch could not be allocated): every
    /// applicable rule is evaluated.
    unfiltered: bool,
    hay: Vec<u8>,
    lowered: String,
    /// Generation mark per rule: a rule is a candidate when its mark equals `generation`.
    marks: Vec<u32>,
    generation: u32,
    /// Per logsource: whether each rule applies, and the always-evaluated rules that do.
    routes: HashMap<LogSource, (Vec<bool>, Vec<u32>)>,
    pub(crate) candidates: Vec<u32>,
}

impl<'a> Scratch<'a> {
    pub(crate) fn new(prefilter: &'a Prefilter, rules: usize) -> Scratch<'a> {
        let scanner = prefilter.db.as_ref().and_then(|db| db.create_scanner().ok());
        Scratch {
            unfiltered: prefilter.db.is_some() && scanner.is_none(),
            scanner,
            hay: Vec::new(),
            lowered: String::new(),
            marks: vec![0; rules],
            generation: 0,
            routes: HashMap::new(),
            candidates: Vec::new(),
        }
    }

    /// Fills `self.candidates` with the rules to evaluate on `event`, in rule order: those that
    /// apply to its logsource and either have no literal set or had one of theirs found.
    pub(crate) fn candidates(
        &mut self,
        prefilter: &Prefilter,
        event: &Event,
        applies: impl Fn(usize) -> bool,
    ) -> &[u32] {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
        let generation = self.generation;
        if !self.routes.contains_key(&event.logsource) {
            let applicable: Vec<bool> = (0..self.marks.len()).map(&applies).collect();
            let always = prefilter.always.iter().copied().filter(|&r| applicable[r as usize]).collect();
            self.routes.insert(event.logsource.clone(), (applicable, always));
        }
        self.candidates.clear();
        let Some((applicable, always)) = self.routes.get(&event.logsource) else { return &self.candidates };
        if self.unfiltered {
            self.candidates.extend((0..applicable.len() as u32).filter(|&r| applicable[r as usize]));
            return &self.candidates;
        }
        self.candidates.extend_from_slice(always);
        if let Some(scanner) = self.scanner.as_mut() {
            self.hay.clear();
            for value in event.fields.values() {
                let text = value.as_text();
                if text.is_ascii() {
                    self.hay.extend_from_slice(text.as_bytes());
                } else {
                    // As the exact matcher compares non-ASCII text: lowercased. Its regular
                    // expressions also fold `ſ` to `s`.
                    self.lowered.clear();
                    self.lowered.extend(text.to_lowercase().chars().map(|c| if c == 'ſ' { 's' } else { c }));
                    self.hay.extend_from_slice(self.lowered.as_bytes());
                }
                self.hay.push(b'\n');
            }
            let (marks, candidates, rules_of) = (&mut self.marks, &mut self.candidates, &prefilter.rules_of);
            let scanned = scanner.scan(&self.hay, |id, _, _, _| {
                for &rule in rules_of.get(id as usize).map(Vec::as_slice).unwrap_or_default() {
                    let r = rule as usize;
                    if marks[r] != generation && applicable[r] {
                        marks[r] = generation;
                        candidates.push(rule);
                    }
                }
                Scan::Continue
            });
            if scanned.is_err() {
                // A failed scan must not hide a match: evaluate every applicable rule.
                self.candidates.clear();
                self.candidates.extend((0..applicable.len() as u32).filter(|&r| applicable[r as usize]));
            }
        }
        self.candidates.sort_unstable();
        self.candidates.dedup();
        &self.candidates
    }
}
