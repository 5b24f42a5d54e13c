//! Rule compilation and matching with every SigmaHQ rule loaded (`../shared/corpus/sigma`,
//! beside the workspace; the bench prints a notice and measures the bundled pack alone when it
//! is absent).
//!
//! - `rules/compile`: `RuleSet::compile` of every rule of SigmaHQ's rule folders (3,780).
//! - `rules/match/windows`: the OTRF Windows events (`../shared/corpus/samples/otrf-security-
//!   datasets/windows`), parsed beforehand, matched one by one on one core with
//!   `RuleSet::matches_with` (prefilter, then exact matching); `rules/reference/windows` the same
//!   with the reference interpreter (every applicable rule evaluated), for the ratio.
//! - `rules/match/syslog`: loghub's Linux and OpenSSH lines, likewise.
//! - `rules/match/agency`: `corpus/syslog/agency-mixed.log` (ours: sshd, sudo, web access,
//!   firewall, CEF, LEEF lines of the agencies' systems), likewise.
//!
//! Before measuring, the hits of each set are printed, so that a throughput is never read
//! without knowing what matched.
//!
//! - `rules/parallel/windows/N`: the Windows events in batches with rayon on N threads (1, 2,
//!   4... up to the cores), as the engine matches them: the scaling across cores;
//!   `windows_fresh_scratch/N` the same with a fresh scratch per rayon split.
//!
//! Run with `cargo bench -p vigil-benches --bench rules`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use vigil_parsers::{Event, InputFormat, ParseContext};
use vigil_rules::{RuleSet, RuleSource};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

fn sigma_sources() -> Vec<RuleSource> {
    let sigma = corpus().join("sigma");
    if !sigma.is_dir() {
        eprintln!("rules bench: {} is absent; the bundled pack alone is measured", sigma.display());
        return vigil_rules::bundled();
    }
    let mut sources = Vec::new();
    for folder in ["rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder"] {
        sources.extend(vigil_rules::load_dir(&sigma.join(folder)).0);
    }
    sources
}

fn lines(dir: &Path, max: usize) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        out.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
    }
    out.truncate(max);
    out
}

fn parse_all(lines: &[String]) -> Vec<Event> {
    let ctx = ParseContext::new(chrono::Utc::now());
    lines
        .iter()
        .map(|l| {
            vigil_parsers::parse_text(l, &ctx, InputFormat::Auto)
                .unwrap_or_else(|_| vigil_parsers::unparsed(l.as_bytes(), &ctx))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let sources = sigma_sources();
    let (set, _) = RuleSet::compile(sources.clone());
    let (literals, unfiltered) = set.prefilter_stats();
    eprintln!("rules bench: {} rules, {literals} prefilter literals, {unfiltered} rules without literals", set.len());

    let mut group = c.benchmark_group("rules");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(sources.len() as u64));
    group.bench_function("compile", |b| b.iter(|| black_box(RuleSet::compile(sources.clone()).0.len())));
    group.finish();

    let windows = parse_all(&lines(&corpus().join("samples/otrf-security-datasets/windows"), 100_000));
    let mut syslog_lines = lines(&corpus().join("loghub/Linux"), 2_000);
    syslog_lines.extend(lines(&corpus().join("loghub/OpenSSH"), 2_000));
    let syslog = parse_all(&syslog_lines);
    // Our synthetic agency mix (sshd, sudo, web, firewall, CEF...): in the repository, so
    // always there.
    let agency_lines: Vec<String> = include_str!("../../corpus/syslog/agency-mixed.log")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let agency = parse_all(&agency_lines);
    for (name, events) in [("windows", &windows), ("syslog", &syslog), ("agency", &agency)] {
        if events.is_empty() {
            continue;
        }
        let mut scratch = set.scratch();
        let mut hits = Vec::new();
        for e in events.iter() {
            set.matches_with(e, &mut scratch, &mut hits);
        }
        eprintln!("rules bench: {name}: {} events, {} hits", events.len(), hits.len());
        let mut group = c.benchmark_group("rules");
        group.throughput(Throughput::Elements(events.len() as u64));
        group.measurement_time(Duration::from_secs(10));
        group.bench_function(format!("match/{name}"), |b| {
            let mut scratch = set.scratch();
            let mut out = Vec::new();
            b.iter(|| {
                for e in events.iter() {
                    out.clear();
                    set.matches_with(e, &mut scratch, &mut out);
                }
                black_box(out.len())
            })
        });
        // What a rayon split costs that starts with a fresh scratch (`Detector::detect_batch`
        // makes one per split): the scratch, its routes and scanners, and 64 events.
        group.bench_function(format!("fresh_scratch_64/{name}"), |b| {
            let mut out = Vec::new();
            b.iter(|| {
                let mut scratch = set.scratch();
                for e in events.iter().take(64) {
                    out.clear();
                    set.matches_with(e, &mut scratch, &mut out);
                }
                black_box(out.len())
            })
        });
        group.bench_function(format!("reference/{name}"), |b| {
            let mut out = Vec::new();
            b.iter(|| {
                for e in events.iter() {
                    out.clear();
                    set.matches(e, &mut out);
                }
                black_box(out.len())
            })
        });
        group.finish();
    }

    // Scaling across cores: the Windows events matched in batches of 1,024, one after the
    // other, each in parallel with rayon (as `Detector::detect_batch_with` does: each thread's
    // scratch kept from batch to batch), on pools of 1, 2, ... up to the
    // machine's cores. Throughput per pool size; the ratio to 1 thread is the scaling.
    if !windows.is_empty() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut group = c.benchmark_group("rules/parallel");
        group.throughput(Throughput::Elements(windows.len() as u64));
        group.measurement_time(Duration::from_secs(10));
        let mut threads = 1;
        while threads <= cores {
            let Ok(pool) = rayon::ThreadPoolBuilder::new().num_threads(threads).build() else { break };
            // As the engine does: each thread's scratch kept across batches.
            group.bench_function(format!("windows/{threads}"), |b| {
                let scratches = thread_local::ThreadLocal::new();
                b.iter(|| {
                    pool.install(|| {
                        in_batches(&windows, |batch| {
                            batch
                                .par_iter()
                                .map(|e| {
                                    let cell = scratches.get_or(|| std::cell::RefCell::new(set.scratch()));
                                    let mut out = Vec::new();
                                    match cell.try_borrow_mut() {
                                        Ok(mut scratch) => set.matches_with(e, &mut scratch, &mut out),
                                        Err(_) => set.matches_with(e, &mut set.scratch(), &mut out),
                                    }
                                    out.len()
                                })
                                .sum()
                        })
                    })
                })
            });
            // A fresh scratch per rayon split (`map_init`), for comparison.
            group.bench_function(format!("windows_fresh_scratch/{threads}"), |b| {
                b.iter(|| {
                    pool.install(|| {
                        in_batches(&windows, |batch| {
                            batch
                                .par_iter()
                                .map_init(
                                    || set.scratch(),
                                    |scratch, e| {
                                        let mut out = Vec::new();
                                        set.matches_with(e, scratch, &mut out);
                                        out.len()
                                    },
                                )
                                .sum()
                        })
                    })
                })
            });
            threads *= 2;
        }
        group.finish();
    }
}

/// The events in batches of 1,024, one batch after the other, as the engine takes them; the
/// sum of what `batch` returns.
fn in_batches(events: &[Event], batch: impl Fn(&[Event]) -> usize) -> usize {
    events.chunks(1024).map(batch).sum()
}

criterion_group!(benches, bench);
criterion_main!(benches);
