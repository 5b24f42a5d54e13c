//! SigmaHQ's regression cases read natively (`../shared/corpus/sigma/regression_data`, skipped
//! with a notice when absent): each case folder's `.evtx` must fire the case's rule (the file
//! stem is the rule id), and give the same events and alerts as its sibling `.json` (evtx_dump's
//! output, pretty-printed) read through the JSON path: record by record (EventRecordID), the
//! same fields, logsource, time and host, and the same rules hit.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vigil_engine::sources::SourceMap;
use vigil_engine::{Detector, Stats};
use vigil_parsers::InputFormat;
use vigil_rules::{RuleSet, RuleSource, load_dir};

fn sigma() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus")).join("sigma");
    if dir.join("regression_data").is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; skipping the SigmaHQ EVTX cases", dir.display());
        None
    }
}

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            evtx_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "evtx") {
            out.push(path);
        }
    }
}

fn rules_by_id(sigma: &Path) -> HashMap<String, RuleSource> {
    let mut by_id = HashMap::new();
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"] {
        for source in load_dir(&sigma.join(folder)).0 {
            let id = source.text.lines().find_map(|l| l.strip_prefix("id:")).map(|id| id.trim().to_owned());
            if let Some(id) = id {
                by_id.insert(id, source);
            }
        }
    }
    by_id
}

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

/// What one file gives, by record id: each event as `vigil parse` prints it (less its file,
/// line and raw text), and the ids of the rules its alerts are of, with the alerts' fields.
#[derive(Default)]
struct Seen {
    events: BTreeMap<u64, serde_json::Value>,
    alerts: BTreeMap<u64, Vec<(String, serde_json::Value)>>,
    problems: BTreeMap<String, u64>,
}

/// The EventRecordID in an event's fields (the record header's number, `source.line` natively,
/// is that of the file: records of an exported log are numbered anew from 1).
fn record_id(fields: &serde_json::Value) -> u64 {
    fields["EventRecordID"].as_u64().unwrap_or_else(|| panic!("no EventRecordID in {fields}"))
}

/// Runs `vigil parse` and `vigil replay`'s engine functions over `path`.
fn run(detector: &Detector, path: &Path) -> Seen {
    let inputs = [path.display().to_string()];
    let mut seen = Seen::default();
    let (stats, mut out) = (Stats::default(), Vec::new());
    vigil_engine::replay::parse(detector, &inputs, None, &mut out, &stats).expect("parse");
    for mut event in json_lines(&out) {
        let id = record_id(&event["fields"]);
        if let Some(o) = event.as_object_mut() {
            for key in ["file", "line", "raw"] {
                o.remove(key);
            }
        }
        assert!(seen.events.insert(id, event).is_none(), "{}: record {id} twice", path.display());
    }
    seen.problems = stats.snapshot().errors;
    let (stats, mut out) = (Stats::default(), Vec::new());
    vigil_engine::replay::replay(detector, &inputs, None, Default::default(), &mut out, &stats).expect("replay");
    for alert in json_lines(&out) {
        let rule = alert["rule"]["id"].as_str().expect("rule id").to_owned();
        seen.alerts.entry(record_id(&alert["fields"])).or_default().push((rule, alert["fields"].clone()));
    }
    seen
}

/// Each record as `evtx_dump -o jsonl` writes it (evtx_dump's own code path in the crate:
/// compact, attributes not separated, no record numbers), one line each.
fn evtx_dump_jsonl(path: &Path) -> String {
    let settings = evtx::ParserSettings::new().num_threads(1).separate_json_attributes(false).indent(false);
    let mut parser = evtx::EvtxParser::from_path(path).expect("open").with_configuration(settings);
    let mut out = String::new();
    for chunk in parser.chunks_json_bytes(false) {
        for (_, record) in chunk.records() {
            out.push_str(std::str::from_utf8(record).expect("UTF-8"));
            out.push('\n');
        }
    }
    out
}

/// Alerts as `vigil replay` prints them, less where they were read (`source`).
fn alerts_of(detector: &Detector, path: &Path) -> Vec<serde_json::Value> {
    let (stats, mut out) = (Stats::default(), Vec::new());
    let inputs = [path.display().to_string()];
    vigil_engine::replay::replay(detector, &inputs, None, Default::default(), &mut out, &stats).expect("replay");
    let mut alerts = json_lines(&out);
    for a in &mut alerts {
        if let Some(o) = a.as_object_mut() {
            o.remove("source");
        }
    }
    alerts
}

/// Why a field of an event read from the `.evtx` differs from the same field read from its
/// sibling `.json`, when the difference is the renderer's and not the event's: the `.json`
/// files were written by older evtx_dump versions than the crate vigil reads with.
fn renderer_difference(field: &str, native: &serde_json::Value, json: &serde_json::Value) -> Option<&'static str> {
    let (Some(a), Some(b)) = (native.as_str(), json.as_str()) else { return None };
    let is_guid = |s: &str| {
        let s = s.trim_start_matches('{').trim_end_matches('}');
        s.len() == 36 && s.split('-').map(str::len).eq([8, 4, 4, 4, 12])
    };
    if is_guid(a) && is_guid(b) && a.trim_matches(['{', '}']).eq_ignore_ascii_case(b.trim_matches(['{', '}'])) {
        // `{0197231e-...}` as Windows renders it, `0197231E-...` in the old evtx_dump's output.
        return Some("GUID in braces and lower case natively, upper case without braces in the .json");
    }
    if field.ends_with("SystemTime") && a.trim_end_matches('Z').starts_with(b.trim_end_matches(['Z', '0'])) {
        // Windows' 100 ns ticks: `.1653240Z`; the .json truncated to `.165324Z` (or padded).
        return Some("SystemTime with 7 fractional digits natively, 6 (or 9) in the .json");
    }
    if a != b && a.trim_end() == b {
        return Some("trailing white space kept natively, trimmed in the .json");
    }
    None
}

/// Differences between an `.evtx` and its `.json` that are in the data, not the renderer: the
/// `.json` does not hold what the `.evtx` holds (case folder, field).
const CONTENT_DIFFERENCES: &[(&str, &str)] = &[
    // The .evtx's UTF-16 text is `C:\Windows\Explorer.EXE`; the .json says `Explorer.exe` (its
    // other values match, GUIDs and a 9-digit SystemTime aside: it was edited or made apart).
    ("proc_creation_win_susp_right_to_left_override", "ParentCommandLine"),
];

#[test]
fn sigmahq_evtx_files_fire_their_rules_and_agree_with_evtx_dump_and_their_json() {
    let Some(sigma) = sigma() else { return };
    let by_id = rules_by_id(&sigma);
    let mut files = Vec::new();
    evtx_files(&sigma.join("regression_data"), &mut files);
    assert!(files.len() >= 200, "found only {} .evtx files", files.len());
    let tmp = tempfile::tempdir().expect("temp dir");
    let (mut fired, mut failures, mut disagreements, mut notes) = (0, Vec::new(), Vec::new(), Vec::new());
    let (mut records, mut json_records, mut same_rules) = (0, 0, 0);
    let mut explained: BTreeMap<&str, u64> = BTreeMap::new();
    for file in &files {
        let id = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let case = file.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or_default();
        let Some(source) = by_id.get(id) else {
            failures.push(format!("{}: no rule with id {id}", file.display()));
            continue;
        };
        let (set, diagnostics) = RuleSet::compile([source.clone()]);
        if set.is_empty() {
            failures.push(format!("{}: rule not loaded: {diagnostics:?}", source.origin));
            continue;
        }
        let detector =
            Detector::new(set, InputFormat::Auto, Arc::new(SourceMap::unassigned(vigil_parsers::DEFAULT_TZ)));

        let native = run(&detector, file);
        records += native.events.len();
        if !native.problems.is_empty() {
            notes.push(format!("{}: problems reading it: {:?}", file.display(), native.problems));
        }
        if native.alerts.values().flatten().any(|(rule, _)| rule == id) {
            fired += 1;
        } else {
            failures.push(format!("{}: none of its {} records fired {id}", file.display(), native.events.len()));
        }

        // The same file through evtx_dump's JSON lines and the JSON path: the very same alerts,
        // ids (rule, time, host and raw text) included.
        let dumped = tmp.path().join(format!("{id}.dump.ndjson"));
        std::fs::write(&dumped, evtx_dump_jsonl(file)).expect("write");
        let (a, b) = (alerts_of(&detector, file), alerts_of(&detector, &dumped));
        if a != b {
            disagreements.push(format!("{}: native and evtx_dump alerts differ:\n  {a:?}\n  {b:?}", file.display()));
        }

        // Its sibling .json (pretty-printed, one or more records) through the JSON path.
        let json = file.with_extension("json");
        let Ok(text) = std::fs::read_to_string(&json) else {
            notes.push(format!("{}: no sibling .json", file.display()));
            continue;
        };
        let lines: Vec<String> = serde_json::Deserializer::from_str(&text)
            .into_iter::<serde_json::Value>()
            .map(|v| v.unwrap_or_else(|e| panic!("{}: {e}", json.display())).to_string())
            .collect();
        let ndjson = tmp.path().join(format!("{id}.ndjson"));
        std::fs::write(&ndjson, lines.join("\n") + "\n").expect("write");
        let via_json = run(&detector, &ndjson);
        json_records += via_json.events.len();
        for (record, event) in &via_json.events {
            let what = format!("{} record {record}", file.display());
            let Some(n) = native.events.get(record) else {
                disagreements.push(format!("{what}: in the .json, not read from the .evtx"));
                continue;
            };
            let rules = |seen: &Seen| -> Vec<String> {
                seen.alerts.get(record).into_iter().flatten().map(|(rule, _)| rule.clone()).collect()
            };
            if rules(&native) == rules(&via_json) {
                same_rules += 1;
            } else {
                disagreements.push(format!(
                    "{what}: rules hit differ: evtx {:?}, json {:?}",
                    rules(&native),
                    rules(&via_json)
                ));
            }
            for key in ["format", "host", "logsource", "source"] {
                if n[key] != event[key] {
                    disagreements.push(format!("{what}: {key} differs: evtx {}, json {}", n[key], event[key]));
                }
            }
            let (nf, jf) = (n["fields"].as_object(), event["fields"].as_object());
            let (Some(nf), Some(jf)) = (nf, jf) else { panic!("{what}: no fields") };
            let mut time_explained = false;
            for key in nf.keys().chain(jf.keys().filter(|k| !nf.contains_key(*k))) {
                let (a, b) = (&nf.get(key).cloned().unwrap_or_default(), &jf.get(key).cloned().unwrap_or_default());
                if a == b {
                    continue;
                }
                if let Some(why) = renderer_difference(key, a, b) {
                    *explained.entry(why).or_default() += 1;
                    time_explained |= key.ends_with("SystemTime");
                } else if CONTENT_DIFFERENCES.contains(&(case, key.as_str())) {
                    *explained.entry("content: the .json does not hold the .evtx's value").or_default() += 1;
                } else {
                    disagreements.push(format!("{what}: field {key} differs: evtx {a}, json {b}"));
                }
            }
            // Explained only below the microsecond the .json's SystemTime was truncated to.
            let time = |e: &serde_json::Value| {
                e["time"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).expect("time")
            };
            let apart = (time(n) - time(event)).num_nanoseconds().unwrap_or(i64::MAX).abs();
            if apart > 0 && !(time_explained && apart < 1000) {
                disagreements.push(format!("{what}: time differs: evtx {}, json {}", n["time"], event["time"]));
            }
        }
        if native.events.len() != via_json.events.len() {
            notes.push(format!(
                "{}: {} records, its .json {}",
                file.display(),
                native.events.len(),
                via_json.events.len()
            ));
        }
    }
    eprintln!(
        "SigmaHQ EVTX cases: {fired} of {} fire their rule; {records} records read natively, {json_records} in the \
         .json files, {same_rules} of them hit the same rules both ways; {} disagreements",
        files.len(),
        disagreements.len()
    );
    for (why, n) in &explained {
        eprintln!("  fields that differ from the .json, explained: {n} x {why}");
    }
    for n in &notes {
        eprintln!("  note: {n}");
    }
    for f in &failures {
        eprintln!("  miss: {f}");
    }
    for d in &disagreements {
        eprintln!("  disagreement: {d}");
    }
    assert_eq!(fired, files.len(), "{fired} of {} fire:\n{}", files.len(), failures.join("\n"));
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
