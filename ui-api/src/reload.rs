//! Rule reload without a restart (`SIGHUP`, `POST /api/v1/rules/reload`).
//!
//! The rule folders are read and compiled again beside the rules in force. A reload is
//! refused, and the rules in force stay, when the new set has a problem the rules in force did
//! not have (a rule that no longer loads, a new file with an error) or loads no rule; the
//! diagnostics say why. Otherwise the detection thread swaps the set in between two batches,
//! carrying the state of every unchanged correlation over. Either way the answer, and the log,
//! give the difference: rules added, removed and changed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;
use vigil_engine::Detector;
use vigil_engine::serve::Reloader;
use vigil_rules::{Correlation, Diagnostic, RuleMeta, RuleSet, Severity};

/// The rules in force, as the API shows them.
#[derive(Debug, Default)]
pub struct RulesView {
    pub rules: Vec<RuleMeta>,
    pub correlations: Vec<Correlation>,
}

impl RulesView {
    pub fn of(set: &RuleSet) -> RulesView {
        RulesView { rules: set.iter().cloned().collect(), correlations: set.correlations().to_vec() }
    }
}

/// Shared, swappable view of the rules in force.
pub type SharedRules = Arc<RwLock<Arc<RulesView>>>;

/// Reads the rules in force (cheap: an `Arc` clone).
pub fn current(rules: &SharedRules) -> Arc<RulesView> {
    rules.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// A rule named in a reload's difference.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
}

/// What a reload did.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    /// True when the new rules are in force.
    pub reloaded: bool,
    /// Why not, when they are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Rules and correlation rules in force after the reload.
    pub rules: usize,
    pub correlations: usize,
    pub added: Vec<RuleRef>,
    pub removed: Vec<RuleRef>,
    pub changed: Vec<RuleRef>,
    /// Problems the new rules have that the rules in force did not: they refuse a reload.
    pub new_problems: Vec<Diagnostic>,
    /// Every diagnostic of the new rules (also the known ones, such as rules that never loaded).
    pub diagnostics: usize,
    /// Correlation keys carried over, and state dropped because its correlation changed or went.
    pub correlation_keys: usize,
    pub correlation_dropped: usize,
    /// The write-ahead log position of the last event matched by the old rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    pub took_ms: u64,
}

type Load = dyn Fn() -> (RuleSet, Vec<Diagnostic>) + Send + Sync;
type Build = dyn Fn(RuleSet) -> Detector + Send + Sync;

/// Loads the rules again and swaps them in. One reload at a time.
pub struct RuleReloader {
    load: Box<Load>,
    build: Box<Build>,
    engine: Reloader,
    view: SharedRules,
    state: tokio::sync::Mutex<Baseline>,
}

/// What the rules in force are: their problems and fingerprints.
pub struct Baseline {
    problems: HashSet<String>,
    fingerprints: BTreeMap<String, (u64, String)>,
}

impl Baseline {
    /// Of a rule set and the diagnostics it loaded with.
    pub fn of(set: &RuleSet, diagnostics: &[Diagnostic]) -> Baseline {
        let problems = diagnostics.iter().filter(|d| d.severity == Severity::Error).map(problem_key).collect();
        Baseline { problems, fingerprints: fingerprints(set) }
    }
}

fn problem_key(d: &Diagnostic) -> String {
    format!("{}\u{1}{}\u{1}{}", d.origin, d.code, d.message)
}

fn fingerprints(set: &RuleSet) -> BTreeMap<String, (u64, String)> {
    // Rules and correlation rules alike carry the hash of their document's text.
    set.iter()
        .chain(set.correlations().iter().map(|c| &c.meta))
        .map(|r| (r.id.clone(), (r.fingerprint, r.title.clone())))
        .collect()
}

impl RuleReloader {
    /// `load` reads and compiles the rules as at start; `build` makes a detector of them with
    /// the running sources; `baseline` is of the set in force.
    pub fn new(
        load: Box<Load>,
        build: Box<Build>,
        engine: Reloader,
        view: SharedRules,
        baseline: Baseline,
    ) -> RuleReloader {
        RuleReloader { load, build, engine, view, state: tokio::sync::Mutex::new(baseline) }
    }

    /// Reloads; the report says what happened (also logged).
    pub async fn reload(self: &Arc<Self>) -> ReloadReport {
        let started = Instant::now();
        let mut known = self.state.lock().await;
        let this = self.clone();
        // Compiling thousands of rules is seconds of CPU: off the async threads.
        let loaded = tokio::task::spawn_blocking(move || (this.load)()).await;
        let (set, diagnostics) = match loaded {
            Ok(l) => l,
            Err(e) => return self.refused(started, format!("loading the rules failed: {e}"), Vec::new(), 0),
        };
        let new_problems: Vec<Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error && !known.problems.contains(&problem_key(d)))
            .cloned()
            .collect();
        if !new_problems.is_empty() {
            let why = format!("{} rule problems that the rules in force do not have", new_problems.len());
            return self.refused(started, why, new_problems, diagnostics.len());
        }
        if set.is_empty() {
            return self.refused(started, "the new rules load no rule".into(), Vec::new(), diagnostics.len());
        }
        let baseline = Baseline::of(&set, &diagnostics);
        let fresh = &baseline.fingerprints;
        let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        for (id, (fp, title)) in fresh {
            match known.fingerprints.get(id) {
                None => added.push(RuleRef { id: id.clone(), title: title.clone() }),
                Some((old, _)) if old != fp => changed.push(RuleRef { id: id.clone(), title: title.clone() }),
                Some(_) => {}
            }
        }
        for (id, (_, title)) in &known.fingerprints {
            if !fresh.contains_key(id) {
                removed.push(RuleRef { id: id.clone(), title: title.clone() });
            }
        }
        let view = Arc::new(RulesView::of(&set));
        let this = self.clone();
        let detector = match tokio::task::spawn_blocking(move || (this.build)(set)).await {
            Ok(d) => d,
            Err(e) => return self.refused(started, format!("building the detector failed: {e}"), Vec::new(), 0),
        };
        let Some(swapped) = self.engine.swap(detector).await else {
            return self.refused(started, "the engine is stopping".into(), Vec::new(), diagnostics.len());
        };
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = view.clone();
        *known = baseline;
        let report = ReloadReport {
            reloaded: true,
            error: None,
            rules: view.rules.len(),
            correlations: view.correlations.len(),
            added,
            removed,
            changed,
            new_problems: Vec::new(),
            diagnostics: diagnostics.len(),
            correlation_keys: swapped.keys,
            correlation_dropped: swapped.dropped,
            position: Some(swapped.position),
            took_ms: started.elapsed().as_millis() as u64,
        };
        let ids = |v: &[RuleRef]| v.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(",");
        tracing::info!(
            rules = report.rules,
            correlations = report.correlations,
            added = %ids(&report.added),
            removed = %ids(&report.removed),
            changed = %ids(&report.changed),
            correlation_keys = report.correlation_keys,
            correlation_dropped = report.correlation_dropped,
            position = swapped.position,
            took_ms = report.took_ms,
            "rules reloaded"
        );
        report
    }

    fn refused(
        &self,
        started: Instant,
        error: String,
        new_problems: Vec<Diagnostic>,
        diagnostics: usize,
    ) -> ReloadReport {
        let view = current(&self.view);
        for d in &new_problems {
            tracing::warn!(problem = %d, "rule reload refused");
        }
        tracing::warn!(error = %error, "rule reload refused; the rules in force stay");
        ReloadReport {
            reloaded: false,
            error: Some(error),
            rules: view.rules.len(),
            correlations: view.correlations.len(),
            added: Vec::new(),
            removed: Vec::new(),
            changed: Vec::new(),
            new_problems,
            diagnostics,
            correlation_keys: 0,
            correlation_dropped: 0,
            position: None,
            took_ms: started.elapsed().as_millis() as u64,
        }
    }
}
