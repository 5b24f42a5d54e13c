//! Detection shared by `serve` and `replay`: bytes in, alerts out. Both paths call
//! [`Detector::detect`], so they raise the same alerts for the same line.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use vigil_parsers::{InputFormat, ParseContext};
use vigil_rules::{RuleSet, Scratch};

use crate::alert::{Alert, AlertSource};
use crate::sources::{Resolution, Source, SourceMap};
use crate::stats::Stats;

/// One message to detect on.
#[derive(Clone, Debug)]
pub struct Input {
    pub bytes: Vec<u8>,
    pub received: DateTime<Utc>,
    /// The sender's source when its certificate or address identified it; otherwise it is
    /// resolved from the message's hostname, or is the default for unknown senders.
    pub sender: Option<Arc<Source>>,
    /// Shared by every message of a connection.
    pub source: Arc<AlertSource>,
}

/// Where and when an event happened: its source (a hash of the configured source and the
/// sending host, so each host keeps its own clock), its event time, and when it was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub source: u64,
    /// Nanoseconds since the Unix epoch.
    pub time: i64,
    /// When vigil received it, likewise: an event time far ahead of it is a clock in the future.
    pub received: i64,
}

impl Mark {
    pub fn of(event: &vigil_parsers::Event, received: DateTime<Utc>) -> Mark {
        use std::hash::Hasher;
        let mut h = siphasher::sip::SipHasher13::new();
        h.write(event.origin.as_ref().map_or("", |o| o.source.as_str()).as_bytes());
        h.write_u8(0xff);
        h.write(event.host.as_deref().unwrap_or("").as_bytes());
        let time = crate::correlate::nanos(event.time);
        Mark { source: h.finish(), time, received: crate::correlate::nanos(received) }
    }

    /// An event of `source` at `time` (ns), received as it happened (tests, tools).
    pub fn at(source: u64, time: i64) -> Mark {
        Mark { source, time, received: time }
    }
}

/// A batch's events, each with how many of `alerts` (in order) it raised.
#[derive(Debug, Default)]
pub struct Detected {
    pub marks: Vec<(Mark, u32)>,
    pub alerts: Vec<Alert>,
    /// Per event (as `marks`): its source, and its message's size in bytes (source health).
    pub seen: Vec<(Option<Arc<vigil_parsers::Origin>>, u32)>,
}

/// An event's mark, its alerts and its source.
type Seen = (Mark, Vec<Alert>, Option<Arc<vigil_parsers::Origin>>);

/// Each worker thread's matching scratch (see [`Detector::workers`]).
pub struct Workers<'a> {
    /// The detector they were made by (its address): another's are not used.
    owner: usize,
    scratches: thread_local::ThreadLocal<std::cell::RefCell<Scratch<'a>>>,
}

/// Parses messages and matches them against an immutable rule set.
#[derive(Debug)]
pub struct Detector {
    rules: RuleSet,
    format: InputFormat,
    sources: Arc<SourceMap>,
}

impl Detector {
    pub fn new(rules: RuleSet, format: InputFormat, sources: Arc<SourceMap>) -> Self {
        Detector { rules, format, sources }
    }

    pub fn sources(&self) -> &Arc<SourceMap> {
        &self.sources
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Parses one message and returns the alerts it raises. A message no grammar reads is
    /// counted and still matched, as an unparsed event, so keyword rules see it.
    /// Parses a message and attributes it to its source. `None` for an empty message, or one
    /// from an unknown sender when those are refused (counted).
    pub fn parse(&self, input: &Input, stats: &Stats) -> Option<vigil_parsers::Event> {
        let tz = input.sender.as_ref().map_or(self.sources.default_tz(), |s| s.tz);
        let mut ctx =
            ParseContext { received: input.received, tz, origin: input.sender.as_ref().map(|s| s.origin.clone()) };
        // Kept, but counted: bytes that are not UTF-8 (replaced by U+FFFD) and NUL bytes.
        let text = match std::str::from_utf8(&input.bytes) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => {
                stats.error("invalid_utf8");
                String::from_utf8_lossy(&input.bytes)
            }
        };
        // A trailing NUL is a line end (Python's SysLogHandler sends one over UDP), not a NUL
        // inside the message.
        if vigil_parsers::framing::trim_line(&input.bytes).contains(&0) {
            stats.error("nul_byte");
        }
        let format = input.sender.as_ref().and_then(|s| s.format).unwrap_or(self.format);
        let mut event = match vigil_parsers::parse_text(&text, &ctx, format) {
            Ok(e) => e,
            Err(vigil_parsers::ParseError::Empty) => {
                stats.error("empty");
                return None;
            }
            Err(e) => {
                stats.error(e.reason());
                vigil_parsers::unparsed(&input.bytes, &ctx)
            }
        };
        if let Some(reason) = event.fields.get("payload_error") {
            // The event is kept; its payload could not be read.
            stats.error(&reason.as_text());
        }
        if input.sender.is_none() {
            match event.host.as_deref().and_then(|h| self.sources.by_host(h)) {
                Some(source) => {
                    ctx.origin = Some(source.origin.clone());
                    if source.tz != tz {
                        ctx.tz = source.tz;
                        if let Ok(e) = vigil_parsers::parse_text(&text, &ctx, source.format.unwrap_or(format)) {
                            event = e;
                        }
                    }
                    event.origin = Some(source.origin.clone());
                }
                None => match self.sources.unknown() {
                    Resolution::Source(source) => {
                        Stats::add(&stats.unknown_senders, 1);
                        event.origin = Some(source.origin.clone());
                    }
                    Resolution::Refused => {
                        stats.error("unknown_source_refused");
                        return None;
                    }
                },
            }
        }
        Some(event)
    }

    /// Parses one message and returns the alerts it raises. A message no grammar reads is
    /// counted and still matched, as an unparsed event, so keyword rules see it. `None` when
    /// the message was skipped (see [`Detector::parse`]).
    pub fn detect(&self, input: &Input, stats: &Stats) -> Option<Vec<Alert>> {
        self.detect_with(input, &mut self.rules.scratch(), stats)
    }

    /// [`Detector::detect`] with a worker's own matching scratch (see [`RuleSet::scratch`]).
    pub fn detect_with(&self, input: &Input, scratch: &mut Scratch<'_>, stats: &Stats) -> Option<Vec<Alert>> {
        self.detect_marked(input, scratch, stats).map(|(_, alerts)| alerts)
    }

    /// [`Detector::detect_with`], also saying where and when the event happened.
    fn detect_marked(&self, input: &Input, scratch: &mut Scratch<'_>, stats: &Stats) -> Option<(Mark, Vec<Alert>)> {
        self.detect_seen(input, scratch, stats).map(|(mark, alerts, _)| (mark, alerts))
    }

    /// [`Detector::detect_marked`], also giving the event's source.
    fn detect_seen(&self, input: &Input, scratch: &mut Scratch<'_>, stats: &Stats) -> Option<Seen> {
        let event = self.parse(input, stats)?;
        let mut hits = Vec::new();
        self.rules.matches_with(&event, scratch, &mut hits);
        let alerts = hits
            .iter()
            .filter_map(|&i| self.rules.rule(i))
            .map(|rule| Alert::new(rule, &event, &input.source))
            .collect();
        Some((Mark::of(&event, input.received), alerts, event.origin.clone()))
    }

    /// Per-thread matching state for [`Detector::detect_batch_with`], kept across batches: make
    /// one where batches are matched one after the other (serve's detection loop, replay).
    pub fn workers(&self) -> Workers<'_> {
        Workers { owner: self as *const Detector as usize, scratches: thread_local::ThreadLocal::new() }
    }

    /// [`Detector::detect_batch_with`] with state made for this batch alone.
    pub fn detect_batch(&self, batch: &[Input], stats: &Stats) -> Vec<Alert> {
        self.detect_batch_with(batch, &self.workers(), stats)
    }

    /// Detects on a batch in parallel; alerts come back in input order. The `alerts` counter
    /// is updated before `processed`, so a reader who sees every event processed also sees
    /// every alert counted. Each rayon thread matches with its own scratch from `workers`,
    /// made on its first event and kept for the next batches: a fresh scratch per rayon split
    /// cost 12% on one core and made two cores 1.6x one instead of 1.9x (BENCHMARKS.md).
    pub fn detect_batch_with<'a>(&'a self, batch: &[Input], workers: &Workers<'a>, stats: &Stats) -> Vec<Alert> {
        let detected = self.detect_batch_marked(batch, workers, stats);
        Stats::add(&stats.alerts, detected.alerts.len() as u64);
        Stats::add(&stats.processed, detected.marks.len() as u64);
        detected.alerts
    }

    /// [`Detector::detect_batch_with`], also giving each event's [`Mark`] (what correlation
    /// needs to follow event time per source). The caller counts the alerts it raises (after
    /// correlation, which holds some back and adds its own), then the events `processed`.
    pub fn detect_batch_marked<'a>(&'a self, batch: &[Input], workers: &Workers<'a>, stats: &Stats) -> Detected {
        let fresh;
        let workers = if workers.owner == self as *const Detector as usize {
            workers
        } else {
            // Another detector's scratches would match against its rules.
            fresh = self.workers();
            &fresh
        };
        let per_input: Vec<Option<(Seen, u32)>> = batch
            .par_iter()
            .map(|input| {
                let cell = workers.scratches.get_or(|| std::cell::RefCell::new(self.rules.scratch()));
                let seen = match cell.try_borrow_mut() {
                    Ok(mut scratch) => self.detect_seen(input, &mut scratch, stats),
                    // Only if matching ever ran rayon work on this thread while it held its
                    // scratch: a fresh one then, never a panic.
                    Err(_) => self.detect_seen(input, &mut self.rules.scratch(), stats),
                };
                seen.map(|seen| (seen, input.bytes.len() as u32))
            })
            .collect();
        let mut detected = Detected {
            marks: Vec::with_capacity(per_input.len()),
            alerts: Vec::new(),
            seen: Vec::with_capacity(per_input.len()),
        };
        for ((mark, alerts, origin), bytes) in per_input.into_iter().flatten() {
            detected.marks.push((mark, alerts.len() as u32));
            detected.alerts.extend(alerts);
            detected.seen.push((origin, bytes));
        }
        detected
    }
}
