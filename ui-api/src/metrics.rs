//! `GET /metrics`: the engine's counters in the Prometheus text format (0.0.4), encoded by
//! `prometheus-client` from the live counters at each scrape.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use vigil_engine::Stats;
use vigil_engine::health::{SourceHealth, State};

use crate::reload::SharedRules;

/// Reads the engine's counters at each scrape.
#[derive(Debug)]
struct EngineCollector {
    stats: Arc<Stats>,
    health: Arc<SourceHealth>,
    rules: SharedRules,
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> std::fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

/// A family of one labelled value per item.
fn family<L: prometheus_client::encoding::EncodeLabelSet>(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    items: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    let mut f = e.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in items {
        let m = f.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(value).encode(m)?,
            _ => ConstGauge::new(value as i64).encode(m)?,
        }
    }
    Ok(())
}

fn histogram(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &vigil_engine::stats::Latency,
) -> std::fmt::Result {
    h.0.encode(e.encode_descriptor(name, help, None, h.0.metric_type())?)
}

impl Collector for EngineCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> std::fmt::Result {
        let s = self.stats.snapshot();
        let e = &mut e;
        counter(e, "vigil_received", "Messages received from the network.", s.received)?;
        counter(e, "vigil_processed", "Events that went through the rules.", s.processed)?;
        counter(e, "vigil_alerts", "Alerts raised.", s.alerts)?;
        counter(e, "vigil_alerts_stored", "Alerts committed to the index.", s.alerts_stored)?;
        counter(e, "vigil_unknown_senders", "Events of senders no source matched.", s.unknown_senders)?;
        counter(e, "vigil_udp_kernel_drops", "Datagrams the kernel dropped on the UDP socket.", s.udp_kernel_drops)?;
        gauge(e, "vigil_connections", "TCP, TLS and RELP connections open.", s.connections as i64)?;
        family(
            e,
            "vigil_errors",
            "Problems by reason: parse errors, drops, refused senders, framing errors.",
            MetricType::Counter,
            s.errors.iter().map(|(reason, n)| ([("reason", reason.as_str())], *n)),
        )?;

        // Sources.
        let sources = self.health.list();
        let labels = |v: &vigil_engine::health::SourceView| {
            [("source", v.name.clone()), ("agency", v.agency.clone()), ("province", v.province.clone())]
        };
        family(
            e,
            "vigil_source_events",
            "Events per source.",
            MetricType::Counter,
            sources.iter().map(|v| (labels(v), v.events)),
        )?;
        family(
            e,
            "vigil_source_bytes",
            "Message bytes per source.",
            MetricType::Counter,
            sources.iter().map(|v| (labels(v), v.bytes)),
        )?;
        family(
            e,
            "vigil_source_dropped",
            "UDP datagrams per source dropped because the pipeline was full.",
            MetricType::Counter,
            sources.iter().map(|v| (labels(v), v.dropped)),
        )?;
        family(
            e,
            "vigil_source_silent",
            "1 when the source is quiet past its expected activity.",
            MetricType::Gauge,
            sources.iter().map(|v| (labels(v), u64::from(v.state == State::Silent))),
        )?;

        // Queues and the write-ahead log.
        family(
            e,
            "vigil_queue_depth",
            "Batches waiting between stages.",
            MetricType::Gauge,
            [
                ("ingest", &self.stats.queue_ingest),
                ("detect", &self.stats.queue_detect),
                ("store", &self.stats.queue_store),
            ]
            .map(|(q, v)| ([("queue", q)], v.load(std::sync::atomic::Ordering::Relaxed))),
        )?;
        gauge(
            e,
            "vigil_store_queue_bytes",
            "Estimated memory of the alerts waiting for the index (at most 128 MiB: detection waits past it).",
            self.stats.queue_store_bytes.load(std::sync::atomic::Ordering::Relaxed) as i64,
        )?;
        let w = &s.wal;
        gauge(e, "vigil_wal_bytes", "Bytes in the write-ahead log.", w.bytes as i64)?;
        gauge(e, "vigil_wal_segments", "Segments of the write-ahead log.", w.segments as i64)?;
        counter(
            e,
            "vigil_wal_appended",
            "Records appended to the write-ahead log (its last sequence number).",
            w.appended,
        )?;
        gauge(
            e,
            "vigil_wal_unprocessed",
            "Records appended and not yet matched.",
            w.appended.saturating_sub(w.processed) as i64,
        )?;
        gauge(
            e,
            "vigil_wal_lag",
            "Records after the checkpoint (kept in the log: matched again after a crash).",
            w.appended.saturating_sub(w.checkpoint) as i64,
        )?;
        gauge(
            e,
            "vigil_wal_undurable",
            "Records appended and not yet fsynced.",
            w.appended.saturating_sub(w.durable) as i64,
        )?;
        counter(e, "vigil_wal_full_waits", "Times input waited for the log's size cap.", w.full_waits)?;
        counter(e, "vigil_wal_replayed", "Records read back at start.", w.replayed)?;

        // Latencies.
        histogram(
            e,
            "vigil_batch_duration_seconds",
            "Time to match and correlate a batch.",
            &self.stats.batch_latency,
        )?;
        histogram(
            e,
            "vigil_alert_latency_seconds",
            "From a message's receipt to its alert being raised.",
            &self.stats.alert_latency,
        )?;
        histogram(
            e,
            "vigil_index_commit_duration_seconds",
            "Time to commit alerts to the index.",
            &self.stats.commit_latency,
        )?;
        histogram(e, "vigil_wal_fsync_duration_seconds", "Time of write-ahead log fsyncs.", &self.stats.fsync_latency)?;

        // Rules.
        let hits = self.stats.rule_hits();
        let rules = crate::reload::current(&self.rules);
        let titles: std::collections::HashMap<&str, &str> = rules
            .rules
            .iter()
            .map(|r| (r.id.as_str(), r.title.as_str()))
            .chain(rules.correlations.iter().map(|c| (c.meta.id.as_str(), c.meta.title.as_str())))
            .collect();
        let mut hits: Vec<_> = hits.into_iter().collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        family(
            e,
            "vigil_rule_hits",
            "Alerts raised per rule since start.",
            MetricType::Counter,
            hits.iter().map(|(id, h)| {
                let title = titles.get(id.as_str()).copied().unwrap_or(if id == vigil_engine::health::SILENT_RULE_ID {
                    vigil_engine::health::SILENT_RULE_TITLE
                } else {
                    ""
                });
                ([("rule_id", id.clone()), ("title", title.to_owned())], h.hits)
            }),
        )?;
        gauge(e, "vigil_rules", "Rules in force.", rules.rules.len() as i64)?;
        gauge(e, "vigil_correlation_rules", "Correlation rules in force.", rules.correlations.len() as i64)?;

        // Correlation.
        let c = &s.correlation;
        gauge(e, "vigil_correlation_keys", "Correlation (rule, group) keys held.", c.keys as i64)?;
        gauge(e, "vigil_correlation_pending", "Hits waiting for event time to pass them.", c.pending as i64)?;
        gauge(e, "vigil_correlation_window_bytes", "Bytes of the correlation windows.", c.window_bytes as i64)?;
        counter(e, "vigil_correlation_evicted", "Correlation keys evicted at the key bound.", c.counters.evicted)?;
        counter(e, "vigil_correlation_fired", "Correlation alerts raised.", c.counters.fired)?;
        counter(e, "vigil_correlation_late_events", "Events too late for correlation.", c.counters.late_events)?;
        counter(
            e,
            "vigil_correlation_future_events",
            "Events stamped too far in the future.",
            c.counters.future_events,
        )?;
        Ok(())
    }
}

/// The registry `GET /metrics` encodes.
pub fn registry(stats: Arc<Stats>, health: Arc<SourceHealth>, rules: SharedRules) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(EngineCollector { stats, health, rules }));
    registry
}

/// The Prometheus text exposition of `registry`.
pub fn render(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
    Ok(out)
}
