//! The running engine: syslog listeners (tokio), the detection thread (rayon inside), and the
//! store thread that commits alerts to the index.
//!
//! ```text
//! UDP/TCP tasks --tokio mpsc--> detect thread (rayon batches) --crossbeam--> store thread
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle as TaskHandle;
use tracing::{debug, error, info, warn};
use vigil_parsers::framing::{Frame, FrameDecoder};

use crate::alert::{Alert, AlertSource};
use crate::config::Config;
use crate::pipeline::{Detector, Input};
use crate::stats::Stats;
use crate::store::{AlertStore, StoreError};

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("cannot listen for syslog/{proto} on {addr}: {source}")]
    Bind { proto: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start thread: {0}")]
    Thread(std::io::Error),
}

/// A started engine. Drop the tokio runtime, then call [`Engine::join`] to drain and commit.
#[derive(Debug)]
pub struct Engine {
    pub store: Arc<AlertStore>,
    pub stats: Arc<Stats>,
    pub udp_addr: Option<SocketAddr>,
    pub tcp_addr: Option<SocketAddr>,
    tasks: Vec<TaskHandle<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Opens the store, binds the listeners and starts the pipeline. Must be called inside a
    /// tokio runtime.
    pub async fn start(config: &Config, detector: Detector) -> Result<Engine, EngineError> {
        let stats = Arc::new(Stats::default());
        let store = Arc::new(AlertStore::open(
            &config.data_dir.join("alerts"),
            config.store.writer_memory_mb.saturating_mul(1 << 20),
        )?);
        let (tx, rx) = mpsc::channel::<Input>(config.pipeline.queue_capacity.max(1));
        let (alert_tx, alert_rx) = crossbeam_channel::bounded::<Vec<Alert>>(256);

        let mut tasks = Vec::new();
        let mut udp_addr = None;
        let mut tcp_addr = None;
        if let Some(addr) = config.syslog.udp {
            let socket =
                UdpSocket::bind(addr).await.map_err(|source| EngineError::Bind { proto: "udp", addr, source })?;
            udp_addr = socket.local_addr().ok();
            tasks.push(tokio::spawn(udp_loop(socket, tx.clone(), stats.clone())));
        }
        if let Some(addr) = config.syslog.tcp {
            let listener =
                TcpListener::bind(addr).await.map_err(|source| EngineError::Bind { proto: "tcp", addr, source })?;
            tcp_addr = listener.local_addr().ok();
            let max = config.syslog.max_message_bytes;
            tasks.push(tokio::spawn(tcp_accept_loop(listener, tx.clone(), stats.clone(), max)));
        }
        drop(tx);

        let batch_size = config.pipeline.batch_size.max(1);
        let detect_stats = stats.clone();
        let detect = std::thread::Builder::new()
            .name("vigil-detect".into())
            .spawn(move || detect_loop(rx, detector, alert_tx, detect_stats, batch_size))
            .map_err(EngineError::Thread)?;
        let interval = Duration::from_millis(config.store.commit_interval_ms.clamp(10, 1000));
        let (store2, stats2) = (store.clone(), stats.clone());
        let commit = std::thread::Builder::new()
            .name("vigil-store".into())
            .spawn(move || store_loop(alert_rx, &store2, &stats2, interval))
            .map_err(EngineError::Thread)?;

        Ok(Engine { store, stats, udp_addr, tcp_addr, tasks, threads: vec![detect, commit] })
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

fn network_source(transport: &str, peer: SocketAddr) -> AlertSource {
    AlertSource { file: None, line: None, transport: Some(transport.to_owned()), peer: Some(peer.to_string()) }
}

async fn udp_loop(socket: UdpSocket, tx: mpsc::Sender<Input>, stats: Arc<Stats>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors and the like: count and go on.
                stats.error("udp_recv_error");
                debug!(error = %e, "udp receive");
                continue;
            }
        };
        Stats::add(&stats.received, 1);
        let input = Input { bytes: buf[..n].to_vec(), received: Utc::now(), source: network_source("udp", peer) };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(input) {
            stats.error("udp_queue_full");
        }
    }
}

async fn tcp_accept_loop(listener: TcpListener, tx: mpsc::Sender<Input>, stats: Arc<Stats>, max: usize) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(tcp_connection(stream, peer, tx.clone(), stats.clone(), max));
            }
            Err(e) => {
                stats.error("tcp_accept_error");
                warn!(error = %e, "tcp accept");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn tcp_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    tx: mpsc::Sender<Input>,
    stats: Arc<Stats>,
    max: usize,
) {
    let mut decoder = FrameDecoder::new(max);
    let mut buf = vec![0u8; 64 * 1024];
    let mut frames = Vec::new();
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                debug!(%peer, error = %e, "tcp read");
                stats.error("tcp_read_error");
                break;
            }
        };
        decoder.feed(&buf[..n], &mut frames);
        if !forward(&mut frames, peer, &tx, &stats).await {
            return;
        }
    }
    decoder.finish(&mut frames);
    forward(&mut frames, peer, &tx, &stats).await;
}

/// Sends decoded frames on; false when the pipeline has shut down.
async fn forward(frames: &mut Vec<Frame>, peer: SocketAddr, tx: &mpsc::Sender<Input>, stats: &Stats) -> bool {
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
        Stats::add(&stats.received, 1);
        let input = Input { bytes, received: Utc::now(), source: network_source("tcp", peer) };
        if tx.send(input).await.is_err() {
            return false;
        }
    }
    true
}

fn detect_loop(
    mut rx: mpsc::Receiver<Input>,
    detector: Detector,
    alerts: crossbeam_channel::Sender<Vec<Alert>>,
    stats: Arc<Stats>,
    batch_size: usize,
) {
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < batch_size {
            match rx.try_recv() {
                Ok(input) => batch.push(input),
                Err(_) => break,
            }
        }
        let found = detector.detect_batch(&batch, &stats);
        batch.clear();
        if !found.is_empty() && alerts.send(found).is_err() {
            error!("alert store stopped; detection stops");
            return;
        }
    }
    info!("detection drained");
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
