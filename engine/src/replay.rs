//! Offline runs over files, folders or stdin: `vigil replay` (the same parsing and rules as
//! `serve`, printing alerts), `vigil parse` (printing what each event becomes), and the
//! reading they share with the rule author's commands ([`for_each_batch`]).
//!
//! A folder is walked recursively, in name order; each file is read by its kind: an EVTX file
//! (by its magic, whatever its name; see [`crate::evtx`]) record by record, anything else line
//! by line. Nothing is skipped silently: a damaged file is reported ([`Progress::problem`],
//! counted in [`Stats`] by reason) and the rest of it, and the other files, are still read.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use thiserror::Error;
use vigil_parsers::{Fields, Format, LogSource};

use crate::alert::AlertSource;
use crate::correlate::Correlator;
use crate::evtx::{EvtxOptions, Problem};
use crate::pipeline::{Detector, Input};
use crate::sources::Source;
use crate::stats::Stats;
use crate::summary::Tally;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write output: {0}")]
    Write(std::io::Error),
}

const CHUNK: usize = 4096;

/// How an offline run reads its inputs.
#[derive(Clone, Debug, Default)]
pub struct Reading {
    /// Attribute every event to this configured source.
    pub sender: Option<Arc<Source>>,
    pub evtx: EvtxOptions,
}

impl Reading {
    /// Every event attributed to `sender` (if any), EVTX read with the default options.
    pub fn from(sender: Option<Arc<Source>>) -> Reading {
        Reading { sender, ..Reading::default() }
    }
}

/// What an offline run tells as it goes: a progress bar, problems as they are found.
pub trait Progress {
    /// How many files the inputs name (folders walked), before any is read.
    fn files(&mut self, _total: usize) {}
    /// A problem with a file, as it is found (also counted in the stats by its reason).
    fn problem(&mut self, _problem: &Problem) {}
    /// A batch of events has been handed on; `stats` has the counts so far.
    fn batch(&mut self, _stats: &Stats) {}
    /// A file has been read.
    fn file_done(&mut self, _file: &FileRead) {}
}

/// Tells nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {}

/// How a file was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Lines,
    Evtx,
}

/// A file as it was read.
#[derive(Clone, Debug, Serialize)]
pub struct FileRead {
    pub file: String,
    pub kind: Kind,
    /// Lines or records handed on.
    pub events: u64,
    /// Its problems by reason (none for a sound file).
    pub problems: BTreeMap<&'static str, u64>,
}

/// The files a run read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Files {
    pub read: u64,
    pub evtx: u64,
    /// The files with problems, in the order read.
    pub damaged: Vec<FileRead>,
}

/// The files the inputs name, in order: a folder is walked recursively, each folder's entries
/// in name order; `-` is stdin. An input that does not exist is an error before anything is
/// read; a folder found inside one that cannot be read is in [`Expanded::unreadable`].
pub fn expand(inputs: &[String]) -> Result<Expanded, ReplayError> {
    let mut expanded = Expanded::default();
    let mut seen = std::collections::HashSet::new();
    for name in inputs {
        let path = PathBuf::from(name);
        if name == "-" {
            expanded.files.push(path);
            continue;
        }
        let meta = std::fs::metadata(&path).map_err(|source| ReplayError::Read { path: name.clone(), source })?;
        if meta.is_dir() {
            walk(&path, &mut expanded, &mut seen).map_err(|source| ReplayError::Read { path: name.clone(), source })?;
        } else {
            expanded.files.push(path);
        }
    }
    Ok(expanded)
}

/// What [`expand`] found.
#[derive(Debug, Default)]
pub struct Expanded {
    pub files: Vec<PathBuf>,
    /// Folders inside the inputs that could not be read, and why: reported, the rest read.
    pub unreadable: Vec<(PathBuf, std::io::Error)>,
}

/// Adds the files under `dir`; an error is `dir`'s own (a folder under it that cannot be read
/// is added to `unreadable`).
fn walk(
    dir: &Path,
    expanded: &mut Expanded,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<(), std::io::Error> {
    // A link back up the tree is followed once.
    if !seen.insert(dir.canonicalize()?) {
        return Ok(());
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        entries.push(entry?.path());
    }
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if let Err(e) = walk(&path, expanded, seen) {
                expanded.unreadable.push((path, e));
            }
        } else {
            expanded.files.push(path);
        }
    }
    Ok(())
}

/// The first bytes of `reader`, enough to tell an EVTX file.
fn sniff(reader: &mut impl Read) -> Result<Vec<u8>, std::io::Error> {
    let mut head = Vec::with_capacity(crate::evtx::MAGIC.len());
    reader.take(crate::evtx::MAGIC.len() as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Reads the inputs (files, folders, `-` for stdin; see [`expand`]) and hands batches of
/// inputs, in order, to `each`: a line's `source.line` is its 1-based number, an EVTX record's
/// its number in the file (its record header's EventRecordID: the event's own `EventRecordID`
/// except in a log saved with a filter, whose records are numbered anew from 1). Returns the
/// files read and which were damaged.
pub fn for_each_batch(
    inputs: &[String],
    reading: &Reading,
    stats: &Stats,
    progress: &mut dyn Progress,
    mut each: impl FnMut(&[Input]) -> Result<(), ReplayError>,
) -> Result<Files, ReplayError> {
    let received = Utc::now();
    let Expanded { files: paths, unreadable } = expand(inputs)?;
    progress.files(paths.len());
    let progress = RefCell::new(progress);
    let mut files = Files::default();
    let mut pending: Vec<Input> = Vec::with_capacity(CHUNK);
    let mut flush = |pending: &mut Vec<Input>| -> Result<(), ReplayError> {
        if !pending.is_empty() {
            each(pending)?;
            pending.clear();
            progress.borrow_mut().batch(stats);
        }
        Ok(())
    };
    // A file or folder that cannot be read is reported, counted and listed with the damaged
    // files; the others are still read.
    let unread = |name: String, reason: &'static str, source: &std::io::Error, events: u64| {
        let message = format!("cannot read: {source}");
        stats.error(reason);
        progress.borrow_mut().problem(&Problem { file: name.clone(), reason, message });
        FileRead { file: name, kind: Kind::Lines, events, problems: BTreeMap::from([(reason, 1)]) }
    };
    for (path, source) in &unreadable {
        files.damaged.push(unread(path.display().to_string(), "unreadable_folder", source, 0));
    }
    for path in &paths {
        let name = path.display().to_string();
        files.read += 1;
        let opened = match open(path, &name) {
            Ok(opened) => opened,
            Err(source) => {
                let file = unread(name, "unreadable_file", &source, 0);
                progress.borrow_mut().file_done(&file);
                files.damaged.push(file);
                continue;
            }
        };
        let kind = if matches!(opened, Opened::Evtx(_)) { Kind::Evtx } else { Kind::Lines };
        let mut problems = BTreeMap::new();
        let mut events = 0u64;
        let mut event = |line: u64, bytes: Vec<u8>| -> Result<(), ReplayError> {
            events += 1;
            Stats::add(&stats.received, 1);
            let source = Arc::new(AlertSource { file: Some(name.clone()), line: Some(line), ..AlertSource::default() });
            pending.push(Input { bytes, received, sender: reading.sender.clone(), source });
            if pending.len() == CHUNK { flush(&mut pending) } else { Ok(()) }
        };
        match opened {
            Opened::Evtx(data) => {
                let mut problem = |p: Problem| {
                    stats.error(p.reason);
                    *problems.entry(p.reason).or_default() += 1;
                    progress.borrow_mut().problem(&p);
                };
                crate::evtx::read(data, &name, reading.evtx, &mut problem, &mut event)?;
            }
            Opened::Lines(reader) => {
                if let Err(source) = read_lines(reader, &mut event)? {
                    // What was read before the error is kept.
                    flush(&mut pending)?;
                    let file = unread(name, "unreadable_file", &source, events);
                    progress.borrow_mut().file_done(&file);
                    files.damaged.push(file);
                    continue;
                }
            }
        }
        flush(&mut pending)?;
        let file = FileRead { file: name, kind, events, problems };
        files.evtx += u64::from(kind == Kind::Evtx);
        progress.borrow_mut().file_done(&file);
        if !file.problems.is_empty() {
            files.damaged.push(file);
        }
    }
    Ok(files)
}

/// What [`crate::evtx::read`] reads from: a file, or stdin held in memory.
trait ReadSeek: Read + Seek {}

impl<T: Read + Seek> ReadSeek for T {}

/// An input file, opened for reading by its kind.
enum Opened {
    Evtx(Box<dyn ReadSeek>),
    Lines(Box<dyn Read>),
}

/// Opens `path` (`-`: stdin) and tells its kind: EVTX by its magic, whatever its name (stdin
/// is then read into memory, since EVTX is read by offset); lines otherwise. A file named
/// `.evtx` without the magic (empty, overwritten) is a damaged log, not lines of text: it goes
/// to the EVTX reader, which reports it.
fn open(path: &Path, name: &str) -> Result<Opened, std::io::Error> {
    if name == "-" {
        let mut stdin = std::io::stdin().lock();
        let head = sniff(&mut stdin)?;
        if crate::evtx::has_magic(&head) {
            let mut all = head;
            stdin.read_to_end(&mut all)?;
            return Ok(Opened::Evtx(Box::new(std::io::Cursor::new(all))));
        }
        return Ok(Opened::Lines(Box::new(std::io::Cursor::new(head).chain(stdin))));
    }
    let mut file = std::fs::File::open(path)?;
    let head = sniff(&mut file)?;
    let named_evtx = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx"));
    if crate::evtx::has_magic(&head) || named_evtx {
        return Ok(Opened::Evtx(Box::new(file)));
    }
    file.rewind()?;
    Ok(Opened::Lines(Box::new(file)))
}

/// Reads `reader` line by line (the line end is framing, as on a socket: not part of the
/// message) and hands each line with its 1-based number to `line`. `Ok(Err(..))`: reading
/// failed after the lines handed on; `Err`: `line` failed.
fn read_lines(
    reader: impl Read,
    line: &mut dyn FnMut(u64, Vec<u8>) -> Result<(), ReplayError>,
) -> Result<Result<(), std::io::Error>, ReplayError> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut n = 0u64;
    loop {
        let mut bytes = Vec::new();
        let read = match reader.read_until(b'\n', &mut bytes) {
            Ok(read) => read,
            Err(e) => return Ok(Err(e)),
        };
        if read == 0 {
            return Ok(Ok(()));
        }
        n += 1;
        while let [.., b'\n' | b'\r'] = bytes.as_slice() {
            bytes.pop();
        }
        line(n, bytes)?;
    }
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
    let (tally, _) = replay_with(detector, inputs, &Reading::from(sender), settings, out, stats, &mut Silent)?;
    Ok(tally.alert_lines())
}

/// [`replay`], reading as `reading` says, telling `progress` as it goes, and returning what a
/// summary needs: the alerts tallied (see [`Tally::summary`]) and the files read.
pub fn replay_with(
    detector: &Detector,
    inputs: &[String],
    reading: &Reading,
    settings: crate::correlate::Settings,
    out: &mut dyn Write,
    stats: &Stats,
    progress: &mut dyn Progress,
) -> Result<(Tally, Files), ReplayError> {
    let mut tally = Tally::default();
    let workers = detector.workers();
    let mut correlator = Correlator::new(detector.rules(), settings);
    let mut raised = Vec::new();
    let mut write = |raised: &mut Vec<crate::alert::Alert>, tally: &mut Tally| -> Result<(), ReplayError> {
        for alert in raised.drain(..) {
            write_json_line(out, &alert)?;
            tally.alert(&alert);
            // As they are written, for a progress report.
            Stats::add(&stats.alerts, 1);
        }
        Ok(())
    };
    let files = for_each_batch(inputs, reading, stats, progress, |chunk| {
        let detected = detector.detect_batch_marked(chunk, &workers, stats);
        Stats::add(&stats.processed, detected.marks.len() as u64);
        tally.events(&detected.marks);
        correlator.process(detected, &mut raised);
        write(&mut raised, &mut tally)
    })?;
    correlator.finish(&mut raised);
    write(&mut raised, &mut tally)?;
    correlator.publish(stats);
    out.flush().map_err(ReplayError::Write)?;
    Ok((tally, files))
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
    parse_with(detector, inputs, &Reading::from(sender), out, stats, &mut Silent).map(|(n, _)| n)
}

/// [`parse`], reading as `reading` says and telling `progress` as it goes; also returns the
/// files read.
pub fn parse_with(
    detector: &Detector,
    inputs: &[String],
    reading: &Reading,
    out: &mut dyn Write,
    stats: &Stats,
    progress: &mut dyn Progress,
) -> Result<(u64, Files), ReplayError> {
    let mut total = 0;
    let files = for_each_batch(inputs, reading, stats, progress, |chunk| {
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
    Ok((total, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_walked_recursively_in_name_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for path in ["b/z.log", "b/a/y.log", "a.log", "c.txt", "b/a/x/w.evtx"] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, "x\n").expect("write");
        }
        let inputs = [root.display().to_string(), "-".to_owned()];
        let files = expand(&inputs).expect("expand").files;
        let names: Vec<String> =
            files.iter().map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string()).collect();
        assert_eq!(names, ["a.log", "b/a/x/w.evtx", "b/a/y.log", "b/z.log", "c.txt", "-"]);
        let missing = [root.join("a.log").display().to_string(), root.join("nothing").display().to_string()];
        assert!(matches!(expand(&missing), Err(ReplayError::Read { .. })), "before anything is read");
    }

    #[test]
    fn a_file_named_evtx_that_is_not_one_is_reported_not_read_as_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (text, evtx) = (dir.path().join("notes.txt"), dir.path().join("log.evtx"));
        std::fs::write(&text, "first\nsecond\n").expect("write");
        std::fs::write(&evtx, "first\nsecond\n").expect("write");
        let stats = Stats::default();
        let mut lines = Vec::new();
        let inputs = [text.display().to_string(), evtx.display().to_string()];
        let files = for_each_batch(&inputs, &Reading::default(), &stats, &mut Silent, |batch| {
            lines.extend(batch.iter().map(|i| (i.source.line, String::from_utf8_lossy(&i.bytes).into_owned())));
            Ok(())
        })
        .expect("read");
        assert_eq!(lines, [(Some(1), "first".to_owned()), (Some(2), "second".to_owned())]);
        assert_eq!((files.read, files.evtx, files.damaged.len()), (2, 1, 1));
        assert_eq!(files.damaged[0].problems.get("evtx_bad_file"), Some(&1));
        assert_eq!(stats.errors().get("evtx_bad_file"), Some(&1));
    }

    /// A file or folder of a walked folder that cannot be read (here a dangling link and a
    /// link loop: the tests may run as root, who reads any mode) is reported and counted, and
    /// every other file is still read.
    #[test]
    fn an_unreadable_file_in_a_folder_is_reported_and_the_others_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("a.log"), "first\n").expect("write");
        std::os::unix::fs::symlink(root.join("nothing"), root.join("b.log")).expect("link");
        std::os::unix::fs::symlink(root.join("loop"), root.join("loop")).expect("link");
        std::fs::write(root.join("c.log"), "second\n").expect("write");
        let stats = Stats::default();
        let mut lines = Vec::new();
        let files = for_each_batch(&[root.display().to_string()], &Reading::default(), &stats, &mut Silent, |batch| {
            lines.extend(batch.iter().map(|i| String::from_utf8_lossy(&i.bytes).into_owned()));
            Ok(())
        })
        .expect("the run goes on past an unreadable file");
        assert_eq!(lines, ["first", "second"]);
        let damaged: Vec<(String, Vec<&str>)> = files
            .damaged
            .iter()
            .map(|f| {
                let name = Path::new(&f.file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (name, f.problems.keys().copied().collect())
            })
            .collect();
        assert_eq!(
            damaged,
            [("b.log".to_owned(), vec!["unreadable_file"]), ("loop".to_owned(), vec!["unreadable_file"])]
        );
        assert_eq!(stats.errors().get("unreadable_file"), Some(&2));
        assert_eq!(files.read, 4);
    }
}
