//! Correlation end to end, on the scenarios in `corpus/scenarios/` (written for vigil): each
//! replayed with `vigil replay` raises exactly the correlation alerts `expected.json` lists;
//! all of them sent to `vigil serve` over TCP give the alerts replay gives; and a server
//! stopped in the middle of an open window, then started again, raises its alert once.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/scenarios")
}

/// `vigil replay` of `files` with the scenario rules: the final alert of each id (a suppressed
/// alert raised again replaces the first, as in the store).
fn replay(files: &[PathBuf]) -> BTreeMap<String, Value> {
    let out = Command::new(common::VIGIL)
        .arg("replay")
        .arg("--rules")
        .arg(scenarios().join("rules"))
        .args(files)
        .output()
        .expect("run vigil replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut alerts = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let a: Value = serde_json::from_str(line).expect("JSON alert");
        alerts.insert(a["id"].as_str().unwrap_or_default().to_owned(), a);
    }
    alerts
}

/// What a scenario is judged on: the correlation alerts that are incidents (not building
/// blocks), as (rule id, group, time, repeats).
fn incidents<'a>(alerts: impl IntoIterator<Item = &'a Value>) -> Vec<(String, Value, String, u64)> {
    let mut out: Vec<_> = alerts
        .into_iter()
        .filter(|a| !a["correlation"].is_null() && a["building_block"] != true)
        .map(|a| {
            (
                a["rule"]["id"].as_str().unwrap_or_default().to_owned(),
                a["correlation"]["group"].clone(),
                a["time"].as_str().unwrap_or_default().to_owned(),
                a["suppressed"]["repeats"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    out
}

#[test]
fn each_scenario_replays_to_its_expected_alerts() {
    let expected: BTreeMap<String, Vec<Value>> =
        serde_json::from_str(&std::fs::read_to_string(scenarios().join("expected.json")).expect("expected.json"))
            .expect("expected.json is JSON");
    assert_eq!(expected.len(), 5);
    for (name, want) in expected {
        let alerts = replay(&[scenarios().join(format!("{name}.log"))]);
        let got = incidents(alerts.values());
        assert_eq!(got.len(), want.len(), "{name}: {got:#?}");
        for w in &want {
            let found = got.iter().any(|(rule, group, time, repeats)| {
                w["rule"] == rule.as_str()
                    && w["group"] == *group
                    && w.get("time").is_none_or(|t| t == time.as_str())
                    && w["repeats"].as_u64().unwrap_or(0) == *repeats
            });
            assert!(found, "{name}: expected {w} among {got:#?}");
        }
    }
}

/// Every scenario's lines, merged in event-time order (each line's RFC 5424 timestamp).
fn merged(dir: &Path) -> (PathBuf, Vec<String>) {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(scenarios()).expect("scenarios") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "log") {
            lines.extend(std::fs::read_to_string(&path).expect("read").lines().map(str::to_owned));
        }
    }
    lines.sort_by_key(|l| l.split(' ').nth(1).unwrap_or_default().to_owned());
    let path = dir.join("all-scenarios.log");
    std::fs::write(&path, lines.join("\n") + "\n").expect("write merged");
    (path, lines)
}

fn config(dir: &Path) -> String {
    format!(
        "[syslog]\nudp = \"\"\ntcp = \"127.0.0.1:0\"\ntls = \"\"\nrelp = \"\"\n[http]\nlisten = \"127.0.0.1:0\"\n\
         [store]\ncommit_interval_ms = 100\n[rules]\ndirs = [{:?}]\n[correlation]\nallowed_lateness = \"1s\"\n\
         snapshot_interval_secs = 3600\n",
        dir.display().to_string()
    )
}

fn send(server: &common::Server, lines: &[String]) {
    let mut conn = std::net::TcpStream::connect(server.tcp()).expect("connect");
    for line in lines {
        conn.write_all(format!("{line}\n").as_bytes()).expect("send");
    }
}

/// Waits until every line went through and correlation holds nothing back.
fn settle(server: &common::Server, sent: u64) -> Value {
    server.wait_stats("every line processed and correlation settled", |s| {
        s["processed"].as_u64() >= Some(sent)
            && s["correlation"]["pending"] == 0
            && s["alerts_stored"].as_u64() >= s["alerts"].as_u64()
    });
    server.wait_idle()
}

#[test]
fn serve_over_tcp_gives_the_alerts_of_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (all, lines) = merged(dir.path());
    let replayed = replay(std::slice::from_ref(&all));
    let want = incidents(replayed.values());
    assert_eq!(want.len(), 7, "{want:#?}");

    let server = common::start_with_config(dir.path(), &config(&scenarios().join("rules")));
    send(&server, &lines);
    let stats = settle(&server, lines.len() as u64);
    let stored = server.wait_alerts("the correlation alerts", |alerts| incidents(alerts).len() >= want.len());
    assert_eq!(incidents(&stored), want, "stats: {stats}");
    // The same alerts, to the id, building blocks included; nothing late.
    let ids = |alerts: Vec<&Value>| -> Vec<String> {
        let mut v: Vec<String> =
            alerts.iter().filter(|a| !a["correlation"].is_null()).map(|a| a["id"].to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(ids(stored.iter().collect()), ids(replayed.values().collect()));
    assert_eq!(stats["correlation"]["late_events"], 0, "{stats}");
    assert_eq!(stats["correlation"]["suppressed"], 1, "{stats}");
    // The API lists the correlation rules beside the rules.
    let (status, body) = server.get("/api/v1/rules");
    assert_eq!(status, 200);
    let kinds: Vec<&str> = body["correlations"]
        .as_array()
        .map_or(vec![], |c| c.iter().filter_map(|c| c["spec"]["kind"].as_str()).collect());
    assert_eq!(kinds.len(), 6, "{body}");
    assert!(kinds.contains(&"absence") && kinds.contains(&"value_sum"), "{kinds:?}");
}

#[test]
fn a_window_open_across_a_restart_fires_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = scenarios().join("rules");
    let text = std::fs::read_to_string(scenarios().join("ssh_bruteforce_login.log")).expect("scenario");
    // admin's twelve failures; his successful login comes after the restart.
    let failures: Vec<String> =
        text.lines().filter(|l| l.contains("Failed password for admin ")).map(str::to_owned).collect();
    let login: Vec<String> =
        text.lines().filter(|l| l.contains("Accepted password for admin ")).map(str::to_owned).collect();
    assert_eq!((failures.len(), login.len()), (12, 1));
    let title = "SSH Brute Force Followed by a Successful Login";

    let first = common::start_with_config(dir.path(), &config(&rules));
    send(&first, &failures);
    let stats = settle(&first, 12);
    assert_eq!(stats["correlation"]["fired"], 1, "the inner count fired, the outer window is open: {stats}");
    assert!(first.alerts().iter().all(|a| a["rule"]["title"] != title));
    assert!(first.terminate(), "vigil serve exits cleanly on SIGTERM");
    let snapshot = dir.path().join("data/correlation/state.snapshot");
    assert!(snapshot.is_file(), "state saved at shutdown");

    let second = common::start_with_config(dir.path(), &config(&rules));
    send(&second, &login);
    let stats = settle(&second, 1);
    let alerts = second.wait_alerts("the brute force alert", |a| a.iter().any(|a| a["rule"]["title"] == title));
    let fired: Vec<&Value> = alerts.iter().filter(|a| a["rule"]["title"] == title).collect();
    assert_eq!(fired.len(), 1, "once: {fired:#?}\n{stats}");
    assert_eq!(fired[0]["correlation"]["group"]["user"], "admin");
    assert_eq!(fired[0]["correlation"]["member_count"], 2, "the inner alert and the login");
    // And once more after another restart: nothing fires twice.
    assert!(second.terminate());
    let third = common::start_with_config(dir.path(), &config(&rules));
    let stats = settle(&third, 0);
    assert_eq!(third.alerts().iter().filter(|a| a["rule"]["title"] == title).count(), 1, "{stats}");
}

#[test]
fn the_scenario_rules_lint_clean_against_the_bundled_pack() {
    let out = Command::new(common::VIGIL)
        .args(["rules", "lint"])
        .arg(scenarios().join("rules"))
        .output()
        .expect("run vigil rules lint");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("5 files, 10 rules loaded, 0 errors, 0 warnings"), "{stderr}");
    let list = Command::new(common::VIGIL)
        .args(["rules", "list", "--rules"])
        .arg(scenarios().join("rules"))
        .output()
        .expect("run vigil rules list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("CORRELATION ID"), "{listed}");
    assert!(listed.lines().any(|l| l.contains("absence") && l.contains("Backup Job Did Not Finish")), "{listed}");
    // 4 single-event rules and 6 correlations. A reference to a rule that exists nowhere is
    // still an error.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("c.yml"),
        "title: c\nid: c-1\ncorrelation:\n  type: event_count\n  rules: [no-such-rule]\n  timespan: 5m\n  condition: {gte: 2}\n",
    )
    .expect("write");
    let out = Command::new(common::VIGIL).args(["rules", "lint"]).arg(dir.path()).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("unknown_rule_reference"));
}
