//! `vigil-load`: sends syslog lines to a running `vigil serve` over TCP and measures how fast
//! they are sent and how fast vigil processes them, from its `/api/v1/stats` counters.
//!
//! ```sh
//! cargo run --release -p vigil-benches --bin vigil-load -- --lines 200000 --connections 2
//! ```

use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, ValueEnum};

/// Sends syslog lines to vigil over TCP and reports send and end-to-end processing rates.
#[derive(Parser, Debug)]
#[command(name = "vigil-load", version)]
struct Args {
    /// vigil's syslog TCP listener.
    #[arg(long, default_value = "127.0.0.1:5514")]
    addr: String,
    /// vigil's HTTP API (host:port, plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8514")]
    http: String,
    /// Admin token for the API (default: $VIGIL_ADMIN_TOKEN, then --token-file).
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the admin token [default: vigil-data/admin.token].
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// How many lines to send in all.
    #[arg(long, default_value_t = 100_000)]
    lines: u64,
    /// TCP connections to spread the lines over (evenly), one thread each.
    #[arg(long, default_value_t = 1)]
    connections: u32,
    /// How messages are framed on the stream.
    #[arg(long, value_enum, default_value_t = Framing::Octet)]
    framing: Framing,
    /// Lines to send, cycled until --lines are sent
    /// [default: corpus/syslog/agency-mixed.log].
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Seconds to wait for vigil to process everything after sending.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Framing {
    /// RFC 6587 octet counting: `LEN SP MSG`.
    Octet,
    /// One message per line, ended by LF.
    Newline,
}

const TOKEN_ENV: &str = "VIGIL_ADMIN_TOKEN";
const DEFAULT_TOKEN_FILE: &str = "vigil-data/admin.token";
const DEFAULT_INPUT: &str = "corpus/syslog/agency-mixed.log";
const POLL: Duration = Duration::from_millis(50);
const STORE_WAIT: Duration = Duration::from_secs(10);

/// The counters of `GET /api/v1/stats` this tool uses.
#[derive(Clone, Copy, Debug)]
struct Counters {
    received: u64,
    processed: u64,
    alerts: u64,
    alerts_stored: u64,
}

struct Api {
    agent: ureq::Agent,
    url: String,
    auth: String,
}

impl Api {
    fn new(http: &str, token: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        Api { agent, url: format!("http://{http}/api/v1/stats"), auth: format!("Bearer {token}") }
    }

    fn stats_json(&self) -> Result<serde_json::Value> {
        let mut response = self
            .agent
            .get(&self.url)
            .header("Authorization", &self.auth)
            .call()
            .with_context(|| format!("GET {}", self.url))?;
        let status = response.status();
        let body = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("reading the response of GET {}", self.url))?;
        if !status.is_success() {
            bail!("GET {} answered {status}: {}", self.url, body.trim());
        }
        serde_json::from_str(&body).with_context(|| format!("GET {} did not answer JSON: {}", self.url, body.trim()))
    }

    fn counters(&self) -> Result<Counters> {
        let json = self.stats_json()?;
        let get = |name: &str| {
            json.get(name)
                .and_then(serde_json::Value::as_u64)
                .with_context(|| format!("/api/v1/stats has no unsigned integer {name:?}: {json}"))
        };
        Ok(Counters {
            received: get("received")?,
            processed: get("processed")?,
            alerts: get("alerts")?,
            alerts_stored: get("alerts_stored")?,
        })
    }
}

fn token(args: &Args) -> Result<String> {
    if let Some(t) = &args.token {
        return Ok(t.trim().to_owned());
    }
    if args.token_file.is_none()
        && let Ok(t) = std::env::var(TOKEN_ENV)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    let path = args.token_file.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_TOKEN_FILE));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("cannot read the admin token from {} (give --token, --token-file or {TOKEN_ENV})", path.display())
    })?;
    let text = text.trim();
    ensure!(!text.is_empty(), "the admin token file {} is empty", path.display());
    Ok(text.to_owned())
}

/// The input file: as given, or the default relative to the current directory, then to this
/// workspace's source tree.
fn input_path(args: &Args) -> PathBuf {
    if let Some(p) = &args.input {
        return p.clone();
    }
    let here = PathBuf::from(DEFAULT_INPUT);
    if here.exists() {
        return here;
    }
    let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DEFAULT_INPUT);
    if in_tree.exists() { in_tree } else { here }
}

/// The input's non-empty lines, each framed ready to write.
fn frames(path: &Path, framing: Framing) -> Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let frames: Vec<Vec<u8>> = data
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .map(|line| match framing {
            Framing::Newline => {
                let mut f = Vec::with_capacity(line.len() + 1);
                f.extend_from_slice(line);
                f.push(b'\n');
                f
            }
            Framing::Octet => {
                let mut f = format!("{} ", line.len()).into_bytes();
                f.extend_from_slice(line);
                f
            }
        })
        .collect();
    ensure!(!frames.is_empty(), "{} has no lines to send", path.display());
    Ok(frames)
}

/// Sends `count` frames over one connection, cycling through `frames` from `start`.
/// Returns the bytes written.
fn send(addr: SocketAddr, frames: &[Vec<u8>], start: usize, count: u64) -> Result<u64> {
    let stream = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true).context("setting TCP_NODELAY")?;
    let mut out = BufWriter::with_capacity(256 * 1024, stream);
    let mut bytes = 0u64;
    for frame in frames.iter().cycle().skip(start % frames.len()).take(usize::try_from(count)?) {
        out.write_all(frame).with_context(|| format!("writing to {addr}"))?;
        bytes += frame.len() as u64;
    }
    let stream = out.into_inner().map_err(|e| e.into_error()).with_context(|| format!("flushing to {addr}"))?;
    stream.shutdown(std::net::Shutdown::Write).with_context(|| format!("closing {addr}"))?;
    Ok(bytes)
}

fn rate(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { f64::INFINITY }
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.connections >= 1, "--connections must be at least 1");
    ensure!(args.lines >= 1, "--lines must be at least 1");
    let addr = args
        .addr
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --addr {}", args.addr))?
        .next()
        .with_context(|| format!("--addr {} resolves to no address", args.addr))?;
    let input = input_path(&args);
    let frames = frames(&input, args.framing)?;
    let api = Api::new(&args.http, &token(&args)?);
    let before = api.counters().context("reading the baseline counters")?;
    let target = before.processed + args.lines;
    println!(
        "vigil-load: {} lines from {} ({} distinct) to {addr} over {} connection(s), {} framing",
        args.lines,
        input.display(),
        frames.len(),
        args.connections,
        match args.framing {
            Framing::Octet => "octet-counting",
            Framing::Newline => "newline",
        },
    );
    println!(
        "vigil-load: baseline received={} processed={} alerts={}",
        before.received, before.processed, before.alerts
    );

    let conns = u64::from(args.connections);
    let started = Instant::now();
    let bytes = thread::scope(|scope| -> Result<u64> {
        let handles: Vec<_> = (0..conns)
            .map(|i| {
                let count = args.lines / conns + u64::from(i < args.lines % conns);
                // Each connection starts at a different place in the input.
                let start = i as usize * frames.len() / conns as usize;
                let frames = &frames;
                scope.spawn(move || send(addr, frames, start, count))
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.join().map_err(|_| anyhow::anyhow!("a sender thread panicked"))??;
        }
        Ok(total)
    })?;
    let sent_in = started.elapsed();

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut last = api.counters()?;
    while last.processed < target {
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(POLL);
        last = api.counters()?;
    }
    let done_in = started.elapsed();
    let processed = last.processed.saturating_sub(before.processed);
    let received = last.received.saturating_sub(before.received);

    println!(
        "vigil-load: sent       {} lines, {:.1} MiB in {:.3} s: {:.0} events/s sent",
        args.lines,
        bytes as f64 / (1024.0 * 1024.0),
        sent_in.as_secs_f64(),
        rate(args.lines, sent_in),
    );
    if last.processed >= target {
        println!(
            "vigil-load: processed  {processed} events {:.3} s after the first send: {:.0} events/s end to end",
            done_in.as_secs_f64(),
            rate(processed, done_in),
        );
    } else {
        println!(
            "vigil-load: TIMEOUT after {} s: {received} of {} lines received, {processed} processed ({:.0} events/s)",
            args.timeout,
            args.lines,
            rate(processed, done_in),
        );
    }
    // Alerts become searchable at the store's next commit: wait (briefly) for the store to
    // catch up, so that the stored count is comparable to the alert count.
    let store_deadline = Instant::now() + STORE_WAIT;
    while last.alerts_stored < last.alerts && Instant::now() < store_deadline {
        thread::sleep(POLL);
        last = api.counters()?;
    }
    println!(
        "vigil-load: alerts     +{} (stored +{}, {:.3} s after the first send)",
        last.alerts.saturating_sub(before.alerts),
        last.alerts_stored.saturating_sub(before.alerts_stored),
        started.elapsed().as_secs_f64(),
    );
    if let Ok(json) = api.stats_json()
        && let Some(errors) = json.get("errors")
    {
        println!("vigil-load: server errors (cumulative): {errors}");
    }
    if last.processed < target {
        bail!("vigil processed {processed} of {} lines within {} s", args.lines, args.timeout);
    }
    Ok(())
}
