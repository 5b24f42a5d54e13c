//! The running engine: syslog listeners (tokio), the detection thread (rayon inside), and the
//! store thread that commits alerts to the index.
//!
//! ```text
//! UDP/TCP/TLS tasks --tokio mpsc--> detect thread (rayon batches) --crossbeam--> store thread
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle as TaskHandle;
use tracing::{debug, error, info, warn};
use vigil_parsers::framing::{Frame, FrameDecoder};

use crate::alert::{Alert, AlertSource};
use crate::config::Config;
use crate::correlate::{Correlator, Restored};
use crate::health::{Seen, SourceHealth};
use crate::pipeline::{Detector, Input};
use crate::sources::{Resolution, Source, SourceError, SourceMap};
use crate::stats::Stats;
use crate::store::{AlertStore, StoreError};
use crate::tls::TlsError;
use crate::wal::{Entry, MessageRef, Wal, WalError};

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("cannot listen for syslog/{proto} on {addr}: {source}")]
    Bind { proto: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Sources(#[from] SourceError),
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Snapshot(#[from] crate::correlate::SnapshotError),
    #[error(transparent)]
    Wal(#[from] WalError),
    #[error(transparent)]
    Triage(#[from] crate::triage::TriageError),
}

/// A started engine. Drop the tokio runtime, then call [`Engine::join`] to drain and commit.
#[derive(Debug)]
pub struct Engine {
    pub store: Arc<AlertStore>,
    pub stats: Arc<Stats>,
    pub udp_addr: Option<SocketAddr>,
    pub tcp_addr: Option<SocketAddr>,
    pub tls_addr: Option<SocketAddr>,
    pub relp_addr: Option<SocketAddr>,
    /// The development certificate in use, when one was generated.
    pub dev_cert: Option<PathBuf>,
    /// Swaps the rule set between batches.
    pub reloader: Reloader,
    /// Per-source counters and health.
    pub health: Arc<SourceHealth>,
    /// Analysts' triage of alerts (the index keeps a copy of status and assignee).
    pub triage: Arc<crate::triage::TriageStore>,
    tasks: Vec<TaskHandle<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// What the listeners hand the write-ahead log.
pub(crate) enum Ingest {
    /// Messages, and who waits for them to be durable (a RELP sender's acknowledgement).
    Messages { inputs: Vec<Input>, ack: Option<oneshot::Sender<()>> },
    /// Time passes (every 50 ms): for the fsync interval and the quiet flush.
    Tick,
}

/// What the log hands detection. Positions are write-ahead log sequence numbers.
enum Work {
    Batch {
        inputs: Vec<Input>,
        position: u64,
    },
    /// The input was quiet: correlation takes what waits (a record of the log).
    Flush {
        position: u64,
    },
    Tick,
    Reload(Box<ReloadRequest>),
    /// The log has stopped: nothing more comes.
    Stop,
}

/// What detection hands the store: alerts, the log position they complete, and their weight
/// in the [`AlertGate`].
struct Raised {
    alerts: Vec<Alert>,
    position: u64,
    weight: usize,
}

/// Most memory (estimated by [`alert_weight`]) the alerts waiting between detection and the
/// store may take: by that estimate a Windows event's alert weighs some kilobytes (its dozens
/// of fields), a syslog line's about one, so with the corpus mix around a second of the
/// heaviest alert rate measured (BENCHMARKS.md).
const MAX_QUEUED_BYTES: usize = 128 << 20;

/// An alert's memory, estimated cheaply: its struct and its rule's texts, its raw line, and for
/// each field of its event an entry of the map and the field's name and text.
fn alert_weight(alert: &Alert) -> usize {
    let rule = &alert.rule;
    let rule_texts = rule.id.len()
        + rule.title.len()
        + rule.level.len()
        + rule.name.as_ref().map_or(0, String::len)
        + rule.status.as_ref().map_or(0, String::len)
        + rule.author.as_ref().map_or(0, String::len)
        + rule.tags.iter().map(|t| 24 + t.len()).sum::<usize>();
    let fields: usize = alert.fields.iter().map(|(name, value)| 96 + name.len() + value_weight(value)).sum();
    512 + rule_texts + alert.raw.len() + fields
}

/// The heap bytes of a field value, roughly: its text, or its elements'.
fn value_weight(value: &vigil_parsers::Value) -> usize {
    match value {
        vigil_parsers::Value::Str(s) => s.len(),
        vigil_parsers::Value::List(items) => items.iter().map(|v| 32 + value_weight(v)).sum(),
        _ => 0,
    }
}

/// Bounds the alerts between detection and the store by their memory rather than by batches:
/// a commit that keeps the store busy for a moment (0.1 to 1 s under a heavy alert rate) is
/// absorbed instead of stopping detection, and a flood of alerts, large
/// or small, still cannot fill memory.
#[derive(Debug)]
struct AlertGate {
    /// Weight of the alerts queued.
    queued: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
    /// Set when the store stage ends: nobody will free anything any more.
    closed: std::sync::atomic::AtomicBool,
    /// Where the weight queued is published (`vigil_store_queue_bytes`).
    stats: Arc<Stats>,
}

impl AlertGate {
    fn new(stats: Arc<Stats>) -> AlertGate {
        AlertGate {
            queued: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
            stats,
        }
    }

    /// Waits until `n` more may be queued (at once when nothing is: a batch heavier than the
    /// bound still passes alone).
    fn enter(&self, n: usize) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        while *queued > 0 && *queued + n > MAX_QUEUED_BYTES && !self.closed.load(Ordering::Acquire) {
            queued =
                self.freed.wait_timeout(queued, Duration::from_millis(100)).map_or_else(|p| p.into_inner().0, |r| r.0);
        }
        *queued += n;
        self.stats.queue_store_bytes.store(*queued as u64, Ordering::Relaxed);
    }

    fn leave(&self, n: usize) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        *queued = queued.saturating_sub(n);
        self.stats.queue_store_bytes.store(*queued as u64, Ordering::Relaxed);
        self.freed.notify_all();
    }

    /// Weight queued now.
    fn queued(&self) -> usize {
        *self.queued.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.freed.notify_all();
    }
}

/// What every connection task shares.
pub(crate) struct Shared {
    pub(crate) tx: mpsc::Sender<Ingest>,
    pub(crate) stats: Arc<Stats>,
    sources: Arc<SourceMap>,
    pub(crate) max_message: usize,
    pub(crate) idle: Duration,
    permits: Arc<Semaphore>,
    health: Arc<SourceHealth>,
}

/// Builds the source map of a configuration.
pub fn source_map(config: &Config) -> Result<SourceMap, SourceError> {
    SourceMap::new(&config.sources, &config.unknown_sources, config.syslog.timezone)
}

/// The health table of a configuration's sources.
pub fn source_health(config: &Config, sources: &SourceMap) -> Result<SourceHealth, SourceError> {
    let mut expect = std::collections::BTreeMap::new();
    for s in &config.sources {
        if let Some(text) = &s.expect_every {
            let every = crate::correlate::parse_duration(text)
                .ok_or_else(|| SourceError::BadExpect(s.name.clone(), text.clone()))?;
            expect.insert(s.name.clone(), every);
        }
    }
    Ok(SourceHealth::new(sources, &expect, config.health.settings()))
}

impl Engine {
    /// Opens the store, binds the listeners and starts the pipeline. Must be called inside a
    /// tokio runtime. `detector` must have been built with [`source_map`] of `config`.
    ///
    /// ```text
    /// UDP/TCP/TLS tasks --mpsc--> log thread (append, fsync) --crossbeam--> detect thread
    ///   (rayon matching, correlation) --crossbeam--> store thread (index commit: checkpoint)
    /// ```
    ///
    /// Every queue is bounded: a full one stops the stage before it (TCP and TLS connections
    /// are then not read, so their senders wait; UDP datagrams are dropped and counted).
    pub async fn start(config: &Config, detector: Detector) -> Result<Engine, EngineError> {
        let stats = Arc::new(Stats::default());
        // The store thread opens the index itself, after lowering its priority: the index's
        // threads (merges, compression) inherit it.
        // Alerts are large (fields, raw line): a short queue, so that a slow store pushes back on
        // matching (and so on the senders) instead of holding them in memory.
        let (raised_tx, raised_rx) = crossbeam_channel::bounded::<Raised>(1024);
        let gate = Arc::new(AlertGate::new(stats.clone()));
        let (opened_tx, opened) = std::sync::mpsc::channel();
        // Where the last run got to (committed, checkpoint), once it is read from the index.
        let (begin_tx, begin) = std::sync::mpsc::channel::<(u64, u64)>();
        let triage = Arc::new(crate::triage::TriageStore::open(&config.data_dir.join("triage.redb"))?);
        let triaged = triage.all()?;
        let store_thread = {
            let (dir, memory) = (config.data_dir.join("alerts"), config.store.writer_memory_mb.saturating_mul(1 << 20));
            let (stats, nice) = (stats.clone(), config.store.nice);
            let interval = Duration::from_millis(config.store.commit_interval_ms.clamp(10, 1000));
            let gate_store = gate.clone();
            spawn("vigil-store", move || {
                lower_priority(nice);
                let store = match AlertStore::open(&dir, memory).and_then(|s| s.load_triage(&triaged).map(|()| s)) {
                    Ok(s) => Arc::new(s),
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                if nice > 0 {
                    lowest_priority_for_merges();
                }
                let _ = opened_tx.send(Ok(store.clone()));
                drop(opened_tx);
                // Engine::start gave up without this: nothing to do.
                let Ok((committed, checkpoint)) = begin.recv() else { return };
                store_loop(raised_rx, &gate_store, &store, &stats, interval, committed, checkpoint);
                gate_store.close();
            })?
        };
        let store = match opened.recv() {
            Ok(result) => result?,
            Err(_) => return Err(EngineError::Thread(std::io::Error::other("the store thread ended"))),
        };

        // Where the last run got to: the index commit's position and the correlation snapshot's.
        let committed = store.position()?;
        let snapshot = config.data_dir.join("correlation").join("state.snapshot");
        let (mut correlator, snapshot_position) = restore_correlation(&detector, config, &snapshot, committed, &stats)?;
        let checkpoint = committed.min(snapshot_position);
        let (wal, recovery) =
            Wal::open(&config.data_dir.join("wal"), config.wal.options(), committed.max(snapshot_position))?;
        if recovery.torn_bytes > 0 {
            stats.error("wal_torn_record");
            warn!(bytes = recovery.torn_bytes, "write-ahead log: a record torn by a crash was cut off its end");
        }
        stats.wal.appended.store(wal.last_seq(), Ordering::Release);
        stats.wal.durable.store(wal.durable_seq(), Ordering::Release);
        stats.wal.bytes.store(wal.bytes(), Ordering::Relaxed);
        stats.wal.segments.store(wal.segments() as u64, Ordering::Relaxed);
        stats.wal.committed.store(committed, Ordering::Release);
        stats.wal.snapshot.store(snapshot_position, Ordering::Release);
        stats.wal.processed.store(checkpoint, Ordering::Release);
        correlator.set_position(checkpoint);
        correlator.publish(&stats);
        let _ = begin_tx.send((committed, checkpoint));

        // The stages and the bounded queues between them.
        let batch_size = config.pipeline.batch_size.max(1);
        let (ingest_tx, ingest_rx) = mpsc::channel::<Ingest>((config.pipeline.queue_capacity / 64).max(16));
        let (work_tx, work_rx) =
            crossbeam_channel::bounded::<Work>((config.pipeline.queue_capacity / batch_size).max(4));
        let sources = detector.sources().clone();
        let health = Arc::new(source_health(config, &sources)?);
        let log = LogStage {
            wal,
            checkpoint,
            sources: sources.clone(),
            stats: stats.clone(),
            batch_size,
            quiet: config.correlation.allowed_lateness,
            append_errors: crate::stats::LogThrottle::new(Duration::from_secs(10)),
        };
        let detect = DetectStage {
            batch_size,
            correlation: Correlation {
                correlator,
                settings: config.correlation.settings(),
                snapshot,
                snapshot_every: Duration::from_secs(config.correlation.snapshot_interval_secs.max(1)),
            },
            stats: stats.clone(),
            health: health.clone(),
            health_every: Duration::from_secs(config.health.check_interval_secs.max(1)),
        };
        let threads = vec![
            spawn("vigil-wal", {
                let out = work_tx.clone();
                move || log.run(ingest_rx, out)
            })?,
            spawn("vigil-detect", move || detect.run(work_rx, detector, raised_tx, &gate))?,
            store_thread,
        ];
        let reloader = Reloader { tx: work_tx };

        // The listeners, last: what they accept has somewhere to go.
        let shared = Arc::new(Shared {
            tx: ingest_tx.clone(),
            stats: stats.clone(),
            sources,
            max_message: config.syslog.max_message_bytes.max(1),
            idle: Duration::from_secs(config.syslog.tcp_idle_timeout_secs.max(1)),
            permits: Arc::new(Semaphore::new(config.syslog.max_connections.max(1))),
            health: health.clone(),
        });
        let mut tasks = Vec::new();
        let (mut udp_addr, mut tcp_addr, mut tls_addr, mut relp_addr, mut dev_cert) = (None, None, None, None, None);
        if let Some(addr) = config.syslog.udp {
            let socket = bind_udp(addr, config.syslog.udp_recv_buffer_bytes).map_err(|source| EngineError::Bind {
                proto: "udp",
                addr,
                source,
            })?;
            udp_addr = socket.local_addr().ok();
            let socket = Arc::new(socket);
            tasks.push(tokio::spawn(udp_drop_monitor(socket.clone(), stats.clone())));
            tasks.push(tokio::spawn(udp_loop(socket, shared.clone())));
        }
        if let Some(addr) = config.syslog.tcp {
            let listener = bind_tcp(addr).map_err(|source| EngineError::Bind { proto: "tcp", addr, source })?;
            tcp_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(accept_loop(listener, shared.clone(), Protocol::Tcp)));
        }
        if let Some(addr) = config.syslog.relp {
            let listener = bind_tcp(addr).map_err(|source| EngineError::Bind { proto: "relp", addr, source })?;
            relp_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(accept_loop(listener, shared.clone(), Protocol::Relp)));
        }
        if let Some(addr) = config.syslog.tls {
            let setup = crate::tls::server_config(&config.tls, &config.data_dir)?;
            if let Some(cert) = &setup.dev_cert {
                warn!(cert = %cert.display(), "syslog/tls uses a generated development certificate; set [tls] cert and key for production");
            }
            dev_cert = setup.dev_cert;
            let listener = bind_tcp(addr).map_err(|source| EngineError::Bind { proto: "tls", addr, source })?;
            tls_addr = listener.local_addr().ok();
            let acceptor = TlsAccept {
                acceptor: tokio_rustls::TlsAcceptor::from(setup.config),
                timeout: Duration::from_secs(config.tls.handshake_timeout_secs.max(1)),
            };
            tasks.push(tokio::spawn(accept_loop(listener, shared.clone(), Protocol::Tls(Arc::new(acceptor)))));
        }
        drop(shared);
        // The log's clock.
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if ingest_tx.send(Ingest::Tick).await.is_err() {
                    return;
                }
            }
        }));

        Ok(Engine {
            store,
            stats,
            udp_addr,
            tcp_addr,
            tls_addr,
            relp_addr,
            dev_cert,
            reloader,
            health,
            triage,
            tasks,
            threads,
        })
    }

    /// Stops the listeners, waits until every received event is in the log, matched, and its
    /// alerts committed, and saves the correlation state.
    pub fn join(self) {
        for task in &self.tasks {
            task.abort();
        }
        drop(self.tasks);
        drop(self.reloader);
        for thread in self.threads {
            if thread.join().is_err() {
                error!("a pipeline thread panicked");
            }
        }
    }
}

/// Makes the calling thread `nice` steps nicer (Linux; elsewhere, and on failure, nothing).
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(Some(tid), (now + nice).min(19)) {
            warn!(error = %e, "cannot lower the index's priority");
        }
    }
}

/// Tantivy's merge threads (named `merge_thread_N`, started with the index writer) take the
/// lowest priority: a merge rewrites alerts already searchable, so it gets the CPU time that
/// matching and indexing leave (Linux; elsewhere, and on failure, nothing). A long merge at the
/// priority of indexing would otherwise slow indexing behind it, and then matching behind the
/// store's bounded queue.
fn lowest_priority_for_merges() {
    #[cfg(target_os = "linux")]
    {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return };
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            let tid =
                task.file_name().to_str().and_then(|t| t.parse::<i32>().ok()).and_then(rustix::process::Pid::from_raw);
            if let (true, Some(tid)) = (comm.starts_with("merge_thread"), tid)
                && let Err(e) = rustix::process::setpriority_process(Some(tid), 19)
            {
                warn!(error = %e, "cannot lower the priority of the index's merges");
                return;
            }
        }
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, EngineError> {
    std::thread::Builder::new().name(name.into()).spawn(f).map_err(EngineError::Thread)
}

/// The correlation state to start from: the newest snapshot whose position the index commit
/// has reached (a snapshot can be ahead of the commit when vigil was killed between the two;
/// matching the log again from the commit must not feed its events into state that already
/// holds them). The previous snapshot is kept for that. Returns the correlator and the position
/// its state includes.
fn restore_correlation(
    detector: &Detector,
    config: &Config,
    snapshot: &Path,
    committed: u64,
    stats: &Stats,
) -> Result<(Correlator, u64), EngineError> {
    let fresh = || Correlator::new(detector.rules(), config.correlation.settings());
    if fresh().is_empty() {
        // No correlation rules: no state; the commit alone is the checkpoint.
        return Ok((fresh(), committed));
    }
    for path in [snapshot.to_owned(), previous_snapshot(snapshot)] {
        let mut correlator = fresh();
        match correlator.restore(&path) {
            Ok(Restored::Fresh) => continue,
            Ok(Restored::Restored { keys, pending, dropped }) => {
                let position = correlator.position();
                if position > committed {
                    info!(position, committed, path = %path.display(), "correlation snapshot ahead of the index commit; trying the previous one");
                    continue;
                }
                info!(keys, pending, dropped, position, path = %path.display(), "correlation state restored");
                return Ok((correlator, position));
            }
            Err(e @ crate::correlate::SnapshotError::Corrupt { .. }) => {
                stats.error("correlation_snapshot_corrupt");
                error!(error = %e, "correlation snapshot unusable");
            }
            Err(e) => return Err(e.into()),
        }
    }
    // Nothing usable: empty state, rebuilt from what the log still holds.
    Ok((fresh(), 0))
}

fn previous_snapshot(snapshot: &Path) -> PathBuf {
    snapshot.with_extension("snapshot.prev")
}

/// A request to swap the rule set, answered once done.
pub struct ReloadRequest {
    detector: Detector,
    reply: oneshot::Sender<Swapped>,
}

/// What a swap did to the correlation state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swapped {
    /// Correlation keys carried over to the new rule set.
    pub keys: usize,
    /// Keys and waiting hits dropped: their correlation is gone or changed.
    pub dropped: usize,
    /// The log position of the last event matched by the old rules.
    pub position: u64,
}

/// Hands a new rule set to the detection thread, which swaps it in between two batches: no
/// event is matched by both sets or by neither.
#[derive(Clone, Debug)]
pub struct Reloader {
    tx: crossbeam_channel::Sender<Work>,
}

impl Reloader {
    /// Swaps `detector` in; `None` when the engine has stopped. `detector` must have been
    /// built with [`source_map`] of the running configuration.
    pub async fn swap(&self, detector: Detector) -> Option<Swapped> {
        let (reply, answer) = oneshot::channel();
        let tx = self.tx.clone();
        let request = Work::Reload(Box::new(ReloadRequest { detector, reply }));
        // The queue may be full (backpressure): wait off the async runtime.
        tokio::task::spawn_blocking(move || tx.send(request)).await.ok()?.ok()?;
        answer.await.ok()
    }
}

/// The log stage: appends what the listeners accept, makes it durable, hands it on.
struct LogStage {
    wal: Wal,
    /// Where the last run's work was complete: what follows is read back first.
    checkpoint: u64,
    sources: Arc<SourceMap>,
    stats: Arc<Stats>,
    batch_size: usize,
    quiet: Duration,
    /// Failed appends (a full disk fails them all): logged every 10 s, counted each.
    append_errors: crate::stats::LogThrottle,
}

impl LogStage {
    fn run(mut self, rx: mpsc::Receiver<Ingest>, out: crossbeam_channel::Sender<Work>) {
        if !self.replay(&out) {
            return;
        }
        let mut acks = Vec::new();
        let (sync_tx, sync_rx) = crossbeam_channel::unbounded::<SyncRequest>();
        let stats = self.stats.clone();
        std::thread::scope(|scope| {
            let syncer = std::thread::Builder::new()
                .name("vigil-fsync".into())
                .spawn_scoped(scope, move || sync_loop(&sync_rx, &stats));
            if let Err(e) = &syncer {
                warn!(error = %e, "no fsync thread: the log syncs its appends itself");
            }
            self.pipeline(rx, &out, syncer.is_ok().then_some(&sync_tx), &mut acks);
            drop(sync_tx);
        });
        // Every sync handed on has run: what is left is synced here.
        self.sync(&mut acks);
        self.release();
        let _ = out.send(Work::Stop);
    }

    /// Appends and hands on until the listeners are gone (or detection is). Syncs are handed
    /// to `syncer` (here without it).
    fn pipeline(
        &mut self,
        mut rx: mpsc::Receiver<Ingest>,
        out: &crossbeam_channel::Sender<Work>,
        syncer: Option<&crossbeam_channel::Sender<SyncRequest>>,
        acks: &mut Vec<oneshot::Sender<()>>,
    ) {
        // What a restart read back or restored may be waiting: quiet input takes it, as ever.
        let (mut last_input, mut flushed) = (Instant::now(), false);
        while let Some(first) = rx.blocking_recv() {
            let (mut inputs, mut tick) = (Vec::new(), false);
            let mut next = Some(first);
            while let Some(ingest) = next.take() {
                match ingest {
                    Ingest::Messages { inputs: more, ack } => {
                        inputs.extend(more);
                        acks.extend(ack);
                    }
                    Ingest::Tick => tick = true,
                }
                if inputs.len() < self.batch_size {
                    next = rx.try_recv().ok();
                }
            }
            self.stats.queue_ingest.store(rx.len() as u64, Ordering::Relaxed);
            let mut work = Vec::with_capacity(3);
            if !inputs.is_empty() {
                self.wait_for_room(out);
                match self.wal.append(inputs.iter().map(message_ref)) {
                    Ok(position) => work.push(Work::Batch { inputs, position }),
                    Err(e) => {
                        // Still matched: better than dropped; but not durable.
                        self.stats.error("wal_write_error");
                        if let Some(repeats) = self.append_errors.admit() {
                            error!(error = %e, repeats, "cannot append to the write-ahead log");
                        }
                        work.push(Work::Batch { inputs, position: self.wal.last_seq() });
                    }
                }
                (last_input, flushed) = (Instant::now(), false);
                self.publish();
            }
            if tick && !flushed && last_input.elapsed() >= self.quiet {
                flushed = true;
                match self.wal.append_flush() {
                    Ok(position) => work.push(Work::Flush { position }),
                    Err(e) => {
                        if let Some(repeats) = self.append_errors.admit() {
                            error!(error = %e, repeats, "cannot append to the write-ahead log");
                        }
                    }
                }
            }
            // A waiting sender's acknowledgement goes with the next request even when nothing
            // is left to sync: requests run in order, so the one syncing its message is done.
            if self.wal.sync_due(!acks.is_empty()) || !acks.is_empty() {
                match syncer {
                    Some(syncer) => self.hand_sync(syncer, acks),
                    None => self.sync(acks),
                }
            }
            if tick {
                self.release();
                work.push(Work::Tick);
            }
            for w in work {
                if out.send(w).is_err() {
                    error!("detection stopped; the log stops");
                    return;
                }
            }
        }
    }

    /// Hands the fsyncs due, and the acknowledgements waiting on them, to the fsync thread.
    fn hand_sync(&mut self, syncer: &crossbeam_channel::Sender<SyncRequest>, acks: &mut Vec<oneshot::Sender<()>>) {
        let request = SyncRequest { jobs: self.wal.take_sync(), acks: std::mem::take(acks) };
        if let Err(e) = syncer.send(request) {
            // The fsync thread is gone (it panicked): sync here.
            let SyncRequest { jobs, acks: mut waiting } = e.into_inner();
            run_syncs(&jobs, &mut waiting, &self.stats);
        }
    }

    /// Hands on what the last run accepted and did not finish.
    fn replay(&mut self, out: &crossbeam_channel::Sender<Work>) -> bool {
        let mut ok = true;
        let mut replayed = 0u64;
        let mut sources: HashMap<(Option<String>, Option<String>), Arc<AlertSource>> = HashMap::new();
        let result = self.wal.replay(self.checkpoint, self.batch_size, |records| {
            if !ok {
                return;
            }
            let mut inputs = Vec::with_capacity(records.len());
            let mut position = 0;
            for (seq, entry) in records {
                position = seq;
                replayed += 1;
                match entry {
                    Entry::Message(m) => {
                        let source = sources
                            .entry((m.transport.clone(), m.peer.clone()))
                            .or_insert_with(|| {
                                Arc::new(AlertSource { transport: m.transport, peer: m.peer, ..AlertSource::default() })
                            })
                            .clone();
                        let sender = m.sender.as_deref().and_then(|n| self.sources.by_name(n));
                        inputs.push(Input { bytes: m.bytes, received: m.received, sender, source });
                    }
                    Entry::Flush => {
                        let batch = std::mem::take(&mut inputs);
                        ok &= batch.is_empty() || out.send(Work::Batch { inputs: batch, position: seq - 1 }).is_ok();
                        ok &= out.send(Work::Flush { position: seq }).is_ok();
                    }
                }
            }
            if !inputs.is_empty() {
                ok &= out.send(Work::Batch { inputs, position }).is_ok();
            }
        });
        match result {
            Ok(bad) => {
                if bad > 0 {
                    self.stats.error("wal_corrupt_record");
                    error!(segments = bad, "write-ahead log: a corrupt record ended the reading of a segment");
                }
            }
            Err(e) => {
                self.stats.error("wal_read_error");
                error!(error = %e, "cannot read the write-ahead log back");
            }
        }
        if replayed > 0 {
            info!(
                records = replayed,
                after = self.checkpoint,
                "write-ahead log: what the last run did not finish is matched again"
            );
        }
        self.stats.wal.replayed.store(replayed, Ordering::Relaxed);
        self.publish();
        ok
    }

    /// At the size cap: wait for the checkpoint to free segments (the listeners wait too).
    fn wait_for_room(&mut self, out: &crossbeam_channel::Sender<Work>) {
        let mut warned = false;
        while self.wal.full() {
            self.release();
            if !self.wal.full() {
                break;
            }
            if !warned {
                warned = true;
                Stats::add(&self.stats.wal.full_waits, 1);
                warn!(bytes = self.wal.bytes(), "write-ahead log at its size cap: input waits for the checkpoint");
            }
            self.stats.wal.snapshot_wanted.store(true, Ordering::Release);
            // Wake detection for its snapshot, even when it has nothing queued.
            let _ = out.try_send(Work::Tick);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sync(&mut self, acks: &mut Vec<oneshot::Sender<()>>) {
        let started = Instant::now();
        match self.wal.sync() {
            Ok(()) => {
                self.stats.fsync_latency.record(started.elapsed());
                self.stats.wal.durable.fetch_max(self.wal.durable_seq(), Ordering::AcqRel);
                for ack in acks.drain(..) {
                    let _ = ack.send(());
                }
            }
            Err(e) => {
                // Not acknowledged: RELP senders will send again.
                self.stats.error("wal_sync_error");
                error!(error = %e, "cannot sync the write-ahead log");
                acks.clear();
            }
        }
        self.publish();
    }

    fn release(&mut self) {
        if let Err(e) = self.wal.release(self.stats.wal.checkpoint()) {
            self.stats.error("wal_delete_error");
            warn!(error = %e, "cannot delete a write-ahead log segment");
        }
        self.publish();
    }

    fn publish(&self) {
        let w = &self.stats.wal;
        w.bytes.store(self.wal.bytes(), Ordering::Relaxed);
        w.segments.store(self.wal.segments() as u64, Ordering::Relaxed);
        w.appended.store(self.wal.last_seq(), Ordering::Relaxed);
        // The fsync thread moves it too; never back.
        w.durable.fetch_max(self.wal.durable_seq(), Ordering::AcqRel);
    }
}

/// Fsyncs for the fsync thread, and the acknowledgements waiting on them.
struct SyncRequest {
    jobs: Vec<crate::wal::SyncJob>,
    acks: Vec<oneshot::Sender<()>>,
}

/// The fsync thread: runs the log's syncs in order, off the log thread, so that appends go on
/// while an fsync waits for the disk; then moves the durable position and acknowledges.
fn sync_loop(rx: &crossbeam_channel::Receiver<SyncRequest>, stats: &Stats) {
    while let Ok(SyncRequest { mut jobs, mut acks }) = rx.recv() {
        // Requests queued behind a slow fsync: one fsync of a segment covers them all.
        while let Ok(more) = rx.try_recv() {
            jobs.extend(more.jobs);
            acks.extend(more.acks);
        }
        crate::wal::coalesce(&mut jobs);
        run_syncs(&jobs, &mut acks, stats);
    }
}

/// Runs `jobs` in order; on success moves the durable position and sends `acks`. After a
/// failure nothing more of them runs and nothing is acknowledged (RELP senders send again).
fn run_syncs(jobs: &[crate::wal::SyncJob], acks: &mut Vec<oneshot::Sender<()>>, stats: &Stats) {
    let started = Instant::now();
    for job in jobs {
        match job.run() {
            Ok(upto) => {
                stats.wal.durable.fetch_max(upto, Ordering::AcqRel);
            }
            Err(e) => {
                stats.error("wal_sync_error");
                error!(error = %e, "cannot sync the write-ahead log");
                acks.clear();
                return;
            }
        }
    }
    if !jobs.is_empty() {
        stats.fsync_latency.record(started.elapsed());
    }
    for ack in acks.drain(..) {
        let _ = ack.send(());
    }
}

fn message_ref(input: &Input) -> MessageRef<'_> {
    MessageRef {
        received: input.received,
        sender: input.sender.as_ref().map(|s| s.origin.source.as_str()),
        transport: input.source.transport.as_deref(),
        peer: input.source.peer.as_deref(),
        bytes: &input.bytes,
    }
}

fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if recv_buffer > 0 {
        // The kernel caps this at net.core.rmem_max; a smaller buffer is not an error.
        if let Err(e) = socket.set_recv_buffer_size(recv_buffer) {
            warn!(error = %e, "cannot set the UDP receive buffer size");
        }
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// A TCP listener with a deep accept backlog: after a restart every agency reconnects at once.
fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    TcpListener::from_std(socket.into())
}

pub(crate) fn network_source(transport: &str, peer: SocketAddr) -> Arc<AlertSource> {
    Arc::new(AlertSource {
        transport: Some(transport.to_owned()),
        peer: Some(peer.to_string()),
        ..AlertSource::default()
    })
}

/// Reads the kernel's drop counter for the UDP socket from `/proc/net/udp{,6}` every second.
async fn udp_drop_monitor(socket: Arc<UdpSocket>, stats: Arc<Stats>) {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let Some(inode) = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .and_then(|l| l.to_str().and_then(|s| s.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_owned)))
    else {
        debug!("no /proc: UDP kernel drops are not monitored");
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for table in ["/proc/net/udp", "/proc/net/udp6"] {
            let Ok(text) = std::fs::read_to_string(table) else { continue };
            // sl local rem st tx:rx tr:tm retr uid timeout inode ref pointer drops
            for line in text.lines().skip(1) {
                let cols: Vec<&str> = line.split_whitespace().collect();
                if cols.get(9) == Some(&inode.as_str())
                    && let Some(drops) = cols.get(12).and_then(|d| d.parse::<u64>().ok())
                {
                    stats.udp_kernel_drops.store(drops, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }
}

async fn udp_loop(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65536];
    let stats = &shared.stats;
    loop {
        // Wait for one datagram, then drain what is already queued, up to a batch.
        let mut batch = Vec::new();
        let first = socket.recv_from(&mut buf).await;
        let received = Utc::now();
        let mut next = Some(first);
        while let Some(result) = next.take() {
            match result {
                Ok((n, peer)) => {
                    // A refused sender's datagram is counted as refused, not as received (as
                    // a refused TCP connection is never read).
                    if let Ok(sender) = resolve_peer(&shared, peer, None) {
                        Stats::add(&stats.received, 1);
                        let mut bytes = buf[..n].to_vec();
                        if bytes.len() > shared.max_message {
                            bytes.truncate(shared.max_message);
                            stats.error("frame_too_long");
                        }
                        batch.push(Input { bytes, received, sender, source: network_source("udp", peer) });
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    stats.error("udp_recv_error");
                    debug!(error = %e, "udp receive");
                }
            }
            if batch.len() < 256 {
                next = Some(socket.try_recv_from(&mut buf));
            }
        }
        if batch.is_empty() {
            continue;
        }
        if let Err(mpsc::error::TrySendError::Full(Ingest::Messages { inputs, .. })) =
            shared.tx.try_send(Ingest::Messages { inputs: batch, ack: None })
        {
            // Counted per source too (by address; a source known only by the hostname in
            // its messages is counted as unassigned: the messages were not read).
            let unknown = shared.sources.unknown_origin();
            for input in &inputs {
                stats.error("udp_queue_full");
                shared.health.dropped(input.sender.as_ref().map(|s| &*s.origin), unknown);
            }
        }
    }
}

/// The source of a peer known at connection time. `Err` when it is unknown and unknown
/// senders are refused (counted), unless hostnames may still identify it.
pub(crate) fn resolve_peer(
    shared: &Shared,
    peer: SocketAddr,
    cert_subject: Option<&str>,
) -> Result<Option<Arc<Source>>, ()> {
    match shared.sources.by_peer(peer.ip(), cert_subject) {
        Some(s) => Ok(Some(s)),
        None if shared.sources.has_host_matches() => Ok(None),
        None => match shared.sources.unknown() {
            // Resolved per message, so the message is counted as an unknown sender's.
            Resolution::Source(_) => Ok(None),
            Resolution::Refused => {
                shared.stats.error("unknown_source_refused");
                Err(())
            }
        },
    }
}

struct TlsAccept {
    acceptor: tokio_rustls::TlsAcceptor,
    timeout: Duration,
}

/// What a TCP listener speaks.
#[derive(Clone)]
enum Protocol {
    /// Syslog over TCP (RFC 6587: octet counting or newlines).
    Tcp,
    /// Syslog over TLS (RFC 5425).
    Tls(Arc<TlsAccept>),
    /// RELP (rsyslog's omrelp).
    Relp,
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, protocol: Protocol) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                shared.stats.error("tcp_accept_error");
                warn!(error = %e, "tcp accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            shared.stats.error("connection_limit");
            drop(stream);
            continue;
        };
        let (shared, protocol) = (shared.clone(), protocol.clone());
        tokio::spawn(async move {
            Stats::add(&shared.stats.connections, 1);
            match protocol {
                Protocol::Tcp => {
                    if let Ok(sender) = resolve_peer(&shared, peer, None) {
                        let _ = read_frames(stream, peer, sender, "tcp", &shared).await;
                    }
                }
                Protocol::Tls(tls) => tls_connection(stream, peer, &tls, &shared).await,
                Protocol::Relp => crate::relp::connection(stream, peer, &shared).await,
            }
            shared.stats.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            drop(permit);
        });
    }
}

async fn tls_connection(stream: TcpStream, peer: SocketAddr, tls: &TlsAccept, shared: &Shared) {
    let stream = match tokio::time::timeout(tls.timeout, tls.acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            shared.stats.error("tls_handshake_error");
            debug!(%peer, error = %e, "tls handshake");
            return;
        }
        Err(_) => {
            shared.stats.error("tls_handshake_timeout");
            return;
        }
    };
    let subject = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(crate::tls::subject);
    if let Ok(sender) = resolve_peer(shared, peer, subject.as_deref()) {
        let mut stream = read_frames(stream, peer, sender, "tls", shared).await;
        // Answer the client's close_notify with ours (RFC 5425 4.4).
        use tokio::io::AsyncWriteExt;
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
    }
}

/// Reads frames until the peer closes, goes idle or errs; returns the stream.
async fn read_frames<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    sender: Option<Arc<Source>>,
    transport: &str,
    shared: &Shared,
) -> S {
    let mut decoder = FrameDecoder::new(shared.max_message);
    let mut buf = vec![0u8; 64 * 1024];
    let mut frames = Vec::new();
    let source = network_source(transport, peer);
    loop {
        let n = match tokio::time::timeout(shared.idle, stream.read(&mut buf)).await {
            Err(_) => {
                shared.stats.error("idle_timeout");
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            // A TLS peer that closes without close_notify: many senders do; not an error.
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Ok(Err(e)) => {
                debug!(%peer, error = %e, "read");
                shared.stats.error(if transport == "tls" { "tls_read_error" } else { "tcp_read_error" });
                break;
            }
        };
        decoder.feed(&buf[..n], &mut frames);
        if !forward(&mut frames, &sender, &source, shared).await {
            return stream;
        }
    }
    decoder.finish(&mut frames);
    forward(&mut frames, &sender, &source, shared).await;
    stream
}

/// Sends decoded frames on, as one batch; false when the pipeline has shut down.
async fn forward(
    frames: &mut Vec<Frame>,
    sender: &Option<Arc<Source>>,
    source: &Arc<AlertSource>,
    shared: &Shared,
) -> bool {
    let stats = &shared.stats;
    let received = Utc::now();
    let mut batch = Vec::with_capacity(frames.len());
    for frame in frames.drain(..) {
        let bytes = match frame {
            Frame::Message(m) => m,
            Frame::Truncated(m, e) => {
                stats.error(e.reason());
                m
            }
            Frame::Error(e) => {
                stats.error(e.reason());
                continue;
            }
        };
        batch.push(Input { bytes, received, sender: sender.clone(), source: source.clone() });
    }
    if batch.is_empty() {
        return true;
    }
    Stats::add(&stats.received, batch.len() as u64);
    shared.tx.send(Ingest::Messages { inputs: batch, ack: None }).await.is_ok()
}

/// The detection thread's correlation: its state and when to write it.
struct Correlation {
    correlator: Correlator,
    settings: crate::correlate::Settings,
    snapshot: PathBuf,
    snapshot_every: Duration,
}

impl Correlation {
    /// Saves the state at `position`, keeping the previous snapshot (see
    /// [`restore_correlation`]); the log is released up to the previous one.
    fn save(&mut self, position: u64, stats: &Stats) {
        let started = Instant::now();
        let previous = self.correlator.position();
        self.correlator.set_position(position);
        match std::fs::rename(&self.snapshot, previous_snapshot(&self.snapshot)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warn!(error = %e, "cannot keep the previous correlation snapshot"),
        }
        match self.correlator.save(&self.snapshot) {
            Ok(bytes) => {
                // Without correlation rules there is no state: the log may go up to here.
                let released = if self.correlator.is_empty() { position } else { previous };
                stats.wal.snapshot.store(released, Ordering::Release);
                stats.correlation(|c| {
                    c.snapshots += 1;
                    c.snapshot_bytes = bytes;
                    c.snapshot_ms = started.elapsed().as_millis() as u64;
                })
            }
            Err(e) => {
                stats.error("correlation_snapshot_error");
                error!(error = %e, "correlation snapshot");
            }
        }
    }
}

/// The detection stage: matches batches in parallel, correlates, hands alerts to the store.
struct DetectStage {
    correlation: Correlation,
    batch_size: usize,
    stats: Arc<Stats>,
    health: Arc<SourceHealth>,
    health_every: Duration,
}

/// Why [`DetectStage::detect`] returned.
enum Next {
    Reload(Box<ReloadRequest>),
    Stop,
}

impl DetectStage {
    fn run(
        mut self,
        rx: crossbeam_channel::Receiver<Work>,
        mut detector: Detector,
        out: crossbeam_channel::Sender<Raised>,
        gate: &AlertGate,
    ) {
        let mut position = self.correlation.correlator.position();
        loop {
            match self.detect(&rx, &detector, &out, gate, &mut position) {
                Next::Stop => break,
                Next::Reload(request) => {
                    let ReloadRequest { detector: new, reply } = *request;
                    let mut correlator = Correlator::new(new.rules(), self.correlation.settings.clone());
                    let swapped = match self.correlation.correlator.carry_into(&mut correlator) {
                        Ok(Restored::Restored { keys, dropped, .. }) => Swapped { keys, dropped, position },
                        Ok(Restored::Fresh) => Swapped { keys: 0, dropped: 0, position },
                        Err(e) => {
                            // The state is not lost: it stays in the last snapshot; count it.
                            self.stats.error("correlation_carry_error");
                            error!(error = %e, "correlation state could not be carried to the new rules");
                            Swapped { keys: 0, dropped: self.correlation.correlator.keys(), position }
                        }
                    };
                    correlator.set_position(position);
                    self.correlation.correlator = correlator;
                    self.correlation.correlator.publish(&self.stats);
                    detector = new;
                    info!(position, keys = swapped.keys, dropped = swapped.dropped, "rules swapped");
                    let _ = reply.send(swapped);
                }
            }
        }
        self.correlation.save(position, &self.stats);
        info!(position, "detection drained; correlation state saved");
    }

    /// Works with `detector` until a reload or the end.
    fn detect(
        &mut self,
        rx: &crossbeam_channel::Receiver<Work>,
        detector: &Detector,
        out: &crossbeam_channel::Sender<Raised>,
        gate: &AlertGate,
        position: &mut u64,
    ) -> Next {
        let stats = &*self.stats;
        let workers = detector.workers();
        let mut raised = Vec::new();
        let mut last_snapshot = Instant::now();
        let mut last_health = Instant::now();
        let mut saved = *position;
        let mut held: Option<Work> = None;
        while let Some(work) = held.take().or_else(|| rx.recv().ok()) {
            let correlator = &mut self.correlation.correlator;
            let mut events = 0;
            match work {
                Work::Batch { mut inputs, position: mut p } => {
                    // Batches queued behind this one join it, up to the batch size: under load
                    // fewer, fuller batches (less overhead per event); the first thing that is
                    // not a batch waits its turn.
                    while inputs.len() < self.batch_size {
                        match rx.try_recv() {
                            Ok(Work::Batch { inputs: more, position }) => {
                                inputs.extend(more);
                                p = position;
                            }
                            Ok(other) => {
                                held = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let started = Instant::now();
                    let detected = detector.detect_batch_marked(&inputs, &workers, stats);
                    events = detected.marks.len() as u64;
                    observe_batch(&detected, &self.health, stats);
                    correlator.process(detected, &mut raised);
                    stats.batch_latency.record(started.elapsed());
                    *position = p;
                }
                Work::Flush { position: p } => {
                    correlator.flush(&mut raised);
                    *position = p;
                }
                Work::Tick => {
                    if last_health.elapsed() >= self.health_every {
                        last_health = Instant::now();
                        raised.extend(self.health.check(Utc::now()));
                    }
                }
                Work::Reload(request) => return Next::Reload(request),
                Work::Stop => return Next::Stop,
            }
            // Alerts before events, so a reader who sees every event processed sees its alerts.
            Stats::add(&stats.alerts, raised.len() as u64);
            stats.hits(&raised);
            Stats::add(&stats.processed, events);
            stats.wal.processed.store(*position, Ordering::Release);
            stats.queue_detect.store(rx.len() as u64, Ordering::Relaxed);
            stats.queue_store.store(out.len() as u64, Ordering::Relaxed);
            correlator.publish(stats);
            let weight = raised.iter().map(alert_weight).sum();
            gate.enter(weight);
            if out.send(Raised { alerts: std::mem::take(&mut raised), position: *position, weight }).is_err() {
                error!("alert store stopped; detection stops");
                return Next::Stop;
            }
            // A snapshot is what lets the log be released: often when it is small, at once
            // when the log is at its cap.
            let every = if correlator.window_memory_bytes() < 1 << 20 {
                self.correlation.snapshot_every.min(Duration::from_secs(1))
            } else {
                self.correlation.snapshot_every
            };
            let wanted = stats.wal.snapshot_wanted.swap(false, Ordering::AcqRel);
            if correlator.is_empty() {
                // No state to save: the log may be released as far as the commit.
                stats.wal.snapshot.store(*position, Ordering::Release);
            } else if saved != *position && (wanted || last_snapshot.elapsed() >= every) {
                self.correlation.save(*position, stats);
                (saved, last_snapshot) = (*position, Instant::now());
            }
        }
        Next::Stop
    }
}

/// A batch's per-source counts (health) and receipt-to-alert latencies.
fn observe_batch(detected: &crate::pipeline::Detected, health: &SourceHealth, stats: &Stats) {
    let now = Utc::now();
    let now_ns = crate::correlate::nanos(now);
    let mut per_source: Vec<(&Arc<vigil_parsers::Origin>, Seen)> = Vec::new();
    for ((mark, alerts), (origin, bytes)) in detected.marks.iter().zip(&detected.seen) {
        for _ in 0..*alerts {
            stats.alert_latency.record(Duration::from_nanos(now_ns.saturating_sub(mark.received).max(0) as u64));
        }
        let Some(origin) = origin else { continue };
        let i = match per_source.iter().position(|(o, _)| Arc::ptr_eq(o, origin)) {
            Some(i) => i,
            None => {
                per_source.push((origin, Seen::default()));
                per_source.len() - 1
            }
        };
        let seen = &mut per_source[i].1;
        seen.events += 1;
        seen.bytes += u64::from(*bytes);
        let time = DateTime::from_timestamp_nanos(mark.time);
        seen.newest_event = Some(seen.newest_event.map_or(time, |t| t.max(time)));
    }
    health.record(now, per_source.into_iter().map(|(o, s)| (&**o, s)));
}

/// Adds alerts to the index and commits them with the log position they complete.
/// `committed` is the position of the index's last commit; `checkpoint` where matching starts
/// again (at or before it).
fn store_loop(
    rx: crossbeam_channel::Receiver<Raised>,
    gate: &AlertGate,
    store: &AlertStore,
    stats: &Stats,
    interval: Duration,
    committed: u64,
    checkpoint: u64,
) {
    let mut pending = 0usize;
    let replay_until = committed;
    let (mut position, mut committed) = (committed, committed);
    let mut previous = checkpoint;
    let mut last_commit = Instant::now();
    loop {
        let wait = interval.saturating_sub(last_commit.elapsed());
        let disconnected = match rx.recv_timeout(wait) {
            Ok(raised) => {
                // Events at or before the last run's commit are matched again after a restart:
                // the index may hold their alerts already (a batch covers what follows the
                // previous batch's position).
                let replayed = previous < replay_until;
                previous = raised.position;
                let result = store.add_with(&raised.alerts, |a| replayed || a.rule.id == crate::health::SILENT_RULE_ID);
                match result {
                    Ok(added) => {
                        pending += added;
                        // The same alert again (a line sent twice): counted as stored.
                        Stats::add(&stats.alerts_stored, (raised.alerts.len() - added) as u64);
                    }
                    Err(e) => {
                        stats.error("store_error");
                        error!(error = %e, "cannot index alerts");
                    }
                }
                position = position.max(raised.position);
                gate.leave(raised.weight);
                false
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => false,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => true,
        };
        // Triage changes re-index their alerts: they too wait for a commit.
        let dirty = pending > 0 || position != committed || store.has_uncommitted();
        let due = last_commit.elapsed() >= interval;
        // A commit stops indexing while it lasts: with alerts waiting (a burst, or a commit
        // just past) a due one waits until they are indexed, for at most 4 intervals, so that
        // the store catches up rather than falls further behind.
        let behind = gate.queued() > MAX_QUEUED_BYTES / 8 && last_commit.elapsed() < interval * 4;
        if dirty && (disconnected || (due && !behind)) {
            let started = Instant::now();
            match store.commit_at(position) {
                Ok(()) => {
                    Stats::add(&stats.alerts_stored, pending as u64);
                    stats.wal.committed.store(position, Ordering::Release);
                    stats.commit_latency.record(started.elapsed());
                    committed = position;
                }
                Err(e) => {
                    stats.error("store_error");
                    error!(error = %e, "cannot commit alerts");
                }
            }
            pending = 0;
            last_commit = Instant::now();
        } else if !dirty && due {
            last_commit = Instant::now();
        }
        if disconnected {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alert_gate_holds_detection_only_past_its_bound() {
        let gate = Arc::new(AlertGate::new(Arc::new(Stats::default())));
        gate.enter(MAX_QUEUED_BYTES - 10);
        gate.enter(5);
        assert_eq!(gate.queued(), MAX_QUEUED_BYTES - 5);
        let waiting = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.enter(100))
        };
        std::thread::sleep(Duration::from_millis(300));
        assert!(!waiting.is_finished(), "past the bound: waits for the store");
        gate.leave(MAX_QUEUED_BYTES - 10);
        waiting.join().expect("entered once the store freed room");
        gate.leave(105);
        assert_eq!(gate.queued(), 0);
        // A batch heavier than the bound passes alone; at the end nothing waits.
        gate.enter(MAX_QUEUED_BYTES * 2);
        gate.close();
        gate.enter(1);
    }

    #[test]
    fn an_alert_weighs_its_line_fields_and_rule() {
        let small = Alert::of_fields("00000000000000000000000000000001".into(), "r", Utc::now(), Default::default());
        let mut large = small.clone();
        large.raw = "x".repeat(65536);
        assert_eq!(alert_weight(&large) - alert_weight(&small), 65536 - small.raw.len());
        let mut fields = small.clone();
        fields.fields.insert("CommandLine".into(), vigil_parsers::Value::Str("whoami /all".into()));
        fields.fields.insert("EventID".into(), vigil_parsers::Value::Int(4688));
        assert_eq!(alert_weight(&fields) - alert_weight(&small), (96 + 11 + 11) + (96 + 7));
        // The largest messages: still a bounded number of them queued.
        assert!(MAX_QUEUED_BYTES / alert_weight(&large) >= 1900);
    }

    const RULES: &str = "title: Base
id: 0b7c61d2-8f43-4d0c-9a55-3e2f1c0d9b11
logsource: {}
detection:
  selection:
    message|contains: 'x'
  condition: selection
---
title: Two Of Them
id: 1c8d72e3-9054-4e1d-8b66-4f3a2d1e0c22
correlation:
  type: event_count
  rules:
    - 0b7c61d2-8f43-4d0c-9a55-3e2f1c0d9b11
  group-by:
    - host
  timespan: 1m
  condition:
    gte: 2
";

    fn detector() -> Detector {
        let (rules, diagnostics) = vigil_rules::RuleSet::compile([vigil_rules::RuleSource::new("t.yml", RULES)]);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let sources = Arc::new(SourceMap::unassigned(vigil_parsers::DEFAULT_TZ));
        Detector::new(rules, vigil_parsers::InputFormat::Auto, sources)
    }

    fn save_at(detector: &Detector, config: &Config, path: &Path, position: u64) {
        let mut c = Correlator::new(detector.rules(), config.correlation.settings());
        c.set_position(position);
        c.save(path).expect("save");
    }

    #[test]
    fn restart_takes_the_newest_snapshot_the_commit_has_reached() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::default_config().expect("config");
        let detector = detector();
        let stats = Stats::default();
        let snapshot = dir.path().join("state.snapshot");
        let restore = |committed| {
            restore_correlation(&detector, &config, &snapshot, committed, &stats).map(|(_, p)| p).expect("restore")
        };
        assert_eq!(restore(500), 0, "no snapshot: empty state from the start of the log");
        save_at(&detector, &config, &previous_snapshot(&snapshot), 40);
        save_at(&detector, &config, &snapshot, 100);
        assert_eq!(restore(100), 100, "the commit reached the newest");
        assert_eq!(restore(150), 100);
        assert_eq!(restore(99), 40, "killed between the snapshot and the commit: the previous one");
        assert_eq!(restore(40), 40);
        assert_eq!(restore(39), 0, "neither: empty state, the log read from its start");
    }

    #[test]
    fn without_correlation_rules_the_commit_is_the_checkpoint() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config::default_config().expect("config");
        let detector = Detector::new(
            vigil_rules::RuleSet::bundled(),
            vigil_parsers::InputFormat::Auto,
            Arc::new(SourceMap::unassigned(vigil_parsers::DEFAULT_TZ)),
        );
        let stats = Stats::default();
        let (_, position) =
            restore_correlation(&detector, &config, &dir.path().join("s"), 77, &stats).expect("restore");
        assert_eq!(position, 77);
    }

    fn inputs(n: usize, tag: &str) -> Vec<Input> {
        let source = Arc::new(AlertSource::default());
        (0..n)
            .map(|i| Input {
                bytes: format!("<13>Nov 30 10:00:00 h app: {tag} {i} {}", "x".repeat(500)).into_bytes(),
                received: Utc::now(),
                sender: None,
                source: source.clone(),
            })
            .collect()
    }

    /// A log stage on a fresh log in `dir`, run on its own thread: its stats, its input, its
    /// output and the thread.
    #[allow(clippy::type_complexity)]
    fn log_stage(
        dir: &Path,
        options: crate::wal::WalOptions,
    ) -> (Arc<Stats>, mpsc::Sender<Ingest>, crossbeam_channel::Receiver<Work>, JoinHandle<()>) {
        let (wal, _) = Wal::open(dir, options, 0).expect("open");
        let stats = Arc::new(Stats::default());
        let log = LogStage {
            wal,
            checkpoint: 0,
            sources: Arc::new(SourceMap::unassigned(vigil_parsers::DEFAULT_TZ)),
            stats: stats.clone(),
            batch_size: 1024,
            quiet: Duration::from_secs(3600),
            append_errors: crate::stats::LogThrottle::new(Duration::from_secs(10)),
        };
        let (tx, rx) = mpsc::channel(16);
        let (out_tx, out) = crossbeam_channel::unbounded();
        let thread = std::thread::spawn(move || log.run(rx, out_tx));
        (stats, tx, out, thread)
    }

    #[test]
    fn at_its_cap_the_log_waits_for_the_checkpoint_instead_of_deleting() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options =
            crate::wal::WalOptions { segment_bytes: 1024, max_bytes: 4096, fsync: crate::wal::FsyncPolicy::Never };
        let (stats, tx, out, thread) = log_stage(dir.path(), options);
        let batch = |work: Work| match work {
            Work::Batch { inputs, position } => Some((inputs.len(), position)),
            _ => None,
        };
        let next_batch = |within: Duration| {
            let deadline = Instant::now() + within;
            while let Ok(w) = out.recv_deadline(deadline) {
                if let Some(b) = batch(w) {
                    return Some(b);
                }
            }
            None
        };
        // 10 messages of about 550 bytes: past the 4 KiB cap at once.
        tx.blocking_send(Ingest::Messages { inputs: inputs(10, "a"), ack: None }).expect("send");
        assert_eq!(next_batch(Duration::from_secs(5)), Some((10, 10)));
        // The next batch waits: nothing is matched and committed yet.
        tx.blocking_send(Ingest::Messages { inputs: inputs(3, "b"), ack: None }).expect("send");
        assert_eq!(next_batch(Duration::from_millis(300)), None, "appended past the cap");
        assert_eq!(stats.wal.full_waits.load(Ordering::Relaxed), 1);
        assert!(stats.wal.snapshot_wanted.load(Ordering::Relaxed), "detection is asked for a snapshot");
        assert!(std::fs::read_dir(dir.path()).expect("dir").count() >= 1, "nothing deleted");
        // The first batch is committed and in a snapshot: its segments go, the second follows.
        stats.wal.committed.store(10, Ordering::Release);
        stats.wal.snapshot.store(10, Ordering::Release);
        assert_eq!(next_batch(Duration::from_secs(5)), Some((3, 13)));
        assert!(stats.wal.bytes.load(Ordering::Relaxed) < 4096, "released below the cap");
        drop(tx);
        thread.join().expect("log thread");
    }

    #[test]
    fn a_waiting_sender_is_acknowledged_once_durable_and_not_before() {
        let dir = tempfile::tempdir().expect("temp dir");
        let every = Duration::from_secs(3600);
        let options = crate::wal::WalOptions {
            segment_bytes: 1 << 20,
            max_bytes: 1 << 30,
            fsync: crate::wal::FsyncPolicy::Interval(every),
        };
        let (stats, tx, out, thread) = log_stage(dir.path(), options);
        // No one waits: appended, handed on, not synced within the hour's interval.
        tx.blocking_send(Ingest::Messages { inputs: inputs(2, "plain"), ack: None }).expect("send");
        let deadline = Instant::now() + Duration::from_secs(5);
        while stats.wal.appended.load(Ordering::Acquire) < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(stats.wal.durable.load(Ordering::Acquire), 0, "not synced before its interval");
        // A RELP sender waits: synced at once, and the acknowledgement comes after.
        let (ack, acked) = oneshot::channel();
        tx.blocking_send(Ingest::Messages { inputs: inputs(1, "relp"), ack: Some(ack) }).expect("send");
        acked.blocking_recv().expect("acknowledged");
        assert!(stats.wal.durable.load(Ordering::Acquire) >= 3, "durable when acknowledged");
        drop(tx);
        thread.join().expect("log thread");
        assert!(out.try_iter().count() >= 2);
    }
}
