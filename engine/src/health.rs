//! Source health: what each source (a configured `[[sources]]` entry, or `unassigned`) sent,
//! when it last sent, at what rate, and whether it has gone silent.
//!
//! Each source has an expected activity: configured (`expect_every` on the source), or learned
//! from its traffic (`learn_factor` times its mean gap between events, once it has sent
//! `learn_after` events), never less than `min_silence`. A source quiet past it is *silent*;
//! going silent raises an internal alert, `Log Source Silent`, stored and searchable like any
//! alert and scoped to the source's agency and province. Its id is derived from the source and
//! the time of its last event, so one silence raises one alert.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use vigil_parsers::{Fields, Value};

use crate::alert::{Alert, AlertRule, AlertSource};
use crate::sources::SourceMap;

/// The id of the internal rule of silent-source alerts.
pub const SILENT_RULE_ID: &str = "2d3c8b1e-5a7f-4e96-b0c4-7f1e9a6d3c20";
pub const SILENT_RULE_TITLE: &str = "Log Source Silent";

#[derive(Clone, Debug)]
pub struct HealthSettings {
    pub min_silence: Duration,
    pub learn_factor: f64,
    pub learn_after: u64,
}

/// A source's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Nothing received since vigil started.
    NeverSeen,
    Active,
    /// Quiet past its expected activity.
    Silent,
}

/// One source as `GET /api/v1/sources` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct SourceView {
    pub name: String,
    pub agency: String,
    pub province: String,
    pub state: State,
    pub events: u64,
    pub bytes: u64,
    /// UDP datagrams of this source dropped because the pipeline was full.
    pub dropped: u64,
    /// When its last event was received, and that event's own time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_received: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_event_time: Option<String>,
    /// Events per second, smoothed over about a minute.
    pub rate: f64,
    /// How long it may be quiet before it is silent (seconds), and whether that is configured
    /// or learned (`None` while still learning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_within_secs: Option<u64>,
    pub expectation: &'static str,
}

#[derive(Debug)]
struct Entry {
    agency: String,
    province: String,
    configured: Option<Duration>,
    events: u64,
    bytes: u64,
    dropped: u64,
    first_received: Option<DateTime<Utc>>,
    last_received: Option<DateTime<Utc>>,
    last_event_time: Option<DateTime<Utc>>,
    /// Events counted since the last rate update, and the smoothed rate.
    recent: u64,
    rate: f64,
    silent: bool,
}

/// Per-source counters and health, shared by the pipeline and the API.
#[derive(Debug)]
pub struct SourceHealth {
    settings: HealthSettings,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    entries: BTreeMap<String, Entry>,
    last_tick: Option<DateTime<Utc>>,
}

/// What one batch did for a source.
#[derive(Debug, Default)]
pub struct Seen {
    pub events: u64,
    pub bytes: u64,
    pub newest_event: Option<DateTime<Utc>>,
}

impl SourceHealth {
    /// Every configured source is listed from the start (as never seen).
    pub fn new(sources: &SourceMap, expect: &BTreeMap<String, Duration>, settings: HealthSettings) -> SourceHealth {
        let mut entries = BTreeMap::new();
        // Configured sources are listed from the start; unknown senders once they send.
        for origin in sources.origins().filter(|o| !Arc::ptr_eq(o, sources.unknown_origin())) {
            let configured = expect.get(&origin.source).copied();
            entries.insert(origin.source.clone(), Entry::new(&origin.agency, &origin.province, configured));
        }
        SourceHealth { settings, table: Mutex::new(Table { entries, last_tick: None }) }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a batch's events of each source (by name, with its agency and province).
    pub fn record<'a>(&self, now: DateTime<Utc>, seen: impl IntoIterator<Item = (&'a vigil_parsers::Origin, Seen)>) {
        let mut table = self.table();
        for (origin, s) in seen {
            let e = table
                .entries
                .entry(origin.source.clone())
                .or_insert_with(|| Entry::new(&origin.agency, &origin.province, None));
            e.events += s.events;
            e.bytes += s.bytes;
            e.recent += s.events;
            e.first_received.get_or_insert(now);
            e.last_received = Some(now);
            if let Some(t) = s.newest_event {
                e.last_event_time = Some(e.last_event_time.map_or(t, |old| old.max(t)));
            }
            // A silent source that speaks again is active; a later silence alerts again.
            e.silent = false;
        }
    }

    /// Counts a dropped datagram of a source (`None`: not attributed yet, `unassigned`).
    pub fn dropped(&self, source: Option<&vigil_parsers::Origin>, unknown: &vigil_parsers::Origin) {
        let origin = source.unwrap_or(unknown);
        let mut table = self.table();
        table
            .entries
            .entry(origin.source.clone())
            .or_insert_with(|| Entry::new(&origin.agency, &origin.province, None))
            .dropped += 1;
    }

    /// Updates rates and states; returns an alert for each source that went silent now.
    pub fn check(&self, now: DateTime<Utc>) -> Vec<Alert> {
        let mut table = self.table();
        let elapsed = table.last_tick.map(|t| (now - t).to_std().unwrap_or_default()).unwrap_or_default();
        table.last_tick = Some(now);
        let mut alerts = Vec::new();
        for (name, e) in table.entries.iter_mut() {
            if !elapsed.is_zero() {
                let instant = e.recent as f64 / elapsed.as_secs_f64();
                // A one-minute exponential average.
                let alpha = 1.0 - (-elapsed.as_secs_f64() / 60.0).exp();
                e.rate += alpha * (instant - e.rate);
                e.recent = 0;
            }
            let (Some(last), Some(expected)) = (e.last_received, e.expected(&self.settings)) else { continue };
            let quiet = (now - last).to_std().unwrap_or_default();
            if quiet > expected && !e.silent {
                e.silent = true;
                alerts.push(silent_alert(name, e, quiet, expected, now));
            }
        }
        alerts
    }

    /// Every source, by name.
    pub fn list(&self) -> Vec<SourceView> {
        let table = self.table();
        table
            .entries
            .iter()
            .map(|(name, e)| {
                let expected = e.expected(&self.settings);
                let rfc = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
                SourceView {
                    name: name.clone(),
                    agency: e.agency.clone(),
                    province: e.province.clone(),
                    state: match (e.last_received, e.silent) {
                        (None, _) => State::NeverSeen,
                        (Some(_), true) => State::Silent,
                        (Some(_), false) => State::Active,
                    },
                    events: e.events,
                    bytes: e.bytes,
                    dropped: e.dropped,
                    last_received: rfc(e.last_received),
                    last_event_time: rfc(e.last_event_time),
                    rate: (e.rate * 1000.0).round() / 1000.0,
                    expected_within_secs: expected.map(|d| d.as_secs()),
                    expectation: match (e.configured, expected) {
                        (Some(_), _) => "configured",
                        (None, Some(_)) => "learned",
                        (None, None) => "learning",
                    },
                }
            })
            .collect()
    }
}

impl Entry {
    fn new(agency: &str, province: &str, configured: Option<Duration>) -> Entry {
        Entry {
            agency: agency.to_owned(),
            province: province.to_owned(),
            configured,
            events: 0,
            bytes: 0,
            dropped: 0,
            first_received: None,
            last_received: None,
            last_event_time: None,
            recent: 0,
            rate: 0.0,
            silent: false,
        }
    }

    /// How long it may be quiet: configured, or learned once it has sent enough.
    fn expected(&self, s: &HealthSettings) -> Option<Duration> {
        if let Some(c) = self.configured {
            return Some(c);
        }
        if self.events < s.learn_after.max(2) {
            return None;
        }
        let span = (self.last_received? - self.first_received?).to_std().ok()?;
        let gap = span.as_secs_f64() / (self.events - 1) as f64;
        Some(Duration::from_secs_f64(gap * s.learn_factor).max(s.min_silence))
    }
}

fn silent_alert(name: &str, e: &Entry, quiet: Duration, expected: Duration, now: DateTime<Utc>) -> Alert {
    let last = e.last_received.unwrap_or(now);
    let mut h = Sha256::new();
    h.update(SILENT_RULE_ID.as_bytes());
    h.update([0]);
    h.update(name.as_bytes());
    h.update([0]);
    h.update(last.to_rfc3339_opts(SecondsFormat::Nanos, true).as_bytes());
    let id = hex::encode(&h.finalize()[..16]);
    let last_text = last.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut fields = Fields::new();
    fields.insert("source".into(), Value::from(name));
    fields.insert("last_received".into(), Value::from(last_text.as_str()));
    fields.insert("quiet_secs".into(), Value::from(quiet.as_secs().to_string().as_str()));
    fields.insert("expected_within_secs".into(), Value::from(expected.as_secs().to_string().as_str()));
    let raw = format!(
        "log source {name} ({}, {}) silent: nothing received since {last_text}, {} s; expected within {} s",
        e.agency,
        e.province,
        quiet.as_secs(),
        expected.as_secs()
    );
    fields.insert("message".into(), Value::from(raw.as_str()));
    Alert {
        id,
        time: now,
        rule: AlertRule {
            id: SILENT_RULE_ID.to_owned(),
            name: Some("vigil_log_source_silent".to_owned()),
            title: SILENT_RULE_TITLE.to_owned(),
            level: "medium".to_owned(),
            status: Some("stable".to_owned()),
            author: Some("vigil".to_owned()),
            tags: vec!["vigil.health".to_owned()],
        },
        host: None,
        agency: Some(e.agency.clone()),
        province: Some(e.province.clone()),
        fields,
        raw,
        source: AlertSource { name: Some(name.to_owned()), ..AlertSource::default() },
        correlation: None,
        building_block: false,
        suppressed: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{SourceConfig, UnknownAction, UnknownSourcesConfig};

    fn health(expect: &[(&str, u64)]) -> (SourceHealth, SourceMap) {
        let configs = vec![SourceConfig {
            name: "hue-portal".into(),
            agency: "So TTTT Hue".into(),
            province: "Hue".into(),
            matches: vec!["10.0.0.0/8".into()],
            timezone: None,
            format: None,
            expect_every: None,
        }];
        let unknown = UnknownSourcesConfig { action: UnknownAction::Assign, agency: "u".into(), province: "u".into() };
        let map = SourceMap::new(&configs, &unknown, vigil_parsers::DEFAULT_TZ).expect("sources");
        let expect = expect.iter().map(|(n, s)| (n.to_string(), Duration::from_secs(*s))).collect();
        let settings = HealthSettings { min_silence: Duration::from_secs(60), learn_factor: 10.0, learn_after: 5 };
        (SourceHealth::new(&map, &expect, settings), map)
    }

    fn origin(map: &SourceMap) -> std::sync::Arc<vigil_parsers::Origin> {
        map.by_name("hue-portal").map(|s| s.origin.clone()).expect("source")
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).expect("time")
    }

    #[test]
    fn a_configured_source_goes_silent_once_and_recovers() {
        let (h, map) = health(&[("hue-portal", 300)]);
        assert_eq!(h.list()[0].state, State::NeverSeen);
        assert!(h.check(at(10_000)).is_empty(), "never seen: nothing to miss");
        let o = origin(&map);
        h.record(at(0), [(&*o, Seen { events: 3, bytes: 300, newest_event: Some(at(-1)) })]);
        assert!(h.check(at(299)).is_empty());
        let alerts = h.check(at(301));
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!((a.rule.title.as_str(), a.province.as_deref()), (SILENT_RULE_TITLE, Some("Hue")));
        assert!(a.raw.contains("hue-portal"), "{}", a.raw);
        assert!(h.check(at(900)).is_empty(), "one alert per silence");
        assert_eq!(h.list()[0].state, State::Silent);
        // Back, then silent again: a new alert with another id.
        h.record(at(1000), [(&*o, Seen { events: 1, bytes: 10, newest_event: None })]);
        assert_eq!(h.list()[0].state, State::Active);
        let again = h.check(at(1400));
        assert_eq!(again.len(), 1);
        assert_ne!(again[0].id, a.id);
    }

    #[test]
    fn expectations_are_learned_from_the_traffic() {
        let (h, map) = health(&[]);
        let o = origin(&map);
        // One event every 20 s: learned, 10 x 20 s = 200 s (above the 60 s floor).
        for i in 0..10 {
            h.record(at(i * 20), [(&*o, Seen { events: 1, bytes: 1, newest_event: None })]);
        }
        let view = &h.list()[0];
        assert_eq!((view.expectation, view.expected_within_secs), ("learned", Some(200)));
        assert!(h.check(at(180 + 199)).is_empty());
        assert_eq!(h.check(at(180 + 201)).len(), 1);
    }
}
