//! The alert: what vigil raises when a rule matches an event. Its JSON shape is a public
//! interface: `vigil replay` prints it and the HTTP API returns it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vigil_parsers::{Event, Fields};
use vigil_rules::RuleMeta;

/// The rule that raised an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    pub id: String,
    /// The rule's `name`, by which correlations refer to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub title: String,
    pub level: String,
    /// The rule's `status` (`stable`, `test`, `experimental`...), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
}

/// Where the event came from: a file and its 1-based line (replay), or a network transport and
/// peer address (serve).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertSource {
    /// The configured source the sender was attributed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub file: Option<String>,
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Deterministic: the same rule on the same event gives the same id, in `serve` and in
    /// `replay`, so re-ingesting a line does not duplicate its alert.
    pub id: String,
    /// The event's time, UTC.
    #[serde(with = "rfc3339")]
    pub time: DateTime<Utc>,
    pub rule: AlertRule,
    pub host: Option<String>,
    /// The sender's agency and province (from `[[sources]]`; "unassigned" for unknown senders).
    #[serde(default)]
    pub agency: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    pub fields: Fields,
    pub raw: String,
    pub source: AlertSource,
    /// For a correlation rule's alert: what made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<CorrelationInfo>,
    /// A building block: the alert of a rule that correlation rules use and that does not
    /// alert on its own (`generate: false`, Sigma's default). Kept so a correlation alert's
    /// members can be opened; not an incident by itself.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub building_block: bool,
    /// For a rule with `suppress`: the repeats counted on this alert instead of raised. An
    /// alert is raised first without it; when its suppression period ends with repeats, it is
    /// raised again with the same id and this set, and replaces the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<Suppressed>,
}

/// What a correlation alert carries about its window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationInfo {
    /// The correlation type (`event_count`, ..., `absence`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The group-by fields and their values.
    pub group: std::collections::BTreeMap<String, String>,
    /// What the condition was tested on: a count, a sum, an average, a percentage (absence:
    /// the time it waited, in seconds).
    pub value: f64,
    /// Event time of the first member.
    #[serde(with = "rfc3339")]
    pub first: DateTime<Utc>,
    /// Ids of the member alerts (rules' alerts and correlations' alerts), oldest first; the
    /// newest ones when there are more than the configured maximum.
    pub members: Vec<String>,
    /// How many members there were.
    pub member_count: u64,
}

/// Repeats counted on an alert by its rule's `suppress`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Suppressed {
    pub repeats: u64,
    /// Event time of the last repeat.
    #[serde(with = "rfc3339")]
    pub last: DateTime<Utc>,
}

impl Alert {
    pub fn new(rule: &RuleMeta, event: &Event, source: &AlertSource) -> Alert {
        let mut source = source.clone();
        source.name = event.origin.as_ref().map(|o| o.source.clone());
        Alert {
            id: alert_id(&rule.id, event),
            time: event.time,
            rule: AlertRule {
                id: rule.id.clone(),
                name: rule.name.clone(),
                title: rule.title.clone(),
                level: rule.level.as_str().to_owned(),
                status: rule.status.clone(),
                author: rule.author.clone(),
                tags: rule.tags.clone(),
            },
            host: event.host.clone(),
            agency: event.origin.as_ref().map(|o| o.agency.clone()),
            province: event.origin.as_ref().map(|o| o.province.clone()),
            fields: event.fields.clone(),
            raw: event.raw.clone(),
            source,
            correlation: None,
            building_block: false,
            suppressed: None,
        }
    }
}

impl Alert {
    /// An alert with the given id, of the rule `rule_id` (also its title), on an event known
    /// only by its time and fields: no raw line, host or origin. For feeding the correlation
    /// engine directly: tests, benchmarks, tools.
    pub fn of_fields(id: String, rule_id: &str, time: DateTime<Utc>, fields: Fields) -> Alert {
        Alert {
            id,
            time,
            rule: AlertRule {
                id: rule_id.to_owned(),
                name: None,
                title: rule_id.to_owned(),
                level: "low".to_owned(),
                status: None,
                author: None,
                tags: Vec::new(),
            },
            host: None,
            agency: None,
            province: None,
            fields,
            raw: String::new(),
            source: AlertSource::default(),
            correlation: None,
            building_block: false,
            suppressed: None,
        }
    }
}

/// SHA-256 over the rule id, event time, host and raw line; the first 16 bytes, in hex.
pub fn alert_id(rule_id: &str, event: &Event) -> String {
    let mut h = Sha256::new();
    for part in [
        rule_id.as_bytes(),
        event.time.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes(),
        event.host.as_deref().unwrap_or("").as_bytes(),
        event.raw.as_bytes(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex::encode(&h.finalize()[..16])
}

pub(crate) mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s).map(|t| t.with_timezone(&Utc)).map_err(serde::de::Error::custom)
    }
}
