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
        }
    }

    /// Updates correlation's figures.
    pub fn correlation(&self, update: impl FnOnce(&mut CorrelationStats)) {
        update(&mut self.correlation.lock().unwrap_or_else(|p| p.into_inner()));
    }
}
