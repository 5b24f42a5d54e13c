//! vigil's correlation against a brute-force reference written here from the semantics in
//! `engine/src/correlate.rs`: random correlation rules of every type (chained, suppressed,
//! absence included), random event streams from two sources, delivered in a random order
//! with each event delayed by at most the allowed lateness and cut into random batches. The
//! reference sorts the whole stream and, at each hit, recomputes its group's window from
//! every hit since the group's last alert; vigil's alerts must equal the reference's, also when
//! it is restarted through a snapshot in the middle of the stream.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use vigil_engine::alert::Alert;
use vigil_engine::correlate::{Correlator, Settings};
use vigil_engine::{Detected, Mark};
use vigil_parsers::{Fields, Value};
use vigil_rules::{RuleSet, RuleSource};

const LATENESS_MS: i64 = 30_000;
const BASE: i64 = 1_796_000_000_000; // ms since the epoch, 2026-12

#[derive(Clone, Debug)]
struct Ev {
    /// Milliseconds after BASE.
    ms: i64,
    /// The base rule it is a hit of (0..3), or none (an event that only moves time on).
    rule: Option<usize>,
    g: Option<&'static str>,
    v: Option<Value>,
    source: u64,
    delay: i64,
}

#[derive(Clone, Debug)]
struct Corr {
    kind: &'static str,
    rules: Vec<usize>,
    group: bool,
    span_s: i64,
    op: &'static str,
    n: f64,
    /// An event_count over this correlation, grouped the same way (chaining).
    parent: Option<(u8, i64)>,
    suppress_s: Option<i64>,
}

const NAMES: [&str; 3] = ["a", "b", "c"];

fn yaml(c: &Corr) -> String {
    let mut s = String::new();
    for (i, name) in NAMES.iter().enumerate() {
        s += &format!(
            "title: base {name}\nid: rule-{name}\nname: {name}\nlogsource:\n  product: test\ndetection:\n  sel:\n    r: {i}\n  condition: sel\n---\n"
        );
    }
    let rules: Vec<&str> = c.rules.iter().map(|&r| NAMES[r]).collect();
    s += &format!(
        "title: under test\nid: corr-1\nname: inner\ncorrelation:\n  type: {}\n  rules: [{}]\n  timespan: {}s\n",
        c.kind,
        rules.join(", "),
        c.span_s
    );
    if c.group {
        s += "  group-by: [g]\n";
    }
    if c.kind != "absence" {
        s += "  condition:\n";
        if c.kind.starts_with("value_") {
            s += "    field: v\n";
        }
        s += &format!("    {}: {}\n", c.op, c.n);
    }
    if let Some(p) = c.suppress_s {
        s += &format!("suppress:\n  by: [g]\n  for: {p}s\n");
    }
    if let Some((n, span)) = c.parent {
        s += &format!(
            "---\ntitle: parent\nid: corr-2\ncorrelation:\n  type: event_count\n  rules: [inner]\n  timespan: {span}s\n{}  condition:\n    gte: {n}\n",
            if c.group { "  group-by: [g]\n" } else { "" }
        );
    }
    s
}

fn hex_id(i: usize) -> String {
    hex::encode(&Sha256::digest(i.to_le_bytes())[..16])
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(BASE + ms).unwrap_or_default()
}

fn alert(i: usize, e: &Ev, rule: usize) -> Alert {
    let mut fields = Fields::new();
    if let Some(g) = e.g {
        fields.insert("g".into(), Value::from(g));
    }
    if let Some(v) = &e.v {
        fields.insert("v".into(), v.clone());
    }
    let mut alert = Alert::of_fields(hex_id(i), &format!("rule-{}", NAMES[rule]), time(e.ms), fields);
    alert.host = Some(format!("h{}", e.source));
    alert
}

/// What is compared: the final state of every correlation alert, by id (a suppressed alert
/// raised again replaces the first).
type Outcome = BTreeMap<String, Entry>;

/// Rule id, time (ms after BASE), group, value, member ids, suppressed repeats.
type Entry = (String, i64, Vec<(String, String)>, String, Vec<String>, Option<u64>);

fn outcome(alerts: &[Alert]) -> Outcome {
    let mut out = Outcome::new();
    for a in alerts {
        let Some(c) = &a.correlation else { continue };
        out.insert(
            a.id.clone(),
            (
                a.rule.id.clone(),
                a.time.timestamp_millis() - BASE,
                c.group.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                format!("{:.6}", c.value),
                c.members.clone(),
                a.suppressed.as_ref().map(|s| s.repeats),
            ),
        );
    }
    out
}

/// vigil's outcome; with `restart`, the correlator is saved to a snapshot after that many
/// batches and a new one restored from it carries on (a restart in the middle of the stream).
fn vigil(c: &Corr, events: &[Ev], batches: &[usize]) -> (Outcome, u64) {
    vigil_restarting(c, events, batches, None)
}

fn vigil_restarting(c: &Corr, events: &[Ev], batches: &[usize], restart: Option<usize>) -> (Outcome, u64) {
    let (set, diagnostics) = RuleSet::compile([RuleSource::new("t.yml", yaml(c))]);
    assert!(diagnostics.is_empty(), "{}\n{diagnostics:?}", yaml(c));
    let settings = Settings { allowed_lateness: Duration::from_millis(LATENESS_MS as u64), ..Settings::default() };
    let mut correlator = Correlator::new(&set, settings.clone());
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (events[i].ms + events[i].delay, i));
    let mut raised = Vec::new();
    let mut cuts = batches.iter().cycle();
    let mut rest = &order[..];
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut done = 0;
    while !rest.is_empty() {
        if restart == Some(done) {
            let path = dir.path().join("state.snapshot");
            correlator.save(&path).unwrap_or_else(|e| panic!("{e}"));
            correlator = Correlator::new(&set, settings.clone());
            correlator.restore(&path).unwrap_or_else(|e| panic!("{e}"));
        }
        done += 1;
        let n = (*cuts.next().unwrap_or(&1)).clamp(1, rest.len());
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        let mut detected = Detected::default();
        for &i in batch {
            let e = &events[i];
            let mark = Mark::at(e.source, (BASE + e.ms) * 1_000_000);
            match e.rule {
                Some(r) => {
                    detected.marks.push((mark, 1));
                    detected.alerts.push(alert(i, e, r));
                }
                None => detected.marks.push((mark, 0)),
            }
        }
        correlator.process(detected, &mut raised);
    }
    correlator.finish(&mut raised);
    (outcome(&raised), correlator.counters().late_events)
}

/// A hit as the reference sees it.
#[derive(Clone, Debug)]
struct RHit {
    ms: i64,
    id: [u8; 16],
    /// An alert of the correlation under test (it feeds the parent).
    corr: bool,
    pos: usize,
    group: Vec<(String, String)>,
    v: Option<Value>,
}

fn id_bytes(hex_id: &str) -> [u8; 16] {
    let mut b = [0u8; 16];
    hex::decode_to_slice(hex_id, &mut b).unwrap_or_default();
    b
}

/// The correlation alert id: SHA-256 over the rule id, the time (ns), the group and the
/// member ids, as vigil documents it.
fn corr_id(rule: &str, ms: i64, group: &[(String, String)], members: &[[u8; 16]]) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update(((BASE + ms) * 1_000_000).to_le_bytes());
    for (k, v) in group {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    for m in members {
        h.update(m);
    }
    hex::encode(&h.finalize()[..16])
}

fn value(kind: &str, window: &[&RHit]) -> Option<f64> {
    let n = window.len() as f64;
    let text = |h: &RHit| h.v.as_ref().map(|v| v.as_text().into_owned());
    let num = |h: &RHit| h.v.as_ref().and_then(|v| v.as_f64());
    Some(match kind {
        "event_count" => n,
        "value_count" => {
            let mut s: Vec<String> = window.iter().filter_map(|h| text(h)).collect();
            s.sort();
            s.dedup();
            s.len() as f64
        }
        "temporal" => {
            let mut s: Vec<usize> = window.iter().map(|h| h.pos).collect();
            s.sort();
            s.dedup();
            s.len() as f64
        }
        "temporal_ordered" => {
            let mut next = 0;
            for h in window {
                if h.pos == next {
                    next += 1;
                }
            }
            next as f64
        }
        "value_sum" => window.iter().filter_map(|h| num(h)).sum(),
        "value_avg" => window.iter().filter_map(|h| num(h)).sum::<f64>() / n,
        "value_percentile" => {
            let last = text(window.last()?);
            100.0 * window.iter().filter(|h| text(h) == last).count() as f64 / n
        }
        _ => return None,
    })
}

fn holds(op: &str, n: f64, v: f64) -> bool {
    match op {
        "gt" => v > n,
        "gte" => v >= n,
        "lt" => v < n,
        "lte" => v <= n,
        "eq" => v == n,
        _ => v != n,
    }
}

/// The reference: the whole stream sorted, every window recomputed from scratch.
fn reference(c: &Corr, events: &[Ev]) -> Outcome {
    // (ms, id, index into `hits`)
    let mut queue: BinaryHeap<std::cmp::Reverse<(i64, [u8; 16], usize)>> = BinaryHeap::new();
    let mut hits: Vec<RHit> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let Some(r) = e.rule else { continue };
        for (pos, _) in c.rules.iter().enumerate().filter(|(_, rr)| **rr == r) {
            let group = match (c.group, e.g) {
                (false, _) => vec![],
                (true, Some(g)) => vec![("g".to_owned(), g.to_owned())],
                (true, None) => continue,
            };
            hits.push(RHit { ms: e.ms, id: id_bytes(&hex_id(i)), corr: false, pos, group, v: e.v.clone() });
            queue.push(std::cmp::Reverse((e.ms, id_bytes(&hex_id(i)), hits.len() - 1)));
        }
    }
    let newest = events.iter().map(|e| e.ms).max().unwrap_or(0);
    let mut since: HashMap<Vec<(String, String)>, Vec<RHit>> = HashMap::new();
    let mut parent_since: HashMap<Vec<(String, String)>, Vec<RHit>> = HashMap::new();
    let mut clocks: BTreeMap<(i64, Vec<(String, String)>), RHit> = BTreeMap::new();
    let mut periods: HashMap<Vec<(String, String)>, (i64, String, u64)> = HashMap::new();
    let mut out = Outcome::new();
    // An alert of the correlation under test: recorded, and queued for the parent.
    let raise = |rule: &str,
                 ms: i64,
                 group: &[(String, String)],
                 val: f64,
                 members: &[[u8; 16]],
                 queue: &mut BinaryHeap<std::cmp::Reverse<(i64, [u8; 16], usize)>>,
                 hits: &mut Vec<RHit>| {
        let id = corr_id(rule, ms, group, members);
        let entry =
            (rule.to_owned(), ms, group.to_vec(), format!("{val:.6}"), members.iter().map(hex::encode).collect(), None);
        if rule == "corr-1" {
            hits.push(RHit { ms, id: id_bytes(&id), corr: true, pos: 0, group: group.to_vec(), v: None });
            queue.push(std::cmp::Reverse((ms, id_bytes(&id), hits.len() - 1)));
        }
        (id, entry)
    };
    loop {
        let next = queue.peek().map(|r| r.0.0);
        let clock = clocks.keys().next().map(|k| k.0);
        let take_clock = match (next, clock) {
            (_, None) => false,
            (None, Some(d)) => d <= newest,
            (Some(t), Some(d)) => d < t,
        };
        if take_clock {
            let Some(((d, group), start)) = clocks.pop_first() else { break };
            let (id, entry) =
                raise("corr-1", d, &group, (d - start.ms) as f64 / 1000.0, &[start.id], &mut queue, &mut hits);
            out.insert(id, entry);
            continue;
        }
        let Some(std::cmp::Reverse((ms, _, index))) = queue.pop() else { break };
        let hit = hits[index].clone();
        if hit.corr {
            // Taken in time order: suppression of the correlation's own alerts, then the parent.
            let id = hex::encode(hit.id);
            match (c.suppress_s, periods.get_mut(&hit.group)) {
                (Some(_), Some((until, first, repeats))) if ms <= *until => {
                    *repeats += 1;
                    let n = *repeats;
                    if let Some(e) = out.get_mut(first.as_str()) {
                        e.5 = Some(n);
                    }
                    out.remove(&id);
                }
                (Some(p), _) => {
                    periods.insert(hit.group.clone(), (ms + p * 1000, id, 0));
                }
                (None, _) => {}
            }
            let Some((n, span)) = c.parent else { continue };
            let list = parent_since.entry(hit.group.clone()).or_default();
            list.push(hit.clone());
            let window: Vec<&RHit> = list.iter().filter(|h| h.ms >= ms - span * 1000).collect();
            if window.len() as f64 >= f64::from(n) {
                let members: Vec<[u8; 16]> = window.iter().map(|h| h.id).collect();
                let (id, entry) = raise("corr-2", ms, &hit.group, window.len() as f64, &members, &mut queue, &mut hits);
                out.insert(id, entry);
                list.clear();
            }
            continue;
        }
        if c.kind == "absence" {
            let running = clocks.iter().find(|(k, _)| k.1 == hit.group).map(|(k, _)| k.clone());
            match (hit.pos, running) {
                (0, None) => {
                    clocks.insert((ms + c.span_s * 1000, hit.group.clone()), hit.clone());
                }
                (p, Some(k)) if p > 0 && ms <= k.0 => {
                    clocks.remove(&k);
                }
                _ => {}
            }
            continue;
        }
        let numeric = matches!(c.kind, "value_sum" | "value_avg");
        if (numeric && hit.v.as_ref().and_then(|v| v.as_f64()).is_none_or(|f| !f.is_finite()))
            || (c.kind.starts_with("value_") && !numeric && hit.v.is_none())
        {
            continue;
        }
        let list = since.entry(hit.group.clone()).or_default();
        list.push(hit.clone());
        let window: Vec<&RHit> = list.iter().filter(|h| h.ms >= ms - c.span_s * 1000).collect();
        let Some(val) = value(c.kind, &window) else { continue };
        if holds(c.op, c.n, val) {
            let members: Vec<[u8; 16]> = window.iter().map(|h| h.id).collect();
            list.clear();
            let (id, entry) = raise("corr-1", ms, &hit.group, val, &members, &mut queue, &mut hits);
            out.insert(id, entry);
        }
    }
    out
}

fn corr_strategy() -> impl Strategy<Value = Corr> {
    let kinds = prop::sample::select(vec![
        "event_count",
        "value_count",
        "temporal",
        "temporal_ordered",
        "value_sum",
        "value_avg",
        "value_percentile",
        "absence",
    ]);
    (
        kinds,
        prop::sample::subsequence(vec![0usize, 1, 2], 1..=3).prop_shuffle(),
        any::<bool>(),
        5i64..60,
        prop::sample::select(vec!["gt", "gte", "lt", "lte", "eq", "neq"]),
        0u32..8,
        prop::option::weighted(0.3, (1u8..4, 10i64..120)),
        prop::option::weighted(0.3, 5i64..120),
    )
        .prop_map(|(kind, mut rules, group, span_s, op, n, parent, suppress_s)| {
            if matches!(kind, "temporal" | "temporal_ordered" | "absence") && rules.len() < 2 {
                rules.push((rules[0] + 1) % 3);
            }
            let n = match kind {
                "value_sum" => f64::from(n) * 3.0,
                "value_percentile" => f64::from(n) * 15.0,
                _ => f64::from(n),
            };
            // A parent needs the inner alerts' group values, and the absence clock has no
            // window to chain on here.
            let parent = parent.filter(|_| kind != "absence");
            Corr { kind, rules, group, span_s, op, n, parent, suppress_s }
        })
}

fn event_strategy() -> impl Strategy<Value = Ev> {
    (
        // Whole seconds, so that ties and window edges are common.
        (0i64..150).prop_map(|s| s * 1000),
        prop::option::weighted(0.85, 0usize..3),
        prop::option::weighted(0.9, prop::sample::select(vec!["x", "y"])),
        prop_oneof![
            3 => (1i64..6).prop_map(|i| Some(Value::Int(i))),
            1 => prop::sample::select(vec!["p", "q", "r"]).prop_map(|s| Some(Value::from(s))),
            1 => Just(None),
        ],
        1u64..3,
        // Delays at the lateness itself are the edge that matters: often exactly there.
        prop_oneof![1 => Just(0), 1 => Just(LATENESS_MS), 2 => (0i64..=LATENESS_MS / 1000).prop_map(|s| s * 1000)],
    )
        .prop_map(|(ms, rule, g, v, source, delay)| Ev { ms, rule, g, v, source, delay })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn vigil_equals_the_reference(
        corr in corr_strategy(),
        events in prop::collection::vec(event_strategy(), 0..60),
        batches in prop::collection::vec(1usize..8, 1..6),
    ) {
        let expected = reference(&corr, &events);
        let (got, late) = vigil(&corr, &events, &batches);
        if std::env::var_os("VIGIL_PRINT_FIRED").is_some() { eprintln!("fired {}", expected.len()); }
        prop_assert_eq!(late, 0, "delays within the lateness are never late");
        prop_assert_eq!(got, expected, "{}", yaml(&corr));
    }

    /// A restart through a snapshot, anywhere in the stream, changes nothing: windows, waiting
    /// hits, absence clocks and suppression periods all carry over.
    #[test]
    fn a_restart_anywhere_changes_nothing(
        corr in corr_strategy(),
        events in prop::collection::vec(event_strategy(), 1..60),
        batches in prop::collection::vec(1usize..8, 1..6),
        restart in 0usize..20,
    ) {
        let expected = reference(&corr, &events);
        let (got, late) = vigil_restarting(&corr, &events, &batches, Some(restart));
        prop_assert_eq!(late, 0);
        prop_assert_eq!(got, expected, "{}", yaml(&corr));
    }
}

/// A change to the engine that the property must catch: delivering beyond the lateness does
/// make events late (the property's guarantee is not vacuous).
#[test]
fn delays_beyond_the_lateness_are_late() {
    let corr = Corr {
        kind: "event_count",
        rules: vec![0],
        group: false,
        span_s: 60,
        op: "gte",
        n: 2.0,
        parent: None,
        suppress_s: None,
    };
    let ev = |ms, delay| Ev { ms, rule: Some(0), g: None, v: None, source: 1, delay };
    // The first event arrives after one 40 s newer than it (lateness 30 s).
    let events = vec![ev(0, 45_000), ev(40_000, 0)];
    let (got, late) = vigil(&corr, &events, &[1]);
    assert_eq!(late, 1);
    assert!(got.is_empty(), "the late event is not correlated: {got:?}");
    assert_eq!(reference(&corr, &events).len(), 1, "in order, the two would correlate");
    // Exactly the lateness behind, in the next batch: still in time, and correlated.
    let events = vec![ev(40_000, 0), ev(10_000, 30_000)];
    let (got, late) = vigil(&corr, &events, &[1]);
    assert_eq!((late, got.len()), (0, 1), "{got:?}");
    assert_eq!(got, reference(&corr, &events));
    // One millisecond more is late.
    let events = vec![ev(40_000, 0), ev(9_999, 30_001)];
    assert_eq!(vigil(&corr, &events, &[1]).1, 1);
}
