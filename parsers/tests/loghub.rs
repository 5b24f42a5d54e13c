//! Conformance on real data: LogHub's 16 samples of 2,000 lines (`../shared/corpus/loghub`
//! beside the workspace).
//!
//! - Every line of every sample parses (no `ParseError`) and gets its time from the line.
//! - For Linux, OpenSSH and Apache, the timestamp, program/component, pid and content agree
//!   with LogHub's `<Dataset>_2k.log_structured.csv` on at least 99.9% of lines. The test
//!   prints the agreement and every disagreement.
//!
//! When the corpus is absent the tests print a notice and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, InputFormat, ParseContext, parse};

const LOGHUB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/loghub");

const DATASETS: [&str; 16] = [
    "Android",
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "HealthApp",
    "Linux",
    "Mac",
    "OpenSSH",
    "OpenStack",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
    "Zookeeper",
];

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(LOGHUB);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {LOGHUB} is absent; skipping the LogHub conformance tests");
        None
    }
}

/// A receive time far from every sample's timestamps, so that an event whose time is the
/// receive time is seen as one that got no time from its line. Year-less lines get this year.
fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2030-12-31T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    let mut ctx = ParseContext::new(received);
    // The samples' timestamps are compared as written, so read them as UTC.
    ctx.tz = chrono_tz::UTC;
    ctx
}

/// The sample's lines, as the log file has them (without line ends).
fn lines(dir: &Path, dataset: &str) -> Vec<String> {
    let path = dir.join(dataset).join(format!("{dataset}_2k.log"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = String::from_utf8_lossy(&data);
    text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).filter(|l| !l.trim().is_empty()).collect()
}

fn field(e: &Event, name: &str) -> String {
    e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_default()
}

#[test]
fn all_16_samples_parse_with_no_errors() {
    let Some(dir) = corpus() else { return };
    let ctx = ctx();
    let mut failures = Vec::new();
    for dataset in DATASETS {
        let lines = lines(&dir, dataset);
        let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut untimed = 0;
        for (n, line) in lines.iter().enumerate() {
            match parse(line.as_bytes(), &ctx, InputFormat::Auto) {
                Ok(e) => {
                    let kind = match e.field("log_format") {
                        Some(k) => k.as_text().into_owned(),
                        None => format!("{:?}", e.format).to_lowercase(),
                    };
                    *kinds.entry(kind).or_default() += 1;
                    if e.time == ctx.received {
                        untimed += 1;
                        failures.push(format!("{dataset}:{}: no time from the line: {line}", n + 1));
                    }
                }
                Err(err) => {
                    *errors.entry(err.reason()).or_default() += 1;
                    failures.push(format!("{dataset}:{}: {}: {line}", n + 1, err.reason()));
                }
            }
        }
        println!("{dataset:<12} {:>5} lines, errors {errors:?}, untimed {untimed}, read as {kinds:?}", lines.len());
    }
    for f in failures.iter().take(50) {
        println!("  {f}");
    }
    assert!(failures.is_empty(), "{} lines did not parse or got no time", failures.len());
}

/// One row of a LogHub structured CSV, by column name.
type Row = BTreeMap<String, String>;

/// RFC 4180 CSV: `,` separated, `"` quoted with `""` escapes; LogHub's rows are one line each.
fn csv_row(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn structured(dir: &Path, dataset: &str) -> Vec<Row> {
    let path = dir.join(dataset).join(format!("{dataset}_2k.log_structured.csv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = text.lines();
    let header = csv_row(rows.next().unwrap_or_default());
    rows.filter(|l| !l.is_empty()).map(|l| header.iter().cloned().zip(csv_row(l)).collect()).collect()
}

/// What LogHub's Content is for a line: the message, or rsyslog's whole repeat notice when
/// vigil unwrapped one (`message repeated 2 times: [ MSG]` -> MSG, `repeat_count` 2).
fn content_agrees(e: &Event, want: &str) -> bool {
    let got = e.message().trim().to_owned();
    let want = want.trim();
    got == want
        || e.field("repeat_count").is_some_and(|n| want == format!("message repeated {n} times: [ {got}]").trim())
}

/// Compares each line's event with its CSV row; returns the agreement and the disagreements.
fn compare(dataset: &str, check: impl Fn(&Event, &Row) -> Vec<String>) -> Option<(usize, usize, Vec<String>)> {
    let dir = corpus()?;
    let ctx = ctx();
    let lines = lines(&dir, dataset);
    let rows = structured(&dir, dataset);
    assert_eq!(lines.len(), rows.len(), "{dataset}: lines and CSV rows");
    let mut agree = 0;
    let mut disagreements = Vec::new();
    for (line, row) in lines.iter().zip(&rows) {
        let diffs = match parse(line.as_bytes(), &ctx, InputFormat::Auto) {
            Ok(e) => check(&e, row),
            Err(err) => vec![format!("error {}", err.reason())],
        };
        if diffs.is_empty() {
            agree += 1;
        } else {
            disagreements.push(format!("{dataset} line {}: {}\n    {line}", row["LineId"], diffs.join("; ")));
        }
    }
    let pct = 100.0 * agree as f64 / lines.len() as f64;
    println!("{dataset}: {agree}/{} lines agree with LogHub's structured CSV ({pct:.2}%)", lines.len());
    for d in &disagreements {
        println!("  {d}");
    }
    Some((agree, lines.len(), disagreements))
}

/// `(what, got, want)` triples that differ, as text.
fn diffs(items: &[(&str, String, String)]) -> Vec<String> {
    items
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(what, got, want)| format!("{what}: {got:?} != {want:?}"))
        .collect()
}

fn assert_agreement(result: Option<(usize, usize, Vec<String>)>) {
    let Some((agree, total, _)) = result else { return };
    assert!(agree * 1000 >= total * 999, "agreement {agree}/{total} is below 99.9%");
}

#[test]
fn linux_agrees_with_loghub() {
    // LineId,Month,Date,Time,Level,Component,PID,Content: LogHub's `Level` is the host.
    assert_agreement(compare("Linux", |e, row| {
        let mut d = diffs(&[
            (
                "time",
                e.time.format("%b %-d %H:%M:%S").to_string(),
                format!("{} {} {}", row["Month"], row["Date"], row["Time"]),
            ),
            ("host", e.host.clone().unwrap_or_default(), row["Level"].clone()),
            (
                "component",
                e.field("tag").or(e.field("app")).map(|v| v.as_text().into_owned()).unwrap_or_default(),
                row["Component"].clone(),
            ),
            ("pid", field(e, "pid"), row["PID"].clone()),
        ]);
        if !content_agrees(e, &row["Content"]) {
            d.push(format!("content: {:?} != {:?}", e.message(), row["Content"]));
        }
        d
    }));
}

#[test]
fn openssh_agrees_with_loghub() {
    // LineId,Date,Day,Time,Component,Pid,Content: LogHub's `Date` is the month and its
    // `Component` the host; the program, which the CSV leaves out, is sshd on every line.
    assert_agreement(compare("OpenSSH", |e, row| {
        let mut d = diffs(&[
            (
                "time",
                e.time.format("%b %-d %H:%M:%S").to_string(),
                format!("{} {} {}", row["Date"], row["Day"], row["Time"]),
            ),
            ("host", e.host.clone().unwrap_or_default(), row["Component"].clone()),
            ("program", field(e, "app"), "sshd".to_owned()),
            ("pid", field(e, "pid"), row["Pid"].clone()),
        ]);
        if !content_agrees(e, &row["Content"]) {
            d.push(format!("content: {:?} != {:?}", e.message(), row["Content"]));
        }
        d
    }));
}

#[test]
fn apache_agrees_with_loghub() {
    // LineId,Time,Level,Content: Apache's error log, whose component is its level.
    assert_agreement(compare("Apache", |e, row| {
        let mut d = diffs(&[
            ("time", e.time.format("%a %b %d %H:%M:%S %Y").to_string(), row["Time"].clone()),
            ("level", field(e, "level"), row["Level"].clone()),
            ("logsource", format!("{:?}", e.logsource.service), "Some(\"apache\")".to_owned()),
        ]);
        if !content_agrees(e, &row["Content"]) {
            d.push(format!("content: {:?} != {:?}", e.message(), row["Content"]));
        }
        d
    }));
}
