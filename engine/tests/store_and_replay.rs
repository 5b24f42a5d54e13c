//! The alert store on a real tantivy index in a temp dir, and replay over real files.

use chrono::{DateTime, Utc};
use vigil_engine::sources::SourceMap;
use vigil_engine::{AlertQuery, AlertStore, Detector, Stats, StoreError};
use vigil_parsers::InputFormat;
use vigil_rules::RuleSet;

fn detector() -> Detector {
    Detector::new(
        RuleSet::bundled(),
        InputFormat::Auto,
        std::sync::Arc::new(SourceMap::unassigned(vigil_parsers::DEFAULT_TZ)),
    )
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).expect("time")
}

const LINES: &str = "\
<38>1 2026-11-23T10:00:01+07:00 bastion sshd 812 - - Failed password for root from 203.0.113.9 port 52044 ssh2
<38>1 2026-11-23T10:00:02+07:00 bastion sshd 812 - - Accepted publickey for deploy from 10.0.0.5 port 40022 ssh2

<38>1 2026-11-23T10:00:03+07:00 bastion sshd 812 - - Invalid user oracle from 198.51.100.23 port 40222
this line is no syslog at all
<85>1 2026-11-23T10:00:04+07:00 bastion sudo - - - alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash
";

fn replay(lines: &str) -> (Vec<vigil_engine::Alert>, Stats, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("auth.log");
    std::fs::write(&path, lines).expect("write");
    let stats = Stats::default();
    let mut out = Vec::new();
    let n = vigil_engine::replay::replay(
        &detector(),
        &[path.display().to_string()],
        None,
        Default::default(),
        &mut out,
        &stats,
    )
    .expect("replay");
    let alerts: Vec<vigil_engine::Alert> =
        String::from_utf8_lossy(&out).lines().map(|l| serde_json::from_str(l).expect("alert JSON")).collect();
    assert_eq!(n as usize, alerts.len());
    (alerts, stats, dir)
}

#[test]
fn replay_reports_lines_and_counts_bad_input() {
    let (alerts, stats, _dir) = replay(LINES);
    let got: Vec<(u64, &str)> = alerts.iter().map(|a| (a.source.line.unwrap_or(0), a.rule.title.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (1, "SSH Password Authentication Failure"),
            (4, "SSH Login Attempt for an Invalid User"),
            (6, "Sudo to a Root Shell")
        ]
    );
    assert_eq!(alerts[0].time, t("2026-11-23T03:00:01Z"));
    assert_eq!(alerts[0].host.as_deref(), Some("bastion"));
    let snap = stats.snapshot();
    assert_eq!(snap.received, 6);
    assert_eq!(snap.processed, 5, "the empty line is skipped, the unparsable one still matched");
    assert_eq!(snap.errors.get("bad_header"), Some(&1), "{:?}", snap.errors);
}

#[test]
fn alert_ids_are_deterministic() {
    let (a, _, _d1) = replay(LINES);
    let (b, _, _d2) = replay(LINES);
    let ids = |v: &[vigil_engine::Alert]| v.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    let mut unique = ids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), a.len());
}

#[test]
fn after_a_reopen_only_alerts_that_may_exist_replace_theirs() {
    let (alerts, _, _d) = replay(LINES);
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = AlertStore::open(dir.path(), 20_000_000).expect("open store");
        store.add(&alerts).expect("add");
        store.commit().expect("commit");
    }
    let store = AlertStore::open(dir.path(), 20_000_000).expect("reopen store");
    // Matched again after a restart (the pipeline says they may exist): replaced.
    store.add_with(&alerts[..2], |_| true).expect("add again");
    store.commit().expect("commit");
    let total =
        |store: &AlertStore| store.search(&AlertQuery { limit: 0, ..Default::default() }).expect("search").total;
    assert_eq!(total(&store), 3);
    // Added again within the same run: remembered, replaced.
    store.add(&alerts[..2]).expect("add again");
    store.commit().expect("commit");
    assert_eq!(total(&store), 3);
}

#[test]
fn store_searches_newest_first_with_ranges_and_replaces_by_id() {
    let (alerts, _, _d) = replay(LINES);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = AlertStore::open(dir.path(), 20_000_000).expect("open store");
    store.add(&alerts).expect("add");
    store.add(&alerts[..1]).expect("add again");
    store.commit().expect("commit");

    let all = store.search(&AlertQuery { limit: 10, ..Default::default() }).expect("search");
    assert_eq!(all.total, 3, "re-adding an alert replaces it");
    let times: Vec<_> = all.alerts.iter().map(|a| a.time).collect();
    assert_eq!(times, vec![t("2026-11-23T03:00:04Z"), t("2026-11-23T03:00:03Z"), t("2026-11-23T03:00:01Z")]);
    assert_eq!(all.alerts[2], alerts[0], "the stored alert is returned unchanged");

    let q = |q: &str, from: Option<&str>, to: Option<&str>| {
        store
            .search(&AlertQuery { q: q.into(), from: from.map(t), to: to.map(t), limit: 10, ..Default::default() })
            .map(|r| r.alerts.iter().map(|a| a.rule.title.clone()).collect::<Vec<_>>())
    };
    assert_eq!(q("203.0.113.9", None, None).ok(), Some(vec!["SSH Password Authentication Failure".to_owned()]));
    assert_eq!(q("host:bastion AND level:medium", None, None).map(|v| v.len()).ok(), Some(2));
    assert_eq!(
        q("", Some("2026-11-23T03:00:02Z"), Some("2026-11-23T03:00:03Z")).ok(),
        Some(vec!["SSH Login Attempt for an Invalid User".to_owned()])
    );
    assert!(matches!(q("(oops", None, None), Err(StoreError::Query { .. })));

    // Reopening the index sees what was committed.
    drop(store);
    let store = AlertStore::open(dir.path(), 20_000_000).expect("reopen");
    assert_eq!(store.search(&AlertQuery { limit: 1, ..Default::default() }).map(|r| r.total).ok(), Some(3));
}

#[test]
fn a_second_store_on_the_same_index_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = AlertStore::open(dir.path(), 20_000_000).expect("open store");
    let second = AlertStore::open(dir.path(), 20_000_000);
    assert!(matches!(second, Err(StoreError::Locked { .. })), "{second:?}");
    assert!(second.is_err_and(|e| e.to_string().contains("another `vigil serve`")));
}

/// The bundled pack and 64 rules more, so that the rule set has a prefilter and scratches
/// carry state (routes, scanners) from one batch to the next.
fn big_detector() -> Detector {
    let mut sources = vigil_rules::bundled();
    for i in 0..64 {
        sources.push(vigil_rules::RuleSource::new(
            format!("extra{i}.yml"),
            format!(
                "title: extra {i}\nid: extra-{i}\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    \
                 message|contains: 'from 203.0.113.{i} '\n  condition: sel\n"
            ),
        ));
    }
    let (rules, diagnostics) = RuleSet::compile(sources);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    Detector::new(rules, InputFormat::Auto, std::sync::Arc::new(SourceMap::unassigned(vigil_parsers::DEFAULT_TZ)))
}

#[test]
fn workers_kept_across_batches_match_as_fresh_ones() {
    let input = |line: String| vigil_engine::Input {
        bytes: line.into_bytes(),
        received: t("2026-11-23T03:00:00Z"),
        sender: None,
        source: std::sync::Arc::new(vigil_engine::AlertSource::default()),
    };
    let batches: Vec<Vec<vigil_engine::Input>> = (0..8)
        .map(|b| {
            (0..300)
                .map(|i| {
                    let n = (b * 300 + i) % 80;
                    input(match i % 3 {
                        0 => format!("<38>Nov 23 10:00:01 h{b} sshd[1]: Failed password for root from 203.0.113.{n} port 1 ssh2"),
                        1 => format!("<85>Nov 23 10:00:02 h{b} sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/bash"),
                        _ => format!("{{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\x{n}.exe\"}}"),
                    })
                })
                .collect()
        })
        .collect();
    let a = big_detector();
    let b = big_detector();
    let stats = Stats::default();
    let workers = a.workers();
    let others = b.workers();
    let mut hits = 0;
    for batch in &batches {
        let fresh = a.detect_batch(batch, &stats);
        let kept = a.detect_batch_with(batch, &workers, &stats);
        // Another detector's workers are not used: still this detector's alerts.
        let foreign = a.detect_batch_with(batch, &others, &stats);
        assert_eq!(fresh, kept);
        assert_eq!(fresh, foreign);
        hits += fresh.len();
    }
    // Per batch: 100 failed passwords (the bundled rule, and an extra rule for the 4 in 5
    // whose address is .0 to .63) and 100 sudo root shells.
    assert!(hits > 8 * 250, "{hits} alerts");
}
