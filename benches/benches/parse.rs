//! Parser throughput on real lines: `vigil_parsers::parse` over whole input sets.
//!
//! Input sets:
//! - `agency-mixed`: this repository's synthetic `corpus/syslog/agency-mixed.log`
//!   (RFC 3164 and RFC 5424, nginx access lines carried in syslog);
//! - `cef`, `leef`, `fortigate-kv`, `winlogbeat-json`: the synthetic payload lines in
//!   `corpus/payloads/` (CEF, LEEF 1.0/2.0 and FortiGate key=value over RFC 3164; winlogbeat
//!   Windows events as NDJSON);
//! - `loghub-linux` and `loghub-openssh`: up to 2,000 lines each of LogHub's Linux and OpenSSH
//!   samples, when `../shared/corpus/loghub` exists beside the workspace. These are raw
//!   `Mmm dd hh:mm:ss host tag[pid]: msg` lines without a PRI, parsed as they are.
//!
//! Before measuring, each set's parse outcome (formats, error reasons, how many lines got a
//! program name) is printed, so that a throughput number is never read without knowing what
//! the parser actually did with the lines.
//!
//! The `header` group times RFC 3164 and RFC 5424 header parsing alone on the syslog lines of
//! every set.
//!
//! Run with `cargo bench -p vigil-benches --bench parse`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_parsers::{InputFormat, ParseContext, parse};

/// Lines read from each LogHub sample at most.
const LOGHUB_MAX_LINES: usize = 2_000;

struct InputSet {
    name: &'static str,
    lines: Vec<Vec<u8>>,
}

impl InputSet {
    fn bytes(&self) -> u64 {
        self.lines.iter().map(|l| l.len() as u64).sum()
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Non-empty lines of `path` (without their line ends), at most `max`.
fn read_lines(path: &Path, max: usize) -> std::io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    Ok(data
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(max)
        .map(<[u8]>::to_vec)
        .collect())
}

fn input_sets() -> Vec<InputSet> {
    let root = workspace_root();
    let mut sets = Vec::new();
    let ours = root.join("corpus/syslog/agency-mixed.log");
    match read_lines(&ours, usize::MAX) {
        Ok(lines) => sets.push(InputSet { name: "agency-mixed", lines }),
        Err(e) => eprintln!("parse bench: cannot read {}: {e}; skipping it", ours.display()),
    }
    for (name, file) in [
        ("cef", "corpus/payloads/cef.log"),
        ("leef", "corpus/payloads/leef.log"),
        ("fortigate-kv", "corpus/payloads/fortigate.log"),
        ("winlogbeat-json", "corpus/payloads/winlogbeat.ndjson"),
    ] {
        let path = root.join(file);
        match read_lines(&path, usize::MAX) {
            Ok(lines) => sets.push(InputSet { name, lines }),
            Err(e) => eprintln!("parse bench: cannot read {}: {e}; skipping it", path.display()),
        }
    }
    let loghub = root.join("../shared/corpus/loghub");
    if loghub.is_dir() {
        for (name, file) in [("loghub-linux", "Linux/Linux_2k.log"), ("loghub-openssh", "OpenSSH/OpenSSH_2k.log")] {
            let path = loghub.join(file);
            match read_lines(&path, LOGHUB_MAX_LINES) {
                Ok(lines) => sets.push(InputSet { name, lines }),
                Err(e) => eprintln!("parse bench: cannot read {}: {e}; skipping it", path.display()),
            }
        }
    } else {
        println!("parse bench: {} not found; benchmarking only this repository's corpus/", loghub.display());
    }
    sets
}

/// A fixed receive time, so that RFC 3164's missing year resolves the same way on every run.
fn context() -> ParseContext {
    ParseContext::new(Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).single().unwrap_or_default())
}

/// Prints what the parser made of a set: formats, error reasons, and field coverage.
fn summarize(set: &InputSet, ctx: &ParseContext) {
    let mut formats: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut first_error: BTreeMap<&'static str, String> = BTreeMap::new();
    let (mut with_host, mut with_app, mut with_time) = (0usize, 0usize, 0usize);
    for line in &set.lines {
        match parse(line, ctx, InputFormat::Auto) {
            Ok(event) => {
                *formats.entry(format!("{:?}", event.format)).or_default() += 1;
                with_host += usize::from(event.host.is_some());
                with_app += usize::from(event.field("app").is_some());
                with_time += usize::from(event.time != ctx.received);
            }
            Err(e) => {
                *errors.entry(e.reason()).or_default() += 1;
                first_error.entry(e.reason()).or_insert_with(|| String::from_utf8_lossy(line).into_owned());
            }
        }
    }
    println!(
        "parse bench: {}: {} lines, {} bytes; formats {formats:?}; errors {errors:?}; \
         with host {with_host}, with app {with_app}, with own timestamp {with_time}",
        set.name,
        set.lines.len(),
        set.bytes(),
    );
    for (reason, line) in first_error {
        println!("parse bench: {}: first {reason}: {line}", set.name);
    }
}

fn bench_parse(c: &mut Criterion) {
    let ctx = context();
    for set in input_sets() {
        if set.lines.is_empty() {
            continue;
        }
        summarize(&set, &ctx);
        for (unit, throughput) in
            [("lines", Throughput::Elements(set.lines.len() as u64)), ("bytes", Throughput::Bytes(set.bytes()))]
        {
            let mut group = c.benchmark_group(format!("parse/{}/{unit}", set.name));
            group.throughput(throughput);
            group.bench_function("auto", |b| {
                b.iter(|| {
                    for line in &set.lines {
                        let _ = black_box(parse(black_box(line), &ctx, InputFormat::Auto));
                    }
                });
            });
            group.finish();
        }
    }
}

/// Header parsing alone (`syslog::rfc3164` / `syslog::rfc5424`, borrowed, no allocation): the
/// syslog lines of every set, split by header grammar.
fn bench_headers(c: &mut Criterion) {
    let ctx = context();
    let (mut bsd, mut ietf): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for set in input_sets() {
        for line in &set.lines {
            let text = String::from_utf8_lossy(line).into_owned();
            if vigil_parsers::syslog::is_rfc5424(&text) {
                if vigil_parsers::syslog::rfc5424(&text).is_ok() {
                    ietf.push(text);
                }
            } else if vigil_parsers::syslog::rfc3164(&text, ctx.received, ctx.tz).is_ok() {
                bsd.push(text);
            }
        }
    }
    println!("parse bench: header: {} RFC 3164 lines, {} RFC 5424 lines", bsd.len(), ietf.len());
    let mut group = c.benchmark_group("header");
    group.throughput(Throughput::Elements(bsd.len() as u64));
    group.bench_function("rfc3164", |b| {
        b.iter(|| {
            for line in &bsd {
                let _ = black_box(vigil_parsers::syslog::rfc3164(black_box(line), ctx.received, ctx.tz));
            }
        });
    });
    group.throughput(Throughput::Elements(ietf.len() as u64));
    group.bench_function("rfc5424", |b| {
        b.iter(|| {
            for line in &ietf {
                let _ = black_box(vigil_parsers::syslog::rfc5424(black_box(line)));
            }
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_headers, bench_parse
}
criterion_main!(benches);
