//! The durable pipeline: what the write-ahead log accepted survives SIGKILL, and every alert
//! appears exactly once after restarts (single-event alerts and correlation alerts alike).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

const SSH_FAILURE: &str = "8a761cf0-e770-4e0f-8e32-09bad1d795ff";
const TRIPLE: &str = "3f7c2a10-6b1e-4d7a-9c52-2b0e8f1d4a61";

/// Three failures for one user within a minute: one correlation alert per user.
const TRIPLE_RULE: &str = "title: Three SSH Password Failures for One User
id: 3f7c2a10-6b1e-4d7a-9c52-2b0e8f1d4a61
status: test
correlation:
  type: event_count
  rules:
    - 8a761cf0-e770-4e0f-8e32-09bad1d795ff
  group-by:
    - user
  timespan: 1m
  condition:
    gte: 3
level: high
";

const CONFIG: &str = "[syslog]\nudp = \"\"\ntcp = \"127.0.0.1:0\"\ntls = \"\"\nrelp = \"\"\n
[http]\nlisten = \"127.0.0.1:0\"\n
# Commits and snapshots lag the log, so a kill finds work to match again.
[store]\ncommit_interval_ms = 700\n
[correlation]\nallowed_lateness = \"0s\"\n
[wal]\nfsync = \"interval\"\nfsync_interval_ms = 20\nsegment_mb = 1\n";

/// Events per life of the server.
const PER_LIFE: usize = 3000;

/// Event `i`: an SSH password failure of user `i / 3`, 10 ms after event `i - 1`.
fn event(i: usize) -> Vec<u8> {
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-30T01:00:00Z").expect("time")
        + chrono::Duration::milliseconds(10 * i as i64);
    let msg = format!(
        "<38>1 {} bastion sshd 4242 - - Failed password for u{} from 10.9.{}.{} port {} ssh2",
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        i / 3,
        (i / 250) % 250,
        i % 250,
        10000 + i
    );
    octet_counted(msg.as_bytes())
}

fn start_server(dir: &Path) -> Server {
    let rules = dir.join("test-rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(rules.join("triple.yml"), TRIPLE_RULE).expect("write rule");
    start_with_config(dir, CONFIG)
}

/// Sends events `range` on one connection, `pace` events at a time with a pause between.
fn send(server: &Server, range: std::ops::Range<usize>, pace: usize) -> usize {
    let mut conn = std::net::TcpStream::connect(server.tcp()).expect("connect");
    let mut sent = 0;
    for chunk in range.collect::<Vec<_>>().chunks(pace) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|&i| event(i)).collect();
        if conn.write_all(&bytes).is_err() {
            break;
        }
        sent += chunk.len();
        std::thread::sleep(Duration::from_millis(5));
    }
    sent
}

fn wal(stats: &Value, key: &str) -> u64 {
    stats["wal"][key].as_u64().unwrap_or_else(|| panic!("no wal.{key} in {stats}"))
}

/// Waits until `n` events of this life were received and are all durable in the log.
fn wait_durable(server: &Server, n: u64) -> u64 {
    let stats = server.wait_stats("the events to be durable", |s| {
        counter(s, "received") >= n && wal(s, "durable") >= wal(s, "appended")
    });
    wal(&stats, "durable")
}

/// Waits until a restarted server has matched what its log held at start; returns how many
/// records it read back.
fn restarted(server: &Server) -> u64 {
    let stats = server.wait_stats("the log read back", |s| wal(s, "processed") >= wal(s, "appended"));
    wal(&stats, "replayed")
}

/// The event numbers of the stored SSH failure alerts (each must be there once) and the users
/// of the correlation alerts.
fn stored(server: &Server) -> (Vec<usize>, Vec<String>) {
    let search = |rule: &str| {
        let (status, body) = server.get(&format!("/api/v1/alerts?q=rule_id:{rule}&limit=10000"));
        assert_eq!(status, 200, "{body}");
        body["alerts"].as_array().expect("alerts").clone()
    };
    let failures = search(SSH_FAILURE)
        .iter()
        .map(|a| {
            let port = a["fields"]["src_port"].as_str().expect("src_port");
            port.parse::<usize>().expect("port") - 10000
        })
        .collect();
    let triples =
        search(TRIPLE).iter().map(|a| a["correlation"]["group"]["user"].as_str().expect("user").to_owned()).collect();
    (failures, triples)
}

#[test]
fn what_the_log_accepted_survives_sigkill_and_alerts_appear_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut replayed = 0;

    // Life 1: everything sent and durable, then SIGKILL before commits and snapshots catch up.
    let server = start_server(dir.path());
    send(&server, 0..PER_LIFE, 500);
    wait_durable(&server, PER_LIFE as u64);
    server.kill();

    // Life 2: what life 1 did not finish is matched again; SIGKILL in the middle of a stream.
    let server = start_server(dir.path());
    replayed += restarted(&server);
    let life2_start = wal(&server.stats(), "appended") as usize;
    let sender = {
        let addr = server.tcp();
        std::thread::spawn(move || {
            let mut conn = std::net::TcpStream::connect(addr).expect("connect");
            for i in PER_LIFE..2 * PER_LIFE {
                if conn.write_all(&event(i)).is_err() {
                    break;
                }
                if i % 50 == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    server.wait_stats("half of life 2's events", |s| counter(s, "received") >= (PER_LIFE / 2) as u64);
    // What was durable just before the kill: every one of these must survive.
    let acknowledged = wal(&server.stats(), "durable") as usize;
    server.kill();
    let _ = sender.join();

    // Life 3: a third batch, durable and committed, then SIGKILL again: the correlation
    // snapshot lags the commit, so the next start matches again events whose alerts the index
    // holds already (they must replace themselves, not be added twice).
    let server = start_server(dir.path());
    replayed += restarted(&server);
    send(&server, 2 * PER_LIFE..3 * PER_LIFE, 500);
    wait_durable(&server, PER_LIFE as u64);
    let stats = server.wait_stats("the commit", |s| wal(s, "committed") >= wal(s, "appended"));
    let behind_commit = wal(&stats, "checkpoint") < wal(&stats, "committed");
    server.kill();

    // Life 4: nothing new; it finishes what life 3 left, then is stopped gracefully.
    let server = start_server(dir.path());
    replayed += restarted(&server);
    let stats = server.wait_stats("the log to be matched and committed", |s| {
        wal(s, "committed") >= wal(s, "appended") && wal(s, "processed") >= wal(s, "appended")
    });
    let appended = wal(&stats, "appended") as usize;
    let (failures, triples) = stored(&server);
    assert!(server.terminate(), "a graceful stop");

    assert!(replayed > 0, "some restart matched again what a kill left unfinished");
    assert!(behind_commit, "the checkpoint was behind the commit at the third kill (else a case is not tested)");
    // Each event's alert once.
    let mut seen = BTreeMap::new();
    for i in &failures {
        *seen.entry(*i).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "alerts stored more than once: {twice:?}");
    let present: BTreeSet<usize> = seen.keys().copied().collect();
    // Lives 1 and 3 were wholly durable.
    for i in (0..PER_LIFE).chain(2 * PER_LIFE..3 * PER_LIFE) {
        assert!(present.contains(&i), "event {i} of a durable life is missing");
    }
    // Of life 2, nothing but a prefix of what was sent, and at least what was durable before
    // the kill. Records are events in order, and the flush marks of quiet input (lateness is
    // 0 here): the log's records that are not events.
    let life2: Vec<usize> = present.range(PER_LIFE..2 * PER_LIFE).copied().collect();
    assert_eq!(life2, (PER_LIFE..PER_LIFE + life2.len()).collect::<Vec<_>>(), "life 2 kept a prefix");
    let marks = appended - present.len();
    let durable_events = acknowledged.saturating_sub(life2_start + marks);
    assert!(durable_events > 0, "life 2 had made events durable: {acknowledged} {life2_start} {marks}");
    assert!(life2.len() >= durable_events, "life 2 kept {} events; {durable_events} were durable", life2.len());
    // Correlation: exactly one alert per user that has its three failures stored, none twice.
    let mut per_user = BTreeMap::new();
    for i in &present {
        *per_user.entry(format!("u{}", i / 3)).or_insert(0) += 1;
    }
    let expected: BTreeSet<String> = per_user.into_iter().filter(|(_, n)| *n == 3).map(|(u, _)| u).collect();
    let got: BTreeSet<String> = triples.iter().cloned().collect();
    assert_eq!(got.len(), triples.len(), "a correlation alert stored twice");
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(missing.is_empty() && extra.is_empty(), "correlation alerts: missing {missing:?}, extra {extra:?}");
}
