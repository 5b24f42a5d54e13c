//! Detection shared by `serve` and `replay`: bytes in, alerts out. Both paths call
//! [`Detector::detect`], so they raise the same alerts for the same line.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rayon::prelude::*;
use vigil_parsers::{InputFormat, ParseContext};
use vigil_rules::RuleSet;

use crate::alert::{Alert, AlertSource};
use crate::stats::Stats;

/// One message to detect on.
#[derive(Clone, Debug)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub received: DateTime<Utc>,
    pub source: AlertSource,
}

/// Parses messages and matches them against an immutable rule set.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    format: InputFormat,
    tz: Tz,
}

impl Detector {
    pub fn new(rules: RuleSet, format: InputFormat, tz: Tz) -> Self {
        Detector { rules, format, tz }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Parses one message and returns the alerts it raises. A message no grammar reads is
    /// counted and still matched, as an unparsed event, so keyword rules see it.
    /// Returns `None` for an empty message, which is skipped.
    pub fn detect(&self, input: &Input, stats: &Stats) -> Option<Vec<Alert>> {
        let ctx = ParseContext { received: input.received, tz: self.tz, origin: None };
        let event = match vigil_parsers::parse(&input.bytes, &ctx, self.format) {
            Ok(e) => e,
            Err(vigil_parsers::ParseError::Empty) => return None,
            Err(e) => {
                stats.error(e.reason());
                vigil_parsers::unparsed(&input.bytes, &ctx)
            }
        };
        let mut hits = Vec::new();
        self.rules.matches(&event, &mut hits);
        Some(
            hits.iter()
                .filter_map(|&i| self.rules.rule(i))
                .map(|rule| Alert::new(rule, &event, input.source.clone()))
                .collect(),
        )
    }

    /// Detects on a batch in parallel; alerts come back in input order. The `alerts` counter
    /// is updated before `processed`, so a reader who sees every event processed also sees
    /// every alert counted.
    pub fn detect_batch(&self, batch: &[Input], stats: &Stats) -> Vec<Alert> {
        let per_input: Vec<Option<Vec<Alert>>> = batch.par_iter().map(|input| self.detect(input, stats)).collect();
        let processed = per_input.iter().filter(|r| r.is_some()).count();
        let alerts: Vec<Alert> = per_input.into_iter().flatten().flatten().collect();
        Stats::add(&stats.alerts, alerts.len() as u64);
        Stats::add(&stats.processed, processed as u64);
        alerts
    }
}
