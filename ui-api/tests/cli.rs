//! The rule author's workflow through the real `vigil` binary: list rules, see why a rule did
//! not load, replay NDJSON and syslog files against local rules.

use std::process::{Command, Output};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

fn vigil(args: &[&str], dir: &std::path::Path) -> Output {
    let out = Command::new(VIGIL).args(args).current_dir(dir).output().expect("run vigil");
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

const WIN_RULE: &str = r"
title: Whoami Run by a Shell
id: 0b7f4a57-6f0f-4b59-9f0a-7d7bbf3c8a11
author: test
level: high
tags: [attack.discovery, attack.t1033]
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    Image|endswith: '\whoami.exe'
    ParentImage|endswith:
      - '\cmd.exe'
      - '\powershell.exe'
  filter_system:
    User|contains: 'SYSTEM'
  condition: selection and not filter_system
";

const BROKEN_RULE: &str = "title: Broken\nid: 1\nlogsource:\n  product: linux\ndetection:\n  sel:\n    a|bogus|contains: x\n  condition: sel\n";

#[test]
fn rules_list_shows_the_pack_and_why_rules_did_not_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(rules.join("windows")).expect("mkdir");
    std::fs::write(rules.join("windows/whoami.yml"), WIN_RULE).expect("write");
    std::fs::write(rules.join("broken.yml"), BROKEN_RULE).expect("write");
    let out = vigil(&["rules", "list", "--rules", "rules"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for title in [
        "SSH Password Authentication Failure",
        "SSH Login Attempt for an Invalid User",
        "Sudo to a Root Shell",
        "New Local User Account Created",
        "Web Shell Style Request",
        "Whoami Run by a Shell",
    ] {
        assert!(stdout.contains(title), "{title} missing from:\n{stdout}");
    }
    assert!(!stdout.contains("Broken"));
    assert!(stderr.contains("broken.yml") && stderr.contains("unknown modifier `bogus`"), "{stderr}");
    assert!(stderr.contains("6 loaded, 1 rejected"), "{stderr}");

    let out = vigil(&["rules", "list", "--no-bundled", "--json", "--rules", "rules"], dir.path());
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["level"], "high");
}

#[test]
fn replay_ndjson_evtx_and_flat_events_against_local_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
    std::fs::write(dir.path().join("rules/whoami.yml"), WIN_RULE).expect("write");
    let evtx = |image: &str, parent: &str, user: &str| {
        serde_json::json!({"Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                "EventID": 1,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": "ws01.sotttt.gov.vn",
                "TimeCreated": {"#attributes": {"SystemTime": "2026-11-23T03:00:00.000000Z"}}
            },
            "EventData": {"Image": image, "ParentImage": parent, "User": user, "CommandLine": "whoami /all"}
        }})
        .to_string()
    };
    let lines = [
        evtx("C:\\Windows\\System32\\whoami.exe", "C:\\Windows\\System32\\cmd.exe", "SOTTTT\\an.nguyen"),
        evtx("C:\\Windows\\System32\\whoami.exe", "C:\\Windows\\System32\\cmd.exe", "NT AUTHORITY\\SYSTEM"),
        "{not json".to_owned(),
        evtx(
            "C:\\Windows\\System32\\WHOAMI.EXE",
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "SOTTTT\\b",
        ),
        // A flat event of another logsource: the Windows rule must not see it.
        r#"{"Image": "C:\\Windows\\System32\\whoami.exe", "ParentImage": "C:\\Windows\\System32\\cmd.exe"}"#.to_owned(),
    ];
    std::fs::write(dir.path().join("events.ndjson"), lines.join("\n") + "\n").expect("write");
    let out = vigil(&["replay", "--no-bundled", "--rules", "rules", "--format", "ndjson", "events.ndjson"], dir.path());
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    let got: Vec<(u64, &str)> = alerts
        .iter()
        .map(|a| (a["source"]["line"].as_u64().unwrap_or(0), a["rule"]["title"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(got, vec![(1, "Whoami Run by a Shell"), (4, "Whoami Run by a Shell")]);
    assert_eq!(alerts[0]["host"], "ws01.sotttt.gov.vn");
    assert_eq!(alerts[0]["time"], "2026-11-23T03:00:00Z");
    assert_eq!(alerts[0]["fields"]["EventID"], 1);
    assert_eq!(alerts[0]["source"]["file"], "events.ndjson");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad_json: 1"), "the bad line is counted: {stderr}");
}

#[test]
fn replay_expands_placeholders_from_the_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
    let rule = "title: Login by a Watched Account\nid: 7d1c0d36-9d55-4c5e-9d4e-3a4f8f0f2a10\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  sel:\n    user|expand: '%Watched%'\n  condition: sel\n";
    std::fs::write(dir.path().join("rules/watched.yml"), rule).expect("write");
    let lines = "<38>Nov 23 10:00:01 bastion sshd[1]: Accepted password for alice from 10.0.0.7 port 5 ssh2\n\
                 <38>Nov 23 10:00:02 bastion sshd[2]: Accepted password for mallory from 10.0.0.8 port 6 ssh2\n";
    std::fs::write(dir.path().join("auth.log"), lines).expect("write");

    // Without values the placeholder matches nothing, and the loader says so.
    let out = vigil(&["replay", "--no-bundled", "--rules", "rules", "auth.log"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("placeholder_without_values") && stderr.contains("%Watched%"), "{stderr}");

    std::fs::write(dir.path().join("vigil.toml"), "[rules.placeholders]\nWatched = [\"alice\", \"bob\"]\n")
        .expect("write");
    let out = vigil(&["replay", "--config", "vigil.toml", "--no-bundled", "--rules", "rules", "auth.log"], dir.path());
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["fields"]["user"], "alice");
}

#[test]
fn rules_lint_reports_file_line_code_and_hint_and_fails_on_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("good.yml"), WIN_RULE).expect("write");
    let out = Command::new(VIGIL).args(["rules", "lint", "rules"]).current_dir(dir.path()).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 files, 1 rules loaded, 0 errors"));

    // Line 8 holds the bad modifier; line 6 the legacy aggregation.
    std::fs::write(rules.join("broken.yml"), BROKEN_RULE).expect("write");
    let legacy = "title: Many Failures\nid: 2\nlogsource:\n  product: linux\ndetection:\n  condition: sel | count() by src_ip > 10\n  sel:\n    event: failed_password\n";
    std::fs::write(rules.join("legacy.yml"), legacy).expect("write");
    let out = Command::new(VIGIL).args(["rules", "lint", "rules"]).current_dir(dir.path()).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("error[unknown_modifier] rules/broken.yml:7"), "{stdout}");
    assert!(stdout.contains("error[legacy_syntax] rules/legacy.yml:6") && stdout.contains("hint:"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 files, 1 rules loaded, 2 errors"), "{stderr}");

    let out = Command::new(VIGIL)
        .args(["rules", "lint", "--json", "rules/legacy.yml"])
        .current_dir(dir.path())
        .output()
        .expect("run");
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON diagnostic");
    assert_eq!((d["code"].as_str(), d["line"].as_u64()), (Some("legacy_syntax"), Some(6)));
}

#[test]
fn rules_test_runs_fixtures_and_explains_hits_and_misses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("whoami.yml"), WIN_RULE).expect("write");
    let hit = r#"{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\System32\\whoami.exe", "ParentImage": "C:\\Windows\\System32\\cmd.exe", "User": "TINH\\an"}"#;
    let system = hit.replace("TINH", "NT AUTHORITY").replace("\\\\an", "\\\\SYSTEM");
    let fixture = format!("match:\n  - '{hit}'\nno_match:\n  - '{system}'\n");
    std::fs::write(rules.join("whoami.tests.yml"), &fixture).expect("write");
    let run = |args: &[&str]| Command::new(VIGIL).args(args).current_dir(dir.path()).output().expect("run");

    // The fixture file is not read as a rule, and its cases pass.
    let out = run(&["rules", "lint", "rules"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&["rules", "test", "rules"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("1 fixtures, 2 cases passed, 0 failed"), "{stderr}");

    // A case that fails is named, with why.
    std::fs::write(rules.join("whoami.tests.yml"), format!("match:\n  - '{system}'\n")).expect("write");
    let out = run(&["rules", "test", "rules"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL") && stdout.contains("matched: `filter_system`"), "{stdout}");

    // Against an events file: the hit with the field, modifier and value that matched; with
    // --explain, the miss with what failed.
    std::fs::write(dir.path().join("events.ndjson"), format!("{hit}\n{system}\n")).expect("write");
    let out = run(&["rules", "test", "rules", "--events", "events.ndjson", "--explain"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("HIT  events.ndjson:1 Whoami Run by a Shell"), "{stdout}");
    assert!(
        stdout.contains("`Image|endswith`: 'C:\\Windows\\System32\\whoami.exe' matches '\\whoami.exe'"),
        "{stdout}"
    );
    assert!(stdout.contains("MISS events.ndjson:2 Whoami Run by a Shell"), "{stdout}");
    assert!(stdout.contains("+ `User|contains`: 'NT AUTHORITY\\SYSTEM' matches 'SYSTEM'"), "{stdout}");
}

#[test]
fn rules_profile_reports_what_each_rule_costs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("whoami.yml"), WIN_RULE).expect("write");
    let ssh = "title: SSH Failure\nid: 5d0c6a8e-3f7e-4a53-9d7c-2b1f0b6e9c01\nlogsource:\n  product: linux\n  service: sshd\n\
               detection:\n  sel:\n    message|contains: 'Failed password'\n  condition: sel\n";
    std::fs::write(rules.join("ssh.yml"), ssh).expect("write");
    let hit = r#"{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\System32\\whoami.exe", "ParentImage": "C:\\Windows\\System32\\cmd.exe", "User": "TINH\\an"}"#;
    let miss = hit.replace("whoami", "notepad");
    let ssh_line = "<38>Nov 23 10:00:01 web01 sshd[1]: Failed password for root from 203.0.113.9 port 52044 ssh2";
    std::fs::write(dir.path().join("events.log"), format!("{hit}\n{miss}\n{ssh_line}\n{ssh_line}\n")).expect("write");

    let out = vigil(&["rules", "profile", "rules", "--events", "events.log", "--passes", "3", "--json"], dir.path());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let summary = &lines[0];
    assert_eq!((summary["rules"].as_u64(), summary["events"].as_u64()), (Some(2), Some(12)), "{summary}");
    assert_eq!(summary["hits"].as_u64(), Some(9), "one Windows hit and two SSH hits per pass: {summary}");
    // Each rule evaluated only on the events of its logsource: 2 and 2 per pass.
    let by_title = |t: &str| lines[1..].iter().find(|l| l["title"] == t).unwrap_or_else(|| panic!("{t}: {lines:?}"));
    let whoami = by_title("Whoami Run by a Shell");
    assert_eq!((whoami["evaluated"].as_u64(), whoami["hits"].as_u64()), (Some(6), Some(3)), "{whoami}");
    let ssh = by_title("SSH Failure");
    assert_eq!((ssh["evaluated"].as_u64(), ssh["hits"].as_u64()), (Some(6), Some(6)), "{ssh}");
    assert!(ssh["time_ms"].as_f64().is_some_and(|t| t > 0.0), "{ssh}");

    // The table names the rules, costliest first, and --top limits it.
    let out = vigil(&["rules", "profile", "rules", "--events", "events.log", "--top", "1"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 rules") && stdout.contains("4 events"), "{stdout}");
    let listed = ["Whoami Run by a Shell", "SSH Failure"].iter().filter(|t| stdout.contains(*t)).count();
    assert_eq!(listed, 1, "{stdout}");
}

#[test]
fn replay_reads_stdin() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(VIGIL)
        .args(["replay", "-"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run vigil");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(
            stdin,
            "<86>Nov 23 10:00:03 bastion useradd[901]: new user: name=x, UID=0, GID=0, home=/root, shell=/bin/sh"
        )
        .expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let alert: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one alert");
    assert_eq!(alert["rule"]["title"], "New Local User Account Created");
    assert_eq!(alert["source"], serde_json::json!({"name": "unassigned", "file": "-", "line": 1}));
    assert_eq!((alert["agency"].as_str(), alert["province"].as_str()), (Some("unassigned"), Some("unassigned")));
    assert_eq!(alert["fields"]["uid"], "0");
}
