//! The alert store benchmark (issue 7): index N synthetic alerts (63 provinces, 200 agencies,
//! a month) into a real tantivy index the way the store thread does (batches, a commit every
//! `--commit-every` alerts), then time analysts' queries against it:
//!
//! - term + time range: an entity (user, host, source IP, rule) within one day, newest 50,
//!   half as the national centre and half as one province;
//! - facets: the default facets and the time histogram over one week, the same two scopes.
//!
//! ```text
//! cargo run --release -p vigil-benches --bin vigil-searchbench -- --alerts 10000000 --dir /tmp/idx
//! cargo run --release -p vigil-benches --bin vigil-searchbench -- --dir /tmp/idx --reuse   # queries only
//! ```

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Parser;
use vigil_benches::alerts::{self, Generator, Rng};
use vigil_engine::{AggQuery, AlertQuery, AlertStore, Facet, Scope};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Alerts to index.
    #[arg(long, default_value_t = 1_000_000)]
    alerts: u64,
    /// The index folder (a temporary one when absent; removed at the end then).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Query an index built by an earlier run in `--dir` instead of building one.
    #[arg(long)]
    reuse: bool,
    /// Alerts per commit (the store thread commits every 200 ms by default: at 50,000
    /// alerts/s, 10,000).
    #[arg(long, default_value_t = 10_000)]
    commit_every: u64,
    /// Index writer memory, MB (the default configuration's).
    #[arg(long, default_value_t = 64)]
    writer_mb: usize,
    /// Queries of each kind.
    #[arg(long, default_value_t = 500)]
    queries: usize,
    /// Days the alerts span.
    #[arg(long, default_value_t = 30)]
    days: i64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-10-01T00:00:00Z").map(|t| t.to_utc()).unwrap_or_default()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, mut times: Vec<Duration>, hits: u64) {
    times.sort();
    println!(
        "{name:<28} n={:<5} p50={:>8.2} ms  p90={:>8.2} ms  p99={:>8.2} ms  max={:>8.2} ms  (mean hits {:.0})",
        times.len(),
        percentile(&times, 0.50),
        percentile(&times, 0.90),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        hits as f64 / times.len().max(1) as f64
    );
}

fn main() -> Result<()> {
    let args = Args::parse();
    let temp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            if args.reuse {
                bail!("--reuse needs --dir");
            }
            temp = tempfile_dir()?;
            temp.clone()
        }
    };
    let store = AlertStore::open(&dir, args.writer_mb << 20).context("open the index")?;
    let generator = Generator::new(args.seed, start(), args.days, args.alerts);
    if !args.reuse {
        let started = Instant::now();
        let mut batch = Vec::with_capacity(1_000);
        let (mut since_commit, mut done) = (0u64, 0u64);
        let mut last_report = Instant::now();
        for alert in generator.clone() {
            batch.push(alert);
            if batch.len() == 1_000 {
                store.add(&batch)?;
                done += batch.len() as u64;
                since_commit += batch.len() as u64;
                batch.clear();
                if since_commit >= args.commit_every {
                    store.commit()?;
                    since_commit = 0;
                }
                if last_report.elapsed() > Duration::from_secs(30) {
                    last_report = Instant::now();
                    eprintln!("  {done} alerts, {:.0}/s", done as f64 / started.elapsed().as_secs_f64());
                }
            }
        }
        store.add(&batch)?;
        done += batch.len() as u64;
        store.commit()?;
        let secs = started.elapsed().as_secs_f64();
        println!("indexed {done} alerts in {secs:.1} s: {:.0} alerts/s", done as f64 / secs);
        println!("index size: {:.2} GiB", dir_size(&dir) as f64 / (1u64 << 30) as f64);
    }
    let total = store.search(&AlertQuery { limit: 0, ..Default::default() })?.total;
    println!("alerts in the index: {total}");

    // Term + time range.
    let mut rng = Rng::new(args.seed ^ 0xBEEF);
    let span = args.days * 86_400;
    let scope = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            Scope::All
        } else {
            Scope::Province(alerts::PROVINCES[rng.below(63) as usize].to_owned())
        }
    };
    let mut times = Vec::new();
    let mut hits = 0u64;
    for i in 0..args.queries {
        let q = match i % 4 {
            0 => format!("user:{}", alerts::user(rng.skewed(alerts::USERS)).0),
            1 => {
                let agency = rng.skewed(alerts::AGENCIES as u64) as usize;
                format!("host:{}", alerts::host(agency, rng.below(alerts::HOSTS_PER_AGENCY)))
            }
            2 => format!("src_ip:{}", alerts::src_ip(rng.next_u64())),
            _ => format!("rule_id:{}", alerts::rule(rng.skewed(alerts::RULES as u64) as usize).id),
        };
        let from = start() + chrono::Duration::seconds(rng.below((span - 86_400) as u64) as i64);
        let query = AlertQuery {
            q,
            from: Some(from),
            to: Some(from + chrono::Duration::days(1)),
            limit: 50,
            scope: scope(&mut rng),
            ..Default::default()
        };
        hits += timed(&mut times, || store.search(&query))?.total as u64;
    }
    report("term + 1 day, newest 50", times, hits);

    // Facets and histogram over a week.
    let mut times = Vec::new();
    let mut hits = 0u64;
    for _ in 0..args.queries.div_ceil(5) {
        let from = start() + chrono::Duration::seconds(rng.below((span - 7 * 86_400).max(1) as u64) as i64);
        let request = AggQuery {
            search: AlertQuery {
                from: Some(from),
                to: Some(from + chrono::Duration::days(7)),
                scope: scope(&mut rng),
                ..Default::default()
            },
            facets: Facet::DEFAULT.to_vec(),
            size: 10,
            histogram: true,
        };
        hits += timed(&mut times, || store.aggregate(&request))?.total;
    }
    report("8 facets + histogram, 7 days", times, hits);

    // The whole month, national: the heaviest facet query an analyst makes.
    let mut times = Vec::new();
    let mut hits = 0u64;
    for _ in 0..5 {
        let request = AggQuery {
            search: AlertQuery::default(),
            facets: vec![Facet::Province, Facet::Agency, Facet::Rule, Facet::Level],
            size: 10,
            histogram: true,
        };
        hits += timed(&mut times, || store.aggregate(&request))?.total;
    }
    report("4 facets + histogram, all", times, hits);

    if args.dir.is_none() {
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Runs `f`, adding its wall time to `times`.
fn timed<T, E>(times: &mut Vec<Duration>, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let t = Instant::now();
    let out = f();
    times.push(t.elapsed());
    out
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("vigil-searchbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}
