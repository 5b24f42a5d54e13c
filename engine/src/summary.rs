//! What an offline run found, for the rule author's end-of-run summary (`vigil replay`): alerts
//! by level, by rule and by host, the first and last alert and event, the files read and
//! damaged, the throughput. The binary prints it, as text or one JSON object.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::alert::Alert;
use crate::pipeline::Mark;
use crate::replay::{FileRead, Files};
use crate::stats::Stats;

/// The alerts and events of a run, counted as they are written.
#[derive(Debug, Default)]
pub struct Tally {
    lines: u64,
    alerts: u64,
    building_blocks: u64,
    levels: Levels,
    /// By rule id: title, level and count.
    rules: HashMap<String, (String, String, u64)>,
    hosts: HashMap<String, u64>,
    alert_times: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Nanoseconds since the epoch.
    event_times: Option<(i64, i64)>,
}

/// Alerts by Sigma level.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Levels {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub informational: u64,
}

impl Levels {
    fn count(&mut self, level: &str) {
        match level {
            "critical" => self.critical += 1,
            "high" => self.high += 1,
            "medium" => self.medium += 1,
            "low" => self.low += 1,
            _ => self.informational += 1,
        }
    }
}

/// A rule and how many alerts it raised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    pub id: String,
    pub title: String,
    pub level: String,
    pub alerts: u64,
}

/// A host and how many alerts its events raised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostCount {
    pub host: String,
    pub alerts: u64,
}

/// The end-of-run summary.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub files_read: u64,
    pub files_evtx: u64,
    pub files_damaged: u64,
    /// Lines and EVTX records read.
    pub events_read: u64,
    /// Events parsed and matched (empty lines are not events).
    pub events: u64,
    /// Alerts raised: one per alert id (a suppressed alert raised again replaces itself), not
    /// counting building blocks.
    pub alerts: u64,
    /// Alert lines written (with building blocks and replacements).
    pub alert_lines: u64,
    pub building_blocks: u64,
    pub levels: Levels,
    /// The rules with the most alerts, most first.
    pub rules: Vec<RuleCount>,
    /// How many rules raised alerts in all.
    pub rules_hit: u64,
    /// The hosts with the most alerts, most first.
    pub hosts: Vec<HostCount>,
    pub hosts_hit: u64,
    /// Event time of the first and last alerts, and of the first and last events.
    pub first_alert: Option<DateTime<Utc>>,
    pub last_alert: Option<DateTime<Utc>>,
    pub first_event: Option<DateTime<Utc>>,
    pub last_event: Option<DateTime<Utc>>,
    pub seconds: f64,
    pub events_per_second: f64,
    /// Problems by reason (unparsable lines, damaged EVTX chunks, ...).
    pub problems: BTreeMap<String, u64>,
    /// The files with problems, each with its problems by reason.
    pub damaged: Vec<FileRead>,
}

fn widen(range: &mut Option<(DateTime<Utc>, DateTime<Utc>)>, t: DateTime<Utc>) {
    *range = Some(match *range {
        None => (t, t),
        Some((first, last)) => (first.min(t), last.max(t)),
    });
}

impl Tally {
    /// Counts an alert as it is written.
    pub fn alert(&mut self, alert: &Alert) {
        self.lines += 1;
        if alert.suppressed.is_some() {
            // The same alert again, with its repeats: counted when it was first raised.
            return;
        }
        if alert.building_block {
            self.building_blocks += 1;
            return;
        }
        self.alerts += 1;
        self.levels.count(&alert.rule.level);
        match self.rules.get_mut(&alert.rule.id) {
            Some(rule) => rule.2 += 1,
            None => {
                let rule = (alert.rule.title.clone(), alert.rule.level.clone(), 1);
                self.rules.insert(alert.rule.id.clone(), rule);
            }
        }
        let host = alert.host.as_deref().unwrap_or("-");
        match self.hosts.get_mut(host) {
            Some(n) => *n += 1,
            None => {
                self.hosts.insert(host.to_owned(), 1);
            }
        }
        widen(&mut self.alert_times, alert.time);
    }

    /// Notes the times of a batch's events.
    pub fn events(&mut self, marks: &[(Mark, u32)]) {
        for (mark, _) in marks {
            self.event_times = Some(match self.event_times {
                None => (mark.time, mark.time),
                Some((first, last)) => (first.min(mark.time), last.max(mark.time)),
            });
        }
    }

    /// Alert lines written so far.
    pub fn alert_lines(&self) -> u64 {
        self.lines
    }

    /// The summary, with the `top` rules and hosts.
    pub fn summary(&self, files: &Files, stats: &Stats, elapsed: std::time::Duration, top: usize) -> Summary {
        let snap = stats.snapshot();
        let mut rules: Vec<RuleCount> = self
            .rules
            .iter()
            .map(|(id, (title, level, alerts))| RuleCount {
                id: id.clone(),
                title: title.clone(),
                level: level.clone(),
                alerts: *alerts,
            })
            .collect();
        rules.sort_by(|a, b| b.alerts.cmp(&a.alerts).then_with(|| a.id.cmp(&b.id)));
        rules.truncate(top);
        let mut hosts: Vec<HostCount> =
            self.hosts.iter().map(|(host, alerts)| HostCount { host: host.clone(), alerts: *alerts }).collect();
        hosts.sort_by(|a, b| b.alerts.cmp(&a.alerts).then_with(|| a.host.cmp(&b.host)));
        hosts.truncate(top);
        let time = |ns: i64| DateTime::from_timestamp_nanos(ns);
        let seconds = elapsed.as_secs_f64();
        Summary {
            files_read: files.read,
            files_evtx: files.evtx,
            files_damaged: files.damaged.len() as u64,
            events_read: snap.received,
            events: snap.processed,
            alerts: self.alerts,
            alert_lines: self.lines,
            building_blocks: self.building_blocks,
            levels: self.levels.clone(),
            rules,
            rules_hit: self.rules.len() as u64,
            hosts,
            hosts_hit: self.hosts.len() as u64,
            first_alert: self.alert_times.map(|t| t.0),
            last_alert: self.alert_times.map(|t| t.1),
            first_event: self.event_times.map(|t| time(t.0)),
            last_event: self.event_times.map(|t| time(t.1)),
            seconds,
            events_per_second: if seconds > 0.0 { snap.processed as f64 / seconds } else { 0.0 },
            problems: snap.errors,
            damaged: files.damaged.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, level: &str, host: &str, time: &str) -> Alert {
        let t = DateTime::parse_from_rfc3339(time).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        let mut a = Alert::of_fields(format!("{rule}-{time}"), rule, t, Default::default());
        a.rule.level = level.to_owned();
        a.host = Some(host.to_owned());
        a
    }

    #[test]
    fn the_summary_counts_alerts_by_level_rule_and_host_once_each() {
        let mut tally = Tally::default();
        tally.alert(&alert("b", "high", "ws01", "2026-11-23T03:00:02Z"));
        tally.alert(&alert("a", "high", "ws02", "2026-11-23T03:00:01Z"));
        tally.alert(&alert("b", "high", "ws01", "2026-11-23T03:00:05Z"));
        tally.alert(&alert("c", "critical", "ws01", "2026-11-23T03:00:03Z"));
        // A suppressed alert raised again replaces itself; a building block is no incident.
        let mut again = alert("c", "critical", "ws01", "2026-11-23T03:00:03Z");
        again.suppressed = Some(crate::alert::Suppressed { repeats: 3, last: again.time });
        tally.alert(&again);
        let mut block = alert("d", "low", "ws03", "2026-11-23T03:00:00Z");
        block.building_block = true;
        tally.alert(&block);

        let s = tally.summary(&Files::default(), &Stats::default(), std::time::Duration::from_secs(1), 2);
        assert_eq!((s.alerts, s.alert_lines, s.building_blocks), (4, 6, 1));
        assert_eq!(s.levels, Levels { critical: 1, high: 3, ..Levels::default() });
        let rules: Vec<(&str, u64)> = s.rules.iter().map(|r| (r.id.as_str(), r.alerts)).collect();
        assert_eq!(rules, [("b", 2), ("a", 1)], "most first, ties by id, top 2");
        assert_eq!(s.rules_hit, 3);
        let hosts: Vec<(&str, u64)> = s.hosts.iter().map(|h| (h.host.as_str(), h.alerts)).collect();
        assert_eq!(hosts, [("ws01", 3), ("ws02", 1)]);
        assert_eq!(s.first_alert.map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-23T03:00:01+00:00"));
        assert_eq!(s.last_alert.map(|t| t.to_rfc3339()).as_deref(), Some("2026-11-23T03:00:05+00:00"));
    }
}
