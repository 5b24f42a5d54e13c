//! Counts of alerts by field (facets) and over time (a histogram with an automatic interval),
//! over the same query, time range and scope as a search.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// What alerts can be counted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Facet {
    Province,
    Agency,
    Source,
    Rule,
    Level,
    Tactic,
    Technique,
    Host,
    User,
    Status,
    Assignee,
    Kind,
}

impl Facet {
    pub const ALL: &[Facet] = &[
        Facet::Province,
        Facet::Agency,
        Facet::Source,
        Facet::Rule,
        Facet::Level,
        Facet::Tactic,
        Facet::Technique,
        Facet::Host,
        Facet::User,
        Facet::Status,
        Facet::Assignee,
        Facet::Kind,
    ];

    /// What an aggregation counts when it names no facet: the analysts' overview.
    pub const DEFAULT: &[Facet] = &[
        Facet::Province,
        Facet::Agency,
        Facet::Rule,
        Facet::Level,
        Facet::Tactic,
        Facet::Technique,
        Facet::Host,
        Facet::Status,
    ];

    /// The facet's name in requests and answers.
    pub fn name(self) -> &'static str {
        match self {
            Facet::Province => "province",
            Facet::Agency => "agency",
            Facet::Source => "source",
            Facet::Rule => "rule",
            Facet::Level => "level",
            Facet::Tactic => "tactic",
            Facet::Technique => "technique",
            Facet::Host => "host",
            Facet::User => "user",
            Facet::Status => "status",
            Facet::Assignee => "assignee",
            Facet::Kind => "kind",
        }
    }

    pub fn from_name(name: &str) -> Option<Facet> {
        Facet::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The index field counted.
    fn field(self) -> &'static str {
        match self {
            Facet::Rule => "rule_id",
            other => other.name(),
        }
    }
}

/// An aggregation request.
#[derive(Clone, Debug, Default)]
pub struct AggQuery {
    pub search: super::AlertQuery,
    pub facets: Vec<Facet>,
    /// Buckets per facet (most alerts first).
    pub size: usize,
    /// Whether to count alerts over time too.
    pub histogram: bool,
}

/// Largest `size` of a facet.
pub const MAX_FACET_SIZE: usize = 1000;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bucket {
    pub key: String,
    pub count: u64,
    /// For the rule facet: the rule's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FacetCounts {
    pub buckets: Vec<Bucket>,
    /// Alerts with a value outside the buckets shown.
    pub other: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeBucket {
    #[serde(with = "crate::alert::rfc3339")]
    pub time: DateTime<Utc>,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    /// The bucket width, as `30s`, `5m`, `1h`, `1d`.
    pub interval: String,
    pub interval_ms: u64,
    pub buckets: Vec<TimeBucket>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AggResult {
    /// Alerts matched.
    pub total: u64,
    pub facets: BTreeMap<&'static str, FacetCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Histogram>,
}

/// Bucket widths the histogram chooses from.
const INTERVALS: &[(u64, &str)] = &[
    (1_000, "1s"),
    (5_000, "5s"),
    (10_000, "10s"),
    (30_000, "30s"),
    (60_000, "1m"),
    (300_000, "5m"),
    (600_000, "10m"),
    (1_800_000, "30m"),
    (3_600_000, "1h"),
    (10_800_000, "3h"),
    (21_600_000, "6h"),
    (43_200_000, "12h"),
    (86_400_000, "1d"),
    (604_800_000, "7d"),
    (2_592_000_000, "30d"),
];

/// Most buckets a histogram has.
pub const MAX_BUCKETS: u64 = 120;

/// The smallest interval that covers `span_ms` in at most [`MAX_BUCKETS`] buckets.
pub fn interval_for(span_ms: u64) -> (u64, &'static str) {
    INTERVALS.iter().copied().find(|(ms, _)| span_ms / ms < MAX_BUCKETS).unwrap_or(INTERVALS[INTERVALS.len() - 1])
}

/// The tantivy (Elasticsearch-style) aggregation request.
pub(crate) fn request(facets: &[Facet], size: usize, histogram: Option<(u64, i64, i64)>) -> Value {
    let mut aggs = serde_json::Map::new();
    for facet in facets {
        let mut terms = json!({ "terms": { "field": facet.field(), "size": size } });
        if *facet == Facet::Rule {
            terms["aggs"] = json!({ "title": { "terms": { "field": "rule_title", "size": 1 } } });
        }
        aggs.insert(facet.name().to_owned(), terms);
    }
    if let Some((interval, min, max)) = histogram {
        aggs.insert(
            "histogram".to_owned(),
            json!({ "date_histogram": {
                "field": "time",
                "fixed_interval": format!("{interval}ms"),
                "min_doc_count": 0,
                "extended_bounds": { "min": min, "max": max },
                "hard_bounds": { "min": min, "max": max },
            }}),
        );
    }
    Value::Object(aggs)
}

/// Reads tantivy's answer.
pub(crate) fn read(facets: &[Facet], result: &Value, histogram: Option<(u64, &'static str)>) -> AggResult {
    let mut out = AggResult { total: 0, facets: BTreeMap::new(), histogram: None };
    for facet in facets {
        let agg = &result[facet.name()];
        let buckets = agg["buckets"]
            .as_array()
            .map(|b| {
                b.iter()
                    .map(|b| Bucket {
                        key: match &b["key"] {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        },
                        count: b["doc_count"].as_u64().unwrap_or(0),
                        title: b["title"]["buckets"][0]["key"].as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let other = agg["sum_other_doc_count"].as_u64().unwrap_or(0);
        out.facets.insert(facet.name(), FacetCounts { buckets, other });
    }
    if let Some((interval_ms, interval)) = histogram {
        let buckets = result["histogram"]["buckets"]
            .as_array()
            .map(|b| {
                b.iter()
                    .filter_map(|b| {
                        let ms = b["key"].as_f64()? as i64;
                        Some(TimeBucket {
                            time: DateTime::from_timestamp_millis(ms)?,
                            count: b["doc_count"].as_u64().unwrap_or(0),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.histogram = Some(Histogram { interval: interval.to_owned(), interval_ms, buckets });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_keep_the_histogram_readable() {
        assert_eq!(interval_for(0).1, "1s");
        assert_eq!(interval_for(60_000).1, "1s");
        assert_eq!(interval_for(3_600_000).1, "1m");
        assert_eq!(interval_for(86_400_000).1, "30m");
        assert_eq!(interval_for(29 * 86_400_000).1, "6h");
        assert_eq!(interval_for(30 * 86_400_000).1, "12h");
        assert_eq!(interval_for(u64::MAX).1, "30d");
        for span in [1u64, 999, 119_999, 7_200_000, 90 * 86_400_000] {
            let (ms, _) = interval_for(span);
            assert!(span / ms < MAX_BUCKETS, "{span}");
        }
    }

    #[test]
    fn facet_names_round_trip() {
        for f in Facet::ALL {
            assert_eq!(Facet::from_name(f.name()), Some(*f));
        }
        assert_eq!(Facet::from_name("password"), None);
    }
}
