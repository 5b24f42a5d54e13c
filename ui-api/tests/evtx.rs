//! Windows event logs read natively through the real `vigil` binary: `replay`, `parse` and
//! `rules test --events` on `.evtx` files and folders, damaged files, and the end-of-run
//! summary. The logs are SigmaHQ's regression files (`../shared/corpus`, skipped with a notice
//! when absent); the damaged ones are made from them here, in a temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

/// Seven Sysmon file creations (event 11) on `swachchhanda`, record numbers 1 to 7 (the log was
/// exported: its EventRecordIDs are 129825 to 129831).
const NETEXEC: &str = "rules/windows/file/file_event/file_event_win_hktl_netexec_file_indicators/efc21479-9e83-41da-8cf1-122e06ba8db3.evtx";
/// Six Sysmon file creations on `ar-win-dc.attackrange.local`.
const CRED: &str = "rules/windows/file/file_event/file_event_win_cred_dump_tools_dropped_files/8fbf3271-1ef6-4e94-8210-03c2317947f6.evtx";
/// Six Sysmon process creations (event 1) on `swachchhanda`.
const SHAI: &str = "rules-emerging-threats/2025/Malware/Shai-Hulud/proc_creation_win_mal_shai_hulud_malicious_node_bun_execution/5299fadf-f228-4526-8274-251db1960be9.evtx";

const FILE_RULE: &str = "title: Sysmon File Created\nid: 3c1f4f0e-5b7a-4c59-9a47-1a2b3c4d5e01\nlevel: medium\n\
    logsource:\n  product: windows\n  category: file_event\ndetection:\n  sel:\n    EventID: 11\n  condition: sel\n";
const PROCESS_RULE: &str = "title: Sysmon Process Created\nid: 3c1f4f0e-5b7a-4c59-9a47-1a2b3c4d5e02\nlevel: high\n\
    logsource:\n  product: windows\n  category: process_creation\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n";

/// A regression log, or `None` (with a notice) when the corpus is absent.
fn corpus(file: &str) -> Option<PathBuf> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus"));
    let path = root.join("sigma/regression_data").join(file);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!("notice: {} is absent; skipping", path.display());
        None
    }
}

/// A temporary folder with the two rules in `rules/`.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
    std::fs::write(dir.path().join("rules/file.yml"), FILE_RULE).expect("write");
    std::fs::write(dir.path().join("rules/process.yml"), PROCESS_RULE).expect("write");
    dir
}

fn run(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(VIGIL).args(args).current_dir(dir).output().expect("run vigil");
    assert!(out.status.success(), "vigil {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn replay(args: &[&str], dir: &Path) -> (Vec<serde_json::Value>, String) {
    let mut all = vec!["replay", "--no-bundled", "--rules", "rules"];
    all.extend_from_slice(args);
    let out = run(&all, dir);
    (json_lines(&out.stdout), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `(source.file, source.line)` of each alert.
fn sources(alerts: &[serde_json::Value]) -> Vec<(String, u64)> {
    alerts
        .iter()
        .map(|a| (a["source"]["file"].as_str().unwrap_or("").to_owned(), a["source"]["line"].as_u64().unwrap_or(0)))
        .collect()
}

const CHUNK: usize = 65536;
const HEADER: usize = 4096;

/// One log of two chunks, made of the chunks of `a` and `b` (each a one-chunk log) under `a`'s
/// file header, updated to count them (and its CRC32 with it).
fn two_chunks(a: &[u8], b: &[u8]) -> Vec<u8> {
    assert_eq!((a.len(), b.len()), (HEADER + CHUNK, HEADER + CHUNK), "one-chunk logs");
    let mut log = a.to_vec();
    log[16..24].copy_from_slice(&1u64.to_le_bytes()); // the last chunk's number
    log[42..44].copy_from_slice(&2u16.to_le_bytes()); // the chunk count
    let crc = crc32fast::hash(&log[..120]);
    log[124..128].copy_from_slice(&crc.to_le_bytes());
    log.extend_from_slice(&b[HEADER..]);
    log
}

#[test]
fn replay_reads_an_evtx_file_by_its_magic_whatever_its_name() {
    let Some(netexec) = corpus(NETEXEC) else { return };
    let dir = workspace();
    std::fs::copy(&netexec, dir.path().join("sysmon.evtx")).expect("copy");
    std::fs::copy(&netexec, dir.path().join("exported-log.bin")).expect("copy");

    let (alerts, stderr) = replay(&["sysmon.evtx"], dir.path());
    let want: Vec<(String, u64)> = (1..=7).map(|n| ("sysmon.evtx".to_owned(), n)).collect();
    assert_eq!(sources(&alerts), want, "one alert per record, in record order: {stderr}");
    let a = &alerts[0];
    assert_eq!(a["rule"]["title"], "Sysmon File Created");
    assert_eq!(a["host"], "swachchhanda");
    assert_eq!(a["time"], "2026-04-08T10:58:04.850672300Z");
    assert_eq!((a["fields"]["EventID"].as_u64(), a["fields"]["EventRecordID"].as_u64()), (Some(11), Some(129825)));
    assert_eq!(a["fields"]["Channel"], "Microsoft-Windows-Sysmon/Operational");
    // The raw text is the record as evtx_dump writes it: compact JSON.
    let raw: serde_json::Value = serde_json::from_str(a["raw"].as_str().expect("raw")).expect("raw is JSON");
    assert_eq!(raw["Event"]["System"]["EventRecordID"], 129825);
    assert!(stderr.contains("1 files (1 EVTX, 0 damaged)"), "{stderr}");

    // By its magic, not its name; and from stdin.
    let (by_magic, _) = replay(&["exported-log.bin"], dir.path());
    let ids = |alerts: &[serde_json::Value]| -> Vec<String> {
        alerts.iter().map(|a| a["id"].as_str().unwrap_or("").to_owned()).collect()
    };
    assert_eq!(ids(&by_magic), ids(&alerts), "the same alerts, ids included");
    let out = Command::new(VIGIL)
        .args(["replay", "--no-bundled", "--rules", "rules", "-"])
        .current_dir(dir.path())
        .stdin(std::fs::File::open(&netexec).expect("open"))
        .output()
        .expect("run vigil");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let from_stdin = json_lines(&out.stdout);
    assert_eq!(ids(&from_stdin), ids(&alerts));
    assert_eq!(from_stdin[0]["source"]["file"], "-");
}

#[test]
fn replay_walks_a_folder_recursively_in_name_order() {
    let (Some(netexec), Some(cred), Some(shai)) = (corpus(NETEXEC), corpus(CRED), corpus(SHAI)) else { return };
    let dir = workspace();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("b/deep")).expect("mkdir");
    std::fs::create_dir_all(logs.join("a")).expect("mkdir");
    std::fs::copy(&cred, logs.join("b/deep/dc.evtx")).expect("copy");
    std::fs::copy(&shai, logs.join("b/ws.evtx")).expect("copy");
    std::fs::copy(&netexec, logs.join("a/netexec.evtx")).expect("copy");
    // Lines are read as lines: an evtx_dump JSON line and a line of text.
    let line = r##"{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws09","TimeCreated":{"#attributes":{"SystemTime":"2026-01-01T00:00:00Z"}}},"EventData":{"Image":"C:\\x.exe"}}}"##;
    std::fs::write(logs.join("b/events.ndjson"), format!("{line}\nnot an event at all\n")).expect("write");

    let (alerts, stderr) = replay(&["logs"], dir.path());
    let mut files: Vec<String> = sources(&alerts).into_iter().map(|(f, _)| f).collect();
    files.dedup();
    assert_eq!(files, ["logs/a/netexec.evtx", "logs/b/deep/dc.evtx", "logs/b/events.ndjson", "logs/b/ws.evtx"]);
    assert_eq!(alerts.len(), 7 + 6 + 1 + 6, "{stderr}");
    assert!(stderr.contains("4 files (3 EVTX, 0 damaged), 21 lines and records, 21 events, 20 alerts"), "{stderr}");
}

#[test]
fn damaged_evtx_files_are_reported_with_reasons_and_the_rest_still_alerts() {
    let (Some(netexec), Some(cred), Some(shai)) = (corpus(NETEXEC), corpus(CRED), corpus(SHAI)) else { return };
    let dir = workspace();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let read = |p: &Path| std::fs::read(p).expect("read");
    // Chunk 0: NETEXEC's 7 file creations; chunk 1: SHAI's 6 process creations.
    let two = two_chunks(&read(&netexec), &read(&shai));
    let put = |name: &str, bytes: &[u8]| std::fs::write(logs.join(name), bytes).expect("write");
    std::fs::copy(&cred, logs.join("a_good.evtx")).expect("copy");
    put("b_whole.evtx", &two);
    // Cut inside its second chunk.
    put("c_truncated.evtx", &two[..HEADER + CHUNK + 30_000]);
    // Bytes flipped in the first chunk's records.
    let mut flipped = two.clone();
    for b in &mut flipped[HEADER + 0x300..HEADER + 0x310] {
        *b ^= 0xff;
    }
    put("d_flipped.evtx", &flipped);
    // The first chunk's header CRC32 damaged, its records intact.
    let mut bad_crc = two.clone();
    bad_crc[HEADER + 124] ^= 0xff;
    put("e_bad_crc.evtx", &bad_crc);
    // The magic, then no EVTX at all; an empty .evtx.
    put("f_not_evtx.evtx", b"ElfFile\0this is not an event log\n");
    put("g_empty.evtx", b"");

    let (alerts, stderr) = replay(&["logs"], dir.path());
    let count = |file: &str| alerts.iter().filter(|a| a["source"]["file"] == format!("logs/{file}")).count();
    let says = |file: &str, reason: &str| {
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("vigil replay: logs/{file}: ")) && l.ends_with(&format!("[{reason}]")))
    };
    assert_eq!(count("a_good.evtx"), 6, "{stderr}");
    assert_eq!(count("b_whole.evtx"), 13, "{stderr}");
    // The truncated file: its whole first chunk alerts; its cut chunk is reported.
    assert_eq!(count("c_truncated.evtx"), 7, "{stderr}");
    assert!(says("c_truncated.evtx", "evtx_truncated"), "{stderr}");
    // Without checksum validation, damaged chunks are read and their CRC32 mismatch reported.
    assert!(says("d_flipped.evtx", "evtx_bad_checksum"), "{stderr}");
    let flipped_process = alerts
        .iter()
        .filter(|a| a["source"]["file"] == "logs/d_flipped.evtx" && a["rule"]["title"] == "Sysmon Process Created")
        .count();
    assert_eq!(flipped_process, 6, "the second chunk still alerts: {stderr}");
    assert_eq!(count("e_bad_crc.evtx"), 13, "a bad header CRC32 alone loses nothing: {stderr}");
    assert!(says("e_bad_crc.evtx", "evtx_bad_checksum"), "{stderr}");
    assert!(says("f_not_evtx.evtx", "evtx_bad_file") && says("g_empty.evtx", "evtx_bad_file"), "{stderr}");
    assert!(stderr.contains("7 files (7 EVTX, 5 damaged)"), "{stderr}");
    for file in ["c_truncated", "d_flipped", "e_bad_crc", "f_not_evtx", "g_empty"] {
        assert!(stderr.contains(&format!("vigil replay: damaged: logs/{file}.evtx (")), "{file}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");

    // With checksum validation, a chunk whose CRC32 does not match is not read: reported as a
    // bad chunk, the other chunk still alerts.
    let (alerts, stderr) = replay(&["--validate-checksums", "logs/d_flipped.evtx", "logs/e_bad_crc.evtx"], dir.path());
    for file in ["d_flipped.evtx", "e_bad_crc.evtx"] {
        let hits: Vec<&str> = alerts
            .iter()
            .filter(|a| a["source"]["file"] == format!("logs/{file}"))
            .map(|a| a["rule"]["title"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(hits, ["Sysmon Process Created"; 6], "{file}: {stderr}");
        let says = stderr.lines().any(|l| l.contains(&format!("logs/{file}: ")) && l.ends_with("[evtx_bad_chunk]"));
        assert!(says, "{file}: {stderr}");
    }
    assert!(!stderr.contains("evtx_bad_checksum"), "{stderr}");
}

#[test]
fn parse_prints_each_evtx_record_as_an_event() {
    let Some(netexec) = corpus(NETEXEC) else { return };
    let dir = workspace();
    std::fs::copy(&netexec, dir.path().join("sysmon.evtx")).expect("copy");
    let out = run(&["parse", "sysmon.evtx"], dir.path());
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 7);
    let e = &events[0];
    assert_eq!((e["file"].as_str(), e["line"].as_u64()), (Some("sysmon.evtx"), Some(1)));
    assert_eq!(e["format"], "json");
    assert_eq!(e["host"], "swachchhanda");
    assert_eq!(
        e["logsource"],
        serde_json::json!({"product": "windows", "category": "file_event", "service": "sysmon"})
    );
    assert_eq!(e["fields"]["EventID"], 11);
    assert_eq!(e["fields"]["Provider_Name"], "Microsoft-Windows-Sysmon");
    assert!(e["fields"]["TargetFilename"].as_str().is_some_and(|f| !f.is_empty()), "{e}");
    let lines: Vec<u64> = events.iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 files (1 EVTX, 0 damaged), 7 lines and records, 7 events, 7 printed"), "{stderr}");
}

#[test]
fn rules_test_reads_evtx_events() {
    let Some(netexec) = corpus(NETEXEC) else { return };
    let dir = workspace();
    std::fs::copy(&netexec, dir.path().join("sysmon.evtx")).expect("copy");
    let out = run(&["rules", "test", "rules", "--events", "sysmon.evtx"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for n in 1..=7 {
        let hit = format!("HIT  sysmon.evtx:{n} Sysmon File Created [3c1f4f0e-5b7a-4c59-9a47-1a2b3c4d5e01]");
        assert!(stdout.contains(&hit), "{hit}: {stdout}");
    }
    assert!(stdout.contains("+ `EventID`: '11' matches 11"), "why it hit: {stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 rules, 7 events, 7 hits"), "{stderr}");
}

#[test]
fn the_json_summary_has_its_keys_and_counts() {
    let (Some(netexec), Some(cred), Some(shai)) = (corpus(NETEXEC), corpus(CRED), corpus(SHAI)) else { return };
    let dir = workspace();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::copy(&netexec, logs.join("netexec.evtx")).expect("copy");
    std::fs::copy(&cred, logs.join("dc.evtx")).expect("copy");
    std::fs::copy(&shai, logs.join("ws.evtx")).expect("copy");
    std::fs::write(logs.join("broken.evtx"), b"").expect("write");

    // By default the alerts are on stdout as ever, the summary on stderr.
    let (alerts, stderr) = replay(&["--json", "logs"], dir.path());
    assert_eq!(alerts.len(), 19);
    let summary: serde_json::Value = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("summary JSON"))
        .unwrap_or_else(|| panic!("no JSON summary: {stderr}"));

    // With --summary-only, no alert: the summary alone, on stdout.
    let out = run(&["replay", "--no-bundled", "--rules", "rules", "--json", "--summary-only", "logs"], dir.path());
    let only = json_lines(&out.stdout);
    assert_eq!(only.len(), 1, "{only:?}");
    let s = &only[0];
    for key in [
        "files_read",
        "files_evtx",
        "files_damaged",
        "events_read",
        "events",
        "alerts",
        "alert_lines",
        "building_blocks",
        "levels",
        "rules",
        "rules_hit",
        "hosts",
        "hosts_hit",
        "first_alert",
        "last_alert",
        "first_event",
        "last_event",
        "seconds",
        "events_per_second",
        "problems",
        "damaged",
    ] {
        assert!(s.get(key).is_some(), "{key} missing: {s}");
        assert_eq!(s[key].is_number(), summary[key].is_number(), "{key}");
    }
    let n = |k: &str| s[k].as_u64();
    assert_eq!((n("files_read"), n("files_evtx"), n("files_damaged")), (Some(4), Some(4), Some(1)));
    assert_eq!(
        (n("events_read"), n("events"), n("alerts"), n("alert_lines")),
        (Some(19), Some(19), Some(19), Some(19))
    );
    assert_eq!(s["levels"], serde_json::json!({"critical": 0, "high": 6, "medium": 13, "low": 0, "informational": 0}));
    assert_eq!(
        s["rules"],
        serde_json::json!([
            {"id": "3c1f4f0e-5b7a-4c59-9a47-1a2b3c4d5e01", "title": "Sysmon File Created", "level": "medium", "alerts": 13},
            {"id": "3c1f4f0e-5b7a-4c59-9a47-1a2b3c4d5e02", "title": "Sysmon Process Created", "level": "high", "alerts": 6},
        ])
    );
    assert_eq!(
        s["hosts"],
        serde_json::json!([
            {"host": "swachchhanda", "alerts": 13},
            {"host": "ar-win-dc.attackrange.local", "alerts": 6},
        ])
    );
    assert_eq!(s["first_alert"], "2025-10-24T23:43:34.136421800Z");
    assert_eq!(s["last_alert"], "2026-04-08T10:58:04.888584100Z");
    assert_eq!(s["first_event"], s["first_alert"]);
    assert!(s["events_per_second"].as_f64().is_some_and(|r| r > 0.0), "{s}");
    assert_eq!(s["problems"], serde_json::json!({"evtx_bad_file": 1}));
    assert_eq!(s["damaged"][0]["file"], "logs/broken.evtx");
    assert_eq!(s["damaged"][0]["problems"], serde_json::json!({"evtx_bad_file": 1}));
    for key in ["files_read", "alerts", "levels", "rules", "hosts", "first_alert", "problems", "damaged"] {
        assert_eq!(s[key], summary[key], "{key}: the same summary on stderr");
    }

    // --top limits the lists; the text summary names them.
    let out = run(&["replay", "--no-bundled", "--rules", "rules", "--summary-only", "--top", "1", "logs"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("alerts by level: critical 0, high 6, medium 13, low 0, informational 0"), "{text}");
    assert!(text.contains("top rules (1 of 2 that alerted)") && text.contains("Sysmon File Created"), "{text}");
    assert!(!text.contains("Sysmon Process Created"), "{text}");
    assert!(text.contains("top hosts (1 of 2 with alerts)") && text.contains("swachchhanda"), "{text}");
    assert!(text.contains("first alert 2025-10-24T23:43:34.136421800Z"), "{text}");
}
