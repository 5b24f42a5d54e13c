//! The prefiltered matcher against the reference interpreter: every SigmaHQ rule (one rule set,
//! as `serve` loads them) on real events of `../shared/corpus` (skipped with a notice when
//! absent): SigmaHQ's regression events, the OTRF Windows and AWS datasets, loghub's Linux,
//! OpenSSH and Apache samples, and the crowdsec hub's fixture lines, and events derived from the
//! Windows ones with list-valued `Data` fields and `|windash`'s other dashes. Both must give the
//! same rules for every event: 0 disagreements.

use std::path::{Path, PathBuf};

use vigil_parsers::{InputFormat, ParseContext};
use vigil_rules::{RuleSet, load_dir};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if dir.join("sigma").is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; skipping the prefilter equivalence test", dir.display());
        None
    }
}

fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

/// Every event of the corpus this test uses, as (where, line).
fn events(corpus: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    files(&corpus.join("sigma/regression_data"), &|p| p.extension().is_some_and(|e| e == "json"), &mut paths);
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for value in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>().flatten() {
            out.push((path.display().to_string(), value.to_string()));
        }
    }
    let mut paths = Vec::new();
    files(&corpus.join("samples/otrf-security-datasets"), &|p| !p.to_string_lossy().contains("_metadata"), &mut paths);
    for dir in ["loghub/Linux", "loghub/OpenSSH", "loghub/Apache", "samples/crowdsec-hub-tests"] {
        files(&corpus.join(dir), &|p| p.extension().is_some_and(|e| e == "log"), &mut paths);
    }
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            if !line.trim().is_empty() {
                out.push((format!("{}:{}", path.display(), n + 1), line.to_owned()));
            }
        }
    }
    let derived: Vec<(String, String)> = out.iter().flat_map(|(at, line)| derived(at, line)).collect();
    out.extend(derived);
    out
}

/// Events made from a Windows event of the corpus for what real data rarely shows: its
/// options written with the other dashes `|windash` varies (`-` as `/`, `/` as an en dash),
/// and its event data as one list-valued field `Data` (Windows' unnamed `<Data>` elements, as
/// evtx_dump writes them, or a JSON array in a flat event).
fn derived(at: &str, line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if line.contains("CommandLine") {
        let swapped = line.replace(" -", " \u{1}").replace(" /", " \u{2013}").replace(" \u{1}", " /");
        out.push((format!("{at} (options' dashes swapped)"), swapped));
    }
    let Ok(serde_json::Value::Object(mut root)) = serde_json::from_str::<serde_json::Value>(line) else { return out };
    let texts = |map: &serde_json::Map<String, serde_json::Value>| -> Vec<serde_json::Value> {
        map.values().filter(|v| v.is_string() || v.is_number()).cloned().collect()
    };
    if let Some(data) = root.get_mut("Event").and_then(|e| e.get_mut("EventData")) {
        if let serde_json::Value::Object(map) = data {
            let list = texts(map);
            *data = serde_json::json!({ "Data": { "#text": list } });
            out.push((format!("{at} (event data as unnamed Data)"), serde_json::Value::Object(root).to_string()));
        }
    } else if root.contains_key("EventID") {
        let list = texts(&root);
        root.insert("Data".into(), serde_json::Value::Array(list));
        out.push((format!("{at} (values as a Data array)"), serde_json::Value::Object(root).to_string()));
    }
    out
}

#[test]
fn prefiltered_matcher_agrees_with_the_reference_interpreter() {
    let Some(corpus) = corpus() else { return };
    let mut sources = Vec::new();
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"] {
        sources.extend(load_dir(&corpus.join("sigma").join(folder)).0);
    }
    let (set, _) = RuleSet::compile(sources);
    assert!(set.len() >= 3_700, "{} rules", set.len());
    let (literals, unfiltered) = set.prefilter_stats();
    let events = events(&corpus);
    assert!(events.len() >= 8_000, "{} events", events.len());

    let ctx = ParseContext::new(chrono::Utc::now());
    let mut scratch = set.scratch();
    let (mut hits, mut disagreements) = (0usize, Vec::new());
    for (at, line) in &events {
        let event = vigil_parsers::parse_text(line, &ctx, InputFormat::Auto)
            .unwrap_or_else(|_| vigil_parsers::unparsed(line.as_bytes(), &ctx));
        let (mut reference, mut fast) = (Vec::new(), Vec::new());
        set.matches(&event, &mut reference);
        set.matches_with(&event, &mut scratch, &mut fast);
        hits += reference.len();
        if reference != fast {
            let title = |i: &usize| set.rule(*i).map(|r| r.title.clone()).unwrap_or_default();
            disagreements.push(format!(
                "{at}: reference {:?}, prefiltered {:?}",
                reference.iter().map(title).collect::<Vec<_>>(),
                fast.iter().map(title).collect::<Vec<_>>()
            ));
        }
    }
    eprintln!(
        "prefilter: {} rules ({literals} literals; {unfiltered} rules without a literal set), {} events, {hits} \
         hits, {} disagreements",
        set.len(),
        events.len(),
        disagreements.len()
    );
    assert!(hits > 0, "the events must hit some rules for this test to mean anything");
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
