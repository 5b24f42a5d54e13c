//! `vigil replay`: the same parsing and rules as `serve`, over files or stdin, offline.

use std::io::{BufRead, BufReader, Read, Write};

use chrono::Utc;
use thiserror::Error;

use crate::alert::AlertSource;
use crate::pipeline::{Detector, Input};
use crate::stats::Stats;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write alerts: {0}")]
    Write(std::io::Error),
}

const CHUNK: usize = 4096;

/// Replays each input (a path, or `-` for stdin) and writes one alert per line, as JSON, to
/// `out`, in input order. Returns the number of alerts.
pub fn replay(detector: &Detector, inputs: &[String], out: &mut dyn Write, stats: &Stats) -> Result<u64, ReplayError> {
    let received = Utc::now();
    let mut total = 0;
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
                Stats::add(&stats.received, 1);
                let source = AlertSource { file: Some(name.clone()), line: Some(line_no), transport: None, peer: None };
                chunk.push(Input { bytes, received, source });
            }
            if chunk.len() == CHUNK || (n == 0 && !chunk.is_empty()) {
                for alert in detector.detect_batch(&chunk, stats) {
                    serde_json::to_writer(&mut *out, &alert).map_err(|e| ReplayError::Write(e.into()))?;
                    out.write_all(b"\n").map_err(ReplayError::Write)?;
                    total += 1;
                }
                chunk.clear();
            }
            if n == 0 {
                break;
            }
        }
    }
    out.flush().map_err(ReplayError::Write)?;
    Ok(total)
}
