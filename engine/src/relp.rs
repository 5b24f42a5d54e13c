//! RELP ingest (rsyslog's `omrelp` is the client): a message is acknowledged only once it is
//! durable in the write-ahead log, so a sender loses nothing across a vigil crash or restart
//! (it sends again what was not acknowledged).
//!
//! One connection is one session: `open` first, then `syslog` commands, each answered in order,
//! then `close`. The frames of one read are logged together and acknowledged together.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tracing::debug;
use vigil_parsers::relp::{self, RelpCommand, RelpDecoder, RelpFrame};

use crate::pipeline::Input;
use crate::serve::{Ingest, Shared, network_source, resolve_peer};
use crate::stats::Stats;

/// Serves one RELP connection until the client closes it, errs or goes idle.
pub(crate) async fn connection(mut stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let Ok(sender) = resolve_peer(shared, peer, None) else { return };
    let source = network_source("relp", peer);
    let stats = &shared.stats;
    // librelp's own limit (128 KiB) at least: a frame over it ends the connection, and the
    // sender would send it again forever. Longer messages than ours are truncated, counted.
    let mut decoder = RelpDecoder::new(shared.max_message.max(relp::DEFAULT_MAX_DATA));
    let mut buf = vec![0u8; 64 * 1024];
    let mut frames: Vec<RelpFrame> = Vec::new();
    let mut opened = false;
    loop {
        let n = match tokio::time::timeout(shared.idle, stream.read(&mut buf)).await {
            Err(_) => {
                stats.error("idle_timeout");
                break;
            }
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                debug!(%peer, error = %e, "relp read");
                stats.error("relp_read_error");
                break;
            }
        };
        let decoded = decoder.feed(&buf[..n], &mut frames);
        // The frames before an error are valid: answer them, then close.
        let mut reply = Vec::new();
        let mut inputs = Vec::new();
        let mut acks = Vec::new();
        let mut close = false;
        let received = Utc::now();
        for frame in frames.drain(..) {
            if frame.is_hint() {
                continue;
            }
            match frame.command {
                RelpCommand::Open if opened => {
                    reply.extend(relp::rsp_error(frame.txnr, "connection already open - ignored"));
                }
                RelpCommand::Open => match relp::rsp_open(frame.txnr, &frame.data) {
                    Ok(r) => {
                        reply.extend(r);
                        opened = true;
                    }
                    Err(e) => {
                        stats.error(e.reason());
                        reply.extend(relp::rsp_error(frame.txnr, &e.to_string()));
                        close = true;
                        break;
                    }
                },
                RelpCommand::Syslog if !opened => {
                    stats.error("relp_not_open");
                    reply.extend(relp::rsp_error(frame.txnr, "command disabled"));
                    close = true;
                    break;
                }
                RelpCommand::Syslog => {
                    let mut bytes = frame.data;
                    // rsyslog ends a message with LF inside DATA: framing, not message.
                    while let [.., b'\n' | b'\r'] = bytes.as_slice() {
                        bytes.pop();
                    }
                    if bytes.len() > shared.max_message {
                        bytes.truncate(shared.max_message);
                        stats.error("frame_too_long");
                    }
                    if bytes.is_empty() {
                        stats.error("empty");
                        reply.extend(relp::rsp_ok(frame.txnr));
                        continue;
                    }
                    inputs.push(Input { bytes, received, sender: sender.clone(), source: source.clone() });
                    acks.push(frame.txnr);
                }
                RelpCommand::Close => {
                    // Everything before it must be acknowledged first.
                    close = true;
                    acks.push(frame.txnr | CLOSE);
                    break;
                }
                RelpCommand::Other(ref name) => {
                    stats.error("relp_unknown_command");
                    debug!(%peer, command = %name, "relp: unknown command");
                    close = true;
                    break;
                }
            }
        }
        if let Err(e) = &decoded {
            stats.error(e.reason());
            close = true;
        }
        // Log the messages; answer once they are durable.
        if !inputs.is_empty() {
            Stats::add(&stats.received, inputs.len() as u64);
            let (done, durable) = oneshot::channel();
            if shared.tx.send(Ingest::Messages { inputs, ack: Some(done) }).await.is_err() {
                break;
            }
            if durable.await.is_err() {
                // Not durable (the log failed or vigil stops): no acknowledgement, the
                // client sends them again.
                break;
            }
        }
        // Answers in the order of the commands: open/errors were queued in `reply` in order
        // before any syslog (rsyslog waits for open's answer before sending), acks follow.
        for txnr in acks {
            if txnr & CLOSE != 0 {
                reply.extend(relp::rsp_close(txnr & !CLOSE));
                reply.extend(relp::serverclose());
            } else {
                reply.extend(relp::rsp_ok(txnr));
            }
        }
        if !reply.is_empty() && stream.write_all(&reply).await.is_err() {
            break;
        }
        if close {
            if decoded.is_err() || !opened {
                let _ = stream.write_all(&relp::serverclose()).await;
            }
            break;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}

/// Marks a transaction number as `close`'s in the list of answers.
const CLOSE: u64 = 1 << 62;
