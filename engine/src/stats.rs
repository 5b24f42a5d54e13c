//! Pipeline counters. Every dropped, truncated or unparsable input is counted with a reason.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Stats {
    /// Messages received from the network or read from files.
    pub received: AtomicU64,
    /// Events that went through the rules.
    pub processed: AtomicU64,
    /// Alerts raised.
    pub alerts: AtomicU64,
    /// Alerts written to the index.
    pub alerts_stored: AtomicU64,
    /// Events from senders no source matched, assigned to the default source.
    pub unknown_senders: AtomicU64,
    /// Datagrams the kernel dropped on the UDP socket (its receive buffer was full).
    pub udp_kernel_drops: AtomicU64,
    /// TCP and TLS connections open now.
    pub connections: AtomicU64,
    /// Problems, by stable reason code (`bad_header`, `frame_too_long`, `store_error`, ...).
    errors: Mutex<BTreeMap<String, u64>>,
    correlation: Mutex<CorrelationStats>,
    /// The write-ahead log and the pipeline's positions in it.
    pub wal: WalStats,
    /// Time to commit alerts to the index (and make them searchable).
    pub commit_latency: Latency,
    /// Time to match and correlate one batch.
    pub batch_latency: Latency,
    /// From a message's receipt to its alerts being raised (before the index commit).
    pub alert_latency: Latency,
    /// Time of the write-ahead log's fsyncs.
    pub fsync_latency: Latency,
    /// Items waiting in each queue: listeners -> log (batches of messages), log -> detection
    /// (batches), detection -> store (batches of alerts).
    pub queue_ingest: AtomicU64,
    pub queue_detect: AtomicU64,
    pub queue_store: AtomicU64,
    /// Estimated memory of the alerts waiting for the store (bounded: detection waits past it).
    pub queue_store_bytes: AtomicU64,
    /// Alerts raised per rule id, and when the last was.
    rule_hits: Mutex<std::collections::HashMap<String, RuleHits>>,
}

/// A rule's alerts since start.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleHits {
    pub hits: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<chrono::DateTime<chrono::Utc>>,
}

/// A latency histogram (seconds, 100 µs to about 22 s, four buckets to each doubling, so that a
/// quantile read from it is within about 9% of the truth), exported as such by `GET /metrics`.
#[derive(Clone, Debug)]
pub struct Latency(pub prometheus_client::metrics::histogram::Histogram);

impl Default for Latency {
    fn default() -> Self {
        Latency(prometheus_client::metrics::histogram::Histogram::new(latency_bounds()))
    }
}

/// 100 µs times 2^(i/4), to 3 significant digits (`le="0.000119"`, not 19 digits).
fn latency_bounds() -> impl Iterator<Item = f64> {
    (0..72).map(|i| {
        let b = 0.0001 * 2f64.powf(f64::from(i) / 4.0);
        format!("{b:.2e}").parse().unwrap_or(b)
    })
}

impl Latency {
    pub fn record(&self, d: std::time::Duration) {
        self.0.observe(d.as_secs_f64());
    }
}

/// Lets a repeated error be logged once, then at most once every `every` with the number of
/// repeats left out in between: on a full disk every append fails, and a line for each would
/// bury the log (the error counters still count every one).
#[derive(Debug)]
pub struct LogThrottle {
    every: std::time::Duration,
    last: Option<std::time::Instant>,
    repeats: u64,
}

impl LogThrottle {
    pub const fn new(every: std::time::Duration) -> LogThrottle {
        LogThrottle { every, last: None, repeats: 0 }
    }

    /// `Some(repeats left out since the last one logged)` when this one is to be logged.
    pub fn admit(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.repeats += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.repeats))
            }
        }
    }
}

/// The write-ahead log: its size, and how far each stage has got in it (sequence numbers).
#[derive(Debug, Default)]
pub struct WalStats {
    pub bytes: AtomicU64,
    pub segments: AtomicU64,
    /// The last record appended.
    pub appended: AtomicU64,
    /// The last record made durable (fsync): what plain TCP senders can count as accepted.
    pub durable: AtomicU64,
    /// The last record matched and correlated.
    pub processed: AtomicU64,
    /// The last record whose alerts are committed to the index.
    pub committed: AtomicU64,
    /// The position of the last correlation snapshot.
    pub snapshot: AtomicU64,
    /// Records read back at start (not finished before the last stop).
    pub replayed: AtomicU64,
    /// Times appends waited because the log was at its size cap.
    pub full_waits: AtomicU64,
    /// Set by the log at its size cap: detection saves a snapshot at once (which moves the
    /// checkpoint on).
    pub snapshot_wanted: std::sync::atomic::AtomicBool,
}

impl WalStats {
    /// Everything up to the checkpoint is matched, committed and in a snapshot.
    pub fn checkpoint(&self) -> u64 {
        self.committed.load(Ordering::Acquire).min(self.snapshot.load(Ordering::Acquire))
    }
}

/// [`WalStats`] as the stats API returns it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WalSnapshot {
    pub bytes: u64,
    pub segments: u64,
    pub appended: u64,
    pub durable: u64,
    pub processed: u64,
    pub committed: u64,
    pub snapshot: u64,
    pub checkpoint: u64,
    pub replayed: u64,
    pub full_waits: u64,
}

/// Correlation's counters and state size.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CorrelationStats {
    #[serde(flatten)]
    pub counters: crate::correlate::Counters,
    /// (correlation rule, group) keys held now.
    pub keys: u64,
    /// Hits waiting for event time to pass them.
    pub pending: u64,
    /// Bytes of the windows' state.
    pub window_bytes: u64,
    /// Snapshots written, and the size and time of the last.
    pub snapshots: u64,
    pub snapshot_bytes: u64,
    pub snapshot_ms: u64,
}

/// A point-in-time copy of the counters, as the stats API returns it.
#[derive(Clone, Debug, Serialize)]
pub struct StatsSnapshot {
    pub received: u64,
    pub processed: u64,
    pub alerts: u64,
    pub alerts_stored: u64,
    pub unknown_senders: u64,
    pub udp_kernel_drops: u64,
    pub connections: u64,
    pub errors: BTreeMap<String, u64>,
    pub correlation: CorrelationStats,
    pub wal: WalSnapshot,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn error(&self, reason: &str) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *errors.entry(reason.to_owned()).or_default() += 1;
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            received: self.received.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            alerts: self.alerts.load(Ordering::Relaxed),
            alerts_stored: self.alerts_stored.load(Ordering::Relaxed),
            unknown_senders: self.unknown_senders.load(Ordering::Relaxed),
            udp_kernel_drops: self.udp_kernel_drops.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            errors: self.errors.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            correlation: self.correlation.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            wal: WalSnapshot {
                bytes: self.wal.bytes.load(Ordering::Relaxed),
                segments: self.wal.segments.load(Ordering::Relaxed),
                appended: self.wal.appended.load(Ordering::Relaxed),
                durable: self.wal.durable.load(Ordering::Relaxed),
                processed: self.wal.processed.load(Ordering::Relaxed),
                committed: self.wal.committed.load(Ordering::Relaxed),
                snapshot: self.wal.snapshot.load(Ordering::Relaxed),
                checkpoint: self.wal.checkpoint(),
                replayed: self.wal.replayed.load(Ordering::Relaxed),
                full_waits: self.wal.full_waits.load(Ordering::Relaxed),
            },
        }
    }

    /// Counts raised alerts per rule.
    pub fn hits(&self, alerts: &[crate::alert::Alert]) {
        if alerts.is_empty() {
            return;
        }
        let now = chrono::Utc::now();
        let mut hits = self.rule_hits.lock().unwrap_or_else(|p| p.into_inner());
        for a in alerts {
            let h = match hits.get_mut(&a.rule.id) {
                Some(h) => h,
                None => hits.entry(a.rule.id.clone()).or_default(),
            };
            h.hits += 1;
            h.last = Some(now);
        }
    }

    /// Alerts raised per rule id since start.
    pub fn rule_hits(&self) -> std::collections::HashMap<String, RuleHits> {
        self.rule_hits.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The problems counted so far, by reason.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Updates correlation's figures.
    pub fn correlation(&self, update: impl FnOnce(&mut CorrelationStats)) {
        update(&mut self.correlation.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_error_is_logged_once_then_with_its_repeats() {
        let mut t = LogThrottle::new(std::time::Duration::from_millis(200));
        assert_eq!(t.admit(), Some(0));
        assert_eq!((t.admit(), t.admit(), t.admit()), (None, None, None));
        std::thread::sleep(std::time::Duration::from_millis(250));
        assert_eq!(t.admit(), Some(3));
        assert_eq!(t.admit(), None);
    }

    #[test]
    fn latency_buckets_are_quarter_octaves_with_short_bounds() {
        let b: Vec<f64> = latency_bounds().collect();
        assert!(b.windows(2).all(|w| w[0] < w[1] && w[1] / w[0] < 1.2), "{b:?}");
        assert_eq!(&b[..5], &[0.0001, 0.000119, 0.000141, 0.000168, 0.0002]);
        assert_eq!((b[32], b[36], b[40]), (0.0256, 0.0512, 0.102));
        assert!(b[71] > 20.0 && b.iter().all(|x| x.to_string().len() <= 9), "{b:?}");
    }
}
