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
pub mod correlation;
mod detection;
pub mod fixtures;
mod prefilter;

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
    /// The rule's `name`, by which correlations and filters may refer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub title: String,
    pub level: Level,
    pub status: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub logsource: LogSource,
    /// Where the rule was loaded from.
    pub origin: String,
    /// vigil's `suppress` extension: repeats of an alert within a time are counted on the
    /// first one instead of raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress: Option<correlation::Suppress>,
    /// A hash of the rule's document text, so that a reload can tell a changed rule from an
    /// unchanged one (within one process: not stable across builds).
    #[serde(skip)]
    pub fingerprint: u64,
}

struct Rule {
    meta: RuleMeta,
    detection: detection::Detection,
    /// Global filters (Sigma filters) that apply to this rule: an event they match is not a hit.
    filters: Vec<std::sync::Arc<detection::Detection>>,
}

/// A filter document, its targets not yet resolved.
struct PendingFilter {
    meta: RuleMeta,
    targets: Vec<String>,
    detection: detection::Detection,
    line: usize,
}

/// A correlation document, its references not yet resolved.
struct PendingCorrelation {
    meta: RuleMeta,
    parsed: correlation::Spec,
    line: usize,
}

fn diagnostic(meta: &RuleMeta, line: usize, severity: Severity, code: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        origin: meta.origin.clone(),
        line: Some(line),
        rule: Some(meta.title.clone()),
        severity,
        code,
        message,
        hint: None,
    }
}

/// Resolves each correlation's `rules` to detection rules or other correlations (by id or
/// name), rejecting unknown references and cycles.
fn resolve_correlations(
    pending: Vec<PendingCorrelation>,
    rules: &[Rule],
    ids: &mut HashMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Correlation> {
    // Duplicate ids first: a correlation shares the id space with rules.
    let mut kept = Vec::new();
    for p in pending {
        if let Some(first) = ids.get(&p.meta.id) {
            let message = format!("rule id {} is already used by {first}", p.meta.id);
            diagnostics.push(diagnostic(&p.meta, p.line, Severity::Error, "duplicate_id", message));
            continue;
        }
        ids.insert(p.meta.id.clone(), p.meta.origin.clone());
        kept.push(p);
    }
    let find_rule = |r: &str| rules.iter().position(|x| x.meta.id == r || x.meta.name.as_deref() == Some(r));
    let find_corr = |r: &str| kept.iter().position(|x| x.meta.id == r || x.meta.name.as_deref() == Some(r));
    let mut resolved: Vec<Option<Vec<RuleRef>>> = Vec::with_capacity(kept.len());
    for p in &kept {
        let mut refs = Vec::new();
        let mut ok = true;
        for r in &p.parsed.rule_names {
            match (find_rule(r), find_corr(r)) {
                (Some(i), _) => refs.push(RuleRef::Rule(i)),
                (None, Some(i)) => refs.push(RuleRef::Correlation(i)),
                (None, None) => {
                    ok = false;
                    diagnostics.push(Diagnostic {
                        hint: Some(
                            "load the rule it names with it (same folder, or a `---` document of the same file)".into(),
                        ),
                        ..diagnostic(
                            &p.meta,
                            p.line,
                            Severity::Error,
                            "unknown_rule_reference",
                            format!("correlation names rule `{r}`, which no loaded rule has as its id or name"),
                        )
                    });
                }
            }
        }
        resolved.push(ok.then_some(refs));
    }
    // A correlation over a correlation that is rejected, or over itself through others, is
    // rejected too.
    let n = kept.len();
    let mut state = vec![0u8; n]; // 0 unvisited, 1 in progress, 2 good, 3 bad
    fn visit(i: usize, resolved: &[Option<Vec<RuleRef>>], state: &mut [u8]) -> bool {
        match state[i] {
            1 | 3 => return false,
            2 => return true,
            _ => {}
        }
        state[i] = 1;
        let good = resolved[i].as_ref().is_some_and(|refs| {
            refs.iter().all(|r| match r {
                RuleRef::Rule(_) => true,
                RuleRef::Correlation(j) => visit(*j, resolved, state),
            })
        });
        state[i] = if good { 2 } else { 3 };
        good
    }
    let good: Vec<bool> = (0..n).map(|i| visit(i, &resolved, &mut state)).collect();
    // Indexes change as bad ones are dropped.
    let mut new_index = vec![usize::MAX; n];
    let mut next = 0;
    for (i, g) in good.iter().enumerate() {
        if *g {
            new_index[i] = next;
            next += 1;
        }
    }
    let mut out = Vec::new();
    for ((p, refs), g) in kept.into_iter().zip(resolved).zip(&good) {
        let Some(refs) = refs.filter(|_| *g) else {
            if !diagnostics.iter().any(|d| d.origin == p.meta.origin && d.code == "unknown_rule_reference") {
                diagnostics.push(diagnostic(
                    &p.meta,
                    p.line,
                    Severity::Error,
                    "bad_correlation",
                    "correlation refers to itself through other correlations, or to one that did not load".into(),
                ));
            }
            continue;
        };
        let rules = refs
            .into_iter()
            .map(|r| match r {
                RuleRef::Correlation(j) => RuleRef::Correlation(new_index[j]),
                r => r,
            })
            .collect();
        out.push(Correlation { meta: p.meta, spec: p.parsed, rules });
    }
    out
}

/// Attaches each filter to the rules it names whose logsource it fits.
fn apply_filters(filters: Vec<PendingFilter>, rules: &mut [Rule], diagnostics: &mut Vec<Diagnostic>) {
    for f in filters {
        let detection = std::sync::Arc::new(f.detection);
        for target in &f.targets {
            let Some(rule) = rules.iter_mut().find(|r| r.meta.id == *target || r.meta.name.as_deref() == Some(target))
            else {
                diagnostics.push(diagnostic(
                    &f.meta,
                    f.line,
                    Severity::Warning,
                    "unknown_rule_reference",
                    format!("filter names rule `{target}`, which is not loaded: the filter does nothing for it"),
                ));
                continue;
            };
            let fits = |fl: &Option<CompactString>, rl: &Option<CompactString>| {
                fl.as_ref().is_none_or(|f| rl.as_ref().is_some_and(|r| f.eq_ignore_ascii_case(r)))
            };
            let (fl, rl) = (&f.meta.logsource, &rule.meta.logsource);
            if !(fits(&fl.product, &rl.product) && fits(&fl.category, &rl.category) && fits(&fl.service, &rl.service)) {
                diagnostics.push(diagnostic(
                    &f.meta,
                    f.line,
                    Severity::Warning,
                    "filter_logsource_mismatch",
                    format!("filter's logsource does not fit rule `{target}`'s: not applied to it"),
                ));
                continue;
            }
            rule.filters.push(detection.clone());
        }
    }
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

pub use correlation::{Correlation, CorrelationType, RuleRef, Spec, Suppress, Threshold};
pub use detection::Placeholders;
pub use prefilter::Scratch;

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
    correlations: Vec<Correlation>,
    prefilter: prefilter::Prefilter,
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
    name: Option<String>,
    /// A correlation's `generate`, when written beside `correlation` rather than in it.
    generate: Option<bool>,
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
    /// vigil's extension: `suppress: {by: [fields], for: 10m}`.
    suppress: Option<serde_yaml_ng::Value>,
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
        let mut correlations: Vec<PendingCorrelation> = Vec::new();
        let mut filters: Vec<PendingFilter> = Vec::new();
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
                let Some(title) = raw.title.clone() else {
                    diagnostics.push(diag(name, Severity::Error, "missing_field", "rule has no `title`".to_owned()));
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
                let id = match raw.id.clone() {
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
                let author = match &raw.author {
                    Some(serde_yaml_ng::Value::String(s)) => Some(s.clone()),
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
                let suppress = match raw.suppress.as_ref().map(correlation::parse_suppress) {
                    None => None,
                    Some(Ok(s)) => Some(s),
                    Some(Err((code, message))) => {
                        diagnostics.push(diag(name, Severity::Error, code, message));
                        continue;
                    }
                };
                let meta = RuleMeta {
                    id: id.clone(),
                    name: raw.name.clone(),
                    title,
                    level,
                    status: raw.status,
                    author,
                    tags: raw.tags.unwrap_or_default(),
                    description: raw.description,
                    logsource,
                    origin: origin.clone(),
                    suppress,
                    fingerprint: {
                        use std::hash::{Hash, Hasher};
                        let mut h = std::collections::hash_map::DefaultHasher::new();
                        lines.iter().for_each(|(_, l)| l.hash(&mut h));
                        h.finish()
                    },
                };
                let line = locate(&lines, "");

                // A global filter: its selection and condition are excluded from the rules it names.
                if let Some(filter) = &raw.filter {
                    let Some(map) = filter.as_mapping() else {
                        diagnostics.push(diag(
                            name,
                            Severity::Error,
                            "bad_filter",
                            "`filter` must be a map".to_owned(),
                        ));
                        continue;
                    };
                    let targets: Vec<String> = match map.get("rules") {
                        Some(serde_yaml_ng::Value::String(s)) => vec![s.clone()],
                        Some(serde_yaml_ng::Value::Sequence(seq)) => {
                            seq.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
                        }
                        _ => Vec::new(),
                    };
                    if targets.is_empty() {
                        diagnostics.push(diag(
                            name,
                            Severity::Error,
                            "bad_filter",
                            "`filter.rules` must name the rules the filter applies to".to_owned(),
                        ));
                        continue;
                    }
                    let mut selection = map.clone();
                    selection.remove("rules");
                    let ctx = detection::Ctx::new(&options.placeholders);
                    match detection::compile(&selection, &ctx) {
                        Ok(d) => filters.push(PendingFilter { meta, targets, detection: d, line }),
                        Err(e) => diagnostics.push(diag(name, Severity::Error, e.code, e.message)),
                    }
                    continue;
                }
                if let Some(section) = &raw.correlation {
                    match correlation::parse(section) {
                        Ok(mut parsed) => {
                            parsed.generate |= raw.generate.unwrap_or(false);
                            correlations.push(PendingCorrelation { meta, parsed, line });
                        }
                        Err((code, message)) => diagnostics.push(diag(name, Severity::Error, code, message)),
                    }
                    continue;
                }
                let Some(det) = &raw.detection else {
                    diagnostics.push(diag(
                        name,
                        Severity::Error,
                        "missing_field",
                        "rule has no `detection`".to_owned(),
                    ));
                    continue;
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
                if let Some(first) = ids.get(&id) {
                    diagnostics.push(diag(
                        name,
                        Severity::Error,
                        "duplicate_id",
                        format!("rule id {id} is already used by {first}"),
                    ));
                    continue;
                }
                ids.insert(id, origin.clone());
                rules.push(Rule { meta, detection, filters: Vec::new() });
            }
        }
        let correlations = resolve_correlations(correlations, &rules, &mut ids, &mut diagnostics);
        apply_filters(filters, &mut rules, &mut diagnostics);
        let requirements: Vec<_> =
            rules.iter().map(|r| (&r.meta.logsource, r.detection.requirements(), r.detection.gate())).collect();
        let prefilter = prefilter::Prefilter::build(&requirements);
        (RuleSet { rules, correlations, prefilter }, diagnostics)
    }

    /// The bundled rule pack alone. Its rules always compile (a unit test holds this).
    pub fn bundled() -> RuleSet {
        RuleSet::compile(bundled()).0
    }

    /// The correlation rules, validated, their references resolved.
    pub fn correlations(&self) -> &[Correlation] {
        &self.correlations
    }

    /// Why rule `index` matches `event` or not, line by line: its logsource, then each search
    /// identifier with the field, modifier and value that matched or failed, then the result.
    /// `None` for an index out of range.
    pub fn explain(&self, index: usize, event: &Event) -> Option<Vec<String>> {
        let rule = self.rules.get(index)?;
        let ls = |l: &LogSource| {
            let parts: Vec<String> = [("product", &l.product), ("category", &l.category), ("service", &l.service)]
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
                .collect();
            if parts.is_empty() { "any".to_owned() } else { parts.join(", ") }
        };
        if !rule.applies_to(&event.logsource) {
            return Some(vec![format!(
                "logsource: the rule is for {}; the event is {}: not evaluated",
                ls(&rule.meta.logsource),
                ls(&event.logsource)
            )]);
        }
        let mut out = vec![format!("logsource: {} fits {}", ls(&event.logsource), ls(&rule.meta.logsource))];
        out.extend(rule.detection.explain(event));
        let detected = rule.detection.matches(event);
        out.push(format!("condition: {}", if detected { "true" } else { "false" }));
        for (n, f) in rule.filters.iter().enumerate() {
            if f.matches(event) {
                out.push(format!("filter {}: matches, so the event is excluded", n + 1));
            }
        }
        Some(out)
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

    /// Compiles now what is otherwise compiled when an event first needs it: every rule's
    /// rewritten matcher and every prefilter database. `serve` calls it at start, so that no
    /// event waits for a compilation; a replay does without, and compiles only what its
    /// events need. Returns a warning per database Vectorscan refused (its rules are then
    /// evaluated on every event of their logsource: slower, never a missed match).
    pub fn prepare(&self) -> Vec<Diagnostic> {
        for rule in &self.rules {
            rule.detection.prepare();
            rule.filters.iter().for_each(|f| f.prepare());
        }
        self.prefilter
            .prepare()
            .into_iter()
            .map(|message| Diagnostic {
                origin: "prefilter".into(),
                line: None,
                rule: None,
                severity: Severity::Warning,
                code: "prefilter",
                message,
                hint: None,
            })
            .collect()
    }

    /// Per-thread matching state for [`RuleSet::matches_with`].
    pub fn scratch(&self) -> Scratch<'_> {
        Scratch::new(&self.prefilter, self.rules.len())
    }

    /// How many distinct literals the prefilter scans for, and how many rules have none (and
    /// are evaluated on every event of their logsource).
    pub fn prefilter_stats(&self) -> (usize, usize) {
        (self.prefilter.literals, self.prefilter.always_count())
    }

    /// The indexes of the rules that match `event`, in rule order, appended to `out`: the
    /// event is scanned once for every rule's literals, and only the rules that apply to its
    /// logsource and had a literal of each of their clauses found (or have none) are evaluated
    /// exactly.
    pub fn matches_with(&self, event: &Event, scratch: &mut Scratch<'_>, out: &mut Vec<usize>) {
        if !self.prefilter.scans() {
            // Too few rules for a prefilter to pay: each is checked directly.
            for (i, rule) in self.rules.iter().enumerate() {
                if rule.applies_to(&event.logsource)
                    && rule.detection.matches_compiled(event)
                    && !rule.filters.iter().any(|f| f.matches_compiled(event))
                {
                    out.push(i);
                }
            }
            return;
        }
        let candidates =
            scratch.candidates(event, |i| self.rules.get(i).is_some_and(|r| r.applies_to(&event.logsource)));
        for &i in candidates {
            let i = i as usize;
            if let Some(rule) = self.rules.get(i)
                && rule.detection.matches_compiled(event)
                && !rule.filters.iter().any(|f| f.matches_compiled(event))
            {
                out.push(i);
            }
        }
    }

    /// [`RuleSet::matches_with`], measured: the prefilter's time (routing and scan) and each
    /// evaluated rule's time, evaluations and hits are added to `profile` (`vigil rules
    /// profile`). Slower than `matches_with` by a clock read per rule evaluated.
    pub fn matches_profiled(
        &self,
        event: &Event,
        scratch: &mut Scratch<'_>,
        out: &mut Vec<usize>,
        profile: &mut Profile,
    ) {
        use std::time::Instant;
        if profile.rules.len() != self.rules.len() {
            profile.rules.resize(self.rules.len(), RuleCost::default());
        }
        profile.events += 1;
        let start = Instant::now();
        let candidates: Vec<u32> = if self.prefilter.scans() {
            scratch.candidates(event, |i| self.rules.get(i).is_some_and(|r| r.applies_to(&event.logsource))).to_vec()
        } else {
            (0..self.rules.len() as u32).filter(|&i| self.rules[i as usize].applies_to(&event.logsource)).collect()
        };
        profile.prefilter += start.elapsed();
        profile.candidates += candidates.len() as u64;
        for i in candidates {
            let i = i as usize;
            let Some(rule) = self.rules.get(i) else { continue };
            let start = Instant::now();
            let hit = rule.detection.matches_compiled(event) && !rule.filters.iter().any(|f| f.matches_compiled(event));
            let cost = &mut profile.rules[i];
            cost.time += start.elapsed();
            cost.evaluated += 1;
            if hit {
                cost.hits += 1;
                out.push(i);
            }
        }
    }

    /// The reference interpreter: every rule, one by one, no prefilter. Gives the same result
    /// as [`RuleSet::matches_with`] (a test holds this over SigmaHQ's rules and real events);
    /// use that one to match many events.
    pub fn matches(&self, event: &Event, out: &mut Vec<usize>) {
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.applies_to(&event.logsource)
                && rule.detection.matches(event)
                && !rule.filters.iter().any(|f| f.matches(event))
            {
                out.push(i);
            }
        }
    }
}

/// What matching a set of events cost, rule by rule ([`RuleSet::matches_profiled`]).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Events matched.
    pub events: u64,
    /// Time spent choosing the candidate rules: logsource routing and the prefilter's scan.
    pub prefilter: std::time::Duration,
    /// Rules evaluated exactly, over all events.
    pub candidates: u64,
    /// By rule index.
    pub rules: Vec<RuleCost>,
}

/// One rule's share of a [`Profile`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RuleCost {
    /// Events the rule was evaluated on (it applied to their logsource and the prefilter found
    /// one of its literals, or it has none).
    pub evaluated: u64,
    pub hits: u64,
    /// Time spent evaluating it.
    pub time: std::time::Duration,
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
            } else if matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
                && !fixtures::is_fixture(&path)
            {
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
                ("c.yml", "missing_id"),
                ("c.yml", "bad_correlation"),
                ("d.yml", "legacy_syntax"),
                ("f.yml", "duplicate_id"),
            ]
        );
        assert!(diags.iter().all(|d| !d.message.is_empty()));
    }

    const SPEC_EXAMPLE: &str = "title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
";

    #[test]
    fn correlations_load_and_chain_by_name() {
        let (set, diags) = RuleSet::compile(vec![RuleSource::new("brute.yml", SPEC_EXAMPLE)]);
        assert!(diags.iter().all(|d| d.severity != Severity::Error), "{diags:?}");
        assert_eq!(set.len(), 2);
        let c = set.correlations();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].spec.kind, CorrelationType::TemporalOrdered);
        assert_eq!(c[0].rules, vec![RuleRef::Correlation(1), RuleRef::Rule(1)]);
        assert_eq!(c[1].rules, vec![RuleRef::Rule(0)]);
        assert_eq!(c[1].spec.timespan, std::time::Duration::from_secs(600));
        assert_eq!(c[0].spec.condition.gte, Some(2.0));
        assert_eq!(set.rule(0).and_then(|r| r.name.as_deref()), Some("failed_login"));
    }

    #[test]
    fn bad_correlations_are_reported() {
        let unknown = "title: c\nid: c1\ncorrelation:\n  type: event_count\n  rules: [nowhere]\n  timespan: 5m\n  condition: {gte: 2}\n";
        let cycle = "title: a\nid: a1\nname: a\ncorrelation:\n  type: temporal\n  rules: [b, r]\n  timespan: 5m\n---\ntitle: b\nid: b1\nname: b\ncorrelation:\n  type: temporal\n  rules: [a, r]\n  timespan: 5m\n---\ntitle: r\nid: r1\nname: r\nlogsource: {product: linux}\ndetection:\n  s: {x: 1}\n  condition: s\n";
        let (set, diags) =
            RuleSet::compile(vec![RuleSource::new("u.yml", unknown), RuleSource::new("cycle.yml", cycle)]);
        assert!(set.correlations().is_empty());
        assert_eq!(set.len(), 1);
        let codes: Vec<(&str, &str)> = diags.iter().map(|d| (d.origin.as_str(), d.code)).collect();
        assert!(codes.contains(&("u.yml", "unknown_rule_reference")), "{codes:?}");
        assert_eq!(codes.iter().filter(|(_, c)| *c == "bad_correlation").count(), 2, "{codes:?}");
        let u = diags.iter().find(|d| d.code == "unknown_rule_reference").map(|d| (d.line, d.message.clone()));
        assert!(u.is_some_and(|(line, m)| line == Some(1) && m.contains("`nowhere`")));
    }

    #[test]
    fn filters_exclude_what_they_select_from_the_rules_they_name() {
        let rule = "title: Sudo\nid: s1\nlogsource: {product: linux, service: sudo}\ndetection:\n  sel: {event: command}\n  condition: sel\n";
        let filter = "title: Backups\nlogsource: {product: linux}\nfilter:\n  rules: [s1, missing]\n  selection:\n    user: backup\n  condition: selection\n";
        let wrong = "title: Windows only\nlogsource: {product: windows}\nfilter:\n  rules: [s1]\n  selection: {user: alice}\n  condition: selection\n";
        let (set, diags) = RuleSet::compile(vec![
            RuleSource::new("r.yml", rule),
            RuleSource::new("f.yml", filter),
            RuleSource::new("w.yml", wrong),
        ]);
        let codes: Vec<(&str, &str)> = diags.iter().map(|d| (d.origin.as_str(), d.code)).collect();
        assert!(
            codes.contains(&("f.yml", "unknown_rule_reference"))
                && codes.contains(&("w.yml", "filter_logsource_mismatch")),
            "{codes:?}"
        );
        let line = |user: &str| {
            format!("<85>Nov 23 10:00:00 h sudo: {user} : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls")
        };
        assert_eq!(titles(&set, &line("alice")), ["Sudo"]);
        assert!(titles(&set, &line("backup")).is_empty(), "the filter excludes backup");
    }

    /// The prefilter against the reference interpreter without the corpus: enough generated
    /// rules to build a prefilter, of every shape it treats differently.
    #[test]
    fn prefilter_agrees_with_the_reference_on_generated_rules() {
        let shapes = [
            "sel:\n    message|contains: 'failed password for {w}'\n  condition: sel",
            "sel:\n    message|startswith: 'Accepted {w}'\n  condition: sel",
            "sel:\n    user|endswith: '{w}'\n  condition: sel",
            "sel:\n    message|contains|all: ['{w}', 'port']\n  condition: sel",
            "sel:\n    message: '*from*{w}*'\n  condition: sel",
            "keywords:\n    - 'invalid user {w}'\n  condition: keywords",
            "sel:\n    message|contains: 'password'\n  filter:\n    user: '{w}'\n  condition: sel and not filter",
            "sel:\n    user|re: '^{w}$'\n  condition: sel",
            "sel:\n    src_port|gte: 50000\n    user: '{w}'\n  condition: sel",
            "sel:\n    user|cased: '{w}'\n  condition: sel",
            "a:\n    user: '{w}'\n  b:\n    src_ip|cidr: 203.0.113.0/24\n  condition: a or b",
            "sel:\n    message|contains: 'ĐĂNG NHẬP {w}'\n  condition: sel",
        ];
        let words = ["root", "alice", "bob", "oracle", "admin", "an.nguyen", "ſystem", "K8s"];
        let mut sources = Vec::new();
        for (i, shape) in shapes.iter().enumerate() {
            for (j, w) in words.iter().enumerate() {
                let detection = shape.replace("{w}", w);
                sources.push(RuleSource::new(
                    format!("g{i}_{j}.yml"),
                    format!("title: g{i}_{j}\nid: g{i}_{j}\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n  {detection}\n"),
                ));
            }
        }
        let (set, diags) = RuleSet::compile(sources);
        assert!(diags.iter().all(|d| d.severity != Severity::Error), "{diags:?}");
        assert!(set.prefilter.scans(), "{} rules make a prefilter", set.len());
        let mut scratch = set.scratch();
        let mut hits = 0;
        for user in words.iter().chain(&["ROOT", "Alice", "system", "k8s", "nobody", "đăng nhập"]) {
            for line in [
                format!("<38>Nov 23 10:00:01 h sshd[1]: Failed password for {user} from 203.0.113.9 port 52044 ssh2"),
                format!("<38>Nov 23 10:00:01 h sshd[1]: Accepted publickey for {user} from 10.0.0.1 port 22 ssh2"),
                format!("<38>Nov 23 10:00:01 h sshd[1]: Invalid user {user} from 198.51.100.1 port 60000"),
                format!("<38>Nov 23 10:00:01 h sshd[1]: Đăng nhập {user} thất bại"),
                format!("<38>Nov 23 10:00:01 h myapp: Failed password for {user} from 203.0.113.9 port 1 ssh2"),
            ] {
                let event = parse(&line);
                let (mut reference, mut fast) = (Vec::new(), Vec::new());
                set.matches(&event, &mut reference);
                set.matches_with(&event, &mut scratch, &mut fast);
                assert_eq!(reference, fast, "{line}");
                hits += fast.len();
            }
        }
        assert!(hits > 50, "the events hit the rules ({hits} hits)");
    }

    /// Keywords are matched over the message, or over every value of an event without one:
    /// values no rule names too (the prefilter scans those last, and only then).
    #[test]
    fn keywords_over_every_value_of_an_event_without_a_message() {
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
        let mut sources = Vec::new();
        for (i, shape) in [
            "keywords:\n    - 'mimikatz{w}'\n  condition: keywords",
            "sel:\n    Image|endswith: '\\{w}.exe'\n  condition: sel",
            "sel:\n    CommandLine|contains: ' /{w} '\n  condition: sel",
            "sel:\n    ParentImage|contains: '{w}'\n    User: 'x'\n  condition: sel",
            "sel:\n    CommandLine|contains|all: ['{w}', 'token']\n  condition: sel",
            "sel:\n    Image|startswith: 'C:\\{w}'\n  condition: sel",
            "sel:\n    OriginalFileName: '{w}.exe'\n  condition: sel",
            "sel:\n    Description|contains: '{w} tool'\n  condition: sel",
        ]
        .iter()
        .enumerate()
        {
            for (j, w) in words.iter().enumerate() {
                sources.push(RuleSource::new(
                    format!("k{i}_{j}.yml"),
                    format!(
                        "title: k{i}_{j}\nid: k{i}_{j}\nlogsource:\n  product: windows\ndetection:\n  {}\n",
                        shape.replace("{w}", w)
                    ),
                ));
            }
        }
        let (set, diags) = RuleSet::compile(sources);
        assert!(diags.iter().all(|d| d.severity != Severity::Error), "{diags:?}");
        assert!(set.prefilter.scans(), "{} rules make a prefilter", set.len());
        let mut scratch = set.scratch();
        let mut keyword_hits = 0;
        for w in words {
            let sysmon =
                r#""EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Image":"C:\\Windows\\cmd.exe""#;
            for line in [
                format!(r#"{{{sysmon},"Unnamed":"run MIMIKATZ{w} now"}}"#),
                format!(r#"{{{sysmon},"AlsoUnnamed":"mimikatz{w}","CommandLine":"x /{w} y"}}"#),
                format!(r#"{{{sysmon},"message":"nothing here","Unnamed":"mimikatz{w}"}}"#),
                format!(r#"{{{sysmon},"message":"mimikatz{w}","Unnamed":"x"}}"#),
                format!(r#"{{{sysmon},"message":"","Unnamed":"mimikatz{w}"}}"#),
            ] {
                let event = parse(&line);
                let (mut reference, mut fast) = (Vec::new(), Vec::new());
                set.matches(&event, &mut reference);
                set.matches_with(&event, &mut scratch, &mut fast);
                assert_eq!(reference, fast, "{line}");
                keyword_hits += fast.iter().filter(|&&r| set.rule(r).is_some_and(|m| m.id.starts_with("k0_"))).count();
            }
        }
        // Per word: the two events without a message, the one whose message has it, and the one
        // with an empty message (keywords over every value).
        assert_eq!(keyword_hits, 4 * words.len());
    }
}
