//! Rule test fixtures: events that must and must not hit a rule, kept next to it.
//!
//! For a rule file `ssh_password_failure.yml`, the fixture is `ssh_password_failure.tests.yml`
//! in the same folder (the loader never reads `*.tests.yml` as rules):
//!
//! ```yaml
//! match:
//!   - "<38>Nov 23 10:00:01 bastion sshd[1]: Failed password for root from 203.0.113.9 port 52044 ssh2"
//!   - {EventID: 4625, Channel: Security, TargetUserName: admin}   # a JSON event
//! no_match:
//!   - "<38>Nov 23 10:00:01 bastion sshd[1]: Accepted password for root from 10.0.0.7 port 5 ssh2"
//! ```
//!
//! A string is a log line exactly as a sender would send it (syslog, CEF, JSON...); a map is a
//! JSON event. `rule: OTHER.yml` names the rule file when it is not the fixture's namesake. A
//! `match` event must hit at least one rule of the file, a `no_match` event none.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value as Yaml;
use vigil_parsers::{InputFormat, ParseContext};

use crate::{CompileOptions, Diagnostic, RuleSet, RuleSource, Severity};

/// Whether a file name is a fixture's (`*.tests.yml` / `*.tests.yaml`).
pub fn is_fixture(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".tests.yml") || n.ends_with(".tests.yaml"))
}

/// The fixtures under `paths` (folders, searched recursively, or rule files, whose fixture
/// beside them is taken when there is one), in path order.
pub fn find(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut pending = vec![path.clone()];
            while let Some(dir) = pending.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        pending.push(p);
                    } else if is_fixture(&p) {
                        out.push(p);
                    }
                }
            }
        } else if is_fixture(path) {
            out.push(path.clone());
        } else if let (Some(dir), Some(stem)) = (path.parent(), path.file_stem().and_then(|s| s.to_str())) {
            for ext in ["tests.yml", "tests.yaml"] {
                let candidate = dir.join(format!("{stem}.{ext}"));
                if candidate.is_file() {
                    out.push(candidate);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// One event of a fixture and how it fared.
#[derive(Clone, Debug)]
pub struct Case {
    /// `match` or `no_match`, and the 1-based position in that list.
    pub expect_match: bool,
    pub index: usize,
    pub line: String,
    /// Titles of the rules it hit.
    pub hits: Vec<String>,
    pub passed: bool,
    /// Why each rule of the file matched or not.
    pub explanation: Vec<String>,
}

/// The result of one fixture.
#[derive(Clone, Debug)]
pub struct Report {
    pub fixture: PathBuf,
    pub rule_file: PathBuf,
    pub rules: usize,
    pub diagnostics: Vec<Diagnostic>,
    pub cases: Vec<Case>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.rules > 0 && !self.cases.is_empty() && self.cases.iter().all(|c| c.passed)
    }
}

/// Runs a fixture against the rules of its rule file. `Err` when the fixture or the rule file
/// cannot be read or the fixture is not in the format above.
pub fn run(fixture: &Path, options: &CompileOptions, ctx: &ParseContext) -> Result<Report, String> {
    let text = std::fs::read_to_string(fixture).map_err(|e| format!("{}: {e}", fixture.display()))?;
    let doc: Yaml = serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", fixture.display()))?;
    let Yaml::Mapping(map) = &doc else { return Err(format!("{}: a fixture is a map", fixture.display())) };
    for key in map.keys() {
        if !matches!(key.as_str(), Some("rule" | "match" | "no_match")) {
            return Err(format!("{}: unknown key {key:?} (rule, match, no_match)", fixture.display()));
        }
    }
    let dir = fixture.parent().unwrap_or(Path::new("."));
    let rule_file = match map.get("rule").and_then(Yaml::as_str) {
        Some(name) => dir.join(name),
        None => {
            let name = fixture.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let stem = name.trim_end_matches(".tests.yml").trim_end_matches(".tests.yaml");
            let yml = dir.join(format!("{stem}.yml"));
            if yml.is_file() { yml } else { dir.join(format!("{stem}.yaml")) }
        }
    };
    let rule_text = std::fs::read_to_string(&rule_file).map_err(|e| format!("{}: {e}", rule_file.display()))?;
    let (set, diagnostics) =
        RuleSet::compile_with(vec![RuleSource::new(rule_file.display().to_string(), rule_text)], options);
    let mut cases = Vec::new();
    let mut scratch = set.scratch();
    for (key, expect_match) in [("match", true), ("no_match", false)] {
        let entries = match map.get(key) {
            None | Some(Yaml::Null) => continue,
            Some(Yaml::Sequence(seq)) => seq,
            Some(_) => return Err(format!("{}: `{key}` is a list of events", fixture.display())),
        };
        for (n, entry) in entries.iter().enumerate() {
            let line = match entry {
                Yaml::String(s) => s.clone(),
                Yaml::Mapping(_) => serde_json::to_string(entry).map_err(|e| format!("{}: {e}", fixture.display()))?,
                _ => return Err(format!("{}: `{key}` item {} is neither a line nor a map", fixture.display(), n + 1)),
            };
            let event = vigil_parsers::parse_text(&line, ctx, InputFormat::Auto)
                .unwrap_or_else(|_| vigil_parsers::unparsed(line.as_bytes(), ctx));
            let mut hit_indexes = Vec::new();
            set.matches_with(&event, &mut scratch, &mut hit_indexes);
            let hits: Vec<String> = hit_indexes.iter().filter_map(|&i| set.rule(i)).map(|r| r.title.clone()).collect();
            let mut explanation = Vec::new();
            for i in 0..set.len() {
                if let (Some(rule), Some(why)) = (set.rule(i), set.explain(i, &event)) {
                    explanation.push(format!("{}:", rule.title));
                    explanation.extend(why.into_iter().map(|w| format!("  {w}")));
                }
            }
            let passed = hits.is_empty() != expect_match;
            cases.push(Case { expect_match, index: n + 1, line, hits, passed, explanation });
        }
    }
    let rules = set.len();
    let diagnostics = diagnostics.into_iter().filter(|d| d.severity == Severity::Error || rules == 0).collect();
    Ok(Report { fixture: fixture.to_owned(), rule_file, rules, diagnostics, cases })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundled pack's fixtures: every rule has one, and every case passes.
    #[test]
    fn bundled_rules_pass_their_fixtures() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bundled");
        let fixtures = find(std::slice::from_ref(&dir));
        let rules: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| !is_fixture(p)).collect())
            .unwrap_or_default();
        assert!(!rules.is_empty());
        assert_eq!(fixtures.len(), rules.len(), "every bundled rule has a fixture: {fixtures:?}");
        let ctx = ParseContext::new(chrono::Utc::now());
        for fixture in fixtures {
            let report = run(&fixture, &CompileOptions::default(), &ctx).unwrap_or_else(|e| panic!("{e}"));
            assert!(report.cases.iter().any(|c| c.expect_match) && report.cases.iter().any(|c| !c.expect_match));
            for case in &report.cases {
                assert!(case.passed, "{}: {case:#?}", fixture.display());
            }
            assert!(report.passed());
        }
    }

    #[test]
    fn a_failing_case_says_why() {
        let dir = tempfile_dir();
        std::fs::write(
            dir.join("r.yml"),
            "title: R\nid: r\nlogsource: {product: linux, service: sshd}\ndetection:\n  s:\n    user: root\n  condition: s\n",
        )
        .unwrap_or_default();
        std::fs::write(
            dir.join("r.tests.yml"),
            "match:\n  - '<38>Nov 23 10:00:01 h sshd[1]: Failed password for alice from 10.0.0.1 port 2 ssh2'\n",
        )
        .unwrap_or_default();
        let ctx = ParseContext::new(chrono::Utc::now());
        let report = run(&dir.join("r.tests.yml"), &CompileOptions::default(), &ctx).unwrap_or_else(|e| panic!("{e}"));
        assert!(!report.passed());
        let why = report.cases[0].explanation.join("\n");
        assert!(why.contains("`user`: 'alice' matches none of 'root'"), "{why}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vigil-fixture-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    }
}
