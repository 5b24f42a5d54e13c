//! The whole-ruleset prefilter: the literals of every rule in Vectorscan (Hyperscan)
//! databases, so that an event is scanned once and only the rules whose required literals
//! occur in it are evaluated exactly.
//!
//! A rule's requirements ([`crate::detection::Detection::requirements`]) are clauses, each a
//! set of literals one of which occurs in the event whenever the rule matches; a rule is a
//! candidate when every clause had a literal found (its `Image` literal and one of its
//! `CommandLine` ones), so the scan is a superset test, never the verdict. Rules without
//! requirements (conditions that are a `not`, numeric comparisons, patterns without a
//! literal) are evaluated on every event of their logsource.
//!
//! The databases are partitioned so that an event is scanned only for what can matter to it:
//! - by the rules' logsource: the rules of one (product, category, service) have their own
//!   databases, and an event's route (cached per logsource) lists the databases that hold a
//!   literal of a rule that applies to it, so a Sysmon process creation event is scanned for
//!   the literals of process creation rules, never for those of registry, Linux or web server
//!   rules;
//! - by field: a literal of a field item (`CommandLine|contains: ...`) occurs in that field's
//!   value, so each field many literals name has its own database, scanned over that field's
//!   value alone: an event's 200-byte `Hashes` is scanned for the few hundred hash literals,
//!   not for the 8,000 `CommandLine` literals, and an `Image` literal found in `CommandLine`
//!   marks nothing (one database for all fields, scanned over the values of all of them, cost
//!   a fifth more scan time and a third more rule evaluations: BENCHMARKS.md); the fields
//!   with few literals share one database, scanned once over their values; keyword literals
//!   are in one more, scanned over the message, or over every value of an event without one,
//!   as keywords are matched.
//!
//! A rule whose detection requires a field to be one of a few numbers (`EventID: 27`: a
//! [`Gate`]) is then checked against the event's value of that field, looked up once per event,
//! before it is evaluated: numbers give no literal, and Sysmon's rules that are `EventID: 27`
//! alone were evaluated on every Sysmon event (rules evaluated per Sysmon process creation
//! 10.8 -> 6.8).
//!
//! The scanned text is the values, each followed by a line feed: ASCII values as they are (the
//! literals are matched case-insensitively), other values lowercased as the exact matcher
//! lowercases them, so that both see the same text.

use std::collections::{HashMap, HashSet};

use compact_str::CompactString;
use vectorscan_rs::{BlockDatabase, BlockScanner, Flag, Pattern, Scan};
use vigil_parsers::names::identity;
use vigil_parsers::{Event, LogSource};

use crate::detection::{Clauses, Gate, Literal, MAX_CLAUSES, Seen};

mod memo;
use memo::{Lookup, Memo};

/// Below this many rules there is no prefilter: every rule of the event's logsource is
/// evaluated.
pub(crate) const MIN_RULES: usize = 64;

/// A rule with an ASCII literal shorter than this (`\\`, `-e`, `/c`...) has no prefilter: such
/// a literal occurs in most events, and scanning for it costs more than evaluating the rule (3
/// measured best against 1, 4 and 5 on the OTRF events: BENCHMARKS.md). A short literal that is
/// not ASCII (one Cyrillic or Greek letter: SigmaHQ's homoglyph rule has 40) is rare in most
/// events, and is scanned for.
const MIN_LITERAL: usize = 3;

/// The most logsources whose routes a [`Scratch`] keeps.
const MAX_ROUTES: usize = 1024;

/// One database and the rules each of its literals stands for. The database is compiled when
/// an event first needs it: a replay of one kind of event (Sysmon process creations) scans
/// the databases of a few logsources, and compiling those of every other logsource was a
/// third of its time (BENCHMARKS.md). [`Prefilter::prepare`] compiles them all now.
#[derive(Default)]
struct Db {
    /// The literals as Hyperscan patterns, in id order; empty: no database.
    patterns: Vec<Vec<u8>>,
    db: std::sync::OnceLock<Result<BlockDatabase, String>>,
    /// Literal id -> the clauses that have it: rule << 3 | clause.
    rules_of: Vec<Vec<u32>>,
}

impl Db {
    fn new(literals: &HashMap<String, Vec<u32>>) -> Db {
        let mut entries: Vec<(&String, &Vec<u32>)> = literals.iter().collect();
        entries.sort();
        let (patterns, rules_of) = entries.into_iter().map(|(text, rules)| (pattern(text), rules.clone())).unzip();
        Db { patterns, db: std::sync::OnceLock::new(), rules_of }
    }

    fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The compiled database, compiling it on first use; `Err` when Vectorscan refused it (the
    /// rules it stands for are then evaluated on every event: slower, never a missed match).
    fn database(&self) -> Result<&BlockDatabase, &str> {
        self.db
            .get_or_init(|| {
                let patterns = self
                    .patterns
                    .iter()
                    .enumerate()
                    .map(|(id, p)| Pattern::new(p.clone(), Flag::CASELESS | Flag::SINGLEMATCH, Some(id as u32)))
                    .collect();
                BlockDatabase::new(patterns).map_err(|e| format!("cannot compile the prefilter: {e}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// The databases of the rules of one logsource.
struct Partition {
    /// Keyword literals, scanned over the message, or every value when there is none; the
    /// literals of the fields with few of them, scanned over those fields' values; then, per
    /// field with many, that field's literals, scanned over its value alone.
    dbs: Vec<Db>,
    /// By field id: the index in `dbs` of that field's database, or `NONE`.
    by_field: Vec<u32>,
}

/// No database: see [`Partition::by_field`].
const NONE: u32 = u32::MAX;

/// The index of the keyword database in [`Partition::dbs`].
const KEYWORDS: usize = 0;

/// The index of the database the fields with few literals share in [`Partition::dbs`],
/// scanned once over the values of those fields.
const SHARED: usize = 1;

/// A field with fewer literals than this shares a database with the others like it: a
/// database of its own would cost a compile and a scan call per event for a handful of
/// literals (process creation rules name 15 fields, 8 of them with under 64 literals).
const OWN_DATABASE: usize = 64;

/// The compiled prefilter of a rule set.
pub(crate) struct Prefilter {
    /// By rule logsource (group): rules of one logsource apply to the same events.
    partitions: Vec<Partition>,
    /// Per group, one of its rules; per rule, its group.
    groups: Vec<u32>,
    rule_group: Vec<u32>,
    /// The fields some literal names, numbered: an event's field names are looked up here
    /// once per event, not once per partition.
    field_ids: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    /// Rules with no requirements: evaluated on every event of their logsource.
    always: Vec<u32>,
    /// Per rule, the mask of its clauses: a candidate when every one had a literal found.
    need: Vec<u8>,
    /// Per rule, its gate ([`Gate`]): the index of the gated field in `gate_fields` and the
    /// numbers its value must be one of. Checked after the scan, before the rule is evaluated.
    gates: Vec<Option<(usize, Box<[f64]>)>>,
    /// The fields gates name (`EventID`, mostly).
    gate_fields: Vec<Box<str>>,
    /// Distinct literals over all partitions.
    pub(crate) literals: usize,
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter")
            .field("partitions", &self.partitions.len())
            .field("literals", &self.literals)
            .field("always", &self.always.len())
            .finish()
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

/// What one partition is built from.
#[derive(Default)]
struct PartitionLiterals {
    /// By field name.
    fields: HashMap<Box<str>, HashMap<String, Vec<u32>>>,
    keywords: HashMap<String, Vec<u32>>,
}

impl PartitionLiterals {
    fn add(&mut self, rule: u32, clause: usize, literal: &Literal) {
        let entry = (rule << 3) | clause as u32;
        // The scanned text has `ſ` as `s`: so must the literals.
        let text = literal.text.replace('ſ', "s");
        let map = match &literal.field {
            Some(name) => self.fields.entry(name.as_str().into()).or_default(),
            None => &mut self.keywords,
        };
        let entries = map.entry(text).or_default();
        if entries.last() != Some(&entry) {
            entries.push(entry);
        }
    }
}

impl Prefilter {
    /// Whether there are databases to scan (enough rules with literals).
    pub(crate) fn scans(&self) -> bool {
        !self.partitions.is_empty()
    }

    pub(crate) fn always_count(&self) -> usize {
        self.always.len()
    }

    /// Compiles every database now rather than when an event first needs it; the reasons of
    /// those Vectorscan refused (their rules are then evaluated on every event of their
    /// logsource).
    pub(crate) fn prepare(&self) -> Vec<String> {
        let mut failed: Vec<String> = Vec::new();
        for p in &self.partitions {
            for db in &p.dbs {
                if !db.is_empty()
                    && let Err(e) = db.database()
                    && !failed.iter().any(|f| f == e)
                {
                    failed.push(e.to_owned());
                }
            }
        }
        failed
    }

    /// Builds the prefilter from each rule's logsource and requirements (none: the rule is
    /// evaluated on every event of its logsource). Its databases are compiled when first
    /// needed.
    pub(crate) fn build(rules: &[(&LogSource, Clauses, Option<Gate>)]) -> Prefilter {
        let mut gate_fields: Vec<Box<str>> = Vec::new();
        let gates = rules
            .iter()
            .map(|(_, _, gate)| {
                let gate = gate.as_ref()?;
                let field = match gate_fields.iter().position(|f| **f == *gate.field) {
                    Some(i) => i,
                    None => {
                        gate_fields.push(gate.field.as_str().into());
                        gate_fields.len() - 1
                    }
                };
                Some((field, gate.values.clone().into_boxed_slice()))
            })
            .collect();
        // A few rules are cheaper to evaluate than an event is to scan (BENCHMARKS.md).
        if rules.len() < MIN_RULES {
            let always = (0..rules.len() as u32).collect();
            return Prefilter {
                partitions: Vec::new(),
                groups: Vec::new(),
                rule_group: Vec::new(),
                field_ids: Default::default(),
                always,
                need: vec![0; rules.len()],
                gates,
                gate_fields,
                literals: 0,
            };
        }
        let key = |ls: &LogSource| {
            let lower = |v: &Option<CompactString>| v.as_ref().map(|v| v.to_ascii_lowercase());
            (lower(&ls.product), lower(&ls.category), lower(&ls.service))
        };
        // Groups of rules by logsource, in the order of their keys.
        let keys: Vec<_> = rules.iter().map(|(ls, _, _)| key(ls)).collect();
        let mut distinct_keys: Vec<_> = keys.iter().collect();
        distinct_keys.sort();
        distinct_keys.dedup();
        let rule_group: Vec<u32> =
            keys.iter().map(|k| distinct_keys.binary_search(&k).unwrap_or_default() as u32).collect();
        let mut groups = vec![u32::MAX; distinct_keys.len()];
        for (rule, &g) in rule_group.iter().enumerate() {
            if groups[g as usize] == u32::MAX {
                groups[g as usize] = rule as u32;
            }
        }
        let mut parts: Vec<PartitionLiterals> = groups.iter().map(|_| PartitionLiterals::default()).collect();
        let mut always = Vec::new();
        let mut need = vec![0u8; rules.len()];
        let mut distinct: HashSet<&Literal> = HashSet::new();
        for (rule, (_, clauses, _)) in rules.iter().enumerate() {
            // A literal this short occurs in most events: scanning for it costs more than
            // evaluating the rule. Its clause is left out.
            let kept: Vec<&Vec<Literal>> = clauses
                .iter()
                .filter(|c| !c.iter().any(|l| l.text.len() < MIN_LITERAL && l.text.is_ascii()))
                .take(MAX_CLAUSES)
                .collect();
            let part = parts.get_mut(rule_group[rule] as usize);
            let (Some(part), false) = (part, kept.is_empty()) else {
                always.push(rule as u32);
                continue;
            };
            need[rule] = ((1u16 << kept.len()) - 1) as u8;
            for (clause, literals) in kept.into_iter().enumerate() {
                distinct.extend(literals.iter());
                for literal in literals {
                    part.add(rule as u32, clause, literal);
                }
            }
        }
        let mut field_ids: HashMap<Box<str>, u32, foldhash::fast::RandomState> = HashMap::default();
        for part in &parts {
            let mut names: Vec<&Box<str>> = part.fields.keys().collect();
            names.sort();
            for name in names {
                let next = field_ids.len() as u32;
                field_ids.entry(name.clone()).or_insert(next);
            }
        }
        let mut partitions = Vec::with_capacity(parts.len());
        for part in parts {
            let mut by_field = vec![NONE; field_ids.len()];
            let mut dbs = vec![Db::new(&part.keywords)];
            let mut shared: HashMap<String, Vec<u32>> = HashMap::new();
            let mut own = Vec::new();
            let mut names: Vec<_> = part.fields.iter().collect();
            names.sort_by(|a, b| a.0.cmp(b.0));
            for (name, literals) in names {
                let Some(&id) = field_ids.get(name) else { continue };
                if literals.len() >= OWN_DATABASE {
                    by_field[id as usize] = (SHARED + 1 + own.len()) as u32;
                    own.push(Db::new(literals));
                } else {
                    by_field[id as usize] = SHARED as u32;
                    for (text, entries) in literals {
                        let to = shared.entry(text.clone()).or_default();
                        to.extend(entries);
                        to.sort_unstable();
                        to.dedup();
                    }
                }
            }
            dbs.push(Db::new(&shared));
            dbs.extend(own);
            partitions.push(Partition { dbs, by_field });
        }
        Prefilter {
            partitions,
            groups,
            rule_group,
            field_ids,
            always,
            need,
            gates,
            gate_fields,
            literals: distinct.len(),
        }
    }

    /// The route of events of one logsource, given whether rule `r` applies to it (asked once
    /// per logsource group, not once per rule): the rules that apply, those of them without
    /// literals, and the databases to scan, those of the groups that apply.
    fn route(&self, applies: impl Fn(usize) -> bool) -> Route {
        let group_applies: Vec<bool> = self.groups.iter().map(|&r| applies(r as usize)).collect();
        let applicable: Vec<bool> =
            self.rule_group.iter().map(|&g| group_applies.get(g as usize) == Some(&true)).collect();
        let always = self.always.iter().copied().filter(|&r| applicable[r as usize]).collect();
        let scans = self.partitions.iter().enumerate().filter(|(g, _)| group_applies[*g]).map(|(g, _)| g).collect();
        Route { applicable, always, scans }
    }
}

/// The rules of one logsource: whether each applies, those without literals that do, and the
/// partitions whose databases to scan for its events.
struct Route {
    applicable: Vec<bool>,
    always: Vec<u32>,
    scans: Vec<usize>,
}

/// Per-worker matching state: Vectorscan scratch space, the scan text, the candidate marks and
/// the rules that apply to each logsource seen. Create one per thread with
/// [`crate::RuleSet::scratch`].
pub struct Scratch<'a> {
    prefilter: &'a Prefilter,
    /// Per partition, per database: its scanner, made when first needed (a worker's scratch
    /// is cheap to make: most events need a few of the databases), and its memo.
    slots: Vec<Vec<Slot<'a>>>,
    /// The literal ids one scan found.
    ids: Vec<u32>,
    /// The event's values as scanned (each followed by a line feed), built once per event,
    /// and each value's (field id or `u32::MAX`, start, end including its line feed).
    text: Vec<u8>,
    spans: Vec<(u32, usize, usize)>,
    /// The span of the `message` value, when the event has a non-empty one.
    message: Option<(usize, usize)>,
    lowered: String,
    /// The values of the fields that share a database, as scanned.
    hay: Vec<u8>,
    /// Generation mark per rule: a rule's `found` is of this event when its mark equals
    /// `generation`.
    marks: Vec<u32>,
    /// Per rule, the clauses that had a literal found in this event.
    found: Vec<u8>,
    generation: u32,
    routes: HashMap<LogSource, Route, foldhash::fast::RandomState>,
    /// The last event's field names ([`identity`]: `None` for an owned name) and the field id
    /// of each.
    shape: Vec<(Option<(usize, usize)>, u32)>,
    /// Per gated field, what gates see of it in this event, once looked up.
    gated: Vec<Option<Seen>>,
    pub(crate) candidates: Vec<u32>,
}

/// One database's scanner and, for a field's database, what its scans found per value
/// ([`Memo`]; the keyword database is scanned over whole messages, which do not repeat).
struct Slot<'a> {
    scanner: Option<BlockScanner<'a>>,
    memo: Option<Memo>,
}

/// Appends `value`'s text to the scanned text, then a line feed.
fn push_value(hay: &mut Vec<u8>, lowered: &mut String, value: &vigil_parsers::Value) {
    use std::io::Write;
    if let vigil_parsers::Value::List(items) = value {
        // Each element as the exact matcher compares it: on a line of its own.
        for item in items {
            push_value(hay, lowered, item);
        }
        if items.is_empty() {
            hay.push(b'\n');
        }
        return;
    }
    if let vigil_parsers::Value::Int(i) = value {
        // As `as_text` writes it, without its allocation.
        let _ = write!(hay, "{i}");
        hay.push(b'\n');
        return;
    }
    let text = value.as_text();
    if text.is_ascii() {
        hay.extend_from_slice(text.as_bytes());
    } else {
        // As the exact matcher compares non-ASCII text: lowercased. Its regular expressions
        // also fold `ſ` to `s`.
        push_lowered(hay, lowered, &text);
    }
    hay.push(b'\n');
}

/// Appends `value` to the scanned text as [`push_value`] does, and its span, with its field id,
/// to `spans`; the span.
fn push_span(
    text: &mut Vec<u8>,
    spans: &mut Vec<(u32, usize, usize)>,
    lowered: &mut String,
    id: u32,
    value: &vigil_parsers::Value,
) -> (usize, usize) {
    let start = text.len();
    push_value(text, lowered, value);
    spans.push((id, start, text.len()));
    (start, text.len())
}

/// How many bytes `bytes` starts with that are ASCII: 32 at a time (`is_ascii` reads a word at
/// a time), then one at a time.
fn ascii_run(bytes: &[u8]) -> usize {
    let whole = bytes.chunks_exact(32).take_while(|chunk| chunk.is_ascii()).count() * 32;
    whole + bytes[whole..].iter().position(|b| !b.is_ascii()).unwrap_or(bytes.len() - whole)
}

/// Appends `text` as `str::to_lowercase` writes it, with `ſ` as `s`. The ASCII runs between
/// non-ASCII characters (most of a winlogbeat `message` with one `®` in it) are lowered a run
/// at a time: lowering it a character at a time, then copying it again to map `ſ`, was an
/// eighth of a winlogbeat replay (BENCHMARKS.md).
fn push_lowered(hay: &mut Vec<u8>, lowered: &mut String, text: &str) {
    if text.contains('Σ') {
        // Its lowercase depends on the letters around it (a final sigma): std's rules.
        lowered.clear();
        lowered.extend(text.to_lowercase().chars().map(|c| if c == 'ſ' { 's' } else { c }));
        hay.extend_from_slice(lowered.as_bytes());
        return;
    }
    let mut rest = text;
    while !rest.is_empty() {
        let ascii = ascii_run(rest.as_bytes());
        let start = hay.len();
        hay.extend_from_slice(&rest.as_bytes()[..ascii]);
        hay[start..].make_ascii_lowercase();
        rest = &rest[ascii..];
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            for lower in c.to_lowercase() {
                let lower = if lower == 'ſ' { 's' } else { lower };
                hay.extend_from_slice(lower.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
        rest = chars.as_str();
    }
}

/// Per-event marks: which clauses of which rules had a literal found.
struct Marks<'m> {
    marks: &'m mut [u32],
    found: &'m mut [u8],
    need: &'m [u8],
    generation: u32,
}

/// The ids of the literals of `db` found in `hay`: from the slot's memo when `hay` was
/// scanned before, else scanned. `false` when the scan failed.
fn found<'a>(slot: &mut Slot<'a>, db: &'a Db, hay: &[u8], ids: &mut Vec<u32>) -> bool {
    ids.clear();
    // Whether the memo is to keep what the scan finds.
    let keep = match slot.memo.as_mut().map(|memo| memo.get(hay)) {
        Some(Lookup::Known(known)) => {
            ids.extend_from_slice(known);
            return true;
        }
        Some(Lookup::Unknown) => true,
        Some(Lookup::Skip) | None => false,
    };
    if slot.scanner.is_none() {
        slot.scanner = db.database().ok().and_then(|db| db.create_scanner().ok());
    }
    let Some(scanner) = slot.scanner.as_mut() else {
        // No database or no scratch space.
        return false;
    };
    let ok = scanner
        .scan(hay, |id, _, _, _| {
            ids.push(id);
            Scan::Continue
        })
        .is_ok();
    if ok
        && keep
        && let Some(memo) = slot.memo.as_mut()
    {
        memo.keep(hay, ids);
    }
    ok
}

/// Marks the clauses of the applicable rules of each literal found; a rule becomes a
/// candidate when its last clause is marked.
fn mark(ids: &[u32], db: &Db, applicable: &[bool], marks: &mut Marks<'_>, candidates: &mut Vec<u32>) {
    for &id in ids {
        for &entry in db.rules_of.get(id as usize).map(Vec::as_slice).unwrap_or_default() {
            let r = (entry >> 3) as usize;
            let bit = 1u8 << (entry & 7);
            if !applicable.get(r).copied().unwrap_or(false) {
                continue;
            }
            if marks.marks[r] != marks.generation {
                marks.marks[r] = marks.generation;
                marks.found[r] = 0;
            }
            let before = marks.found[r];
            if before & bit == 0 {
                marks.found[r] = before | bit;
                if before | bit == marks.need[r] {
                    candidates.push(r as u32);
                }
            }
        }
    }
}

impl<'a> Scratch<'a> {
    pub(crate) fn new(prefilter: &'a Prefilter, rules: usize) -> Scratch<'a> {
        Scratch {
            prefilter,
            slots: prefilter
                .partitions
                .iter()
                .map(|p| {
                    (0..p.dbs.len())
                        .map(|d| Slot { scanner: None, memo: (d != KEYWORDS).then(Memo::default) })
                        .collect()
                })
                .collect(),
            ids: Vec::new(),
            text: Vec::new(),
            spans: Vec::new(),
            message: None,
            lowered: String::new(),
            hay: Vec::new(),
            marks: vec![0; rules],
            found: vec![0; rules],
            generation: 0,
            routes: HashMap::default(),
            candidates: Vec::new(),
            gated: Vec::new(),
            shape: Vec::new(),
        }
    }

    /// Fills `self.candidates` with the rules to evaluate on `event`, in rule order: those that
    /// apply to its logsource and either have no literal set or had one of theirs found.
    pub(crate) fn candidates(&mut self, event: &Event, applies: impl Fn(usize) -> bool) -> &[u32] {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
        let generation = self.generation;
        if !self.routes.contains_key(&event.logsource) {
            // Logsources come from the input (an unknown Windows channel is its own service):
            // the cache is bounded, and rebuilt when full.
            if self.routes.len() >= MAX_ROUTES {
                self.routes.clear();
            }
            self.routes.insert(event.logsource.clone(), self.prefilter.route(&applies));
        }
        self.candidates.clear();
        let Some(route) = self.routes.get(&event.logsource) else { return &self.candidates };
        let everything = |candidates: &mut Vec<u32>| {
            candidates.clear();
            candidates.extend((0..route.applicable.len() as u32).filter(|&r| route.applicable[r as usize]));
        };
        self.candidates.extend_from_slice(&route.always);
        if !route.scans.is_empty() {
            // Every value as scanned, once.
            self.text.clear();
            self.spans.clear();
            self.message = None;
            // The field ids of the names, looked up again only when the event's names are not
            // the last event's (interned names: the same addresses, the same names).
            let shape = &mut self.shape;
            let same = shape.len() == event.fields.len()
                && event.fields.keys().zip(shape.iter()).all(|(k, &(n, _))| n.is_some() && identity(k) == n);
            if !same {
                shape.clear();
                for name in event.fields.keys() {
                    let id = self.prefilter.field_ids.get(name.as_ref()).copied().unwrap_or(u32::MAX);
                    shape.push((identity(name), id));
                }
            }
            // A value no database names is scanned only for keywords, and those only over the
            // message when the event has one: such values are added after the others, when it
            // has none (winlogbeat's thirty `winlog.*`, `agent.*` and `log.*` values were half
            // of its scanned text). The order of the values does not matter: a literal is
            // found within one value.
            let unnamed = |name: &str, id: u32| id == u32::MAX && name != "message";
            let mut left = false;
            for ((name, value), &(_, id)) in event.fields.iter().zip(shape.iter()) {
                if unnamed(name, id) {
                    left = true;
                    continue;
                }
                let (start, end) = push_span(&mut self.text, &mut self.spans, &mut self.lowered, id, value);
                if name == "message" && end - start > 1 {
                    self.message = Some((start, end));
                }
            }
            if left && self.message.is_none() {
                for ((_, value), &(_, id)) in
                    event.fields.iter().zip(shape.iter()).filter(|((n, _), (_, id))| unnamed(n, *id))
                {
                    push_span(&mut self.text, &mut self.spans, &mut self.lowered, id, value);
                }
            }
        }
        let all: &'a Prefilter = self.prefilter;
        let text = &self.text[..];
        let mut marks = Marks { marks: &mut self.marks, found: &mut self.found, need: &all.need, generation };
        let mut ok = true;
        for &p in &route.scans {
            let (Some(partition), Some(slots)) = (all.partitions.get(p), self.slots.get_mut(p)) else {
                continue;
            };
            // The keywords as keywords are matched: over the message, or every value of an
            // event without one; each field's literals over that field's value.
            let keywords = match self.message {
                Some((start, end)) => &text[start..end],
                None => text,
            };
            // Each field with a database of its own over its value; the others' values
            // gathered, then scanned once.
            let hay = &mut self.hay;
            hay.clear();
            for &(id, start, end) in &self.spans {
                if partition.by_field.get(id as usize) == Some(&(SHARED as u32)) {
                    hay.extend_from_slice(&text[start..end]);
                }
            }
            let fields = self.spans.iter().filter_map(|&(id, start, end)| {
                let db = *partition.by_field.get(id as usize)?;
                (db != NONE && db as usize != SHARED).then_some((db as usize, &text[start..end]))
            });
            let shared = (!hay.is_empty()).then_some((SHARED, &hay[..]));
            for (d, hay) in std::iter::once((KEYWORDS, keywords)).chain(shared).chain(fields) {
                let (Some(db), Some(slot)) = (partition.dbs.get(d), slots.get_mut(d)) else { continue };
                if db.is_empty() {
                    continue;
                }
                // A failed scan (no database, no scratch space) leaves `ok` false: every
                // applicable rule is then evaluated.
                ok &= found(slot, db, hay, &mut self.ids);
                mark(&self.ids, db, &route.applicable, &mut marks, &mut self.candidates);
            }
        }
        if !ok {
            // A failed scan must not hide a match: evaluate every applicable rule.
            everything(&mut self.candidates);
        }
        self.candidates.sort_unstable();
        self.candidates.dedup();
        // The gates: each gated field looked up once per event, when a candidate needs it.
        if !all.gate_fields.is_empty() {
            self.gated.clear();
            self.gated.resize(all.gate_fields.len(), None);
            let gated = &mut self.gated;
            self.candidates.retain(|&r| {
                let Some(Some((field, values))) = all.gates.get(r as usize) else { return true };
                let Some(slot) = gated.get_mut(*field) else { return true };
                let seen =
                    *slot.get_or_insert_with(|| Seen::of(all.gate_fields.get(*field).and_then(|f| event.field(f))));
                Gate::admits(values, seen)
            });
        }
        &self.candidates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_runs() {
        for len in [0, 1, 31, 32, 33, 64, 100] {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                if at < len {
                    bytes[at] = 0xC3;
                }
                assert_eq!(ascii_run(&bytes), at, "{len} {at}");
            }
        }
    }

    /// `push_lowered` writes what `str::to_lowercase` (then `ſ` as `s`) writes, for every
    /// string of up to three characters from an alphabet of the cases that differ: ASCII,
    /// Latin-1, `ſ`, the Kelvin sign, dotted `İ` (two characters lowercased), Greek with its
    /// final sigma, Cyrillic, an emoji.
    #[test]
    fn lowered_as_to_lowercase_lowers() {
        let alphabet = ["A", "z", " ", "®", "É", "ſ", "\u{212A}", "İ", "Σ", "σ", "Ω", "Д", "😀", "ẞ"];
        let expected = |text: &str| -> Vec<u8> {
            text.to_lowercase().chars().map(|c| if c == 'ſ' { 's' } else { c }).collect::<String>().into_bytes()
        };
        let mut texts: Vec<String> = vec![
            "Microsoft® Windows® Operating System".into(),
            "ΟΔΟΣ ΟΔΟΣ.".into(),
            "Process Create:\nProduct: Microsoft® Windows®\nCommandLine: CMD.EXE /C ECHO".into(),
        ];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    texts.push(format!("{a}{b}{c}"));
                    texts.push(format!("Ab{a}cD{b}eF{c}"));
                }
            }
        }
        let mut lowered = String::new();
        for text in &texts {
            let mut hay = b"x".to_vec();
            push_lowered(&mut hay, &mut lowered, text);
            assert_eq!(hay[1..], expected(text), "{text:?}");
        }
    }
}
