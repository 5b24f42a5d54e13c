//! Offline runs over files or stdin: `vigil replay` (the same parsing and rules as `serve`,
//! printing alerts) and `vigil parse` (printing what each line becomes).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use thiserror::Error;
use vigil_parsers::{Fields, Format, LogSource};

use crate::alert::AlertSource;
use crate::correlate::Correlator;
use crate::pipeline::{Detector, Input};
use crate::sources::Source;
use crate::stats::Stats;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write output: {0}")]
    Write(std::io::Error),
}

const CHUNK: usize = 4096;

/// Reads each input (a path, or `-` for stdin) line by line and hands chunks of inputs, in
/// order, to `each`.
fn for_each_chunk(
    inputs: &[String],
    sender: Option<Arc<Source>>,
    stats: &Stats,
    mut each: impl FnMut(&[Input]) -> Result<(), ReplayError>,
) -> Result<(), ReplayError> {
    let received = Utc::now();
    for name in inputs {
        let read_err = |source| ReplayError::Read { path: name.clone(), source };
        let reader: Box<dyn Read> = if name == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(name).map_err(read_err)?)
        };
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let mut line_no = 0u64;
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let mut bytes = Vec::new();
            let n = reader.read_until(b'\n', &mut bytes).map_err(read_err)?;
            if n > 0 {
                line_no += 1;
                // The line end is framing, as on a socket: not part of the message.
                while let [.., b'\n' | b'\r'] = bytes.as_slice() {
                    bytes.pop();
                }
                Stats::add(&stats.received, 1);
                let source =
                    Arc::new(AlertSource { file: Some(name.clone()), line: Some(line_no), ..AlertSource::default() });
                chunk.push(Input { bytes, received, sender: sender.clone(), source });
            }
            if chunk.len() == CHUNK || (n == 0 && !chunk.is_empty()) {
                each(&chunk)?;
                chunk.clear();
            }
            if n == 0 {
                break;
            }
        }
    }
    Ok(())
}

fn write_json_line(out: &mut dyn Write, value: &impl Serialize) -> Result<(), ReplayError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| ReplayError::Write(e.into()))?;
    out.write_all(b"\n").map_err(ReplayError::Write)
}

/// Replays the inputs and writes one alert per line, as JSON, to `out`: single-event alerts
/// in input order, correlation alerts as event time passes them (see [`crate::correlate`]),
/// and at the end what correlation still holds back. `sender` attributes every line to a
/// configured source. Returns the number of alert lines.
pub fn replay(
    detector: &Detector,
    inputs: &[String],
    sender: Option<Arc<Source>>,
    settings: crate::correlate::Settings,
    out: &mut dyn Write,
    stats: &Stats,
) -> Result<u64, ReplayError> {
    let mut total = 0;
    let workers = detector.workers();
    let mut correlator = Correlator::new(detector.rules(), settings);
    let mut raised = Vec::new();
    let mut write = |raised: &mut Vec<crate::alert::Alert>| -> Result<(), ReplayError> {
        for alert in raised.drain(..) {
            write_json_line(out, &alert)?;
            total += 1;
        }
        Ok(())
    };
    for_each_chunk(inputs, sender, stats, |chunk| {
        let detected = detector.detect_batch_marked(chunk, &workers, stats);
        Stats::add(&stats.processed, detected.marks.len() as u64);
        correlator.process(detected, &mut raised);
        write(&mut raised)
    })?;
    correlator.finish(&mut raised);
    write(&mut raised)?;
    Stats::add(&stats.alerts, total);
    correlator.publish(stats);
    out.flush().map_err(ReplayError::Write)?;
    Ok(total)
}

/// What `vigil parse` prints for a line.
#[derive(Debug, Serialize)]
pub struct ParsedLine<'a> {
    pub file: &'a str,
    pub line: u64,
    pub time: String,
    pub format: Format,
    pub host: Option<&'a str>,
    pub logsource: &'a LogSource,
    pub source: Option<&'a str>,
    pub agency: Option<&'a str>,
    pub province: Option<&'a str>,
    pub fields: &'a Fields,
    pub raw: &'a str,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses the inputs and writes each event as one JSON line to `out`. Returns the number of
/// events.
pub fn parse(
    detector: &Detector,
    inputs: &[String],
    sender: Option<Arc<Source>>,
    out: &mut dyn Write,
    stats: &Stats,
) -> Result<u64, ReplayError> {
    let mut total = 0;
    for_each_chunk(inputs, sender, stats, |chunk| {
        for input in chunk {
            let Some(event) = detector.parse(input, stats) else { continue };
            Stats::add(&stats.processed, 1);
            let origin = event.origin.as_deref();
            let line = ParsedLine {
                file: input.source.file.as_deref().unwrap_or("-"),
                line: input.source.line.unwrap_or(0),
                time: rfc3339(event.time),
                format: event.format,
                host: event.host.as_deref(),
                logsource: &event.logsource,
                source: origin.map(|o| o.source.as_str()),
                agency: origin.map(|o| o.agency.as_str()),
                province: origin.map(|o| o.province.as_str()),
                fields: &event.fields,
                raw: &event.raw,
            };
            write_json_line(out, &line)?;
            total += 1;
        }
        Ok(())
    })?;
    out.flush().map_err(ReplayError::Write)?;
    Ok(total)
}
