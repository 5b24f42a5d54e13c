//! The running engine: syslog listeners (tokio), the detection thread (rayon inside), and the
//! store thread that commits alerts to the index.
//!
//! ```text
//! UDP/TCP/TLS tasks --tokio mpsc--> detect thread (rayon batches) --crossbeam--> store thread
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle as TaskHandle;
use tracing::{debug, error, info, warn};
use vigil_parsers::framing::{Frame, FrameDecoder};

use crate::alert::{Alert, AlertSource};
use crate::config::Config;
use crate::correlate::{Correlator, Restored};
use crate::pipeline::{Detector, Input};
use crate::sources::{Resolution, Source, SourceError, SourceMap};
use crate::stats::Stats;
use crate::store::{AlertStore, StoreError};
use crate::tls::TlsError;

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
}

/// A started engine. Drop the tokio runtime, then call [`Engine::join`] to drain and commit.
#[derive(Debug)]
pub struct Engine {
    pub store: Arc<AlertStore>,
    pub stats: Arc<Stats>,
    pub udp_addr: Option<SocketAddr>,
    pub tcp_addr: Option<SocketAddr>,
    pub tls_addr: Option<SocketAddr>,
    /// The development certificate in use, when one was generated.
    pub dev_cert: Option<PathBuf>,
    tasks: Vec<TaskHandle<()>>,
    threads: Vec<JoinHandle<()>>,
}

/// What every connection task shares.
struct Shared {
    tx: mpsc::Sender<Vec<Input>>,
    stats: Arc<Stats>,
    sources: Arc<SourceMap>,
    max_message: usize,
    idle: Duration,
    permits: Arc<Semaphore>,
}

/// Builds the source map of a configuration.
pub fn source_map(config: &Config) -> Result<SourceMap, SourceError> {
    SourceMap::new(&config.sources, &config.unknown_sources, config.syslog.timezone)
}

impl Engine {
    /// Opens the store, binds the listeners and starts the pipeline. Must be called inside a
    /// tokio runtime. `detector` must have been built with [`source_map`] of `config`.
    pub async fn start(config: &Config, detector: Detector) -> Result<Engine, EngineError> {
        let stats = Arc::new(Stats::default());
        let store = Arc::new(AlertStore::open(
            &config.data_dir.join("alerts"),
            config.store.writer_memory_mb.saturating_mul(1 << 20),
        )?);
        // Messages travel in batches (one per read); the queue holds up to queue_capacity of them.
        let (tx, rx) = mpsc::channel::<Vec<Input>>((config.pipeline.queue_capacity / 64).max(16));
        let (alert_tx, alert_rx) = crossbeam_channel::bounded::<Vec<Alert>>(256);
        let shared = Arc::new(Shared {
            tx: tx.clone(),
            stats: stats.clone(),
            sources: detector.sources().clone(),
            max_message: config.syslog.max_message_bytes.max(1),
            idle: Duration::from_secs(config.syslog.tcp_idle_timeout_secs.max(1)),
            permits: Arc::new(Semaphore::new(config.syslog.max_connections.max(1))),
        });

        let mut tasks = Vec::new();
        let (mut udp_addr, mut tcp_addr, mut tls_addr, mut dev_cert) = (None, None, None, None);
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
            tasks.push(tokio::spawn(accept_loop(listener, shared.clone(), None)));
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
            tasks.push(tokio::spawn(accept_loop(listener, shared.clone(), Some(Arc::new(acceptor)))));
        }
        drop(shared);

        let mut correlator = Correlator::new(detector.rules(), config.correlation.settings());
        let snapshot = config.data_dir.join("correlation").join("state.snapshot");
        match correlator.restore(&snapshot) {
            Ok(Restored::Fresh) => {}
            Ok(Restored::Restored { keys, pending, dropped }) => {
                info!(keys, pending, dropped, path = %snapshot.display(), "correlation state restored")
            }
            Err(e @ crate::correlate::SnapshotError::Corrupt { .. }) => {
                stats.error("correlation_snapshot_corrupt");
                error!(error = %e, "correlation starts empty");
            }
            Err(e) => return Err(e.into()),
        }
        correlator.publish(&stats);
        // Wakes the detection loop when no input comes, for its clocks (an empty batch).
        let ticker = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                if ticker.send(Vec::new()).await.is_err() {
                    return;
                }
            }
        }));
        let correlation = Correlation {
            correlator,
            snapshot,
            snapshot_every: Duration::from_secs(config.correlation.snapshot_interval_secs.max(1)),
            quiet: config.correlation.allowed_lateness,
        };
        let batch_size = config.pipeline.batch_size.max(1);
        let detect_stats = stats.clone();
        let detect = std::thread::Builder::new()
            .name("vigil-detect".into())
            .spawn(move || detect_loop(rx, detector, correlation, alert_tx, detect_stats, batch_size))
            .map_err(EngineError::Thread)?;
        let interval = Duration::from_millis(config.store.commit_interval_ms.clamp(10, 1000));
        let (store2, stats2) = (store.clone(), stats.clone());
        let commit = std::thread::Builder::new()
            .name("vigil-store".into())
            .spawn(move || store_loop(alert_rx, &store2, &stats2, interval))
            .map_err(EngineError::Thread)?;

        Ok(Engine { store, stats, udp_addr, tcp_addr, tls_addr, dev_cert, tasks, threads: vec![detect, commit] })
    }

    /// Stops the listeners, waits until every received event is matched and every alert is
    /// committed.
    pub fn join(self) {
        for task in &self.tasks {
            task.abort();
        }
        drop(self.tasks);
        for thread in self.threads {
            if thread.join().is_err() {
                error!("a pipeline thread panicked");
            }
        }
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

fn network_source(transport: &str, peer: SocketAddr) -> Arc<AlertSource> {
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
        let n = batch.len();
        if let Err(mpsc::error::TrySendError::Full(_)) = shared.tx.try_send(batch) {
            for _ in 0..n {
                stats.error("udp_queue_full");
            }
        }
    }
}

/// The source of a peer known at connection time. `Err` when it is unknown and unknown
/// senders are refused (counted), unless hostnames may still identify it.
fn resolve_peer(shared: &Shared, peer: SocketAddr, cert_subject: Option<&str>) -> Result<Option<Arc<Source>>, ()> {
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

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<Arc<TlsAccept>>) {
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
        let (shared, tls) = (shared.clone(), tls.clone());
        tokio::spawn(async move {
            Stats::add(&shared.stats.connections, 1);
            match tls {
                None => {
                    if let Ok(sender) = resolve_peer(&shared, peer, None) {
                        let _ = read_frames(stream, peer, sender, "tcp", &shared).await;
                    }
                }
                Some(tls) => tls_connection(stream, peer, &tls, &shared).await,
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
    shared.tx.send(batch).await.is_ok()
}

/// The detection thread's correlation: its state and when to write it.
struct Correlation {
    correlator: Correlator,
    snapshot: PathBuf,
    snapshot_every: Duration,
    /// Input quiet this long (wall clock): take what is waiting.
    quiet: Duration,
}

impl Correlation {
    fn save(&self, stats: &Stats) {
        let started = Instant::now();
        match self.correlator.save(&self.snapshot) {
            Ok(bytes) => stats.correlation(|c| {
                c.snapshots += 1;
                c.snapshot_bytes = bytes;
                c.snapshot_ms = started.elapsed().as_millis() as u64;
            }),
            Err(e) => {
                stats.error("correlation_snapshot_error");
                error!(error = %e, "correlation snapshot");
            }
        }
    }
}

fn detect_loop(
    mut rx: mpsc::Receiver<Vec<Input>>,
    detector: Detector,
    mut correlation: Correlation,
    alerts: crossbeam_channel::Sender<Vec<Alert>>,
    stats: Arc<Stats>,
    batch_size: usize,
) {
    let mut batch = Vec::with_capacity(batch_size);
    let workers = detector.workers();
    let (mut last_input, mut last_snapshot) = (Instant::now(), Instant::now());
    let mut raised = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        batch.extend(first);
        while batch.len() < batch_size {
            match rx.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        let correlator = &mut correlation.correlator;
        let events = if batch.is_empty() {
            // A tick: take what waits once the input has been quiet for the allowed lateness.
            if last_input.elapsed() >= correlation.quiet && correlator.has_waiting() {
                correlator.flush(&mut raised);
            }
            0
        } else {
            last_input = Instant::now();
            let detected = detector.detect_batch_marked(&batch, &workers, &stats);
            batch.clear();
            let events = detected.marks.len() as u64;
            correlator.process(detected, &mut raised);
            events
        };
        // Alerts before events, so a reader who sees every event processed sees its alerts.
        Stats::add(&stats.alerts, raised.len() as u64);
        Stats::add(&stats.processed, events);
        correlator.publish(&stats);
        if !raised.is_empty() && alerts.send(std::mem::take(&mut raised)).is_err() {
            error!("alert store stopped; detection stops");
            return;
        }
        if last_snapshot.elapsed() >= correlation.snapshot_every {
            correlation.save(&stats);
            last_snapshot = Instant::now();
        }
    }
    correlation.save(&stats);
    info!("detection drained; correlation state saved");
}

fn store_loop(rx: crossbeam_channel::Receiver<Vec<Alert>>, store: &AlertStore, stats: &Stats, interval: Duration) {
    let mut pending = 0usize;
    let mut last_commit = Instant::now();
    loop {
        let wait = interval.saturating_sub(last_commit.elapsed());
        let disconnected = match rx.recv_timeout(wait) {
            Ok(alerts) => {
                match store.add(&alerts) {
                    Ok(()) => pending += alerts.len(),
                    Err(e) => {
                        stats.error("store_error");
                        error!(error = %e, "cannot index alerts");
                    }
                }
                false
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => false,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => true,
        };
        if pending > 0 && (disconnected || last_commit.elapsed() >= interval) {
            match store.commit() {
                Ok(()) => Stats::add(&stats.alerts_stored, pending as u64),
                Err(e) => {
                    stats.error("store_error");
                    error!(error = %e, "cannot commit alerts");
                }
            }
            pending = 0;
        }
        if last_commit.elapsed() >= interval {
            last_commit = Instant::now();
        }
        if disconnected {
            return;
        }
    }
}
