//! `vigil-load`: drives a running `vigil serve` over TCP with a realistic traffic mix, and
//! measures from its `/api/v1/stats` counters and `/metrics` histograms how fast it processes
//! events and how long an event takes to become an alert.
//!
//! ```sh
//! # as many lines as fast as possible (the original mode)
//! vigil-load --lines 200000 --connections 2
//! # 100,000 events/s for 30 s: rates, loss, ingest-to-alert latency
//! vigil-load --rate 100000 --duration 30 --pid $(pgrep -n vigil)
//! # the maximum sustained rate, then latency at 50%, 70% and 90% of it
//! vigil-load --find-max --duration 30 --pid PID
//! # 10 minutes at 100,000 events/s, sampled every 10 s; fails on any lost event
//! vigil-load --soak --rate 100000 --duration 600 --pid PID
//! ```
//!
//! The mix is the agency syslog lines, winlogbeat Windows events (JSON) and appliance lines
//! (CEF, LEEF, FortiGate) of `corpus/`, in the ratio `--mix` (70:20:10), each line's timestamp
//! replaced by the time it is sent (`vigil_benches::stamp`), so that event time advances as
//! it does with real senders.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::{Parser, ValueEnum};
use vigil_benches::mix::{self, Group, Mix};
use vigil_benches::prom::{Histogram, seconds};
use vigil_benches::stamp::{self, Clock};

/// Sends a syslog/JSON traffic mix to vigil over TCP and reports processing rates, loss and
/// ingest-to-alert latency.
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
    /// How many lines to send in all [default: 100000 when --duration is not given].
    #[arg(long, conflicts_with = "duration")]
    lines: Option<u64>,
    /// Send for this long instead of a number of lines; with --find-max, the length of each
    /// step [default there: 30].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Offered load in events/s across all connections, paced in slices of --slice-ms.
    /// Without it lines are sent as fast as the connections take them.
    #[arg(long, value_name = "EVENTS_PER_S")]
    rate: Option<f64>,
    /// Pacing slice: each connection sends what is due, then sleeps this long.
    #[arg(long, value_name = "MS", default_value_t = 1)]
    slice_ms: u64,
    /// TCP connections to spread the lines over (evenly), one thread each.
    #[arg(long, default_value_t = 1)]
    connections: u32,
    /// How messages are framed on the stream.
    #[arg(long, value_enum, default_value_t = Framing::Octet)]
    framing: Framing,
    /// Shares of the mix in percent, SYSLOG:WINDOWS:APPLIANCE: the agency syslog lines, the
    /// winlogbeat JSON events, the CEF + LEEF + FortiGate lines (taken in turn).
    #[arg(long, default_value = "70:20:10", value_name = "S:W:A")]
    mix: String,
    /// Folder holding syslog/agency-mixed.log and payloads/ [default: ./corpus, then this
    /// workspace's corpus].
    #[arg(long, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Send this file's lines, cycled, instead of the mix.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Send the lines with the timestamps they have in the files (event time then goes back
    /// at each pass over the files, and correlation counts most events as late).
    #[arg(long)]
    keep_timestamps: bool,
    /// Seconds to wait for vigil to process everything after sending.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// The server's process id: its resident memory (VmRSS in /proc/PID/status) is reported.
    #[arg(long)]
    pid: Option<u32>,
    /// Find the maximum sustained rate (unpaced for --duration, processed events/s after
    /// --warmup; then paced probes: from that rate down, below what vigil processed, until
    /// one is held (processed as fast as offered, no backlog at the end), then bisecting to
    /// within 5%), then run paced at each of --levels percent of it for --duration.
    #[arg(long, conflicts_with_all = ["soak", "rate", "lines"])]
    find_max: bool,
    /// Start of the unpaced step of --find-max left out of its rate.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    warmup: f64,
    /// --find-max's paced levels, in percent of the maximum found.
    #[arg(long, value_delimiter = ',', default_value = "50,70,90", value_name = "PCT,...")]
    levels: Vec<f64>,
    /// Unpaced sending waits while more than this many sent events are not yet processed, so
    /// that a saturating run leaves a backlog that drains quickly [default: 1000000 with
    /// --find-max; unbounded otherwise].
    #[arg(long, value_name = "EVENTS")]
    max_backlog: Option<u64>,
    /// A long paced run (--rate, --duration) with rates, latency and server RSS printed every
    /// --sample-every seconds; fails unless every event sent is received and processed.
    #[arg(long, requires_all = ["rate", "duration"])]
    soak: bool,
    /// Seconds between the rows of --soak.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    sample_every: f64,
    /// Generate and frame the lines into memory, without a server: the tool's own speed.
    #[arg(long, conflicts_with_all = ["find_max", "soak"])]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Framing {
    /// RFC 6587 octet counting: `LEN SP MSG`.
    Octet,
    /// One message per line, ended by LF.
    Newline,
}

impl Framing {
    fn stamp(self) -> stamp::Framing {
        match self {
            Framing::Octet => stamp::Framing::Octet,
            Framing::Newline => stamp::Framing::Newline,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Framing::Octet => "octet-counting",
            Framing::Newline => "newline",
        }
    }
}

const TOKEN_ENV: &str = "VIGIL_ADMIN_TOKEN";
const DEFAULT_TOKEN_FILE: &str = "vigil-data/admin.token";
const DEFAULT_CORPUS: &str = "corpus";
const SYSLOG_FILES: &[&str] = &["syslog/agency-mixed.log"];
const WINDOWS_FILES: &[&str] = &["payloads/winlogbeat.ndjson"];
const APPLIANCE_FILES: &[&str] = &["payloads/cef.log", "payloads/leef.log", "payloads/fortigate.log"];
const LATENCY: &str = "vigil_alert_latency_seconds";
const LATENCY_NOTE: &str = "from the vigil_alert_latency_seconds histogram's change over the run, \
     interpolated linearly within its buckets, each a quarter power of 2";
const DEFAULT_LINES: u64 = 100_000;
const DEFAULT_FIND_MAX_SECS: f64 = 30.0;
const DEFAULT_MAX_BACKLOG: u64 = 1_000_000;
/// Unpaced senders write this many lines between looks at the clock and the flags.
const CHUNK: u64 = 1024;
/// Lines between two readings of the clock within a slice or chunk.
const CLOCK_EVERY: u64 = 64;
const POLL: Duration = Duration::from_millis(50);
const MONITOR: Duration = Duration::from_millis(100);
const STORE_WAIT: Duration = Duration::from_secs(10);
/// Draining stops when nothing moves for this long.
const STALL: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// The server's API.

/// The counters of `GET /api/v1/stats` this tool uses.
#[derive(Clone, Debug, Default)]
struct Stats {
    received: u64,
    processed: u64,
    alerts: u64,
    alerts_stored: u64,
    errors: BTreeMap<String, u64>,
    late: u64,
    future: u64,
}

impl Stats {
    /// Error counts that grew since `before`.
    fn errors_since(&self, before: &Stats) -> Vec<(String, u64)> {
        self.errors
            .iter()
            .map(|(k, v)| (k.clone(), v.saturating_sub(before.errors.get(k).copied().unwrap_or(0))))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

struct Api {
    agent: ureq::Agent,
    base: String,
    auth: String,
}

impl Api {
    fn new(http: &str, token: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        Api { agent, base: format!("http://{http}"), auth: format!("Bearer {token}") }
    }

    fn get(&self, path: &str) -> Result<String> {
        let url = format!("{}{path}", self.base);
        let mut response =
            self.agent.get(&url).header("Authorization", &self.auth).call().with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body =
            response.body_mut().read_to_string().with_context(|| format!("reading the response of GET {url}"))?;
        if !status.is_success() {
            bail!("GET {url} answered {status}: {}", body.trim());
        }
        Ok(body)
    }

    fn stats_json(&self) -> Result<serde_json::Value> {
        let body = self.get("/api/v1/stats")?;
        serde_json::from_str(&body).with_context(|| format!("GET /api/v1/stats did not answer JSON: {}", body.trim()))
    }

    fn stats(&self) -> Result<Stats> {
        let json = self.stats_json()?;
        let get = |name: &str| {
            json.get(name)
                .and_then(serde_json::Value::as_u64)
                .with_context(|| format!("/api/v1/stats has no unsigned integer {name:?}: {json}"))
        };
        let correlation = |name: &str| {
            json.get("correlation").and_then(|c| c.get(name)).and_then(serde_json::Value::as_u64).unwrap_or(0)
        };
        let errors = json
            .get("errors")
            .and_then(serde_json::Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect())
            .unwrap_or_default();
        Ok(Stats {
            received: get("received")?,
            processed: get("processed")?,
            alerts: get("alerts")?,
            alerts_stored: get("alerts_stored")?,
            errors,
            late: correlation("late_events"),
            future: correlation("future_events"),
        })
    }

    /// The alert latency histogram; `None` when `/metrics` has none.
    fn latency(&self) -> Result<Option<Histogram>> {
        let text = self.get("/metrics")?;
        Ok(Histogram::parse(&text, LATENCY))
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

/// The server's resident memory, from /proc/PID/status.
fn rss_bytes(pid: Option<u32>) -> Option<u64> {
    status_bytes(pid, "VmRSS:")
}

/// A size line of /proc/PID/status (`VmRSS:`, `RssAnon:`, `VmHWM:`), in bytes. VmRSS counts the
/// index files the server has mapped (RssFile: page cache the kernel can take back) as well as
/// its own memory (RssAnon); VmHWM is the highest VmRSS since the server started.
fn status_bytes(pid: Option<u32>, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kib: u64 = status.lines().find_map(|l| l.strip_prefix(key))?.split_whitespace().next()?.parse().ok()?;
    Some(kib * 1024)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".to_owned(), |b| format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0)))
}

// ---------------------------------------------------------------------------------------------
// The mix.

/// The corpus folder: as given, or the default relative to the current directory, then to
/// this workspace's source tree.
fn corpus_dir(args: &Args) -> PathBuf {
    if let Some(p) = &args.corpus {
        return p.clone();
    }
    let here = PathBuf::from(DEFAULT_CORPUS);
    if here.join(SYSLOG_FILES[0]).exists() {
        return here;
    }
    let in_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(DEFAULT_CORPUS);
    if in_tree.exists() { in_tree } else { here }
}

fn parse_mix(s: &str) -> Result<[u32; 3]> {
    let parts: Vec<&str> = s.split(':').collect();
    ensure!(parts.len() == 3, "--mix {s:?}: give three shares, SYSLOG:WINDOWS:APPLIANCE (e.g. 70:20:10)");
    let mut shares = [0u32; 3];
    for (share, part) in shares.iter_mut().zip(&parts) {
        *share = part.trim().parse().with_context(|| format!("--mix {s:?}: {part:?} is not a whole number"))?;
    }
    ensure!(shares.iter().any(|&w| w > 0), "--mix {s:?}: every share is 0");
    Ok(shares)
}

/// Reads the files and builds the mix; also returns a one-line description of it.
fn load_mix(args: &Args) -> Result<(Mix, String)> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let framing = args.framing.stamp();
    let rewrite = !args.keep_timestamps;
    let (mix, what) = if let Some(input) = &args.input {
        let data = read(input)?;
        let group = Group { name: "input", weight: 1, files: vec![mix::lines(&data)] };
        (Mix::new(&[group], framing, rewrite), input.display().to_string())
    } else {
        let dir = corpus_dir(args);
        let shares = parse_mix(&args.mix)?;
        let sets = [("syslog", SYSLOG_FILES), ("windows", WINDOWS_FILES), ("appliance", APPLIANCE_FILES)];
        let mut data = Vec::new();
        for ((_, files), share) in sets.iter().zip(shares) {
            let mut contents = Vec::new();
            if share > 0 {
                for f in *files {
                    contents.push(read(&dir.join(f))?);
                }
            }
            data.push(contents);
        }
        let groups: Vec<Group<'_>> = sets
            .iter()
            .zip(shares)
            .zip(&data)
            .map(|(((name, _), weight), contents)| Group {
                name,
                weight,
                files: contents.iter().map(|d| mix::lines(d)).collect(),
            })
            .collect();
        (Mix::new(&groups, framing, rewrite), dir.display().to_string())
    };
    ensure!(!mix.is_empty(), "{what}: no lines to send");
    let total: u32 = mix.groups().iter().map(|g| g.weight).sum();
    let groups: Vec<String> = mix
        .groups()
        .iter()
        .map(|g| format!("{:.0}% {} ({} lines)", f64::from(g.weight) * 100.0 / f64::from(total), g.name, g.lines))
        .collect();
    let (lines, stamped) = mix.groups().iter().fold((0, 0), |(l, s), g| (l + g.lines, s + g.stamped));
    let stamps = if rewrite {
        format!(
            "timestamps set to the send time in {stamped} of {lines} distinct lines \
             (RFC 3164/5424 in +07:00, JSON @timestamp in UTC)"
        )
    } else {
        "timestamps as in the files".to_owned()
    };
    let description =
        format!("{} from {what}; {stamps}; {:.0} bytes a line with framing", groups.join(", "), mix.mean_framed_len());
    Ok((mix, description))
}

// ---------------------------------------------------------------------------------------------
// Sending.

/// When a run stops sending.
#[derive(Clone, Copy, Debug)]
enum Limit {
    Lines(u64),
    Time(Duration),
}

/// One run's sending plan.
#[derive(Clone, Copy, Debug)]
struct Plan {
    limit: Limit,
    /// Events/s across all connections; `None`: unpaced.
    rate: Option<f64>,
    /// Unpaced: hold while more than this many sent events are not processed.
    max_backlog: Option<u64>,
    /// Record the processed counter this long after the start.
    warmup: Option<Duration>,
    /// Print a row this often (soak).
    sample_every: Option<Duration>,
}

/// What the sender threads and the monitor share.
#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    bytes: AtomicU64,
    /// Unpaced senders wait while set (the backlog is over --max-backlog).
    hold: AtomicBool,
    /// Set when a sender fails: the others stop.
    stop: AtomicBool,
    finished: AtomicU64,
    /// Nanoseconds from the start to the last connection's last write.
    end_ns: AtomicU64,
}

/// One connection's share of a plan.
struct ConnPlan {
    start: usize,
    lines: Option<u64>,
    duration: Option<Duration>,
    rate: Option<f64>,
    slice: Duration,
}

/// Sends one connection's lines into `out`.
fn drive(out: &mut impl Write, mix: &Mix, plan: &ConnPlan, shared: &Shared, t0: Instant) -> io::Result<()> {
    let mut cursor = mix.cursor(plan.start);
    let mut clock = Clock::new();
    let cap = plan.lines.unwrap_or(u64::MAX);
    let mut sent = 0u64;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let elapsed = t0.elapsed();
        let over = plan.duration.is_some_and(|d| elapsed >= d);
        let due = match plan.rate {
            Some(rate) => {
                let at = plan.duration.map_or(elapsed, |d| elapsed.min(d));
                ((rate * at.as_secs_f64()) as u64).min(cap)
            }
            None if over => sent,
            None if shared.hold.load(Ordering::Relaxed) => {
                out.flush()?;
                thread::sleep(Duration::from_millis(1));
                continue;
            }
            None => sent.saturating_add(CHUNK).min(cap),
        };
        let n = due.saturating_sub(sent);
        let mut bytes = 0u64;
        clock.refresh();
        for i in 1..=n {
            let t = cursor.next_template();
            t.write_to(&clock, out)?;
            bytes += t.framed_len() as u64;
            if i % CLOCK_EVERY == 0 {
                clock.refresh();
            }
        }
        sent += n;
        shared.sent.fetch_add(n, Ordering::Relaxed);
        shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        if sent >= cap || over {
            break;
        }
        if plan.rate.is_some() {
            out.flush()?;
            thread::sleep(plan.slice.saturating_sub(t0.elapsed().saturating_sub(elapsed)));
        }
    }
    out.flush()
}

/// One connection: TCP to `addr`, or memory when `addr` is `None` (dry run).
fn connection(addr: Option<SocketAddr>, mix: &Mix, plan: &ConnPlan, shared: &Shared, t0: Instant) -> Result<()> {
    let result = match addr {
        Some(addr) => {
            let stream = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
            stream.set_nodelay(true).context("setting TCP_NODELAY")?;
            let mut out = BufWriter::with_capacity(256 * 1024, stream);
            drive(&mut out, mix, plan, shared, t0).with_context(|| format!("writing to {addr}")).and_then(|()| {
                let stream = out.into_inner().map_err(|e| e.into_error()).context("flushing")?;
                stream.shutdown(std::net::Shutdown::Write).with_context(|| format!("closing {addr}"))
            })
        }
        None => drive(&mut BufWriter::with_capacity(256 * 1024, io::sink()), mix, plan, shared, t0)
            .context("writing to memory"),
    };
    if result.is_err() {
        shared.stop.store(true, Ordering::Relaxed);
    }
    let end = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    shared.end_ns.fetch_max(end, Ordering::Relaxed);
    shared.finished.fetch_add(1, Ordering::Relaxed);
    result
}

// ---------------------------------------------------------------------------------------------
// Runs.

struct Ctx<'a> {
    args: &'a Args,
    mix: &'a Mix,
    /// `None`: dry run.
    addr: Option<SocketAddr>,
    api: Option<Api>,
}

/// One row of a sampled run.
struct Sample {
    at: Duration,
    sent_rate: f64,
    processed_rate: f64,
    backlog: i64,
    alert_rate: f64,
    p50: String,
    p99: String,
    late: u64,
    rss: Option<u64>,
    /// The server's own memory: RSS less the mapped index files.
    anon: Option<u64>,
}

/// What [`monitor`] saw: the warm-up point and the rows.
type Watched = (Option<(Duration, u64)>, Vec<Sample>);

/// What a run measured.
struct Outcome {
    sent: u64,
    bytes: u64,
    /// From the start to the last line written.
    send_time: Duration,
    /// Stats before, at the end of sending, and after draining.
    before: Stats,
    at_send_end: Stats,
    after: Stats,
    /// From the start to when draining ended.
    drain_end: Duration,
    drained: bool,
    /// (time since the start, processed) when the warm-up ended.
    warm: Option<(Duration, u64)>,
    latency: Option<Histogram>,
    rss_after: Option<u64>,
    samples: Vec<Sample>,
}

impl Outcome {
    fn received(&self) -> u64 {
        self.after.received.saturating_sub(self.before.received)
    }

    fn processed(&self) -> u64 {
        self.after.processed.saturating_sub(self.before.processed)
    }

    fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received())
    }

    /// Processed events/s while sending (after the warm-up when there was one).
    fn processed_rate(&self) -> f64 {
        let (t, p) = self.warm.unwrap_or((Duration::ZERO, self.before.processed));
        rate(self.at_send_end.processed.saturating_sub(p), self.send_time.saturating_sub(t))
    }

    fn sent_rate(&self) -> f64 {
        rate(self.sent, self.send_time)
    }

    fn quantile(&self, q: f64) -> String {
        self.latency.as_ref().map_or_else(|| "-".to_owned(), |h| h.quantile(q).to_string())
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { f64::INFINITY }
}

/// `345.7 K`, `1.23 M`.
fn si(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} K", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// Runs `plan`: sends, watches, drains, and measures.
fn run(ctx: &Ctx<'_>, plan: &Plan) -> Result<Outcome> {
    let args = ctx.args;
    let conns = u64::from(args.connections);
    let before = match &ctx.api {
        Some(api) => api.stats().context("reading the baseline counters")?,
        None => Stats::default(),
    };
    let latency_before = match &ctx.api {
        Some(api) => api.latency()?,
        None => None,
    };
    let shared = Shared::default();
    let cycle = ctx.mix.cycle_len();
    let t0 = Instant::now();
    let (warm, samples) = thread::scope(|scope| -> Result<Watched> {
        let handles: Vec<_> = (0..conns)
            .map(|i| {
                let lines = match plan.limit {
                    Limit::Lines(n) => Some(n / conns + u64::from(i < n % conns)),
                    Limit::Time(_) => None,
                };
                let conn = ConnPlan {
                    // Each connection starts at a different place in the cycle.
                    start: usize::try_from(i).unwrap_or(0) * cycle / usize::try_from(conns).unwrap_or(1),
                    lines,
                    duration: match plan.limit {
                        Limit::Time(d) => Some(d),
                        Limit::Lines(_) => None,
                    },
                    rate: plan.rate.map(|r| r / conns as f64),
                    slice: Duration::from_millis(args.slice_ms.max(1)),
                };
                let shared = &shared;
                let mix = ctx.mix;
                let addr = ctx.addr;
                scope.spawn(move || connection(addr, mix, &conn, shared, t0))
            })
            .collect();
        let watched = monitor(ctx, plan, &shared, &before, latency_before.as_ref(), t0);
        if watched.is_err() {
            shared.stop.store(true, Ordering::Relaxed);
        }
        for h in handles {
            h.join().map_err(|_| anyhow!("a sender thread panicked"))??;
        }
        watched
    })?;
    let send_time = Duration::from_nanos(shared.end_ns.load(Ordering::Relaxed));
    let sent = shared.sent.load(Ordering::Relaxed);
    let bytes = shared.bytes.load(Ordering::Relaxed);
    let Some(api) = &ctx.api else {
        let after = Stats::default();
        return Ok(Outcome {
            sent,
            bytes,
            send_time,
            before: before.clone(),
            at_send_end: after.clone(),
            after,
            drain_end: send_time,
            drained: true,
            warm,
            latency: None,
            rss_after: None,
            samples,
        });
    };
    let at_send_end = api.stats()?;
    let (mut after, drained) = drain(api, &before, sent, Duration::from_secs(args.timeout))?;
    let drain_end = t0.elapsed();
    // Alerts become searchable at the store's next commit: wait (briefly) for the store to
    // catch up, so that the stored count is comparable to the alert count.
    let store_deadline = Instant::now() + STORE_WAIT;
    while after.alerts_stored < after.alerts && Instant::now() < store_deadline {
        thread::sleep(POLL);
        after = api.stats()?;
    }
    let latency = match (api.latency()?, latency_before) {
        (Some(now), Some(then)) => now.since(&then),
        (now, _) => now,
    };
    Ok(Outcome {
        sent,
        bytes,
        send_time,
        before,
        at_send_end,
        after,
        drain_end,
        drained,
        warm,
        latency,
        rss_after: rss_bytes(args.pid),
        samples,
    })
}

/// Watches a run until its senders finish: holds unpaced senders past the backlog limit,
/// records the warm-up point, prints soak rows. Returns the warm-up point (time since the
/// start, processed) and the rows.
fn monitor(
    ctx: &Ctx<'_>,
    plan: &Plan,
    shared: &Shared,
    before: &Stats,
    latency_before: Option<&Histogram>,
    t0: Instant,
) -> Result<Watched> {
    let (mut warm, mut samples) = (None, Vec::new());
    let conns = u64::from(ctx.args.connections);
    let backlog_limit = plan.max_backlog.filter(|_| plan.rate.is_none());
    let mut last = (Duration::ZERO, 0u64, before.clone(), latency_before.cloned());
    let mut next_sample = plan.sample_every;
    let mut next_look = MONITOR;
    while shared.finished.load(Ordering::Relaxed) < conns {
        thread::sleep(Duration::from_millis(5));
        let Some(api) = &ctx.api else { continue };
        let now = t0.elapsed();
        if now < next_look {
            continue;
        }
        next_look = now + MONITOR;
        let wants_warm = plan.warmup.is_some_and(|w| now >= w) && warm.is_none();
        let wants_sample = next_sample.is_some_and(|s| now >= s);
        if backlog_limit.is_none() && !wants_warm && !wants_sample {
            continue;
        }
        let stats = match api.stats() {
            Ok(s) => s,
            Err(e) if backlog_limit.is_some() => {
                // Not knowing the backlog, stop holding the senders back.
                shared.hold.store(false, Ordering::Relaxed);
                eprintln!("vigil-load: {e:#}");
                continue;
            }
            Err(e) => return Err(e),
        };
        let sent = shared.sent.load(Ordering::Relaxed);
        let backlog = sent.saturating_sub(stats.processed.saturating_sub(before.processed));
        if let Some(limit) = backlog_limit {
            if backlog > limit {
                shared.hold.store(true, Ordering::Relaxed);
            } else if backlog < limit / 2 {
                shared.hold.store(false, Ordering::Relaxed);
            }
        }
        if wants_warm {
            warm = Some((now, stats.processed));
        }
        if wants_sample && let Some(every) = plan.sample_every {
            next_sample = Some(now + every);
            let latency = api.latency()?;
            let interval = match (&latency, &last.3) {
                (Some(a), Some(b)) => a.since(b),
                _ => None,
            };
            let dt = now.saturating_sub(last.0);
            let sample = Sample {
                at: now,
                sent_rate: rate(sent.saturating_sub(last.1), dt),
                processed_rate: rate(stats.processed.saturating_sub(last.2.processed), dt),
                backlog: i64::try_from(sent).unwrap_or(i64::MAX)
                    - i64::try_from(stats.processed.saturating_sub(before.processed)).unwrap_or(i64::MAX),
                alert_rate: rate(stats.alerts.saturating_sub(last.2.alerts), dt),
                p50: interval.as_ref().map_or_else(|| "-".to_owned(), |h| h.quantile(0.5).to_string()),
                p99: interval.as_ref().map_or_else(|| "-".to_owned(), |h| h.quantile(0.99).to_string()),
                late: (stats.late + stats.future).saturating_sub(before.late + before.future),
                rss: rss_bytes(ctx.args.pid),
                anon: status_bytes(ctx.args.pid, "RssAnon:"),
            };
            println!("{}", sample_row(&sample));
            samples.push(sample);
            last = (now, sent, stats, latency);
        }
    }
    Ok((warm, samples))
}

/// Waits until vigil has received and processed the `sent` events, nothing moves for
/// [`STALL`], or `timeout` passes. Returns the last counters and whether all were processed.
fn drain(api: &Api, before: &Stats, sent: u64, timeout: Duration) -> Result<(Stats, bool)> {
    let deadline = Instant::now() + timeout;
    let mut last = api.stats()?;
    let mut moved = Instant::now();
    loop {
        let received = last.received.saturating_sub(before.received);
        let processed = last.processed.saturating_sub(before.processed);
        if received >= sent && processed >= received {
            return Ok((last, true));
        }
        if Instant::now() >= deadline || moved.elapsed() >= STALL {
            return Ok((last, false));
        }
        thread::sleep(POLL);
        let now = api.stats()?;
        if (now.received, now.processed) != (last.received, last.processed) {
            moved = Instant::now();
        }
        last = now;
    }
}

const SAMPLE_HEADER: &str = "| t (s) | sent/s | processed/s | backlog | alerts/s | p50 | p99 | late+future | server RSS | of it anonymous |\n\
     |---|---|---|---|---|---|---|---|---|---|";

fn sample_row(s: &Sample) -> String {
    format!(
        "| {:.0} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
        s.at.as_secs_f64(),
        si(s.sent_rate),
        si(s.processed_rate),
        s.backlog,
        s.alert_rate,
        s.p50,
        s.p99,
        s.late,
        mib(s.rss),
        mib(s.anon),
    )
}

/// The report of a single run.
fn report(o: &Outcome, paced: bool) {
    println!(
        "vigil-load: sent       {} lines, {:.1} MiB in {:.3} s: {:.0} events/s{}",
        o.sent,
        o.bytes as f64 / (1024.0 * 1024.0),
        o.send_time.as_secs_f64(),
        o.sent_rate(),
        if paced { " offered" } else { " sent" },
    );
    let processed = o.processed();
    println!(
        "vigil-load: processed  {processed} events: {:.0} events/s while sending; \
         {:.0} events/s end to end ({:.3} s from the first send to the last processed)",
        o.processed_rate(),
        rate(processed, o.drain_end),
        o.drain_end.as_secs_f64(),
    );
    println!(
        "vigil-load: delivery   sent {}, received {}, processed {}: {} lost{}",
        o.sent,
        o.received(),
        processed,
        o.lost(),
        if o.drained { "" } else { " (NOT DRAINED: stopped waiting)" },
    );
    println!(
        "vigil-load: alerts     +{} (stored +{})",
        o.after.alerts.saturating_sub(o.before.alerts),
        o.after.alerts_stored.saturating_sub(o.before.alerts_stored),
    );
    match &o.latency {
        Some(h) if h.count > 0.0 => println!(
            "vigil-load: latency    ingest to alert over {:.0} alerts: p50 {}, p90 {}, p99 {}, mean {}{}\n\
             vigil-load:            ({LATENCY_NOTE})",
            h.count,
            h.quantile(0.5),
            h.quantile(0.9),
            h.quantile(0.99),
            h.mean().map_or_else(|| "-".to_owned(), seconds),
            if paced { "" } else { "; unpaced, so queueing included" },
        ),
        Some(_) => println!("vigil-load: latency    no alert raised during the run"),
        None => println!("vigil-load: latency    /metrics has no {LATENCY} histogram"),
    }
    println!(
        "vigil-load: correlation late +{}, future +{}",
        o.after.late.saturating_sub(o.before.late),
        o.after.future.saturating_sub(o.before.future),
    );
    let errors = o.after.errors_since(&o.before);
    if errors.is_empty() {
        println!("vigil-load: errors     none");
    } else {
        let list: Vec<String> = errors.iter().map(|(k, n)| format!("{k} +{n}")).collect();
        println!("vigil-load: errors     {}", list.join(", "));
    }
    if o.rss_after.is_some() {
        println!("vigil-load: server RSS {}", mib(o.rss_after));
    }
}

fn duration_arg(secs: f64, flag: &str) -> Result<Duration> {
    ensure!(secs.is_finite() && secs > 0.0, "{flag} must be a positive number of seconds");
    Ok(Duration::from_secs_f64(secs))
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.connections >= 1, "--connections must be at least 1");
    if let Some(r) = args.rate {
        ensure!(r.is_finite() && r > 0.0, "--rate must be a positive number of events/s");
    }
    let (mix, description) = load_mix(&args)?;
    let (addr, api) = if args.dry_run {
        (None, None)
    } else {
        let addr = args
            .addr
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve --addr {}", args.addr))?
            .next()
            .with_context(|| format!("--addr {} resolves to no address", args.addr))?;
        (Some(addr), Some(Api::new(&args.http, &token(&args)?)))
    };
    let ctx = Ctx { args: &args, mix: &mix, addr, api };
    println!("vigil-load: mix {description}");
    let target = addr.map_or_else(|| "memory (dry run)".to_owned(), |a| a.to_string());
    if args.find_max {
        return find_max(&ctx, &target);
    }
    let limit = match (args.duration, args.lines) {
        (Some(d), _) => Limit::Time(duration_arg(d, "--duration")?),
        (None, Some(n)) => Limit::Lines(n),
        (None, None) => Limit::Lines(DEFAULT_LINES),
    };
    if let Limit::Lines(n) = limit {
        ensure!(n >= 1, "--lines must be at least 1");
    }
    let plan = Plan {
        limit,
        rate: args.rate,
        max_backlog: args.max_backlog,
        warmup: None,
        sample_every: args.soak.then(|| duration_arg(args.sample_every, "--sample-every")).transpose()?,
    };
    println!(
        "vigil-load: {} to {target} over {} connection(s), {} framing, {}",
        match limit {
            Limit::Lines(n) => format!("{n} lines"),
            Limit::Time(d) => format!("{:.0} s", d.as_secs_f64()),
        },
        args.connections,
        args.framing.name(),
        args.rate.map_or_else(|| "unpaced".to_owned(), |r| format!("paced at {r:.0} events/s")),
    );
    if let Some(api) = &ctx.api {
        let s = api.stats().context("reading the baseline counters")?;
        println!("vigil-load: baseline received={} processed={} alerts={}", s.received, s.processed, s.alerts);
    }
    if args.soak {
        return soak(&ctx, &plan);
    }
    let o = run(&ctx, &plan)?;
    if ctx.api.is_none() {
        println!(
            "vigil-load: generated  {} lines, {:.1} MiB in {:.3} s: {:.0} lines/s, {:.0} MiB/s ({} thread(s))",
            o.sent,
            o.bytes as f64 / (1024.0 * 1024.0),
            o.send_time.as_secs_f64(),
            o.sent_rate(),
            rate(o.bytes, o.send_time) / (1024.0 * 1024.0),
            args.connections,
        );
        return Ok(());
    }
    report(&o, plan.rate.is_some());
    if let Limit::Lines(_) = limit
        && !o.drained
    {
        bail!("vigil processed {} of {} lines within {} s", o.processed(), o.sent, args.timeout);
    }
    Ok(())
}

/// `--soak`: rows every --sample-every, then the no-loss check and the RSS summary.
fn soak(ctx: &Ctx<'_>, plan: &Plan) -> Result<()> {
    let rss_start = rss_bytes(ctx.args.pid);
    println!("{SAMPLE_HEADER}");
    let o = run(ctx, plan)?;
    println!();
    report(&o, true);
    let rss: Vec<u64> = o.samples.iter().filter_map(|s| s.rss).chain(o.rss_after).collect();
    if !rss.is_empty() {
        println!(
            "vigil-load: soak RSS   before {}, first sample {}, last {} (after draining), max {}",
            mib(rss_start),
            mib(rss.first().copied()),
            mib(rss.last().copied()),
            mib(rss.iter().max().copied()),
        );
        let anon = o.samples.iter().filter_map(|s| s.anon).max();
        println!(
            "vigil-load: soak peak  RSS {} (VmHWM, between samples too), anonymous {} at most in the samples (the rest \
             of RSS is mapped index files)",
            mib(status_bytes(ctx.args.pid, "VmHWM:")),
            mib(anon),
        );
    }
    let (received, processed) = (o.received(), o.processed());
    ensure!(
        o.drained && received == o.sent && processed == received,
        "soak FAILED: sent {}, received {received}, processed {processed} ({} lost)",
        o.sent,
        o.lost()
    );
    println!("vigil-load: soak OK: all {} events sent were received and processed", o.sent);
    Ok(())
}

/// Paced probes of `--find-max` for the maximum sustained rate.
const MAX_PROBES: usize = 8;
/// The probes stop once the highest rate held is within this fraction of the lowest not held.
const PRECISION: f64 = 0.05;

/// `--find-max`: the unpaced step, paced probes for the highest rate held (the maximum
/// sustained), then one paced step per level of that; a table row for each.
fn find_max(ctx: &Ctx<'_>, target: &str) -> Result<()> {
    let args = ctx.args;
    let step = duration_arg(args.duration.unwrap_or(DEFAULT_FIND_MAX_SECS), "--duration")?;
    let warmup = duration_arg(args.warmup, "--warmup")?;
    ensure!(warmup < step, "--warmup ({:.1} s) must be shorter than --duration", warmup.as_secs_f64());
    ensure!(args.levels.iter().all(|l| l.is_finite() && *l > 0.0), "--levels must be positive percentages");
    println!(
        "vigil-load: find-max to {target} over {} connection(s), {} framing: unpaced for {:.0} s (rate after a {:.0} s \
         warm-up), then {} % of it for {:.0} s each",
        args.connections,
        args.framing.name(),
        step.as_secs_f64(),
        warmup.as_secs_f64(),
        args.levels.iter().map(|l| format!("{l}")).collect::<Vec<_>>().join(", "),
        step.as_secs_f64(),
    );
    let header = "| step | offered events/s | processed events/s | p50 | p99 | alerts | lost | late+future | server RSS |\n\
                  |---|---|---|---|---|---|---|---|---|";
    let row = |name: &str, o: &Outcome| {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {}{} | {} | {} |",
            si(o.sent_rate()),
            si(o.processed_rate()),
            o.quantile(0.5),
            o.quantile(0.99),
            o.after.alerts.saturating_sub(o.before.alerts),
            o.lost(),
            if o.drained { "" } else { " (not drained)" },
            (o.after.late + o.after.future).saturating_sub(o.before.late + o.before.future),
            mib(o.rss_after),
        )
    };
    let saturate = Plan {
        limit: Limit::Time(step),
        rate: None,
        max_backlog: Some(args.max_backlog.unwrap_or(DEFAULT_MAX_BACKLOG)),
        warmup: Some(warmup),
        sample_every: None,
    };
    let o = run(ctx, &saturate)?;
    let max = o.processed_rate();
    ensure!(max.is_finite() && max > 0.0, "vigil processed nothing while sending unpaced");
    let backlog = o.sent.saturating_sub(o.at_send_end.processed.saturating_sub(o.before.processed));
    println!(
        "vigil-load: max        {:.0} events/s processed (sent {:.0}/s; backlog at the end {backlog} events)",
        max,
        o.sent_rate(),
    );
    if (backlog as f64) < max * 0.05 {
        println!(
            "vigil-load: note       vigil kept up with the sender: the load tool (or the machine) was the limit, so \
             this is a lower bound of vigil's maximum"
        );
    }
    let mut rows = vec![row("unpaced (latency includes queueing)", &o)];
    println!("{header}\n{}", rows[0]);
    // The unpaced rate can be more than vigil holds (bigger batches while it runs behind, the
    // store's queue filling, an index still small): the maximum sustained is the highest
    // paced rate it processes as fast as it is offered, with no backlog left at the end of
    // sending (within 1 s of events). Probes start at the unpaced rate; after one not held the
    // next is below what vigil processed meanwhile (by 10%, and at least 7.5% below the probe);
    // once one is held, the rest bisect between the highest held and the lowest not held,
    // until they are within 5% of each other.
    let paced = |rate: f64| Plan {
        limit: Limit::Time(step),
        rate: Some(rate),
        max_backlog: None,
        warmup: None,
        sample_every: None,
    };
    let (mut held_at, mut failed_at): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = max;
    for _ in 0..MAX_PROBES {
        let o = run(ctx, &paced(rate))?;
        let offered = o.sent_rate();
        let backlog = o.sent.saturating_sub(o.at_send_end.processed.saturating_sub(o.before.processed));
        let held = o.processed_rate() >= 0.99 * offered && (backlog as f64) <= offered;
        rows.push(row(
            &format!("probe {:.0}% of unpaced: {}", rate / max * 100.0, if held { "held" } else { "not held" }),
            &o,
        ));
        println!("{}", rows[rows.len() - 1]);
        if held {
            held_at = Some(held_at.map_or(offered, |h: f64| h.max(offered)));
        } else {
            failed_at = Some(failed_at.map_or(offered, |f: f64| f.min(offered)));
        }
        rate = match (held_at, failed_at) {
            // Held at the unpaced rate itself: nothing higher to try.
            (Some(_), None) => break,
            (Some(lo), Some(hi)) if hi <= lo * (1.0 + PRECISION) => break,
            (Some(lo), Some(hi)) => (lo + hi) / 2.0,
            (None, _) => (0.9 * o.processed_rate()).min(rate * (1.0 - 0.075)),
        };
    }
    let Some(max) = held_at else {
        anyhow::bail!(
            "no paced rate was held in {MAX_PROBES} probes (the lowest offered: {:.0} events/s)",
            failed_at.unwrap_or(rate)
        );
    };
    println!("vigil-load: sustained  {max:.0} events/s (the levels below are percentages of it)");
    rows.push(format!("| **maximum sustained** | {} | | | | | | | |", si(max)));
    for level in &args.levels {
        let paced = paced(max * level / 100.0);
        let o = run(ctx, &paced)?;
        rows.push(row(&format!("{level}%"), &o));
        println!("{}", rows[rows.len() - 1]);
    }
    println!("\nvigil-load: find-max result (latency: ingest to alert, {LATENCY_NOTE}):\n\n{header}");
    for r in &rows {
        println!("{r}");
    }
    Ok(())
}
