//! Correlation state at scale: one million active (correlation, group) keys.
//!
//! - `correlation/hits_on_1m_keys`: batches of 10,000 hits, each on one of a million keys
//!   that already hold a window (an `event_count` over a day that never reaches its
//!   threshold), through `Correlator::process`: lateness queue, window update, evaluation.
//! - `correlation/new_keys`: the same hits each opening a new key (a fresh correlator per
//!   batch of 10,000).
//! - `correlation/snapshot_save_1m` and `snapshot_restore_1m`: writing and reading the state
//!   of a million keys (CBOR, SHA-256 checked, synced and renamed).
//!
//! Before measuring it prints the bytes of window state per key and the process's resident
//! memory before and after filling the million keys.
//!
//! Run with `cargo bench -p vigil-benches --bench correlation`.

use std::hint::black_box;
use std::time::Duration;

use chrono::DateTime;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vigil_engine::alert::Alert;
use vigil_engine::correlate::{Correlator, Settings};
use vigil_engine::{Detected, Mark};
use vigil_parsers::{Fields, Value};
use vigil_rules::{RuleSet, RuleSource};

// As in the `vigil` binary, so that resident memory is measured as serve would hold it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const KEYS: u64 = 1_000_000;
const BATCH: u64 = 10_000;

fn rules() -> RuleSet {
    let text = "title: base\nid: base\nlogsource:\n  product: test\ndetection:\n  sel:\n    x: 1\n  condition: sel\n---\n\
                title: burst\nid: burst\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [user]\n  \
                timespan: 1d\n  condition:\n    gte: 1000000000\n";
    let (set, diagnostics) = RuleSet::compile([RuleSource::new("bench.yml", text)]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    set
}

fn alert(n: u64, key: u64, secs: i64) -> Alert {
    let mut fields = Fields::new();
    fields.insert("user".into(), Value::from(format!("user{key}")));
    // Ids as random as real ones (hashes), so that snapshots are their real size.
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    Alert::of_fields(
        format!("{:016x}{:016x}", mix(n), mix(!n)),
        "base",
        DateTime::from_timestamp(1_796_000_000 + secs, 0).unwrap_or_default(),
        fields,
    )
}

/// A batch of hits numbered from `first`, on keys `key(n)`, one second apart from `secs`.
fn batch(first: u64, secs: i64, key: impl Fn(u64) -> u64) -> Detected {
    let mut d = Detected::default();
    for n in first..first + BATCH {
        let a = alert(n, key(n), secs + (n - first) as i64 / 1000);
        d.marks.push((Mark::at(1, a.time.timestamp_nanos_opt().unwrap_or_default()), 1));
        d.alerts.push(a);
    }
    d
}

fn settings() -> Settings {
    Settings { allowed_lateness: Duration::from_secs(5), max_keys: 2_000_000, ..Settings::default() }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A correlator with a million keys, one event each; and the resident memory after half of
/// them and after all of them (freed memory, such as the alerts that made the keys, goes back
/// to the system after the allocator's purge delay, on its next activity).
fn filled(set: &RuleSet) -> (Correlator, i64, u64, u64) {
    let mut c = Correlator::new(set, settings());
    let mut raised = Vec::new();
    let mut secs = 0;
    let settled_rss = || {
        std::thread::sleep(Duration::from_millis(500));
        drop(black_box(vec![0u8; 1 << 20]));
        rss_kib()
    };
    let mut half = 0;
    for b in 0..KEYS / BATCH {
        c.process(batch(b * BATCH, secs, |n| n), &mut raised);
        secs += 10;
        raised.clear();
        if b + 1 == KEYS / BATCH / 2 {
            half = settled_rss();
        }
    }
    c.flush(&mut raised);
    (c, secs, half, settled_rss())
}

fn bench(c: &mut Criterion) {
    let set = rules();
    let before = rss_kib();
    let (mut correlator, mut secs, half, after) = filled(&set);
    eprintln!(
        "correlation bench: {} keys; window state {:.1} bytes a key ({:.1} MiB); RSS {} MiB before, {} MiB at \
         500,000 keys, {} MiB at 1,000,000 ({:.1} bytes a key)",
        correlator.keys(),
        correlator.window_memory_bytes() as f64 / KEYS as f64,
        correlator.window_memory_bytes() as f64 / (1 << 20) as f64,
        before / 1024,
        half / 1024,
        after / 1024,
        (after.saturating_sub(before) * 1024) as f64 / KEYS as f64,
    );

    let mut g = c.benchmark_group("correlation");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(20);
    let mut next = KEYS;
    let mut raised = Vec::new();
    g.bench_function("hits_on_1m_keys", |b| {
        b.iter_batched(
            || {
                let d = batch(next, secs, |n| (n * 7_919) % KEYS);
                next += BATCH;
                secs += 10;
                d
            },
            |d| {
                correlator.process(d, &mut raised);
                raised.clear();
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("new_keys", |b| {
        b.iter_batched(
            || (Correlator::new(&set, settings()), batch(0, 0, |n| n)),
            |(mut fresh, d)| {
                fresh.process(d, &mut raised);
                fresh.flush(&mut raised);
                raised.clear();
                black_box(fresh.keys())
            },
            BatchSize::PerIteration,
        )
    });
    // Snapshots of a freshly filled state: one event in each of a million keys.
    drop(correlator);
    let (correlator, ..) = filled(&set);
    g.throughput(Throughput::Elements(KEYS));
    g.sample_size(10);
    let dir = std::env::temp_dir().join(format!("vigil-correlation-bench-{}", std::process::id()));
    let path = dir.join("state.snapshot");
    g.bench_function("snapshot_save_1m", |b| b.iter(|| black_box(correlator.save(&path).unwrap_or(0))));
    eprintln!(
        "correlation bench: snapshot of {} keys: {:.1} MiB",
        correlator.keys(),
        std::fs::metadata(&path).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64
    );
    g.bench_function("snapshot_restore_1m", |b| {
        b.iter(|| {
            let mut fresh = Correlator::new(&set, settings());
            black_box(fresh.restore(&path).is_ok());
            fresh
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
