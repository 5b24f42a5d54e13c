//! SigmaHQ's regression cases (`../shared/corpus/sigma/regression_data`, skipped with a notice
//! when absent): each is a rule id with events (evtx_dump JSON) that must trigger that rule.
//! The events go through the real parser and the rule through the real compiler.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vigil_parsers::{InputFormat, ParseContext};
use vigil_rules::{RuleSet, RuleSource, load_dir};

/// How many cases must pass. Raise it when the compiler or parsers get better; issue 4 takes
/// it to all of them.
const MUST_PASS: usize = 202;

fn sigma() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sigma");
    if dir.join("regression_data").is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; skipping the SigmaHQ regression cases", dir.display());
        None
    }
}

fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            cases(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn sigmahq_regression_cases_trigger_their_rules() {
    let Some(sigma) = sigma() else { return };
    // Rule sources by id.
    let mut by_id: HashMap<String, RuleSource> = HashMap::new();
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"] {
        for source in load_dir(&sigma.join(folder)).0 {
            let id = source.text.lines().find_map(|l| l.strip_prefix("id:")).map(|id| id.trim().to_owned());
            if let Some(id) = id {
                by_id.insert(id, source);
            }
        }
    }
    let mut files = Vec::new();
    cases(&sigma.join("regression_data"), &mut files);
    assert!(files.len() >= 200, "found only {} cases", files.len());
    let ctx = ParseContext::new(chrono::Utc::now());
    let (mut passed, mut failures) = (0, Vec::new());
    for file in &files {
        let id = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let Some(source) = by_id.get(id) else {
            failures.push(format!("{}: no rule with id {id}", file.display()));
            continue;
        };
        let (set, diagnostics) = RuleSet::compile([source.clone()]);
        if set.is_empty() {
            failures.push(format!("{}: rule not loaded: {diagnostics:?}", source.origin));
            continue;
        }
        let text = std::fs::read_to_string(file).expect("read case");
        let mut hit = false;
        let mut events = 0;
        for value in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let value = value.expect("case JSON");
            events += 1;
            let event = vigil_parsers::parse(value.to_string().as_bytes(), &ctx, InputFormat::Json)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            // The production path (prefilter, then exact matching) and the reference interpreter.
            let (mut fast, mut reference) = (Vec::new(), Vec::new());
            set.matches_with(&event, &mut set.scratch(), &mut fast);
            set.matches(&event, &mut reference);
            assert_eq!(fast, reference, "{}: prefiltered and reference matchers disagree", file.display());
            hit |= !fast.is_empty();
        }
        if hit {
            passed += 1;
        } else {
            failures.push(format!("{}: none of {events} events matched", source.origin));
        }
    }
    eprintln!("SigmaHQ regression cases: {passed} of {} trigger their rule", files.len());
    for f in &failures {
        eprintln!("  miss: {f}");
    }
    assert!(passed >= MUST_PASS, "{passed} < {MUST_PASS} cases pass:\n{}", failures.join("\n"));
}
