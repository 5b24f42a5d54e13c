//! Sigma detection rules: loading with diagnostics, compiling into an immutable [`RuleSet`],
//! and matching [`Event`]s.
//!
//! Architecture invariant: rules hold no state. A [`RuleSet`] is compiled once and then only
//! read, from any number of threads; everything that remembers past events lives in the
//! engine.
//!
//! ```
//! use vigil_rules::{RuleSet, RuleSource};
//! let (set, diagnostics) = RuleSet::compile(vigil_rules::bundled());
//! assert!(diagnostics.is_empty());
//! assert!(set.len() >= 5);
//! # let _ = RuleSource::new("x", "y");
//! ```

mod condition;
mod detection;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use vigil_parsers::{Event, LogSource};

/// The text of one rule file and where it came from.
#[derive(Clone, Debug)]
pub struct RuleSource {
    /// A path, or `bundled:NAME` for the rules compiled into vigil.
    pub origin: String,
    pub text: String,
}

impl RuleSource {
    pub fn new(origin: impl Into<String>, text: impl Into<String>) -> Self {
        RuleSource { origin: origin.into(), text: text.into() }
    }
}

/// How bad a [`Diagnostic`] is: an error means the rule was not loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Something wrong with a rule, with a stable `code` and a readable message.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    pub origin: String,
    /// The 1-based line in the file the problem is on, or the line its document starts on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The rule's title or id, when it got that far.
    pub rule: Option<String>,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// What to do about it, when there is something to say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}] {}", self.code, self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " ({rule})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// A rule's `level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What an alert says about the rule that raised it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub logsource: LogSource,
    /// Where the rule was loaded from.
    pub origin: String,
}

struct Rule {
    meta: RuleMeta,
    detection: detection::Detection,
}

impl Rule {
    fn applies_to(&self, ls: &LogSource) -> bool {
        fn ok(rule: &Option<CompactString>, event: &Option<CompactString>) -> bool {
            match (rule, event) {
                (None, _) => true,
                (Some(r), Some(e)) => r.eq_ignore_ascii_case(e),
                (Some(_), None) => false,
            }
        }
        let rl = &self.meta.logsource;
        // An event's category may imply others (a `registry_set` event is a `registry_event`).
        let category = ok(&rl.category, &ls.category)
            || match (&rl.category, &ls.category) {
                (Some(r), Some(e)) => vigil_parsers::implied_categories(e).iter().any(|c| r.eq_ignore_ascii_case(c)),
                _ => false,
            };
        ok(&rl.product, &ls.product) && category && ok(&rl.service, &ls.service)
    }
}

pub use detection::Placeholders;

/// How rules are compiled.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    /// Values of the `%name%` placeholders that rules with `|expand` use (SigmaHQ's
    /// `rules-placeholder`: `%Admins_Workstations%`, `%DC-MACHINE-NAME%`, ...). A rule whose
    /// placeholder has no values still loads, with the warning `placeholder_without_values`:
    /// a value that uses it matches nothing.
    pub placeholders: Placeholders,
}

/// A compiled, immutable set of detection rules.
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet").field("rules", &self.rules.len()).finish()
    }
}

#[derive(Deserialize)]
struct RawLogSource {
    product: Option<String>,
    category: Option<String>,
    service: Option<String>,
}

#[derive(Deserialize)]
struct RawRule {
    #[serde(default, deserialize_with = "scalar_string")]
    title: Option<String>,
    #[serde(default, deserialize_with = "scalar_string")]
    id: Option<String>,
    status: Option<String>,
    description: Option<String>,
    author: Option<serde_yaml_ng::Value>,
    tags: Option<Vec<String>>,
    level: Option<String>,
    logsource: Option<RawLogSource>,
    detection: Option<serde_yaml_ng::Mapping>,
    correlation: Option<serde_yaml_ng::Value>,
    action: Option<String>,
    filter: Option<serde_yaml_ng::Value>,
}

/// A scalar (string, number, boolean) as text: `id: 5` is the id "5".
fn scalar_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_yaml_ng::Value::deserialize(d)? {
        serde_yaml_ng::Value::String(s) => Some(s),
        serde_yaml_ng::Value::Number(n) => Some(n.to_string()),
        serde_yaml_ng::Value::Bool(b) => Some(b.to_string()),
        serde_yaml_ng::Value::Null => None,
        _ => return Err(serde::de::Error::custom("expected a string")),
    })
}

/// The 0-based line on which each YAML document of `text` starts (after its `---`).
fn document_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    for (n, line) in text.lines().enumerate() {
        let l = line.trim_end();
        if l == "---" || l.starts_with("--- ") {
            if n == 0 || text.lines().take(n).all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
                // A leading `---` opens the first document.
                starts[0] = n + 1;
            } else {
                starts.push(n + 1);
            }
        }
    }
    starts
}

/// The lines of document `index`, each with its 1-based line number in the file.
fn document_lines<'a>(text: &'a str, starts: &[usize], index: usize) -> Vec<(usize, &'a str)> {
    let start = starts.get(index).copied().unwrap_or(0);
    let end = starts.get(index + 1).map_or(usize::MAX, |next| next.saturating_sub(1));
    text.lines().enumerate().skip(start).take(end.saturating_sub(start)).map(|(n, l)| (n + 1, l)).collect()
}

/// The line a diagnostic is about: the first line of the document that holds the first
/// `backquoted` name of the message (a field, modifier or identifier), else the document's
/// first line that is not blank or a comment.
fn locate(lines: &[(usize, &str)], message: &str) -> usize {
    let first_line = lines
        .iter()
        .find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .or(lines.first())
        .map_or(1, |(n, _)| *n);
    let quoted = message.split('`').nth(1).filter(|q| !q.is_empty());
    let Some(quoted) = quoted else { return first_line };
    // `a|bogus: x` is quoted whole or as its key; search for the key part.
    let needle = quoted.split(": ").next().unwrap_or(quoted);
    lines.iter().find(|(_, l)| l.contains(needle)).map_or(first_line, |(n, _)| *n)
}

const LEGACY_HINT: &str = "Sigma v2 expresses counts, sequences and time windows as correlation rules \
     (https://sigmahq.io/docs/meta/correlations.html): rewrite the aggregation as an event_count, value_count \
     or temporal correlation over this rule";

const UNSUPPORTED_HINT: &str = "rewrite it in Sigma v2: counts and sequences as correlation rules \
     (https://sigmahq.io/docs/meta/correlations.html), lists as `|expand` placeholders with values in \
     [rules.placeholders], then set its status";

/// The Sigma v1 feature a rule uses that Sigma v2 removed, said in a sentence; `None` when it
/// uses none.
fn legacy_feature(raw: &RawRule) -> Option<String> {
    if let Some(action) = &raw.action {
        return Some(format!(
            "legacy rule collection (`action: {action}`): Sigma v2 has no `action` documents; \
             write each rule out whole"
        ));
    }
    let detection = raw.detection.as_ref();
    let conditions: Vec<&str> = match detection.and_then(|d| d.get("condition")) {
        Some(serde_yaml_ng::Value::String(s)) => vec![s.as_str()],
        Some(serde_yaml_ng::Value::Sequence(seq)) => seq.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    for c in &conditions {
        if let Some((_, aggregation)) = c.split_once('|') {
            return Some(format!(
                "legacy aggregation `|{}` in the condition: Sigma v2 has no aggregation expressions",
                aggregation.trim_end()
            ));
        }
        if c.split_whitespace().any(|w| w == "near") {
            return Some("legacy `near` in the condition: Sigma v2 has no `near` operator".to_owned());
        }
    }
    if detection.is_some_and(|d| d.contains_key("timeframe")) {
        return Some("legacy `timeframe` in the detection: Sigma v2 puts time windows in correlation rules".to_owned());
    }
    if raw.status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("unsupported")) {
        return Some(
            "`status: unsupported`: SigmaHQ marks this rule as needing features outside the Sigma standard \
             (legacy aggregations, placeholders or pseudo-conditions)"
                .to_owned(),
        );
    }
    None
}

impl RuleSet {
    /// Compiles every rule in `sources`. Rules that cannot be loaded are left out and reported,
    /// each with its reason; the rest are compiled.
    pub fn compile(sources: impl IntoIterator<Item = RuleSource>) -> (RuleSet, Vec<Diagnostic>) {
        RuleSet::compile_with(sources, &CompileOptions::default())
    }

    /// [`RuleSet::compile`] with options: the values of `%name%` placeholders for `|expand`.
    pub fn compile_with(
        sources: impl IntoIterator<Item = RuleSource>,
        options: &CompileOptions,
    ) -> (RuleSet, Vec<Diagnostic>) {
        let mut rules: Vec<Rule> = Vec::new();
        let mut diagnostics = Vec::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        for source in sources {
            // The first `action:` document of a file makes the rest of it a legacy collection.
            let mut legacy_collection: Option<String> = None;
            let starts = document_starts(&source.text);
            for (index, doc) in serde_yaml_ng::Deserializer::from_str(&source.text).enumerate() {
                let origin = if index == 0 {
                    source.origin.clone()
                } else {
                    format!("{} (document {})", source.origin, index + 1)
                };
                let lines = document_lines(&source.text, &starts, index);
                let diag = |rule: Option<String>, severity, code, message: String| Diagnostic {
                    origin: origin.clone(),
                    line: Some(locate(&lines, &message)),
                    rule,
                    severity,
                    code,
                    message,
                    hint: None,
                };
                let value = match serde_yaml_ng::Value::deserialize(doc) {
                    Ok(serde_yaml_ng::Value::Null) => continue,
                    Ok(v) => v,
                    Err(e) => {
                        let line = e.location().map(|l| l.line());
                        diagnostics.push(Diagnostic { line, ..diag(None, Severity::Error, "yaml", e.to_string()) });
                        // A YAML error ends the stream: later documents cannot be read.
                        break;
                    }
                };
                let raw: RawRule = match serde_yaml_ng::from_value(value) {
                    Ok(r) => r,
                    Err(e) => {
                        diagnostics.push(diag(None, Severity::Error, "bad_rule", e.to_string()));
                        continue;
                    }
                };
                let name = raw.title.clone().or_else(|| raw.id.clone());
                let feature = legacy_feature(&raw).or_else(|| {
                    legacy_collection.as_ref().map(|first| format!("part of a legacy rule collection: {first}"))
                });
                if raw.action.is_some() && legacy_collection.is_none() {
                    legacy_collection = feature.clone();
                }
                if let Some(feature) = feature {
                    diagnostics.push(Diagnostic {
                        hint: Some(
                            if feature.starts_with("`status: unsupported`") { UNSUPPORTED_HINT } else { LEGACY_HINT }
                                .to_owned(),
                        ),
                        ..diag(name, Severity::Error, "legacy_syntax", feature)
                    });
                    continue;
                }
                if raw.correlation.is_some() {
                    diagnostics.push(diag(
                        name,
                        Severity::Error,
                        "unsupported_correlation",
                        "correlation rules are not supported yet".to_owned(),
                    ));
                    continue;
                }
                if raw.filter.is_some() {
                    diagnostics.push(diag(
                        name,
                        Severity::Error,
                        "unsupported_filter",
                        "Sigma filter rules are not supported yet".to_owned(),
                    ));
                    continue;
                }
                let Some(title) = raw.title.clone() else {
                    diagnostics.push(diag(name, Severity::Error, "missing_field", "rule has no `title`".to_owned()));
                    continue;
                };
                let Some(det) = &raw.detection else {
                    diagnostics.push(diag(
                        name,
                        Severity::Error,
                        "missing_field",
                        "rule has no `detection`".to_owned(),
                    ));
                    continue;
                };
                let level = match raw.level.as_deref() {
                    None => Level::Medium,
                    Some(l) => match Level::parse(l) {
                        Some(l) => l,
                        None => {
                            diagnostics.push(diag(name, Severity::Error, "bad_value", format!("unknown level `{l}`")));
                            continue;
                        }
                    },
                };
                let ctx = detection::Ctx::new(&options.placeholders);
                let detection = match detection::compile(det, &ctx) {
                    Ok(d) => {
                        for missing in ctx.missing.into_inner() {
                            diagnostics.push(Diagnostic {
                                hint: Some(format!(
                                    "give it values under [rules.placeholders] in the configuration: {missing} = [\"...\"]"
                                )),
                                ..diag(
                                    name.clone(),
                                    Severity::Warning,
                                    "placeholder_without_values",
                                    format!("placeholder `%{missing}%` has no values: the values that use it match nothing"),
                                )
                            });
                        }
                        d
                    }
                    Err(e) => {
                        diagnostics.push(diag(name, Severity::Error, e.code, e.message));
                        continue;
                    }
                };
                let id = match raw.id {
                    Some(id) => id,
                    None => {
                        diagnostics.push(diag(
                            name.clone(),
                            Severity::Warning,
                            "missing_id",
                            "rule has no `id`; its title is used as its id".to_owned(),
                        ));
                        title.clone()
                    }
                };
                if let Some(first) = ids.get(&id) {
                    diagnostics.push(diag(
                        name,
                        Severity::Error,
                        "duplicate_id",
                        format!("rule id {id} is already used by {first}"),
                    ));
                    continue;
                }
                ids.insert(id.clone(), origin.clone());
                let author = match raw.author {
                    Some(serde_yaml_ng::Value::String(s)) => Some(s),
                    Some(serde_yaml_ng::Value::Sequence(seq)) => {
                        Some(seq.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "))
                    }
                    _ => None,
                };
                let lower = |s: Option<String>| s.map(|s| CompactString::from(s.to_ascii_lowercase()));
                let logsource = raw
                    .logsource
                    .map(|l| LogSource {
                        product: lower(l.product),
                        category: lower(l.category),
                        service: lower(l.service),
                    })
                    .unwrap_or_default();
                rules.push(Rule {
                    meta: RuleMeta {
                        id,
                        title,
                        level,
                        status: raw.status,
                        author,
                        tags: raw.tags.unwrap_or_default(),
                        description: raw.description,
                        logsource,
                        origin: origin.clone(),
                    },
                    detection,
                });
            }
        }
        (RuleSet { rules }, diagnostics)
    }

    /// The bundled rule pack alone. Its rules always compile (a unit test holds this).
    pub fn bundled() -> RuleSet {
        RuleSet::compile(bundled()).0
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule at `index`, as returned by [`RuleSet::matches`].
    pub fn rule(&self, index: usize) -> Option<&RuleMeta> {
        self.rules.get(index).map(|r| &r.meta)
    }

    /// Every loaded rule, in load order.
    pub fn iter(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.iter().map(|r| &r.meta)
    }

    /// Appends to `out` the index of every rule that matches `event`, in load order.
    pub fn matches(&self, event: &Event, out: &mut Vec<usize>) {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.applies_to(&event.logsource) && rule.detection.matches(event) {
                out.push(i);
            }
        }
    }
}

/// The rule pack compiled into vigil, written for this project.
pub fn bundled() -> Vec<RuleSource> {
    macro_rules! pack {
        ($($name:literal),* $(,)?) => {
            vec![$(RuleSource::new(concat!("bundled:", $name), include_str!(concat!("../bundled/", $name)))),*]
        };
    }
    pack![
        "ssh_password_failure.yml",
        "ssh_invalid_user.yml",
        "sudo_root_shell.yml",
        "new_local_user.yml",
        "web_shell_request.yml",
    ]
}

/// Compiles the bundled pack (when `bundled`) and every rule under `dirs`, with every
/// diagnostic from reading and compiling them.
pub fn load(bundled_pack: bool, dirs: &[std::path::PathBuf]) -> (RuleSet, Vec<Diagnostic>) {
    load_with(bundled_pack, dirs, &CompileOptions::default())
}

/// [`load`] with compile options (placeholder values).
pub fn load_with(
    bundled_pack: bool,
    dirs: &[std::path::PathBuf],
    options: &CompileOptions,
) -> (RuleSet, Vec<Diagnostic>) {
    let mut sources = if bundled_pack { bundled() } else { Vec::new() };
    let mut diagnostics = Vec::new();
    for dir in dirs {
        let (s, d) = load_dir(dir);
        sources.extend(s);
        diagnostics.extend(d);
    }
    let (set, d) = RuleSet::compile_with(sources, options);
    diagnostics.extend(d);
    (set, diagnostics)
}

/// Reads every `.yml` and `.yaml` file under `dir`, recursively, in path order. Files that
/// cannot be read are reported as diagnostics; hidden folders are skipped.
pub fn load_dir(dir: &Path) -> (Vec<RuleSource>, Vec<Diagnostic>) {
    let mut sources = Vec::new();
    let mut diagnostics = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = pending.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                diagnostics.push(io_diag(&d, &e));
                continue;
            }
        };
        for entry in entries {
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(e) => {
                    diagnostics.push(io_diag(&d, &e));
                    continue;
                }
            };
            let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if path.is_dir() {
                if !hidden {
                    pending.push(path);
                }
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")) {
                files.push(path);
            }
        }
    }
    files.sort();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push(RuleSource::new(path.display().to_string(), text)),
            Err(e) => diagnostics.push(io_diag(&path, &e)),
        }
    }
    (sources, diagnostics)
}

fn io_diag(path: &Path, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        origin: path.display().to_string(),
        rule: None,
        severity: Severity::Error,
        code: "io",
        message: e.to_string(),
        hint: None,
        line: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_parsers::{InputFormat, ParseContext};

    fn parse(line: &str) -> Event {
        let received = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        vigil_parsers::parse(line.as_bytes(), &ParseContext::new(received), InputFormat::Auto)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn titles(set: &RuleSet, line: &str) -> Vec<String> {
        let mut hits = Vec::new();
        set.matches(&parse(line), &mut hits);
        hits.iter().filter_map(|&i| set.rule(i)).map(|r| r.title.clone()).collect()
    }

    #[test]
    fn bundled_pack_compiles_without_diagnostics() {
        let (set, diags) = RuleSet::compile(bundled());
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(set.len(), bundled().len());
        let mut ids: Vec<_> = set.iter().map(|r| r.id.clone()).collect();
        ids.dedup();
        assert_eq!(ids.len(), set.len());
    }

    #[test]
    fn bundled_rules_fire_on_their_lines_and_only_there() {
        let set = RuleSet::bundled();
        let cases: &[(&str, &[&str])] = &[
            (
                "<38>Nov 23 10:00:01 bastion sshd[812]: Failed password for root from 203.0.113.9 port 52044 ssh2",
                &["SSH Password Authentication Failure"],
            ),
            (
                "<38>Nov 23 10:00:01 bastion sshd[812]: Invalid user oracle from 203.0.113.9 port 52044",
                &["SSH Login Attempt for an Invalid User"],
            ),
            (
                "<38>Nov 23 10:00:01 bastion sshd[812]: Failed password for invalid user oracle from 203.0.113.9 port 52044 ssh2",
                &["SSH Login Attempt for an Invalid User"],
            ),
            ("<38>Nov 23 10:00:01 bastion sshd[812]: Accepted publickey for deploy from 10.0.0.5 port 40022 ssh2", &[]),
            (
                "<85>Nov 23 10:00:02 bastion sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
                &["Sudo to a Root Shell"],
            ),
            (
                "<85>Nov 23 10:00:02 bastion sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/su -",
                &["Sudo to a Root Shell"],
            ),
            (
                "<85>Nov 23 10:00:02 bastion sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
                &[],
            ),
            (
                "<85>Nov 23 10:00:02 bastion sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=postgres ; COMMAND=/bin/bash",
                &[],
            ),
            (
                "<86>Nov 23 10:00:03 bastion useradd[901]: new user: name=backup2, UID=1002, GID=1002, home=/home/backup2, shell=/bin/bash, from=/dev/pts/0",
                &["New Local User Account Created"],
            ),
            ("<86>Nov 23 10:00:03 bastion useradd[901]: new group: name=backup2, GID=1002", &[]),
            (
                r#"<190>Nov 23 10:00:04 portal nginx: 198.51.100.7 - - [23/Nov/2026:10:00:04 +0700] "GET /uploads/avatar.php?cmd=id HTTP/1.1" 200 91 "-" "curl/8.5""#,
                &["Web Shell Style Request"],
            ),
            (
                r#"<190>Nov 23 10:00:04 portal nginx: 198.51.100.7 - - [23/Nov/2026:10:00:04 +0700] "GET /index.php?page=news HTTP/1.1" 200 5120 "-" "Mozilla/5.0""#,
                &[],
            ),
            // Another logsource never matches: sshd-like text from a different program.
            ("<38>Nov 23 10:00:01 bastion myapp: Failed password for root from 203.0.113.9 port 52044 ssh2", &[]),
        ];
        for (line, want) in cases {
            assert_eq!(titles(&set, line), *want, "{line}");
        }
    }

    #[test]
    fn every_bad_rule_is_reported_with_its_reason() {
        let sources = vec![
            RuleSource::new("a.yml", "title: t\nid: 1\ndetection:\n  sel:\n    a|base64|bogus: x\n  condition: sel\n"),
            RuleSource::new("b.yml", "title: [unclosed\n"),
            RuleSource::new("c.yml", "title: c\ncorrelation:\n  type: event_count\n"),
            RuleSource::new("d.yml", "title: d\nid: 4\ndetection:\n  sel:\n    a: 1\n  condition: sel | count() > 5\n"),
            RuleSource::new(
                "e.yml",
                "title: e\nid: 5\nlogsource:\n  product: linux\ndetection:\n  sel:\n    a: 1\n  condition: sel\n",
            ),
            RuleSource::new("f.yml", "title: f\nid: 5\ndetection:\n  sel:\n    a: 1\n  condition: sel\n"),
        ];
        let (set, diags) = RuleSet::compile(sources);
        assert_eq!(set.len(), 1);
        let codes: Vec<_> = diags.iter().map(|d| (d.origin.as_str(), d.code)).collect();
        assert_eq!(
            codes,
            vec![
                ("a.yml", "unknown_modifier"),
                ("b.yml", "yaml"),
                ("c.yml", "unsupported_correlation"),
                ("d.yml", "legacy_syntax"),
                ("f.yml", "duplicate_id"),
            ]
        );
        assert!(diags.iter().all(|d| !d.message.is_empty()));
    }
}
