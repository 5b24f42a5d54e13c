//! SigmaHQ's rules as they are (from `../shared/corpus`, skipped with a notice when absent):
//! every file either loads or is reported with a reason, and nothing panics.

use std::collections::BTreeSet;
use std::path::PathBuf;

use vigil_rules::{RuleSet, Severity, load_dir};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sigma");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; skipping the SigmaHQ test", dir.display());
        None
    }
}

#[test]
fn every_sigmahq_rule_loads_or_is_reported() {
    let Some(sigma) = corpus() else { return };
    let mut total_loaded = 0;
    let mut not_loaded = Vec::new();
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"] {
        let (sources, io) = load_dir(&sigma.join(folder));
        assert!(io.is_empty(), "{io:?}");
        let files: BTreeSet<String> = sources.iter().map(|s| s.origin.clone()).collect();
        let (set, diagnostics) = RuleSet::compile(sources);
        let mut seen: BTreeSet<String> = set.iter().map(|r| r.origin.clone()).collect();
        for d in &diagnostics {
            assert!(!d.message.is_empty(), "{d}");
            if d.severity == Severity::Error {
                seen.insert(d.origin.clone());
            }
        }
        let missing: Vec<_> = files.difference(&seen).collect();
        assert!(missing.is_empty(), "files neither loaded nor reported: {missing:?}");
        total_loaded += set.len();
        let mut by_code: std::collections::BTreeMap<&str, usize> = Default::default();
        for d in diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            *by_code.entry(d.code).or_default() += 1;
            not_loaded.push(d.to_string());
        }
        eprintln!("{folder}: {} files, {} rules loaded, not loaded by reason {by_code:?}", files.len(), set.len());
    }
    // Every rule loads: nothing is skipped, silently or not.
    assert!(not_loaded.is_empty(), "SigmaHQ rules not loaded: {not_loaded:#?}");
    assert!(total_loaded >= 3_700, "only {total_loaded} SigmaHQ rules loaded");
}

#[test]
fn every_unsupported_rule_is_rejected_as_legacy_syntax() {
    let Some(sigma) = corpus() else { return };
    let (sources, io) = load_dir(&sigma.join("unsupported"));
    assert!(io.is_empty(), "{io:?}");
    let files: BTreeSet<String> = sources.iter().map(|s| s.origin.clone()).collect();
    assert!(files.len() >= 80, "only {} unsupported rule files", files.len());
    let (set, diagnostics) = RuleSet::compile(sources);
    // Four of SigmaHQ's unsupported rules are valid Sigma v2: SigmaHQ set them aside for what
    // their logsource does not carry (fields such as `FileMagicBytes`), which no syntax check
    // sees. They load; every other one must be rejected as legacy syntax.
    let loaded: Vec<_> = set.iter().map(|r| r.origin.clone()).collect();
    eprintln!("unsupported rules that are valid Sigma v2 and load: {loaded:#?}");
    assert!(loaded.len() <= 4, "legacy rules loaded: {loaded:?}");
    assert!(diagnostics.iter().all(|d| d.code == "legacy_syntax"), "{diagnostics:#?}");
    let rejected: BTreeSet<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && d.code == "legacy_syntax")
        .map(|d| {
            assert!(d.hint.as_deref().is_some_and(|h| h.contains("correlation")), "{d}");
            assert!(d.line.is_some_and(|l| l >= 1), "{d}");
            // A document of a multi-document file is `FILE (document N)`.
            d.origin.split(" (document ").next().unwrap_or_default().to_owned()
        })
        .collect();
    let loaded_files: BTreeSet<String> = loaded.into_iter().collect();
    let other: Vec<_> = files.difference(&rejected).filter(|f| !loaded_files.contains(*f)).collect();
    assert!(other.is_empty(), "not rejected as legacy syntax: {other:?}");
    let aggregations = diagnostics.iter().filter(|d| d.message.starts_with("legacy aggregation")).count();
    eprintln!(
        "unsupported: {} files; {} rules (documents) rejected as legacy syntax, {aggregations} of them for an \
         aggregation; {} files rejected whole",
        files.len(),
        diagnostics.len(),
        rejected.len()
    );
}
