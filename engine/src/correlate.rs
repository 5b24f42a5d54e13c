//! Correlation: Sigma correlation rules, and vigil's `absence` and `suppress` extensions,
//! evaluated over event time.
//!
//! # Semantics
//!
//! Every alert of a rule that a correlation names is a *hit* of that correlation, in the group
//! given by its `group-by` values (aliases resolved per rule). Hits are taken in event-time
//! order (ties by alert id), so the result does not depend on the order in which they
//! arrived. At each hit the correlation looks at its group's window, the hits of the last
//! `timespan` up to this one (both ends included), computes its value (a count of events, of
//! distinct values or of distinct rules; the length of the prefix of `rules` seen in order; a
//! sum; an average; or the share, in percent, of the window's hits that have this hit's
//! value) and tests the condition. When it holds, the correlation fires at this hit's time
//! and the group starts over, so one burst is one alert and the next burst another. Windows
//! slide with each hit: two events a minute apart always fall in one window, wherever an hour
//! begins. A correlation's alert is a hit of the correlations that name it (chaining).
//!
//! `absence`: the first rule's hit starts a clock for its group unless one is running; a hit
//! of any later rule within `timespan` (inclusive) stops it; when event time passes the end,
//! the correlation fires at the end's time.
//!
//! `suppress: {by, for}`: the first alert of a rule for given `by` values is raised; the next
//! ones within `for` are counted on it; when `for` has passed, the first alert is raised again,
//! with the same id, carrying the count.
//!
//! # Event time, late events
//!
//! Each source (configured source and sending host) has a watermark: the newest event time it
//! sent, less the allowed lateness. An event time more than `max_source_lag` ahead of when the
//! event was received is a clock in the future: counted, not correlated, and it moves no
//! watermark (one host set to 2099 must not make every other host late). An event older than its source's watermark, or older than
//! what correlation has already taken, is *late*: counted, still alerted on by single-event
//! rules, not correlated. Hits wait in a queue until every live source's watermark has passed
//! them (a source is live while its newest event is within `max_source_lag` of the newest
//! event of all), so any arrival order within the lateness gives the alerts of the sorted
//! order. The price is that correlation alerts come the allowed lateness after their last
//! event; [`Correlator::flush`] takes everything when the input ends (replay) or has been
//! quiet that long (serve).
//!
//! # State
//!
//! Per (correlation, group) key: the window's hits, 32 bytes each (time, member id, value), in
//! a slab indexed by a table of `u32`; a key costs about 61 bytes with one hit (BENCHMARKS.md).
//! Group values are kept as a 48-bit hash beside the correlation's index (a collision would
//! merge two groups: about one chance in 500 with a million keys of one correlation). Keys
//! whose window has passed are dropped; past `max_keys` the stalest tenth are evicted and
//! counted. [`Correlator::save`] and [`Correlator::restore`] keep it all across restarts.

use std::borrow::Cow;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use smallvec::SmallVec;
use thiserror::Error;
use vigil_parsers::Value;
use vigil_rules::{CorrelationType, RuleMeta, RuleRef, RuleSet, Suppress, Threshold};

use crate::alert::{Alert, AlertRule, CorrelationInfo, Suppressed};
use crate::pipeline::{Detected, Mark};

/// Nanoseconds since the Unix epoch.
pub type Nanos = i64;

/// An event time as [`Nanos`] (clamped outside 1677..2262).
pub fn nanos(t: DateTime<Utc>) -> Nanos {
    t.timestamp_nanos_opt().unwrap_or(if t.timestamp() < 0 { Nanos::MIN } else { Nanos::MAX })
}

fn time_of(n: Nanos) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}

fn span_nanos(d: Duration) -> Nanos {
    Nanos::try_from(d.as_nanos()).unwrap_or(Nanos::MAX)
}

/// Correlation settings (`[correlation]` in the configuration).
#[derive(Clone, Debug)]
pub struct Settings {
    /// How far behind its source's newest event an event may arrive and still be correlated.
    pub allowed_lateness: Duration,
    /// A source whose newest event is this far behind the newest of all stops holding
    /// correlation back (its older events are then late).
    pub max_source_lag: Duration,
    /// Most (correlation, group) keys kept; past it the stalest are evicted.
    pub max_keys: usize,
    /// Most hits kept in one key's window; past it the oldest are dropped (counted).
    pub max_hits_per_key: usize,
    /// Most member ids one alert carries (the newest).
    pub max_members: usize,
    /// Whether the alerts of rules that only feed correlations (building blocks) are raised,
    /// so that a correlation alert's members can be opened.
    pub keep_building_blocks: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allowed_lateness: Duration::from_secs(300),
            max_source_lag: Duration::from_secs(600),
            max_keys: 1_000_000,
            max_hits_per_key: 100_000,
            max_members: 100,
            keep_building_blocks: true,
        }
    }
}

/// What correlation has counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counters {
    /// Events beyond the allowed lateness of their source (or of correlation's progress).
    pub late_events: u64,
    /// Events whose time was more than `max_source_lag` ahead of their receipt (a clock in the
    /// future): not correlated, still alerted on by single-event rules.
    pub future_events: u64,
    /// Hits of correlations that were late (or from the future), so not correlated.
    pub late_hits: u64,
    /// Correlation alerts raised (absence included).
    pub fired: u64,
    /// Alerts counted on an earlier one by `suppress` instead of raised.
    pub suppressed: u64,
    /// Keys evicted because `max_keys` was reached.
    pub evicted: u64,
    /// Hits dropped because a key's window held `max_hits_per_key`.
    pub window_overflow: u64,
    /// Hits without a value for a `group-by` field (or the value_* field): not correlated.
    pub missing_field: u64,
}

/// Where a hit comes from: a detection rule or a correlation, by index in the rule set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Src {
    Rule(u32),
    Corr(u32),
}

/// A hit waiting for event time to pass it.
#[derive(Debug, Serialize, Deserialize)]
struct Item {
    time: Nanos,
    id: [u8; 16],
    src: Src,
    /// Whether the alert is raised when the item is taken (its rule suppresses repeats, or it
    /// is a correlation's alert); otherwise it was raised when it arrived.
    emit: bool,
    alert: Box<Alert>,
}

impl Item {
    fn order(&self) -> (Nanos, &[u8; 16], Src) {
        (self.time, &self.id, self.src)
    }
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order().cmp(&other.order())
    }
}

/// One hit in a key's window: 32 bytes. In snapshots, four integers (an id as two `u64`s
/// is 18 bytes of CBOR; as 16 `u8`s, about 30).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "(Nanos, u64, u64, u64)", from = "(Nanos, u64, u64, u64)")]
struct Hit {
    time: Nanos,
    id: [u8; 16],
    /// By type: the hash of the field's value (value_count, value_percentile), the value's
    /// `f64` bits (value_sum, value_avg), or the rule's position in `rules` (temporal).
    val: u64,
}

impl From<Hit> for (Nanos, u64, u64, u64) {
    fn from(h: Hit) -> Self {
        let (hi, lo) = h.id.split_at(8);
        let word = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or_default());
        (h.time, word(hi), word(lo), h.val)
    }
}

impl From<(Nanos, u64, u64, u64)> for Hit {
    fn from((time, hi, lo, val): (Nanos, u64, u64, u64)) -> Self {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&hi.to_be_bytes());
        id[8..].copy_from_slice(&lo.to_be_bytes());
        Hit { time, id, val }
    }
}

/// A key and its window, in the slab.
struct Slot {
    key: u64,
    hits: SmallVec<[Hit; 1]>,
}

/// The (correlation, group) keys: a slab of slots and a table of slab indexes.
#[derive(Default)]
struct Keyed {
    table: hashbrown::HashTable<u32>,
    slots: Vec<Slot>,
}

/// Spreads a key over the table (its top bits are the correlation's index).
fn mix(key: u64) -> u64 {
    let mut z = key;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const HASH_BITS: u32 = 48;
const HASH_MASK: u64 = (1 << HASH_BITS) - 1;

impl Keyed {
    fn len(&self) -> usize {
        self.slots.len()
    }

    fn get_or_insert(&mut self, key: u64) -> usize {
        let slots = &self.slots;
        let index = slots.len();
        match self.table.entry(mix(key), |&i| slots[i as usize].key == key, |&i| mix(slots[i as usize].key)) {
            hashbrown::hash_table::Entry::Occupied(e) => *e.get() as usize,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(index as u32);
                if self.slots.len() == self.slots.capacity() {
                    // Grow by an eighth, not by doubling: a million keys then cost at most
                    // 54 bytes of slab each rather than up to 96.
                    self.slots.reserve_exact((index / 8).max(64));
                }
                self.slots.push(Slot { key, hits: SmallVec::new() });
                index
            }
        }
    }

    fn remove(&mut self, key: u64) {
        let Ok(entry) = self.table.find_entry(mix(key), |&i| self.slots[i as usize].key == key) else { return };
        let (index, _) = entry.remove();
        let index = index as usize;
        let last = self.slots.len() - 1;
        self.slots.swap_remove(index);
        if index != last {
            let moved = self.slots[index].key;
            if let Some(i) = self.table.find_mut(mix(moved), |&i| i as usize == last) {
                *i = index as u32;
            }
        }
    }

    /// Keeps the slots `keep` says yes to, and rebuilds the table.
    fn retain(&mut self, mut keep: impl FnMut(&Slot) -> bool) -> usize {
        let before = self.slots.len();
        self.slots.retain(|s| keep(s));
        self.table.clear();
        let slots = &self.slots;
        for (i, s) in slots.iter().enumerate() {
            self.table.insert_unique(mix(s.key), i as u32, |&i| mix(slots[i as usize].key));
        }
        before - self.slots.len()
    }

    fn memory_bytes(&self) -> usize {
        let spilled: usize =
            self.slots.iter().filter(|s| s.hits.spilled()).map(|s| s.hits.capacity() * size_of::<Hit>()).sum();
        self.table.capacity() * (size_of::<u32>() + 1) + self.slots.capacity() * size_of::<Slot>() + spilled
    }
}

/// An absence clock that is running.
#[derive(Debug, Serialize, Deserialize)]
struct Absent {
    corr: u32,
    deadline: Nanos,
    start: Box<Alert>,
    group: Vec<(String, String)>,
}

/// A suppression period that is running.
#[derive(Debug, Serialize, Deserialize)]
struct Supp {
    until: Nanos,
    first: Box<Alert>,
    repeats: u64,
    last: Nanos,
}

const TIMER_ABSENCE: u8 = 0;
const TIMER_SUPPRESS: u8 = 1;

/// A correlation rule, ready to evaluate.
struct CorrPlan {
    meta: RuleMeta,
    kind: CorrelationType,
    span: Nanos,
    condition: Threshold,
    group_by: Vec<String>,
    /// Per position in `rules`: the event field of each `group-by` entry (aliases resolved),
    /// and of the value_* `field`.
    fields: Vec<(Vec<String>, Option<String>)>,
    fingerprint: u64,
    building_block: bool,
}

/// The rule set's correlations, indexed for the hits' way in.
struct Plan {
    corrs: Vec<CorrPlan>,
    rule_index: HashMap<String, u32>,
    rule_ids: Vec<String>,
    /// Per detection rule: the (correlation, position) pairs it feeds.
    by_rule: Vec<Vec<(u32, u16)>>,
    by_corr: Vec<Vec<(u32, u16)>>,
    rule_block: Vec<bool>,
    rule_suppress: Vec<Option<Suppress>>,
    /// Per detection rule: the fields its correlations read.
    rule_fields: Vec<Vec<String>>,
}

fn sip() -> siphasher::sip::SipHasher13 {
    siphasher::sip::SipHasher13::new_with_keys(0x7669_6769_6c21, 0x636f_7272)
}

impl Plan {
    fn new(rules: &RuleSet) -> Plan {
        let rule_ids: Vec<String> = rules.iter().map(|r| r.id.clone()).collect();
        let rule_index = rule_ids.iter().enumerate().map(|(i, id)| (id.clone(), i as u32)).collect();
        let mut by_rule = vec![Vec::new(); rule_ids.len()];
        let mut by_corr = vec![Vec::new(); rules.correlations().len()];
        // Referenced by some correlation / by one that also wants them on their own.
        let mut rule_refs = vec![(false, false); rule_ids.len()];
        let mut corr_refs = vec![(false, false); rules.correlations().len()];
        let mut corrs = Vec::new();
        for (c, corr) in rules.correlations().iter().enumerate() {
            let spec = &corr.spec;
            let resolve = |name: &str, written: &str| {
                spec.aliases
                    .get(name)
                    .and_then(|per_rule| per_rule.get(written))
                    .cloned()
                    .unwrap_or_else(|| name.to_owned())
            };
            let mut fields = Vec::new();
            for (pos, r) in corr.rules.iter().enumerate() {
                let written = spec.rule_names.get(pos).map_or("", String::as_str);
                fields.push((
                    spec.group_by.iter().map(|g| resolve(g, written)).collect(),
                    spec.field.as_deref().map(|f| resolve(f, written)),
                ));
                let refs = match *r {
                    RuleRef::Rule(i) => {
                        by_rule[i].push((c as u32, pos as u16));
                        &mut rule_refs[i]
                    }
                    RuleRef::Correlation(j) => {
                        by_corr[j].push((c as u32, pos as u16));
                        &mut corr_refs[j]
                    }
                };
                refs.0 = true;
                refs.1 |= spec.generate;
            }
            let mut h = sip();
            h.write(corr.meta.id.as_bytes());
            h.write(serde_json::to_string(spec).unwrap_or_default().as_bytes());
            corrs.push(CorrPlan {
                meta: corr.meta.clone(),
                kind: spec.kind,
                span: span_nanos(spec.timespan),
                condition: spec.condition.clone(),
                group_by: spec.group_by.clone(),
                fields,
                fingerprint: h.finish(),
                building_block: false,
            });
        }
        let mut rule_fields = vec![Vec::new(); rule_ids.len()];
        for (i, refs) in by_rule.iter().enumerate() {
            for &(c, pos) in refs {
                let (group, value): &(Vec<String>, Option<String>) = &corrs[c as usize].fields[pos as usize];
                for f in group.iter().chain(value) {
                    if !rule_fields[i].contains(f) {
                        rule_fields[i].push(f.clone());
                    }
                }
            }
        }
        for (c, (referenced, generate)) in corr_refs.into_iter().enumerate() {
            corrs[c].building_block = referenced && !generate;
        }
        Plan {
            corrs,
            rule_index,
            rule_suppress: rules.iter().map(|r| r.suppress.clone()).collect(),
            rule_ids,
            by_rule,
            by_corr,
            rule_block: rule_refs.into_iter().map(|(referenced, generate)| referenced && !generate).collect(),
            rule_fields,
        }
    }
}

/// The group-by names and values of a hit (built only when an alert is raised).
fn group_of(plan: &CorrPlan, pos: u16, alert: &Alert) -> Vec<(String, String)> {
    let Some((fields, _)) = plan.fields.get(pos as usize) else { return Vec::new() };
    plan.group_by
        .iter()
        .zip(fields)
        .map(|(name, field)| (name.clone(), field_text(alert, field).unwrap_or_default().into_owned()))
        .collect()
}

/// A field of an alert as text: its fields first, then (for `host`) its host.
fn field_text<'a>(alert: &'a Alert, name: &str) -> Option<Cow<'a, str>> {
    if let Some(v) = alert.fields.get(name).filter(|v| !v.is_null()) {
        return Some(v.as_text());
    }
    if let Some((_, v)) = alert.fields.iter().find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null()) {
        return Some(v.as_text());
    }
    match name {
        "host" | "Hostname" | "Computer" | "ComputerName" => alert.host.as_deref().map(Cow::Borrowed),
        _ => None,
    }
}

fn id_bytes(id: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    if hex::decode_to_slice(id, &mut out).is_err() {
        let digest = Sha256::digest(id.as_bytes());
        out.copy_from_slice(&digest[..16]);
    }
    out
}

/// Correlation over a stream of detected events: owns the state; one per pipeline.
pub struct Correlator {
    plan: Plan,
    settings: Settings,
    lateness: Nanos,
    source_lag: Nanos,
    /// Newest event time per source.
    sources: HashMap<u64, Nanos>,
    /// Newest event time of all.
    newest: Nanos,
    /// Every hit before this time has been taken.
    released: Nanos,
    pending: BinaryHeap<Reverse<Item>>,
    keyed: Keyed,
    absent: HashMap<u64, Absent>,
    suppress: HashMap<u64, Supp>,
    timers: BTreeSet<(Nanos, u8, u64)>,
    counters: Counters,
    taken_since_sweep: u64,
    /// The write-ahead log position this state includes (saved with it; see [`crate::wal`]).
    position: u64,
}

const MAX_SOURCES: usize = 100_000;

impl Correlator {
    pub fn new(rules: &RuleSet, settings: Settings) -> Correlator {
        Correlator {
            plan: Plan::new(rules),
            lateness: span_nanos(settings.allowed_lateness),
            source_lag: span_nanos(settings.max_source_lag),
            settings,
            sources: HashMap::new(),
            position: 0,
            newest: Nanos::MIN,
            released: Nanos::MIN,
            pending: BinaryHeap::new(),
            keyed: Keyed::default(),
            absent: HashMap::new(),
            suppress: HashMap::new(),
            timers: BTreeSet::new(),
            counters: Counters::default(),
            taken_since_sweep: 0,
        }
    }

    /// The write-ahead log position this state includes: every record up to it has been
    /// processed (set by the caller; saved and restored with the state).
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether there are no correlation rules (then there is never any state).
    pub fn is_empty(&self) -> bool {
        self.plan.corrs.is_empty()
    }

    pub fn set_position(&mut self, position: u64) {
        self.position = position;
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Keys held: windows, running absence clocks and suppression periods.
    pub fn keys(&self) -> usize {
        self.keyed.len() + self.absent.len() + self.suppress.len()
    }

    /// Bytes held by the windows' table and slab (the per-key state).
    pub fn window_memory_bytes(&self) -> usize {
        self.keyed.memory_bytes()
    }

    /// Copies the counters and sizes into `stats`.
    pub fn publish(&self, stats: &crate::stats::Stats) {
        stats.correlation(|c| {
            c.counters = self.counters;
            c.keys = self.keys() as u64;
            c.pending = self.pending.len() as u64;
            c.window_bytes = self.keyed.memory_bytes() as u64;
        });
    }

    /// Takes a batch's events and alerts, in arrival order; pushes the alerts to raise now to
    /// `out`.
    pub fn process(&mut self, detected: Detected, out: &mut Vec<Alert>) {
        let mut alerts = detected.alerts.into_iter();
        for (mark, n) in detected.marks {
            let late = self.observe(mark);
            for alert in alerts.by_ref().take(n as usize) {
                self.offer(alert, late, out);
            }
        }
        // Alerts without a mark (none come from the detector): raised as they are.
        for alert in alerts {
            self.offer(alert, false, out);
        }
        self.advance(self.frontier(), out);
    }

    /// Takes everything that is waiting, as if event time had moved past the newest event
    /// seen: at the end of a replay, or when the input has been quiet for the allowed lateness.
    pub fn flush(&mut self, out: &mut Vec<Alert>) {
        if self.newest > Nanos::MIN {
            self.advance(self.newest.saturating_add(1), out);
        }
    }

    /// [`Correlator::flush`], then closes every suppression period, raising the counts so far:
    /// for the end of a replay, after which nothing more comes.
    pub fn finish(&mut self, out: &mut Vec<Alert>) {
        self.flush(out);
        let open: Vec<(Nanos, u8, u64)> = self.timers.iter().copied().filter(|t| t.1 == TIMER_SUPPRESS).collect();
        for timer in open {
            self.timers.remove(&timer);
            if let Some(s) = self.suppress.remove(&timer.2)
                && s.repeats > 0
            {
                let mut alert = *s.first;
                alert.suppressed = Some(Suppressed { repeats: s.repeats, last: time_of(s.last) });
                out.push(alert);
            }
        }
    }

    /// Whether [`Correlator::flush`] would take anything.
    pub fn has_waiting(&self) -> bool {
        !self.pending.is_empty() || self.timers.first().is_some_and(|t| t.0 <= self.newest)
    }

    /// Records an event's time for its source; true when it is not to be correlated: late, or
    /// from a clock in the future (more than `max_source_lag` ahead of its receipt), which must
    /// not move event time on for every other source.
    fn observe(&mut self, mark: Mark) -> bool {
        if mark.time > mark.received.saturating_add(self.source_lag) {
            self.counters.future_events += 1;
            return true;
        }
        let newest = self.sources.get(&mark.source).copied();
        let late = mark.time < self.released || newest.is_some_and(|n| mark.time < n.saturating_sub(self.lateness));
        if late {
            self.counters.late_events += 1;
        }
        if newest.is_none_or(|n| mark.time > n) {
            if newest.is_none() && self.sources.len() >= MAX_SOURCES {
                // Forget the stalest source rather than grow without bound.
                if let Some((&k, _)) = self.sources.iter().min_by_key(|(_, t)| **t) {
                    self.sources.remove(&k);
                }
            }
            self.sources.insert(mark.source, mark.time);
        }
        self.newest = self.newest.max(mark.time);
        late
    }

    /// The time before which no hit that is not late can still arrive.
    fn frontier(&self) -> Nanos {
        let live = self.newest.saturating_sub(self.source_lag);
        self.sources
            .values()
            .filter(|&&t| t >= live)
            .map(|&t| t.saturating_sub(self.lateness))
            .min()
            .unwrap_or(self.released)
    }

    fn offer(&mut self, mut alert: Alert, late: bool, out: &mut Vec<Alert>) {
        let Some(&r) = self.plan.rule_index.get(&alert.rule.id) else {
            out.push(alert);
            return;
        };
        let feeds = !self.plan.by_rule[r as usize].is_empty();
        let suppresses = self.plan.rule_suppress[r as usize].is_some();
        alert.building_block = self.plan.rule_block[r as usize];
        if !feeds && !suppresses {
            out.push(alert);
            return;
        }
        if late {
            if feeds {
                self.counters.late_hits += 1;
            }
            self.emit(alert, Src::Rule(r), out);
            return;
        }
        let item = Item {
            time: nanos(alert.time),
            id: id_bytes(&alert.id),
            src: Src::Rule(r),
            emit: suppresses,
            alert: Box::new(if suppresses {
                alert
            } else {
                let slim = self.slim(r, &alert);
                if !alert.building_block || self.settings.keep_building_blocks {
                    out.push(alert);
                }
                slim
            }),
        };
        self.pending.push(Reverse(item));
    }

    /// What correlation keeps of an alert it has already raised: the fields its correlations
    /// read (group-by and value fields, any case) and where it came from; not the raw line.
    fn slim(&self, r: u32, alert: &Alert) -> Alert {
        let needed = &self.plan.rule_fields[r as usize];
        let fields = alert
            .fields
            .iter()
            .filter(|(k, _)| needed.iter().any(|n| n.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Alert {
            id: alert.id.clone(),
            time: alert.time,
            rule: AlertRule {
                id: alert.rule.id.clone(),
                name: None,
                title: alert.rule.title.clone(),
                level: String::new(),
                status: None,
                author: None,
                tags: Vec::new(),
            },
            host: alert.host.clone(),
            agency: alert.agency.clone(),
            province: alert.province.clone(),
            fields,
            raw: String::new(),
            source: alert.source.clone(),
            correlation: None,
            building_block: alert.building_block,
            suppressed: None,
        }
    }

    /// Takes the waiting hits and runs the clocks, in event-time order, up to `frontier`.
    fn advance(&mut self, frontier: Nanos, out: &mut Vec<Alert>) {
        if frontier <= self.released {
            return;
        }
        loop {
            let item = self.pending.peek().map(|r| r.0.time).filter(|&t| t < frontier);
            let timer = self.timers.first().map(|t| t.0).filter(|&d| d < frontier);
            match (item, timer) {
                (None, None) => break,
                (Some(t), Some(d)) if d < t => self.fire_timer(out),
                (None, Some(_)) => self.fire_timer(out),
                (Some(_), _) => {
                    if let Some(Reverse(item)) = self.pending.pop() {
                        self.take(item, out);
                    }
                }
            }
        }
        self.released = frontier;
        if self.taken_since_sweep > 1 << 16 {
            self.sweep();
        }
    }

    /// The (correlation, position) pairs a source's hits feed.
    fn refs(&self, src: Src) -> &[(u32, u16)] {
        match src {
            Src::Rule(r) => self.plan.by_rule.get(r as usize),
            Src::Corr(c) => self.plan.by_corr.get(c as usize),
        }
        .map_or(&[], Vec::as_slice)
    }

    fn take(&mut self, item: Item, out: &mut Vec<Alert>) {
        self.taken_since_sweep += 1;
        // By index, not by a copy of the list: this runs for every hit.
        let n = self.refs(item.src).len();
        for k in 0..n {
            if let Some(&(c, pos)) = self.refs(item.src).get(k) {
                self.feed(c, pos, &item);
            }
        }
        if item.emit {
            self.emit(*item.alert, item.src, out);
        }
    }

    /// The key of a hit's group; `None` when it lacks a group-by field. A group never spans
    /// tenants: the hit's province and agency are part of its key, so a correlation alert (in
    /// its last hit's province and agency) holds only members its readers may see.
    fn key(&self, c: u32, pos: u16, alert: &Alert) -> Option<u64> {
        let plan = &self.plan.corrs[c as usize];
        let (fields, _) = plan.fields.get(pos as usize)?;
        let mut h = sip();
        for tenant in [&alert.province, &alert.agency] {
            h.write(tenant.as_deref().unwrap_or("").as_bytes());
            h.write_u8(0xfe);
        }
        for field in fields {
            h.write(field_text(alert, field)?.as_bytes());
            h.write_u8(0xff);
        }
        Some((u64::from(c) << HASH_BITS) | (h.finish() & HASH_MASK))
    }

    fn feed(&mut self, c: u32, pos: u16, item: &Item) {
        let Some(key) = self.key(c, pos, &item.alert) else {
            self.counters.missing_field += 1;
            return;
        };
        let plan = &self.plan.corrs[c as usize];
        let (kind, span) = (plan.kind, plan.span);
        if kind == CorrelationType::Absence {
            if pos == 0 {
                if let std::collections::hash_map::Entry::Vacant(e) = self.absent.entry(key) {
                    let group = group_of(&self.plan.corrs[c as usize], pos, &item.alert);
                    let deadline = item.time.saturating_add(span);
                    e.insert(Absent { corr: c, deadline, start: item.alert.clone(), group });
                    self.timers.insert((deadline, TIMER_ABSENCE, key));
                    if self.absent.len() > self.settings.max_keys {
                        self.evict_absent();
                    }
                }
            } else if let Some(a) = self.absent.get(&key)
                && item.time <= a.deadline
            {
                self.timers.remove(&(a.deadline, TIMER_ABSENCE, key));
                self.absent.remove(&key);
            }
            return;
        }
        let val = match kind {
            CorrelationType::EventCount => 0,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered => u64::from(pos),
            CorrelationType::ValueSum | CorrelationType::ValueAvg => {
                let field = plan.fields[pos as usize].1.as_deref().unwrap_or_default();
                match item
                    .alert
                    .fields
                    .get(field)
                    .and_then(Value::as_f64)
                    .or_else(|| field_text(&item.alert, field).and_then(|t| t.trim().parse::<f64>().ok()))
                {
                    Some(v) if v.is_finite() => v.to_bits(),
                    _ => {
                        self.counters.missing_field += 1;
                        return;
                    }
                }
            }
            CorrelationType::ValueCount | CorrelationType::ValuePercentile | CorrelationType::Absence => {
                let field = plan.fields[pos as usize].1.as_deref().unwrap_or_default();
                let Some(text) = field_text(&item.alert, field) else {
                    self.counters.missing_field += 1;
                    return;
                };
                let mut h = sip();
                h.write(text.as_bytes());
                h.finish()
            }
        };
        let slot = self.keyed.get_or_insert(key);
        let hits = &mut self.keyed.slots[slot].hits;
        hits.push(Hit { time: item.time, id: item.id, val });
        let start = item.time.saturating_sub(span);
        let expired = hits.partition_point(|h| h.time < start);
        let over = hits.len().saturating_sub(expired).saturating_sub(self.settings.max_hits_per_key.max(1));
        if over > 0 {
            self.counters.window_overflow += over as u64;
        }
        if expired + over > 0 {
            hits.drain(..expired + over);
        }
        let value = evaluate(kind, hits);
        if plan.condition.holds(value) {
            let hits: Vec<Hit> = std::mem::take(&mut self.keyed.slots[slot].hits).into_vec();
            self.keyed.remove(key);
            let group = group_of(&self.plan.corrs[c as usize], pos, &item.alert);
            let alert = self.correlation_alert(c, group, value, &hits, &item.alert, item.time);
            self.counters.fired += 1;
            self.pending.push(Reverse(Item {
                time: item.time,
                id: id_bytes(&alert.id),
                src: Src::Corr(c),
                emit: true,
                alert: Box::new(alert),
            }));
        } else if self.keyed.len() > self.settings.max_keys {
            self.evict();
        }
    }

    fn correlation_alert(
        &self,
        c: u32,
        group: Vec<(String, String)>,
        value: f64,
        hits: &[Hit],
        last: &Alert,
        time: Nanos,
    ) -> Alert {
        let plan = &self.plan.corrs[c as usize];
        let mut h = Sha256::new();
        h.update(plan.meta.id.as_bytes());
        h.update(time.to_le_bytes());
        for (k, v) in &group {
            h.update((k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
        for hit in hits {
            h.update(hit.id);
        }
        let id = hex::encode(&h.finalize()[..16]);
        let members: Vec<String> =
            hits[hits.len().saturating_sub(self.settings.max_members)..].iter().map(|h| hex::encode(h.id)).collect();
        let first = hits.first().map_or(time, |h| h.time);
        let group_text = group.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
        let raw = match plan.kind {
            CorrelationType::Absence => format!(
                "absence: `{}` with no {} within {}s ({group_text})",
                last.rule.title,
                plan.meta.title,
                plan.span / 1_000_000_000
            ),
            kind => format!(
                "{}: {value} over {} hits within {}s ({group_text})",
                kind.as_str(),
                hits.len(),
                plan.span / 1_000_000_000
            ),
        };
        let mut fields = vigil_parsers::Fields::new();
        for (k, v) in &group {
            fields.insert(Cow::Owned(k.clone()), Value::from(v.as_str()));
        }
        Alert {
            id,
            time: time_of(time),
            rule: AlertRule {
                id: plan.meta.id.clone(),
                name: plan.meta.name.clone(),
                title: plan.meta.title.clone(),
                level: plan.meta.level.as_str().to_owned(),
                status: plan.meta.status.clone(),
                author: plan.meta.author.clone(),
                tags: plan.meta.tags.clone(),
            },
            host: last.host.clone(),
            agency: last.agency.clone(),
            province: last.province.clone(),
            fields,
            raw,
            source: last.source.clone(),
            correlation: Some(CorrelationInfo {
                kind: plan.kind.as_str().to_owned(),
                group: group.into_iter().collect(),
                value,
                first: time_of(first),
                members,
                member_count: hits.len() as u64,
            }),
            building_block: plan.building_block,
            suppressed: None,
        }
    }

    fn fire_timer(&mut self, out: &mut Vec<Alert>) {
        let Some((time, kind, key)) = self.timers.pop_first() else { return };
        if kind == TIMER_ABSENCE {
            let Some(a) = self.absent.remove(&key) else { return };
            let hit = Hit { time: nanos(a.start.time), id: id_bytes(&a.start.id), val: 0 };
            let waited = (time - hit.time) as f64 / 1e9;
            let alert = self.correlation_alert(a.corr, a.group, waited, &[hit], &a.start, time);
            self.counters.fired += 1;
            self.pending.push(Reverse(Item {
                time,
                id: id_bytes(&alert.id),
                src: Src::Corr(a.corr),
                emit: true,
                alert: Box::new(alert),
            }));
        } else if let Some(s) = self.suppress.remove(&key)
            && s.repeats > 0
        {
            let mut alert = *s.first;
            alert.suppressed = Some(Suppressed { repeats: s.repeats, last: time_of(s.last) });
            out.push(alert);
        }
    }

    /// Raises an alert, or counts it on an earlier one when its rule suppresses repeats.
    fn emit(&mut self, alert: Alert, src: Src, out: &mut Vec<Alert>) {
        let suppress = match src {
            Src::Rule(r) => self.plan.rule_suppress.get(r as usize).and_then(Option::as_ref),
            Src::Corr(c) => self.plan.corrs.get(c as usize).and_then(|p| p.meta.suppress.as_ref()),
        };
        if alert.building_block && !self.settings.keep_building_blocks {
            return;
        }
        let Some(suppress) = suppress else {
            out.push(alert);
            return;
        };
        let mut h = sip();
        h.write(alert.rule.id.as_bytes());
        for field in &suppress.by {
            h.write_u8(0xff);
            h.write(field_text(&alert, field).unwrap_or_default().as_bytes());
        }
        let key = h.finish();
        let time = nanos(alert.time);
        if let Some(s) = self.suppress.get_mut(&key)
            && time <= s.until
        {
            s.repeats += 1;
            s.last = s.last.max(time);
            self.counters.suppressed += 1;
            return;
        }
        let until = time.saturating_add(span_nanos(suppress.period));
        if let Some(old) =
            self.suppress.insert(key, Supp { until, first: Box::new(alert.clone()), repeats: 0, last: time })
        {
            // Only a late alert can find a period that has passed but not been closed.
            self.timers.remove(&(old.until, TIMER_SUPPRESS, key));
            if old.repeats > 0 {
                let mut first = *old.first;
                first.suppressed = Some(Suppressed { repeats: old.repeats, last: time_of(old.last) });
                out.push(first);
            }
        }
        self.timers.insert((until, TIMER_SUPPRESS, key));
        out.push(alert);
    }

    /// Drops the keys whose window event time has passed.
    fn sweep(&mut self) {
        self.taken_since_sweep = 0;
        let released = self.released;
        let corrs = &self.plan.corrs;
        self.keyed.retain(|s| {
            let span = corrs.get((s.key >> HASH_BITS) as usize).map_or(0, |p| p.span);
            s.hits.last().is_some_and(|h| h.time >= released.saturating_sub(span))
        });
    }

    /// Past `max_keys`: the windows that have passed go first, then the stalest tenth.
    fn evict(&mut self) {
        self.sweep();
        if self.keyed.len() <= self.settings.max_keys {
            return;
        }
        let mut times: Vec<Nanos> =
            self.keyed.slots.iter().map(|s| s.hits.last().map_or(Nanos::MIN, |h| h.time)).collect();
        let n = (times.len() / 10).max(1);
        let (_, &mut threshold, _) = times.select_nth_unstable(n - 1);
        let mut budget = n;
        let evicted = self.keyed.retain(|s| {
            let stale = s.hits.last().map_or(Nanos::MIN, |h| h.time) <= threshold && budget > 0;
            if stale {
                budget -= 1;
            }
            !stale
        });
        self.counters.evicted += evicted as u64;
    }

    fn evict_absent(&mut self) {
        let n = (self.absent.len() / 10).max(1);
        for (deadline, kind, key) in
            self.timers.iter().copied().filter(|t| t.1 == TIMER_ABSENCE).take(n).collect::<Vec<_>>()
        {
            self.timers.remove(&(deadline, kind, key));
            self.absent.remove(&key);
            self.counters.evicted += 1;
        }
    }
}

/// A window's value, by correlation type (see the module documentation).
fn evaluate(kind: CorrelationType, hits: &[Hit]) -> f64 {
    let n = hits.len();
    match kind {
        CorrelationType::EventCount => n as f64,
        CorrelationType::ValueCount | CorrelationType::Temporal => {
            let mut vals: Vec<u64> = hits.iter().map(|h| h.val).collect();
            vals.sort_unstable();
            vals.dedup();
            vals.len() as f64
        }
        CorrelationType::TemporalOrdered => {
            let mut next = 0u64;
            for h in hits {
                if h.val == next {
                    next += 1;
                }
            }
            next as f64
        }
        CorrelationType::ValueSum => hits.iter().map(|h| f64::from_bits(h.val)).sum(),
        CorrelationType::ValueAvg => hits.iter().map(|h| f64::from_bits(h.val)).sum::<f64>() / n.max(1) as f64,
        CorrelationType::ValuePercentile => {
            let Some(last) = hits.last() else { return 0.0 };
            100.0 * hits.iter().filter(|h| h.val == last.val).count() as f64 / n as f64
        }
        CorrelationType::Absence => 0.0,
    }
}

/// Why a snapshot could not be written or read.
#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("cannot write correlation snapshot {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read correlation snapshot {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("correlation snapshot {path} is corrupt ({why}); set aside as {moved}")]
    Corrupt { path: PathBuf, why: String, moved: String },
}

const MAGIC: &[u8; 8] = b"VIGILCOR";
const VERSION: u32 = 1;

/// What a snapshot holds: everything but the plan, which comes from the rules.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// Correlation ids and fingerprints by index, to map state onto the rules loaded now.
    corrs: Vec<(String, u64)>,
    rules: Vec<String>,
    newest: Nanos,
    released: Nanos,
    sources: Vec<(u64, Nanos)>,
    slots: Vec<(u64, Vec<Hit>)>,
    pending: Vec<Item>,
    absent: Vec<(u64, Absent)>,
    suppress: Vec<(u64, Supp)>,
    counters: Counters,
    /// The write-ahead log position the state includes.
    #[serde(default)]
    position: u64,
}

/// What [`Correlator::restore`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Restored {
    /// No snapshot: a fresh start.
    Fresh,
    /// State restored: keys and waiting hits; `dropped` of them belonged to correlations
    /// that are gone or changed.
    Restored { keys: usize, pending: usize, dropped: usize },
}

impl Correlator {
    /// The state, encoded (a snapshot's payload).
    fn encode(&self) -> Result<Vec<u8>, String> {
        let snapshot = Snapshot {
            corrs: self.plan.corrs.iter().map(|p| (p.meta.id.clone(), p.fingerprint)).collect(),
            rules: self.plan.rule_ids.clone(),
            newest: self.newest,
            released: self.released,
            sources: self.sources.iter().map(|(&k, &v)| (k, v)).collect(),
            slots: self.keyed.slots.iter().map(|s| (s.key, s.hits.to_vec())).collect(),
            pending: Vec::new(),
            absent: Vec::new(),
            suppress: Vec::new(),
            counters: self.counters,
            position: self.position,
        };
        // The waiting items and clocks are borrowed into the encoding, not cloned.
        #[derive(Serialize)]
        struct Borrowed<'a> {
            base: &'a Snapshot,
            pending: Vec<&'a Item>,
            absent: Vec<(&'a u64, &'a Absent)>,
            suppress: Vec<(&'a u64, &'a Supp)>,
        }
        let value = Borrowed {
            base: &snapshot,
            pending: self.pending.iter().map(|r| &r.0).collect(),
            absent: self.absent.iter().collect(),
            suppress: self.suppress.iter().collect(),
        };
        let mut payload = Vec::new();
        ciborium::into_writer(&value, &mut payload).map_err(|e| e.to_string())?;
        Ok(payload)
    }

    /// Moves this state into `into`, a correlator of another rule set (a rule reload): the
    /// state of correlations that are gone or changed is dropped and counted.
    pub fn carry_into(&self, into: &mut Correlator) -> Result<Restored, String> {
        let snapshot = decode_payload(&self.encode()?)?;
        Ok(into.load(snapshot))
    }

    /// Writes the state to `path` (a temporary file, synced, then renamed). Returns its size.
    pub fn save(&self, path: &Path) -> Result<u64, SnapshotError> {
        let err = |source| SnapshotError::Write { path: path.to_owned(), source };
        let payload = self.encode().map_err(|e| err(std::io::Error::other(e)))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp).map_err(err)?;
        file.write_all(MAGIC).map_err(err)?;
        file.write_all(&VERSION.to_le_bytes()).map_err(err)?;
        file.write_all(&(payload.len() as u64).to_le_bytes()).map_err(err)?;
        file.write_all(&Sha256::digest(&payload)).map_err(err)?;
        file.write_all(&payload).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(err)?;
        Ok(8 + 4 + 8 + 32 + payload.len() as u64)
    }

    /// Reads the state from `path`, mapping it onto the rules loaded now. A snapshot that
    /// cannot be read is renamed aside (`<path>.corrupt-<unix time>`) and reported; the state
    /// then starts empty.
    pub fn restore(&mut self, path: &Path) -> Result<Restored, SnapshotError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Restored::Fresh),
            Err(source) => return Err(SnapshotError::Read { path: path.to_owned(), source }),
        };
        match decode(&bytes) {
            Ok(snapshot) => Ok(self.load(snapshot)),
            Err(why) => {
                let moved = format!("{}.corrupt-{}", path.display(), Utc::now().timestamp());
                if let Err(e) = std::fs::rename(path, &moved) {
                    return Err(SnapshotError::Corrupt {
                        path: path.to_owned(),
                        why: format!("{why}; and it could not be moved: {e}"),
                        moved,
                    });
                }
                Err(SnapshotError::Corrupt { path: path.to_owned(), why, moved })
            }
        }
    }

    fn load(&mut self, s: Snapshot) -> Restored {
        let now: HashMap<(&str, u64), u32> =
            self.plan.corrs.iter().enumerate().map(|(i, p)| ((p.meta.id.as_str(), p.fingerprint), i as u32)).collect();
        let corr_map: Vec<Option<u32>> = s.corrs.iter().map(|(id, fp)| now.get(&(id.as_str(), *fp)).copied()).collect();
        let rule_map: Vec<Option<u32>> = s.rules.iter().map(|id| self.plan.rule_index.get(id).copied()).collect();
        let remap_key = |key: u64| -> Option<u64> {
            let c = corr_map.get((key >> HASH_BITS) as usize).copied().flatten()?;
            Some((u64::from(c) << HASH_BITS) | (key & HASH_MASK))
        };
        let mut dropped = 0;
        self.newest = self.newest.max(s.newest);
        self.released = self.released.max(s.released);
        self.sources.extend(s.sources);
        for (key, hits) in s.slots {
            match remap_key(key) {
                Some(key) => {
                    let i = self.keyed.get_or_insert(key);
                    self.keyed.slots[i].hits = SmallVec::from_vec(hits);
                }
                None => dropped += 1,
            }
        }
        for mut item in s.pending {
            let src = match item.src {
                Src::Rule(r) => rule_map.get(r as usize).copied().flatten().map(Src::Rule),
                Src::Corr(c) => corr_map.get(c as usize).copied().flatten().map(Src::Corr),
            };
            match src {
                Some(src) => {
                    item.src = src;
                    self.pending.push(Reverse(item));
                }
                None => dropped += 1,
            }
        }
        for (key, mut a) in s.absent {
            match (remap_key(key), corr_map.get(a.corr as usize).copied().flatten()) {
                (Some(key), Some(c)) => {
                    a.corr = c;
                    self.timers.insert((a.deadline, TIMER_ABSENCE, key));
                    self.absent.insert(key, a);
                }
                _ => dropped += 1,
            }
        }
        for (key, supp) in s.suppress {
            self.timers.insert((supp.until, TIMER_SUPPRESS, key));
            self.suppress.insert(key, supp);
        }
        self.counters = s.counters;
        self.position = s.position;
        Restored::Restored { keys: self.keys(), pending: self.pending.len(), dropped }
    }
}

fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
    let header = 8 + 4 + 8 + 32;
    if bytes.len() < header || &bytes[..8] != MAGIC {
        return Err("not a vigil correlation snapshot".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().map_err(|_| "short header")?);
    if version != VERSION {
        return Err(format!("snapshot version {version}, this vigil reads {VERSION}"));
    }
    let len = u64::from_le_bytes(bytes[12..20].try_into().map_err(|_| "short header")?);
    let payload = &bytes[header..];
    if payload.len() as u64 != len {
        return Err(format!("{} bytes of payload, the header says {len}", payload.len()));
    }
    if Sha256::digest(payload).as_slice() != &bytes[20..header] {
        return Err("checksum mismatch".into());
    }
    decode_payload(payload)
}

fn decode_payload(payload: &[u8]) -> Result<Snapshot, String> {
    #[derive(Deserialize)]
    struct Owned {
        base: Snapshot,
        pending: Vec<Item>,
        absent: Vec<(u64, Absent)>,
        suppress: Vec<(u64, Supp)>,
    }
    let owned: Owned = ciborium::from_reader(payload).map_err(|e| format!("cannot decode: {e}"))?;
    let mut s = owned.base;
    s.pending = owned.pending;
    s.absent = owned.absent;
    s.suppress = owned.suppress;
    Ok(s)
}

/// Reads a duration such as `5m`, `90s` or `0s` (`[correlation]` settings).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if let Some(zero) = t.strip_suffix(['s', 'm', 'h', 'd'])
        && zero == "0"
    {
        return Some(Duration::ZERO);
    }
    vigil_rules::correlation::parse_timespan(t)
}
