//! Correlation state: snapshots across a restart (a window open before it still fires once
//! after it), corrupt snapshots set aside, snapshots of changed rules, the key bound with
//! stalest-first eviction, and the memory a key costs.

use std::time::Duration;

use chrono::DateTime;
use sha2::{Digest, Sha256};
use vigil_engine::alert::Alert;
use vigil_engine::correlate::{Correlator, Restored, Settings, SnapshotError};
use vigil_engine::{Detected, Mark};
use vigil_parsers::{Fields, Value};
use vigil_rules::{RuleSet, RuleSource};

fn rules(timespan: &str, gte: u32) -> RuleSet {
    let text = format!(
        "title: base\nid: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    x: 1\n  condition: sel\n---\n\
         title: burst\nid: burst\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [user]\n  \
         timespan: {timespan}\n  condition:\n    gte: {gte}\n"
    );
    let (set, diagnostics) = RuleSet::compile([RuleSource::new("t.yml", text)]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    set
}

fn hit(n: u64, secs: i64, user: &str) -> Detected {
    let mut fields = Fields::new();
    fields.insert("user".into(), Value::from(user));
    let time = DateTime::from_timestamp(1_796_000_000 + secs, 0).unwrap_or_default();
    let alert = Alert::of_fields(hex::encode(&Sha256::digest(n.to_le_bytes())[..16]), "base", time, fields);
    let mark = Mark::at(7, time.timestamp_nanos_opt().unwrap_or_default());
    Detected { marks: vec![(mark, 1)], alerts: vec![alert], ..Detected::default() }
}

fn fired(raised: &[Alert]) -> Vec<String> {
    raised.iter().filter(|a| a.correlation.is_some()).map(|a| a.id.clone()).collect()
}

fn settings() -> Settings {
    Settings { allowed_lateness: Duration::from_secs(10), ..Settings::default() }
}

#[test]
fn a_window_open_before_a_restart_fires_once_after_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("correlation/state.snapshot");
    let set = rules("10m", 3);
    // Straight through, for comparison.
    let mut straight = Correlator::new(&set, settings());
    let mut raised = Vec::new();
    for (n, t) in [(1, 0), (2, 30), (3, 60), (4, 200)] {
        straight.process(hit(n, t, "alice"), &mut raised);
    }
    straight.finish(&mut raised);
    let want = fired(&raised);
    assert_eq!(want.len(), 1);

    // Two hits, a snapshot, a new correlator from it, the rest.
    let mut before = Correlator::new(&set, settings());
    let mut raised = Vec::new();
    before.process(hit(1, 0, "alice"), &mut raised);
    before.process(hit(2, 30, "alice"), &mut raised);
    let bytes = before.save(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(bytes > 0);
    drop(before);
    let mut after = Correlator::new(&set, settings());
    let restored = after.restore(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(restored, Restored::Restored { dropped: 0, .. }), "{restored:?}");
    for (n, t) in [(3, 60), (4, 200)] {
        after.process(hit(n, t, "alice"), &mut raised);
    }
    after.finish(&mut raised);
    assert_eq!(fired(&raised), want, "the same alert, once");
}

#[test]
fn a_corrupt_snapshot_is_reported_and_set_aside() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("state.snapshot");
    let set = rules("10m", 3);
    let mut c = Correlator::new(&set, settings());
    assert_eq!(c.restore(&path).ok(), Some(Restored::Fresh), "no snapshot: a fresh start");
    let mut raised = Vec::new();
    c.process(hit(1, 0, "alice"), &mut raised);
    c.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
    let mut fresh = Correlator::new(&set, settings());
    match fresh.restore(&path) {
        Err(SnapshotError::Corrupt { why, moved, .. }) => {
            assert!(why.contains("checksum"), "{why}");
            assert!(std::path::Path::new(&moved).is_file(), "set aside as {moved}");
        }
        other => panic!("a corrupt snapshot must be reported: {other:?}"),
    }
    assert!(!path.exists(), "not used again");
    assert_eq!(fresh.keys(), 0);
    std::fs::write(&path, b"not a snapshot").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(fresh.restore(&path), Err(SnapshotError::Corrupt { .. })));
}

#[test]
fn state_of_a_changed_correlation_is_dropped_not_misread() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("state.snapshot");
    let mut c = Correlator::new(&rules("10m", 3), settings());
    let mut raised = Vec::new();
    c.process(hit(1, 0, "alice"), &mut raised);
    c.process(hit(2, 100, "bob"), &mut raised);
    c.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut changed = Correlator::new(&rules("1h", 3), settings());
    match changed.restore(&path) {
        Ok(Restored::Restored { keys: 0, dropped, .. }) => assert!(dropped >= 1, "{dropped}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_are_bounded_and_the_stalest_go_first() {
    let set = rules("1h", 2);
    let mut c = Correlator::new(&set, Settings { max_keys: 1000, ..settings() });
    let mut raised = Vec::new();
    for i in 0..3000u64 {
        c.process(hit(i, i as i64, &format!("user{i}")), &mut raised);
    }
    c.finish(&mut raised);
    assert!(c.keys() <= 1000, "{}", c.keys());
    assert!(c.counters().evicted >= 2000, "{:?}", c.counters());
    // The newest keys are still there: a second hit fires; the oldest were evicted: it does not.
    let before = fired(&raised).len();
    c.process(hit(10_000, 3100, "user2999"), &mut raised);
    c.process(hit(10_001, 3101, "user0"), &mut raised);
    c.finish(&mut raised);
    let new: Vec<&Alert> = raised.iter().filter(|a| a.correlation.is_some()).skip(before).collect();
    assert_eq!(new.len(), 1, "{new:#?}");
    assert_eq!(new[0].correlation.as_ref().and_then(|c| c.group.get("user")).map(String::as_str), Some("user2999"));
}

#[test]
fn a_key_costs_at_most_64_bytes() {
    // The budget: 64 MiB per million active keys, i.e. 67 bytes a key.
    let set = rules("1d", 1_000_000);
    let mut c = Correlator::new(&set, settings());
    let mut raised = Vec::new();
    let n = 300_000u64;
    for chunk in 0..(n / 1000) {
        let mut d = Detected::default();
        for i in chunk * 1000..(chunk + 1) * 1000 {
            let h = hit(i, (i / 100) as i64, &format!("u{i}"));
            d.marks.extend(h.marks);
            d.alerts.extend(h.alerts);
        }
        c.process(d, &mut raised);
    }
    c.finish(&mut raised);
    assert_eq!(c.keys() as u64, n);
    let per_key = c.window_memory_bytes() as f64 / n as f64;
    assert!(per_key <= 67.1, "{per_key:.1} bytes a key");
}

#[test]
fn building_blocks_are_raised_unless_told_not_to() {
    let set = rules("10m", 3);
    for keep in [true, false] {
        let mut c = Correlator::new(&set, Settings { keep_building_blocks: keep, ..settings() });
        let mut raised = Vec::new();
        for (n, t) in [(1, 0), (2, 30), (3, 60)] {
            c.process(hit(n, t, "alice"), &mut raised);
        }
        c.finish(&mut raised);
        let blocks = raised.iter().filter(|a| a.building_block && a.correlation.is_none()).count();
        assert_eq!(blocks, if keep { 3 } else { 0 }, "keep_building_blocks = {keep}");
        assert_eq!(fired(&raised).len(), 1, "the correlation fires either way");
    }
}

#[test]
fn a_clock_in_the_future_does_not_make_everyone_late() {
    let set = rules("10m", 3);
    let mut c = Correlator::new(&set, settings());
    let mut raised = Vec::new();
    c.process(hit(1, 0, "alice"), &mut raised);
    // Another host stamps its event 2099: received now, 73 years ahead.
    let mut future = hit(2, 2_300_000_000, "mallory");
    let received = future.marks[0].0.time - 2_300_000_000 * 1_000_000_000;
    future.marks[0].0 = Mark { source: 99, received, ..future.marks[0].0 };
    c.process(future, &mut raised);
    c.process(hit(3, 30, "alice"), &mut raised);
    c.process(hit(4, 60, "alice"), &mut raised);
    c.finish(&mut raised);
    let counters = c.counters();
    assert_eq!((counters.future_events, counters.late_events), (1, 0), "{counters:?}");
    assert_eq!(fired(&raised).len(), 1, "alice's burst still correlates");
    assert!(raised.iter().any(|a| a.fields.get("user").is_some_and(|u| u.as_text() == "mallory")), "still alerted on");
}

#[test]
fn a_group_never_spans_provinces_or_agencies() {
    let set = rules("10m", 3);
    let mut c = Correlator::new(&set, settings());
    let mut raised = Vec::new();
    // The same user in two provinces, two hits each, then a third in one agency of each.
    let tenant = |n: u64, secs: i64, province: &str, agency: &str| {
        let mut d = hit(n, secs, "alice");
        d.alerts[0].province = Some(province.to_owned());
        d.alerts[0].agency = Some(agency.to_owned());
        d
    };
    for (n, t, p, a) in
        [(1, 0, "HN", "a1"), (2, 5, "HCM", "b1"), (3, 10, "HN", "a1"), (4, 15, "HCM", "b1"), (5, 20, "HN", "a2")]
    {
        c.process(tenant(n, t, p, a), &mut raised);
    }
    c.finish(&mut raised);
    assert!(fired(&raised).is_empty(), "no tenant reached 3 hits: {raised:?}");
    let mut c = Correlator::new(&set, settings());
    let mut raised = Vec::new();
    for (n, t, p, a) in
        [(1, 0, "HN", "a1"), (2, 5, "HCM", "b1"), (3, 10, "HN", "a1"), (4, 15, "HCM", "b1"), (5, 20, "HN", "a1")]
    {
        c.process(tenant(n, t, p, a), &mut raised);
    }
    c.finish(&mut raised);
    let fired: Vec<&Alert> = raised.iter().filter(|a| a.correlation.is_some()).collect();
    assert_eq!(fired.len(), 1);
    assert_eq!((fired[0].province.as_deref(), fired[0].agency.as_deref()), (Some("HN"), Some("a1")));
    assert_eq!(fired[0].correlation.as_ref().map(|k| k.member_count), Some(3));
}
