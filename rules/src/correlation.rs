//! Sigma correlation rules (`correlation:` documents): read and validated here, evaluated by the
//! engine over event time. See the Sigma correlation rules specification.
//!
//! ```yaml
//! title: Many failed logins
//! correlation:
//!     type: event_count
//!     rules: [failed_login]       # ids or names of rules or of other correlations
//!     group-by: [ComputerName]
//!     timespan: 1h                # Ns, Nm, Nh or Nd
//!     condition: {gte: 100}       # gt, gte, lt, lte, eq, neq; `field` for the value_* types
//! ```
//!
//! Two vigil extensions are read and validated here like the standard keys:
//!
//! - `type: absence`: the first rule of `rules` starts a clock for its group, any later rule
//!   of the same group stops it; when `timespan` passes in event time with no stop, the
//!   correlation fires ("a backup started and did not finish within 2h"). It takes no
//!   `condition`.
//! - `suppress: {by: [fields], for: 10m}` beside `title`, in any rule or correlation: after an
//!   alert, the alerts of the same rule with the same values of `by` within `for` are counted
//!   on the first one instead of raised.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_yaml_ng::Value as Yaml;

/// The seven correlation types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
    /// vigil's extension: the first rule with none of the others within the timespan.
    Absence,
}

impl CorrelationType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "absence" => CorrelationType::Absence,
            _ => return None,
        })
    }

    /// Whether the condition reads a `field` (the value_* types).
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
        )
    }

    /// The name as written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::Absence => "absence",
        }
    }

    /// The types that relate two or more rules.
    fn is_multi_rule(self) -> bool {
        matches!(self, CorrelationType::Temporal | CorrelationType::TemporalOrdered | CorrelationType::Absence)
    }
}

/// A correlation condition: every bound given must hold (`gt: 100` and `lte: 200` is a range).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Threshold {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gte: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lte: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eq: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neq: Option<f64>,
}

impl Threshold {
    /// Whether `v` meets every bound.
    pub fn holds(&self, v: f64) -> bool {
        self.gt.is_none_or(|b| v > b)
            && self.gte.is_none_or(|b| v >= b)
            && self.lt.is_none_or(|b| v < b)
            && self.lte.is_none_or(|b| v <= b)
            && self.eq.is_none_or(|b| v == b)
            && self.neq.is_none_or(|b| v != b)
    }

    fn is_empty(&self) -> bool {
        *self == Threshold::default()
    }
}

/// What a correlation refers to, once resolved: a detection rule or another correlation, by
/// index in the [`crate::RuleSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleRef {
    Rule(usize),
    Correlation(usize),
}

/// A validated correlation rule.
#[derive(Clone, Debug, Serialize)]
pub struct Correlation {
    pub meta: crate::RuleMeta,
    /// The `correlation` section as written.
    pub spec: Spec,
    /// `spec.rule_names`, resolved.
    pub rules: Vec<RuleRef>,
}

/// A `correlation` section, read and checked.
#[derive(Clone, Debug, Serialize)]
pub struct Spec {
    pub kind: CorrelationType,
    /// The `rules` entries as written (ids or names).
    pub rule_names: Vec<String>,
    pub group_by: Vec<String>,
    pub timespan: Duration,
    pub condition: Threshold,
    /// The field of the value_* types.
    pub field: Option<String>,
    /// alias -> (rule name -> field name).
    pub aliases: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether the referenced rules also alert on their own.
    pub generate: bool,
}

/// `Ns`, `Nm`, `Nh` or `Nd`.
pub fn parse_timespan(s: &str) -> Option<Duration> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: u64 = s[..s.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

fn strings(v: &Yaml) -> Option<Vec<String>> {
    match v {
        Yaml::String(s) => Some(vec![s.clone()]),
        Yaml::Sequence(seq) => seq.iter().map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => None,
    }
}

/// A list of names that may be absent (empty) or one name; `None` when it is something else.
fn optional_strings(v: Option<&Yaml>) -> Option<Vec<String>> {
    match v {
        None | Some(Yaml::Null) => Some(Vec::new()),
        Some(v) => strings(v),
    }
}

/// A string or a number, as text (`timespan: 5m`, or a bare number to be rejected with it).
fn scalar(v: Option<&Yaml>) -> Option<String> {
    match v {
        Some(Yaml::String(s)) => Some(s.clone()),
        Some(Yaml::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads and checks a `correlation:` section. Errors are (code, message).
pub(crate) fn parse(section: &Yaml) -> Result<Spec, (&'static str, String)> {
    let bad = |m: String| ("bad_correlation", m);
    let Yaml::Mapping(map) = section else { return Err(bad("`correlation` must be a map".into())) };
    for key in map.keys() {
        let k = key.as_str().unwrap_or_default();
        if !matches!(k, "type" | "rules" | "group-by" | "timespan" | "condition" | "aliases" | "generate") {
            return Err(bad(format!("unknown key `{k}` in `correlation`")));
        }
    }
    let kind_text = map.get("type").and_then(Yaml::as_str).ok_or_else(|| bad("`correlation` has no `type`".into()))?;
    let kind = CorrelationType::parse(kind_text).ok_or_else(|| {
        bad(format!(
            "unknown correlation `type: {kind_text}` (event_count, value_count, temporal, temporal_ordered, \
             value_sum, value_avg, value_percentile; vigil's absence)"
        ))
    })?;
    let rule_names = map
        .get("rules")
        .and_then(strings)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad("`rules` must name one or more rules".into()))?;
    if kind.is_multi_rule() && rule_names.len() < 2 {
        return Err(bad(format!("`{kind_text}` correlates two or more rules; `rules` names one")));
    }
    let group_by = optional_strings(map.get("group-by"))
        .ok_or_else(|| bad("`group-by` must be a field name or a list of them".into()))?;
    let timespan_text = scalar(map.get("timespan")).ok_or_else(|| bad("`correlation` has no `timespan`".into()))?;
    let timespan = parse_timespan(&timespan_text)
        .ok_or_else(|| bad(format!("`timespan: {timespan_text}` is not a number then s, m, h or d (`90m`)")))?;
    let mut condition = Threshold::default();
    let mut field = None;
    match map.get("condition") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(c)) => {
            for (k, v) in c {
                let k = k.as_str().unwrap_or_default();
                if k == "field" {
                    field = Some(v.as_str().ok_or_else(|| bad("`condition.field` must be a field name".into()))?);
                    continue;
                }
                let n = v.as_f64().ok_or_else(|| bad(format!("`condition.{k}` must be a number")))?;
                let slot = match k {
                    "gt" => &mut condition.gt,
                    "gte" => &mut condition.gte,
                    "lt" => &mut condition.lt,
                    "lte" => &mut condition.lte,
                    "eq" => &mut condition.eq,
                    "neq" => &mut condition.neq,
                    _ => return Err(bad(format!("unknown condition operator `{k}` (gt, gte, lt, lte, eq, neq)"))),
                };
                *slot = Some(n);
            }
        }
        Some(_) => return Err(bad("`condition` must be a map such as `gte: 10`".into())),
    }
    if kind == CorrelationType::Absence && !condition.is_empty() {
        return Err(bad("`absence` takes no `condition`: it fires when no later rule follows the first".into()));
    }
    if condition.is_empty() {
        if kind == CorrelationType::Absence {
            // Fires on its own clock; the threshold is not read.
        } else if kind.is_multi_rule() {
            // Temporal: every referenced rule must match in the window.
            condition.gte = Some(rule_names.len() as f64);
        } else {
            return Err(bad(format!("`{kind_text}` needs a `condition` such as `gte: 10`")));
        }
    }
    if kind.needs_field() && field.is_none() {
        return Err(bad(format!("`{kind_text}` needs `condition.field`: the field whose values it aggregates")));
    }
    if !kind.needs_field() && field.is_some() {
        return Err(bad(format!("`{kind_text}` takes no `condition.field`")));
    }
    let mut aliases = BTreeMap::new();
    match map.get("aliases") {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(a)) => {
            for (alias, per_rule) in a {
                let alias = alias.as_str().ok_or_else(|| bad("alias names must be strings".into()))?;
                let Yaml::Mapping(per_rule) = per_rule else {
                    return Err(bad(format!("alias `{alias}` must map rule names to field names")));
                };
                let mut fields = BTreeMap::new();
                for (rule, f) in per_rule {
                    let (Some(rule), Some(f)) = (rule.as_str(), f.as_str()) else {
                        return Err(bad(format!("alias `{alias}` must map rule names to field names")));
                    };
                    if !rule_names.iter().any(|r| r == rule) {
                        return Err(bad(format!("alias `{alias}` names rule `{rule}`, which `rules` does not list")));
                    }
                    fields.insert(rule.to_owned(), f.to_owned());
                }
                aliases.insert(alias.to_owned(), fields);
            }
        }
        Some(_) => return Err(bad("`aliases` must be a map".into())),
    }
    let generate = match map.get("generate") {
        None | Some(Yaml::Null) => false,
        Some(Yaml::Bool(b)) => *b,
        Some(_) => return Err(bad("`generate` must be true or false".into())),
    };
    Ok(Spec { kind, rule_names, group_by, timespan, condition, field: field.map(str::to_owned), aliases, generate })
}

/// vigil's `suppress` extension, read and checked: see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suppress {
    /// Fields whose values together name one incident; empty: every alert of the rule.
    pub by: Vec<String>,
    /// How long after an alert its repeats are counted rather than raised.
    #[serde(rename = "for")]
    pub period: Duration,
}

/// Reads a `suppress` section. Errors are (code, message).
pub(crate) fn parse_suppress(section: &Yaml) -> Result<Suppress, (&'static str, String)> {
    let bad = |m: String| ("bad_suppress", m);
    let Yaml::Mapping(map) = section else {
        return Err(bad("`suppress` must be a map such as `{by: [User], for: 10m}`".into()));
    };
    for key in map.keys() {
        let k = key.as_str().unwrap_or_default();
        if !matches!(k, "by" | "for") {
            return Err(bad(format!("unknown key `{k}` in `suppress` (by, for)")));
        }
    }
    let by = optional_strings(map.get("by"))
        .ok_or_else(|| bad("`suppress.by` must be a field name or a list of them".into()))?;
    let text = scalar(map.get("for")).ok_or_else(|| bad("`suppress` has no `for` (how long, such as `10m`)".into()))?;
    let period = parse_timespan(&text)
        .ok_or_else(|| bad(format!("`suppress.for: {text}` is not a number then s, m, h or d")))?;
    Ok(Suppress { by, period })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Yaml {
        serde_yaml_ng::from_str(s).unwrap_or(Yaml::Null)
    }

    #[test]
    fn absence_and_suppress() {
        let p = parse(&yaml("type: absence\nrules: [start, done]\ngroup-by: [host]\ntimespan: 2h"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((p.kind, p.timespan), (CorrelationType::Absence, Duration::from_secs(7200)));
        let s = parse_suppress(&yaml("by: [User, host]\nfor: 10m")).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s, Suppress { by: vec!["User".into(), "host".into()], period: Duration::from_secs(600) });
        let s = parse_suppress(&yaml("for: 30s")).unwrap_or_else(|e| panic!("{e:?}"));
        assert!(s.by.is_empty());
        for (text, why) in [
            ("by: [a]", "no `for`"),
            ("by: [a]\nfor: soon", "suppress.for: soon"),
            ("by: {a: 1}\nfor: 1m", "suppress.by"),
            ("for: 1m\nuntil: 2m", "unknown key `until`"),
            ("[a]", "must be a map"),
        ] {
            let e = parse_suppress(&yaml(text)).err().map(|(_, m)| m).unwrap_or_default();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_timespan("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse_timespan("30s"), Some(Duration::from_secs(30)));
        for bad in ["", "m", "5", "5x", "0m", "-5m", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
    }

    #[test]
    fn thresholds_are_ranges() {
        let t = Threshold { gt: Some(100.0), lte: Some(200.0), ..Threshold::default() };
        assert!(!t.holds(100.0) && t.holds(101.0) && t.holds(200.0) && !t.holds(201.0));
        let t = Threshold { neq: Some(3.0), ..Threshold::default() };
        assert!(t.holds(2.0) && !t.holds(3.0));
    }

    #[test]
    fn valid_and_invalid_sections() {
        let p = parse(&yaml(
            "type: value_count\nrules: [a]\ngroup-by: [h]\ntimespan: 1d\ncondition: {field: User, gte: 100}",
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            (p.kind, p.field.as_deref(), p.condition.gte),
            (CorrelationType::ValueCount, Some("User"), Some(100.0))
        );
        let p = parse(&yaml("type: temporal_ordered\nrules: [a, b, c]\ngroup-by: [h]\ntimespan: 5m"))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(p.condition.gte, Some(3.0), "temporal without a condition needs every rule");

        for (text, why) in [
            ("type: counting\nrules: [a]\ntimespan: 1h\ncondition: {gte: 1}", "unknown correlation"),
            ("type: event_count\ntimespan: 1h\ncondition: {gte: 1}", "`rules`"),
            ("type: event_count\nrules: [a]\ncondition: {gte: 1}", "no `timespan`"),
            ("type: event_count\nrules: [a]\ntimespan: 1y\ncondition: {gte: 1}", "timespan: 1y"),
            ("type: event_count\nrules: [a]\ntimespan: 1h", "needs a `condition`"),
            ("type: event_count\nrules: [a]\ntimespan: 1h\ncondition: {ge: 1}", "unknown condition operator `ge`"),
            ("type: value_count\nrules: [a]\ntimespan: 1h\ncondition: {gte: 1}", "needs `condition.field`"),
            ("type: event_count\nrules: [a]\ntimespan: 1h\ncondition: {gte: 1, field: x}", "takes no"),
            ("type: temporal\nrules: [a]\ntimespan: 1h", "two or more"),
            ("type: event_count\nrules: [a]\ntimespan: 1h\ncondition: {gte: 1}\nextra: 1", "unknown key `extra`"),
            ("type: temporal\nrules: [a, b]\ntimespan: 1h\naliases: {ip: {c: src}}", "does not list"),
            ("type: absence\nrules: [a]\ntimespan: 2h", "two or more"),
            ("type: absence\nrules: [a, b]\ntimespan: 2h\ncondition: {gte: 1}", "takes no `condition`"),
        ] {
            let e = parse(&yaml(text)).err().map(|(_, m)| m).unwrap_or_default();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
