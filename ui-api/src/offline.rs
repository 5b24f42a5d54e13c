//! The offline commands' reading and reporting: `vigil replay` and `vigil parse` over files,
//! folders and stdin (lines, or EVTX read natively), the events of `vigil rules test` and
//! `vigil rules profile`, the progress bar and the end-of-run summary.

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigil_engine::evtx::Problem;
use vigil_engine::replay::{FileRead, Files, Progress, Reading};
use vigil_engine::summary::Summary;
use vigil_engine::{Detector, Stats};
use vigil_parsers::InputFormat;

/// Problems printed per file as they are found; the rest are counted in the summary.
const PROBLEMS_PER_FILE: u32 = 10;

/// The progress bar on stderr (files done of all, events, alerts, events/s), drawn only when
/// stderr is a terminal; and each file's problems as they are found, above it.
pub struct Bar {
    who: &'static str,
    bar: ProgressBar,
    start: Instant,
    /// Problems printed for the file being read.
    printed: u32,
}

impl Bar {
    pub fn new(who: &'static str) -> Bar {
        let target =
            if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} files  {msg}")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Bar { who, bar, start: Instant::now(), printed: 0 }
    }

    /// Clears the bar, for what is printed after it.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn files(&mut self, total: usize) {
        self.bar.set_length(total as u64);
    }

    fn problem(&mut self, p: &Problem) {
        self.printed += 1;
        let who = self.who;
        if self.printed <= PROBLEMS_PER_FILE {
            self.bar.suspend(|| eprintln!("vigil {who}: {}: {} [{}]", p.file, p.message, p.reason));
        } else if self.printed == PROBLEMS_PER_FILE + 1 {
            self.bar.suspend(|| eprintln!("vigil {who}: {}: more problems, counted in the summary", p.file));
        }
    }

    fn batch(&mut self, stats: &Stats) {
        if self.bar.is_hidden() {
            // Not on a terminal: no message to build (a snapshot copies the error counts).
            return;
        }
        let snap = stats.snapshot();
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} events, {} alerts, {:.0} events/s",
            snap.received,
            snap.alerts,
            snap.received as f64 / secs
        ));
    }

    fn file_done(&mut self, _file: &FileRead) {
        self.printed = 0;
        self.bar.inc(1);
    }
}

/// `vigil replay`'s summary flags.
pub struct SummaryArgs {
    pub json: bool,
    pub summary_only: bool,
    pub top: usize,
}

/// `vigil replay`: alerts on stdout, one JSON object a line (none with `--summary-only`), the
/// summary on stderr (on stdout with `--summary-only`), as text or one JSON object.
pub fn replay(
    detector: &Detector,
    files: &[String],
    reading: &Reading,
    settings: vigil_engine::correlate::Settings,
    args: &SummaryArgs,
) -> Result<()> {
    let stats = Stats::default();
    let start = Instant::now();
    let mut bar = Bar::new("replay");
    let (tally, read) = if args.summary_only {
        vigil_engine::replay::replay_with(detector, files, reading, settings, &mut std::io::sink(), &stats, &mut bar)?
    } else {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        vigil_engine::replay::replay_with(detector, files, reading, settings, &mut out, &stats, &mut bar)?
    };
    bar.finish();
    let summary = tally.summary(&read, &stats, start.elapsed(), args.top);
    let mut out: Box<dyn Write> =
        if args.summary_only { Box::new(std::io::stdout().lock()) } else { Box::new(std::io::stderr().lock()) };
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    } else {
        write_summary(&mut out, &summary)?;
        let c = stats.snapshot().correlation;
        if c.counters.fired + c.counters.late_events + c.counters.suppressed + c.counters.evicted > 0 {
            writeln!(
                out,
                "vigil replay: correlation: {} alerts, {} late events ({} late hits), {} suppressed repeats, {} keys evicted, {} keys held at the end",
                c.counters.fired,
                c.counters.late_events,
                c.counters.late_hits,
                c.counters.suppressed,
                c.counters.evicted,
                c.keys
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The summary for people, Hayabusa's end-of-run summary as the model.
fn write_summary(out: &mut dyn Write, s: &Summary) -> std::io::Result<()> {
    let problems: u64 = s.problems.values().sum();
    writeln!(
        out,
        "vigil replay: {} files ({} EVTX, {} damaged), {} lines and records, {} events, {} alerts, {problems} problems in {:.2} s ({:.0} events/s)",
        s.files_read, s.files_evtx, s.files_damaged, s.events_read, s.events, s.alerts, s.seconds, s.events_per_second
    )?;
    for (reason, n) in &s.problems {
        writeln!(out, "vigil replay:   {reason}: {n}")?;
    }
    let l = &s.levels;
    writeln!(
        out,
        "vigil replay: alerts by level: critical {}, high {}, medium {}, low {}, informational {}{}",
        l.critical,
        l.high,
        l.medium,
        l.low,
        l.informational,
        if s.building_blocks > 0 { format!("; {} building blocks", s.building_blocks) } else { String::new() }
    )?;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    if s.alerts > 0 {
        writeln!(out, "vigil replay: first alert {}, last alert {}", time(s.first_alert), time(s.last_alert))?;
    }
    if s.events > 0 {
        writeln!(out, "vigil replay: events from {} to {}", time(s.first_event), time(s.last_event))?;
    }
    if !s.rules.is_empty() {
        writeln!(out, "vigil replay: top rules ({} of {} that alerted):", s.rules.len(), s.rules_hit)?;
        for r in &s.rules {
            writeln!(out, "vigil replay: {:>9}  {:<13}  {} [{}]", r.alerts, r.level, r.title, r.id)?;
        }
    }
    if !s.hosts.is_empty() {
        writeln!(out, "vigil replay: top hosts ({} of {} with alerts):", s.hosts.len(), s.hosts_hit)?;
        for h in &s.hosts {
            writeln!(out, "vigil replay: {:>9}  {}", h.alerts, h.host)?;
        }
    }
    write_damaged(out, "replay", &s.damaged)
}

/// One line per damaged file, with its problems by reason.
fn write_damaged(out: &mut dyn Write, who: &str, damaged: &[FileRead]) -> std::io::Result<()> {
    for f in damaged {
        let reasons: Vec<String> = f.problems.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        writeln!(out, "vigil {who}: damaged: {} ({} events read; {})", f.file, f.events, reasons.join(", "))?;
    }
    Ok(())
}

/// `vigil parse`: each event as one JSON line on stdout; problems on stderr.
pub fn parse(detector: &Detector, files: &[String], reading: &Reading) -> Result<()> {
    let stats = Stats::default();
    let mut bar = Bar::new("parse");
    let (events, read) = {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        vigil_engine::replay::parse_with(detector, files, reading, &mut out, &stats, &mut bar)?
    };
    bar.finish();
    let snap = stats.snapshot();
    let errors: u64 = snap.errors.values().sum();
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "vigil parse: {} files ({} EVTX, {} damaged), {} lines and records, {} events, {events} printed, {errors} problems",
        read.read,
        read.evtx,
        read.damaged.len(),
        snap.received,
        snap.processed
    )?;
    for (reason, n) in &snap.errors {
        writeln!(err, "vigil parse:   {reason}: {n}")?;
    }
    write_damaged(&mut err, "parse", &read.damaged)?;
    Ok(())
}

/// Reads event files, folders and stdin (`-`) as `vigil replay` does (lines, or EVTX records
/// as evtx_dump's JSON) and parses each non-blank one as serve would (a line no grammar reads
/// is kept whole); `f` gets the file name, the line number (from 1; an EVTX record's
/// EventRecordID) and the event. Damaged files are reported on stderr.
pub fn for_each_event(
    who: &'static str,
    names: &[String],
    ctx: &vigil_parsers::ParseContext,
    mut f: impl FnMut(&str, u64, vigil_parsers::Event) -> std::io::Result<()>,
) -> Result<()> {
    let stats = Stats::default();
    let mut bar = Bar::new(who);
    let reading = Reading::default();
    let read = vigil_engine::replay::for_each_batch(names, &reading, &stats, &mut bar, |batch| {
        for input in batch {
            let text = String::from_utf8_lossy(&input.bytes);
            if text.trim().is_empty() {
                continue;
            }
            let event = vigil_parsers::parse_text(&text, ctx, InputFormat::Auto)
                .unwrap_or_else(|_| vigil_parsers::unparsed(text.as_bytes(), ctx));
            let (file, line) = (input.source.file.as_deref().unwrap_or("-"), input.source.line.unwrap_or(0));
            f(file, line, event).map_err(vigil_engine::replay::ReplayError::Write)?;
        }
        Ok(())
    });
    bar.finish();
    let read: Files = read?;
    write_damaged(&mut std::io::stderr().lock(), who, &read.damaged)?;
    Ok(())
}
