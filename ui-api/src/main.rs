//! The `vigil` command: parses flags and calls into the crates.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use vigil_engine::serve::source_map;
use vigil_engine::sources::SourceMap;
use vigil_engine::{Config, Detector, Engine};
use vigil_parsers::InputFormat;
use vigil_rules::{Diagnostic, RuleSet, Severity};
use vigil_ui_api::reload::{Baseline, RuleReloader, RulesView};
use vigil_ui_api::token::{TokenOrigin, admin_token};

mod offline;

/// mimalloc rather than glibc's malloc: events are built on the matching threads from buffers
/// filled on the I/O threads, and glibc's per-thread arenas spend that time growing, trimming
/// and faulting in their heaps (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "SOC event correlation engine: syslog in, Sigma detections, searchable alerts"
)]
struct Cli {
    /// How the log on stderr is written: for people, or one JSON object per line (for a log
    /// shipper).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Receive syslog, detect, and serve the alert API.
    Serve {
        /// TOML file overriding the embedded default configuration.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where alerts and the admin token are kept (default: ./vigil-data).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// A folder of Sigma rules to load besides the bundled pack (repeatable).
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
    },
    /// Run the rules over log files, EVTX files and folders (or `-` for stdin) and print one
    /// alert per line as JSON, then a summary on stderr.
    Replay {
        /// Files or folders (walked recursively) to read: lines, or EVTX (by its magic); `-` is
        /// stdin.
        #[arg(value_name = "FILE", default_value = "-")]
        files: Vec<String>,
        /// A folder of Sigma rules to load besides the bundled pack (repeatable).
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
        /// Leave the bundled pack out and use only `--rules`.
        #[arg(long)]
        no_bundled: bool,
        /// How to read lines.
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        #[command(flatten)]
        input: InputArgs,
        /// The summary as one JSON object (on stderr; on stdout with --summary-only).
        #[arg(long)]
        json: bool,
        /// Print no alerts: only the summary, on stdout.
        #[arg(long)]
        summary_only: bool,
        /// How many rules and hosts the summary lists, most alerts first.
        #[arg(long, value_name = "N", default_value_t = 10)]
        top: usize,
    },
    /// Parse log lines and print each event as one JSON line (fields, logsource, agency,
    /// province, time): how a rule author sees what a line becomes.
    Parse {
        /// Files or folders (walked recursively) to read: lines, or EVTX (by its magic); `-` is
        /// stdin.
        #[arg(value_name = "FILE", default_value = "-")]
        files: Vec<String>,
        /// How to read lines.
        #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
        format: FormatArg,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Work with rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// API tokens: create (shown once), list, revoke.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it once (only its hash is kept).
    Create {
        /// national_analyst, provincial_analyst (needs --province), agency_viewer (needs
        /// --agency), rule_author or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        province: Option<String>,
        #[arg(long)]
        agency: Option<String>,
        /// A name for the token's owner, shown in the audit log (default: role and scope).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        place: DataDirArgs,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        place: DataDirArgs,
    },
    /// Revoke a token by its id; it stops working at its next request.
    Revoke {
        id: String,
        #[command(flatten)]
        place: DataDirArgs,
    },
}

/// Where `serve` keeps its data: the configuration's `data_dir`, or `--data-dir`.
#[derive(clap::Args)]
struct DataDirArgs {
    /// TOML file overriding the embedded default configuration (for its `data_dir`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data dir `vigil serve` uses (default: ./vigil-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl DataDirArgs {
    fn resolve(&self) -> Result<PathBuf> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        let config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default_config()?,
        };
        Ok(config.data_dir)
    }
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Print the loaded rules, and why any rule did not load.
    List {
        /// A folder of Sigma rules to load besides the bundled pack (repeatable).
        #[arg(long = "rules", value_name = "DIR")]
        rules: Vec<PathBuf>,
        /// Leave the bundled pack out.
        #[arg(long)]
        no_bundled: bool,
        /// One JSON object per rule instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Test rules: with `--events`, which rules hit which events and why; without, run the
    /// fixtures next to the rules (`RULE.tests.yml`: events that must and must not hit).
    Test {
        /// Folders or files of Sigma rules.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Log files, EVTX files or folders to match (syslog, CEF, JSON lines, EVTX...; `-` is
        /// stdin), instead of fixtures.
        #[arg(long = "events", value_name = "FILE")]
        events: Vec<String>,
        /// Also say, for every rule an event did not hit, which part failed.
        #[arg(long)]
        explain: bool,
        /// Configuration whose `[rules.placeholders]` and `syslog.timezone` apply.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Measure what each rule costs on an event file: the rules that took the most time, with
    /// how often each was evaluated (after logsource routing and the prefilter) and hit.
    Profile {
        /// Folders or files of Sigma rules.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Log files, EVTX files or folders to match (syslog, CEF, JSON lines, EVTX...; `-` is
        /// stdin).
        #[arg(long = "events", value_name = "FILE", required = true)]
        events: Vec<String>,
        /// How many rules to list, costliest first.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Pass over the events this many times (more stable numbers on small files).
        #[arg(long, default_value_t = 1)]
        passes: u32,
        /// One JSON object for the summary and each listed rule instead of a table.
        #[arg(long)]
        json: bool,
        /// Configuration whose `[rules.placeholders]` and `syslog.timezone` apply.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check Sigma rule folders or files: print every diagnostic (file:line, code, message,
    /// hint) and a summary; exit 1 when any rule does not load.
    Lint {
        /// Folders or files of Sigma rules.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Configuration whose `[rules.placeholders]` apply.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// One JSON object per diagnostic instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Where offline lines come from: the configuration's sources and time zone.
#[derive(clap::Args)]
struct InputArgs {
    /// Configuration file whose `[[sources]]` and `syslog.timezone` apply.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Attribute every line to this configured source (its agency, province and time zone).
    #[arg(long, value_name = "NAME")]
    source: Option<String>,
    /// Time zone of timestamps without an offset (default: the configuration's).
    #[arg(long, value_name = "TZ")]
    timezone: Option<String>,
    /// EVTX: skip chunks whose CRC32 does not match (evtx_bad_chunk) instead of reading them
    /// (evtx_bad_checksum).
    #[arg(long)]
    validate_checksums: bool,
}

impl InputArgs {
    /// The configuration given with `--config`, or the embedded default.
    fn config(&self) -> Result<Config> {
        Ok(match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default_config()?,
        })
    }

    /// The source map, and how inputs are read (the source every event is attributed to).
    fn reading(&self) -> Result<(Arc<SourceMap>, vigil_engine::replay::Reading)> {
        let (map, sender) = self.resolve()?;
        let evtx = vigil_engine::evtx::EvtxOptions { validate_checksums: self.validate_checksums };
        Ok((map, vigil_engine::replay::Reading { sender, evtx }))
    }

    /// The source map, and the source every line is attributed to.
    fn resolve(&self) -> Result<(Arc<SourceMap>, Option<Arc<vigil_engine::sources::Source>>)> {
        let mut config = self.config()?;
        if let Some(tz) = &self.timezone {
            config.syslog.timezone = tz.parse().map_err(|_| anyhow::anyhow!("unknown time zone {tz:?}"))?;
        }
        let map = Arc::new(source_map(&config)?);
        let sender =
            match &self.source {
                None => None,
                Some(name) => Some(map.by_name(name).with_context(|| {
                    format!("no source named {name:?} in the configuration (give it with --config)")
                })?),
            };
        Ok((map, sender))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Auto,
    Syslog,
    Ndjson,
}

fn main() -> Result<std::process::ExitCode> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,evtx=error".into());
    let log = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Human => log.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => log.json().with_current_span(false).init(),
    }
    let ok = |()| std::process::ExitCode::SUCCESS;
    match cli.command {
        Command::Serve { config, data_dir, rules } => serve(config, data_dir, rules).map(ok),
        Command::Replay { files, rules, no_bundled, format, input, json, summary_only, top } => {
            let summary = offline::SummaryArgs { json, summary_only, top };
            replay(files, rules, no_bundled, format, &input, &summary).map(ok)
        }
        Command::Parse { files, format, input } => parse(files, format, &input).map(ok),
        Command::Rules { command: RulesCommand::List { rules, no_bundled, json } } => {
            list(rules, no_bundled, json).map(ok)
        }
        Command::Rules { command: RulesCommand::Lint { paths, config, json } } => lint(paths, config, json),
        Command::Rules { command: RulesCommand::Test { paths, events, explain, config } } => {
            rules_test(paths, events, explain, config)
        }
        Command::Rules { command: RulesCommand::Profile { paths, events, top, passes, json, config } } => {
            profile(paths, events, top, passes, json, config).map(ok)
        }
        Command::Token { command } => token(command).map(ok),
    }
}

fn token(command: TokenCommand) -> Result<()> {
    use vigil_ui_api::access::{NewToken, Role, TokenStore};
    let mut out = std::io::stdout().lock();
    match command {
        TokenCommand::Create { role, province, agency, name, place } => {
            let role = Role::from_name(&role).with_context(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                format!("unknown role {role:?}; roles are {}", names.join(", "))
            })?;
            let store = TokenStore::new(&place.resolve()?);
            let (record, secret) = store.create(NewToken { role, province, agency, name })?;
            eprintln!(
                "vigil token: created {} ({}, {}) in {}; the token is shown once:",
                record.id,
                record.name,
                record.role.name(),
                store.path().display()
            );
            writeln!(out, "{secret}")?;
        }
        TokenCommand::List { json, place } => {
            let store = TokenStore::new(&place.resolve()?);
            let tokens = store.list()?;
            if json {
                for t in &tokens {
                    let mut v = serde_json::to_value(t)?;
                    if let Some(o) = v.as_object_mut() {
                        o.remove("hash");
                    }
                    writeln!(out, "{v}")?;
                }
            } else {
                writeln!(
                    out,
                    "{:<8}  {:<18}  {:<16}  {:<24}  {:<20}  revoked",
                    "id", "role", "scope", "name", "created"
                )?;
                for t in &tokens {
                    let scope = match (&t.province, &t.agency) {
                        (Some(p), _) => format!("province {p}"),
                        (_, Some(a)) => format!("agency {a}"),
                        _ => "all".to_owned(),
                    };
                    let when = |d: &chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d %H:%M:%S").to_string();
                    writeln!(
                        out,
                        "{:<8}  {:<18}  {:<16}  {:<24}  {:<20}  {}",
                        t.id,
                        t.role.name(),
                        scope,
                        t.name,
                        when(&t.created),
                        t.revoked.as_ref().map(when).unwrap_or_else(|| "-".into())
                    )?;
                }
            }
        }
        TokenCommand::Revoke { id, place } => {
            let store = TokenStore::new(&place.resolve()?);
            if store.revoke(&id)? {
                writeln!(out, "vigil token: revoked {id}")?;
            } else {
                writeln!(out, "vigil token: {id} was revoked already")?;
            }
        }
    }
    Ok(())
}

/// Loads rules and reports every one that did not load on stderr.
fn load_rules(bundled: bool, dirs: &[PathBuf], placeholders: &vigil_rules::Placeholders, who: &str) -> RuleSet {
    load_rules_diagnosed(bundled, dirs, placeholders, who).0
}

/// [`load_rules`], also returning the diagnostics.
fn load_rules_diagnosed(
    bundled: bool,
    dirs: &[PathBuf],
    placeholders: &vigil_rules::Placeholders,
    who: &str,
) -> (RuleSet, Vec<Diagnostic>) {
    let options = vigil_rules::CompileOptions { placeholders: placeholders.clone() };
    let (set, mut diagnostics) = vigil_rules::load_with(bundled, dirs, &options);
    if who == "serve" {
        // Everything compiled before the first event: none waits for it. A replay or a rules
        // test compiles only what its events need.
        diagnostics.extend(set.prepare());
    }
    report(&diagnostics);
    let rejected = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    eprintln!("vigil {who}: rules: {} loaded, {rejected} rejected", set.len());
    if !set.correlations().is_empty() {
        eprintln!(
            "vigil {who}: {} correlation rules loaded; they run on event time (see [correlation] in the configuration)",
            set.correlations().len()
        );
    }
    (set, diagnostics)
}

fn report(diagnostics: &[Diagnostic]) {
    let mut err = std::io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(err, "{d}");
    }
}

fn serve(config_file: Option<PathBuf>, data_dir: Option<PathBuf>, rule_dirs: Vec<PathBuf>) -> Result<()> {
    let mut config = match &config_file {
        Some(path) => Config::load(path)?,
        None => Config::default_config()?,
    };
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    config.rules.dirs.extend(rule_dirs);
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let (rules, diagnostics) =
        load_rules_diagnosed(config.rules.bundled, &config.rules.dirs, &config.rules.placeholders, "serve");
    if rules.is_empty() {
        bail!("no rules loaded; nothing to detect");
    }
    let view = Arc::new(std::sync::RwLock::new(Arc::new(RulesView::of(&rules))));
    let baseline = Baseline::of(&rules, &diagnostics);
    let (token, origin) = admin_token(&config.data_dir)?;
    let audit = vigil_ui_api::audit::AuditLog::open(&config.data_dir)
        .with_context(|| format!("cannot open the audit log in {}", config.data_dir.display()))?;
    let sources = Arc::new(source_map(&config)?);
    eprintln!(
        "vigil serve: sources: {} configured; unknown senders: {:?}",
        sources.len(),
        config.unknown_sources.action
    );
    let detector = Detector::new(rules, InputFormat::Auto, sources.clone());
    let load = {
        let (bundled, dirs, placeholders) =
            (config.rules.bundled, config.rules.dirs.clone(), config.rules.placeholders.clone());
        move || {
            let options = vigil_rules::CompileOptions { placeholders: placeholders.clone() };
            let (set, mut diagnostics) = vigil_rules::load_with(bundled, &dirs, &options);
            diagnostics.extend(set.prepare());
            (set, diagnostics)
        }
    };
    let build = move |set| Detector::new(set, InputFormat::Auto, sources.clone());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let engine = runtime.block_on(async {
        // Before anything is announced: a SIGHUP from then on reloads, never kills.
        #[cfg(unix)]
        let hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot listen for SIGHUP")?;
        let engine = Engine::start(&config, detector).await?;
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", config.http.listen))?;
        let http_addr = listener.local_addr()?;
        {
            let mut out = std::io::stdout().lock();
            if let Some(a) = engine.udp_addr {
                writeln!(out, "vigil serve: syslog/udp {a}")?;
            }
            if let Some(a) = engine.tcp_addr {
                writeln!(out, "vigil serve: syslog/tcp {a}")?;
            }
            if let Some(a) = engine.relp_addr {
                writeln!(out, "vigil serve: syslog/relp {a}")?;
            }
            if let Some(a) = engine.tls_addr {
                match &engine.dev_cert {
                    Some(cert) => {
                        writeln!(out, "vigil serve: syslog/tls {a} (development certificate {})", cert.display())?
                    }
                    None => writeln!(out, "vigil serve: syslog/tls {a}")?,
                }
            }
            writeln!(out, "vigil serve: http http://{http_addr}")?;
            match &origin {
                TokenOrigin::Env => writeln!(out, "vigil serve: admin token from VIGIL_ADMIN_TOKEN")?,
                TokenOrigin::File(p) => writeln!(out, "vigil serve: admin token in {}", p.display())?,
                TokenOrigin::Generated(p) => writeln!(out, "vigil serve: admin token generated in {}", p.display())?,
            }
            out.flush()?;
        }
        let reloader = Arc::new(RuleReloader::new(
            Box::new(load),
            Box::new(build),
            engine.reloader.clone(),
            view.clone(),
            baseline,
        ));
        #[cfg(unix)]
        tokio::spawn(reload_on_hangup(hangup, reloader.clone()));
        let state = vigil_ui_api::AppState {
            store: engine.store.clone(),
            stats: engine.stats.clone(),
            rules: view,
            reloader: Some(reloader),
            health: engine.health.clone(),
            admin_token: Arc::new(token),
            tokens: Arc::new(vigil_ui_api::access::TokenStore::new(&config.data_dir)),
            audit: Some(Arc::new(audit)),
            triage: Some(engine.triage.clone()),
        };
        let app = vigil_ui_api::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
        anyhow::Ok(engine)
    })?;
    drop(runtime);
    tracing::info!("shutting down: draining the pipeline");
    engine.join();
    Ok(())
}

/// `SIGHUP` reloads the rules, as `POST /api/v1/rules/reload` does; the log tells the outcome.
#[cfg(unix)]
async fn reload_on_hangup(mut hangup: tokio::signal::unix::Signal, reloader: Arc<RuleReloader>) {
    while hangup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading the rules");
        reloader.reload().await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn input_format(format: FormatArg) -> InputFormat {
    match format {
        FormatArg::Auto => InputFormat::Auto,
        FormatArg::Syslog => InputFormat::Syslog,
        FormatArg::Ndjson => InputFormat::Json,
    }
}

fn replay(
    files: Vec<String>,
    rule_dirs: Vec<PathBuf>,
    no_bundled: bool,
    format: FormatArg,
    input: &InputArgs,
    summary: &offline::SummaryArgs,
) -> Result<()> {
    let (sources, reading) = input.reading()?;
    let config = input.config()?;
    let rules = load_rules(!no_bundled, &rule_dirs, &config.rules.placeholders, "replay");
    let detector = Detector::new(rules, input_format(format), sources);
    offline::replay(&detector, &files, &reading, config.correlation.settings(), summary)
}

fn parse(files: Vec<String>, format: FormatArg, input: &InputArgs) -> Result<()> {
    let (sources, reading) = input.reading()?;
    let detector = Detector::new(RuleSet::compile(Vec::new()).0, input_format(format), sources);
    offline::parse(&detector, &files, &reading)
}

/// Rule sources from folders and files, and the diagnostics of what could not be read.
fn rule_sources(paths: &[PathBuf]) -> Result<(Vec<vigil_rules::RuleSource>, Vec<Diagnostic>)> {
    let mut sources = Vec::new();
    let mut diagnostics = Vec::new();
    for path in paths {
        if path.is_file() {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            sources.push(vigil_rules::RuleSource::new(path.display().to_string(), text));
        } else {
            let (s, d) = vigil_rules::load_dir(path);
            sources.extend(s);
            diagnostics.extend(d);
        }
    }
    Ok((sources, diagnostics))
}

/// What the rule author commands take from a configuration (`--config`, else the embedded
/// default): placeholder values for compiling, and the time zone for parsing.
fn author_settings(
    config: Option<&std::path::Path>,
) -> Result<(vigil_rules::CompileOptions, vigil_parsers::ParseContext)> {
    let config = match config {
        Some(path) => Config::load(path)?,
        None => Config::default_config()?,
    };
    let options = vigil_rules::CompileOptions { placeholders: config.rules.placeholders.clone() };
    let mut ctx = vigil_parsers::ParseContext::new(chrono::Utc::now());
    ctx.tz = config.syslog.timezone;
    Ok((options, ctx))
}

fn rules_test(
    paths: Vec<PathBuf>,
    events: Vec<String>,
    explain: bool,
    config: Option<PathBuf>,
) -> Result<std::process::ExitCode> {
    let (options, ctx) = author_settings(config.as_deref())?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if events.is_empty() {
        let fixtures = vigil_rules::fixtures::find(&paths);
        if fixtures.is_empty() {
            eprintln!("vigil rules test: no fixtures (RULE.tests.yml) under the paths given, and no --events");
            return Ok(std::process::ExitCode::from(2));
        }
        let (mut passed, mut failed) = (0, 0);
        for fixture in &fixtures {
            let report = match vigil_rules::fixtures::run(fixture, &options, &ctx) {
                Ok(r) => r,
                Err(e) => {
                    writeln!(out, "ERROR {e}")?;
                    failed += 1;
                    continue;
                }
            };
            for d in &report.diagnostics {
                writeln!(out, "{d}")?;
            }
            if report.rules == 0 {
                writeln!(out, "FAIL {}: no rule of {} loaded", fixture.display(), report.rule_file.display())?;
                failed += 1;
                continue;
            }
            for case in &report.cases {
                let what = if case.expect_match { "match" } else { "no_match" };
                if case.passed {
                    passed += 1;
                    if explain {
                        writeln!(out, "ok   {} {what} #{}", fixture.display(), case.index)?;
                    }
                    continue;
                }
                failed += 1;
                let got = if case.hits.is_empty() { "no rule hit".to_owned() } else { case.hits.join(", ") };
                writeln!(out, "FAIL {} {what} #{}: {got}\n     {}", fixture.display(), case.index, case.line)?;
                for line in &case.explanation {
                    writeln!(out, "       {line}")?;
                }
            }
        }
        out.flush()?;
        eprintln!("vigil rules test: {} fixtures, {passed} cases passed, {failed} failed", fixtures.len());
        return Ok(if failed > 0 { std::process::ExitCode::from(1) } else { std::process::ExitCode::SUCCESS });
    }
    let (sources, io) = rule_sources(&paths)?;
    report(&io);
    let (set, diagnostics) = RuleSet::compile_with(sources, &options);
    report(&diagnostics);
    let (mut lines, mut hits) = (0u64, 0u64);
    let mut scratch = set.scratch();
    let mut hit = Vec::new();
    offline::for_each_event("rules test", &events, &ctx, |name, n, event| {
        lines += 1;
        hit.clear();
        set.matches_with(&event, &mut scratch, &mut hit);
        for i in 0..set.len() {
            let (Some(rule), is_hit) = (set.rule(i), hit.contains(&i)) else { continue };
            if !is_hit && !explain {
                continue;
            }
            hits += u64::from(is_hit);
            let tag = if is_hit { "HIT " } else { "MISS" };
            writeln!(out, "{tag} {name}:{n} {} [{}]", rule.title, rule.id)?;
            for why in set.explain(i, &event).unwrap_or_default() {
                writeln!(out, "       {why}")?;
            }
        }
        Ok(())
    })?;
    out.flush()?;
    eprintln!("vigil rules test: {} rules, {lines} events, {hits} hits", set.len());
    Ok(std::process::ExitCode::SUCCESS)
}

/// `vigil rules profile`: matches the events `passes` times with every rule, timing the
/// prefilter and each rule evaluated, and lists the costliest rules.
fn profile(
    paths: Vec<PathBuf>,
    events: Vec<String>,
    top: usize,
    passes: u32,
    json: bool,
    config: Option<PathBuf>,
) -> Result<()> {
    let (options, ctx) = author_settings(config.as_deref())?;
    let (sources, io) = rule_sources(&paths)?;
    report(&io);
    let (set, diagnostics) = RuleSet::compile_with(sources, &options);
    report(&diagnostics);
    let mut parsed = Vec::new();
    offline::for_each_event("rules profile", &events, &ctx, |_, _, event| {
        parsed.push(event);
        Ok(())
    })?;
    let mut scratch = set.scratch();
    let mut profile = vigil_rules::Profile::default();
    let mut hits = Vec::new();
    // Unmeasured pass first: routes are cached per logsource and pages faulted in.
    for event in &parsed {
        set.matches_with(event, &mut scratch, &mut hits);
    }
    let start = std::time::Instant::now();
    for _ in 0..passes.max(1) {
        for event in &parsed {
            hits.clear();
            set.matches_profiled(event, &mut scratch, &mut hits, &mut profile);
        }
    }
    let wall = start.elapsed();
    let evaluation: std::time::Duration = profile.rules.iter().map(|r| r.time).sum();
    let total_hits: u64 = profile.rules.iter().map(|r| r.hits).sum();
    let mut order: Vec<usize> = (0..profile.rules.len()).filter(|&i| profile.rules[i].evaluated > 0).collect();
    order.sort_by(|&a, &b| profile.rules[b].time.cmp(&profile.rules[a].time));
    order.truncate(top);
    let per_event = |n: u64| if profile.events == 0 { 0.0 } else { n as f64 / profile.events as f64 };
    let (literals, unfiltered) = set.prefilter_stats();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        let summary = serde_json::json!({
            "rules": set.len(),
            "events": profile.events,
            "passes": passes.max(1),
            "wall_ms": wall.as_secs_f64() * 1e3,
            "prefilter_ms": profile.prefilter.as_secs_f64() * 1e3,
            "evaluation_ms": evaluation.as_secs_f64() * 1e3,
            "candidates_per_event": per_event(profile.candidates),
            "hits": total_hits,
            "prefilter_literals": literals,
            "rules_without_literals": unfiltered,
        });
        writeln!(out, "{summary}")?;
        for &i in &order {
            let (Some(rule), cost) = (set.rule(i), profile.rules[i]) else { continue };
            let line = serde_json::json!({
                "id": rule.id, "title": rule.title, "origin": rule.origin,
                "time_ms": cost.time.as_secs_f64() * 1e3,
                "evaluated": cost.evaluated, "hits": cost.hits,
                "ns_per_evaluation": cost.time.as_nanos() as f64 / cost.evaluated.max(1) as f64,
            });
            writeln!(out, "{line}")?;
        }
    } else {
        let secs = wall.as_secs_f64().max(1e-9);
        writeln!(
            out,
            "{} rules ({literals} prefilter literals, {unfiltered} rules without any), {} events in {:.1} ms: \
             {:.0} events/s with profiling on",
            set.len(),
            profile.events,
            secs * 1e3,
            profile.events as f64 / secs
        )?;
        writeln!(
            out,
            "prefilter {:.1} ms, rule evaluation {:.1} ms, {:.1} rules evaluated per event, {total_hits} hits",
            profile.prefilter.as_secs_f64() * 1e3,
            evaluation.as_secs_f64() * 1e3,
            per_event(profile.candidates)
        )?;
        writeln!(out, "\n{:>9} {:>6} {:>9} {:>9} {:>7}  rule", "time ms", "share", "evaluated", "ns/eval", "hits")?;
        for &i in &order {
            let (Some(rule), cost) = (set.rule(i), profile.rules[i]) else { continue };
            let share = 100.0 * cost.time.as_secs_f64() / evaluation.as_secs_f64().max(1e-12);
            writeln!(
                out,
                "{:>9.2} {:>5.1}% {:>9} {:>9.0} {:>7}  {} [{}] {}",
                cost.time.as_secs_f64() * 1e3,
                share,
                cost.evaluated,
                cost.time.as_nanos() as f64 / cost.evaluated.max(1) as f64,
                cost.hits,
                rule.title,
                rule.id,
                rule.origin
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn lint(paths: Vec<PathBuf>, config: Option<PathBuf>, json: bool) -> Result<std::process::ExitCode> {
    let (options, _) = author_settings(config.as_deref())?;
    let (sources, mut diagnostics) = rule_sources(&paths)?;
    let files = sources.len();
    // With the bundled pack before them, as serve loads them: correlations may name its rules.
    let bundled = vigil_rules::bundled();
    let bundled_rules = bundled.len();
    let (set, d) = RuleSet::compile_with(bundled.into_iter().chain(sources), &options);
    diagnostics.extend(d.into_iter().filter(|d| !d.origin.starts_with("bundled:")));
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut by_code: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for d in &diagnostics {
        if json {
            serde_json::to_writer(&mut out, d)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{d}")?;
        }
        let severity = if d.severity == Severity::Error { "error" } else { "warning" };
        *by_code.entry((severity, d.code)).or_default() += 1;
    }
    out.flush()?;
    let errors: usize = by_code.iter().filter(|((s, _), _)| *s == "error").map(|(_, n)| n).sum();
    let warnings: usize = by_code.iter().filter(|((s, _), _)| *s == "warning").map(|(_, n)| n).sum();
    let codes: Vec<String> = by_code.iter().map(|((s, c), n)| format!("{s}[{c}]: {n}")).collect();
    eprintln!(
        "vigil rules lint: {files} files, {} rules loaded, {errors} errors, {warnings} warnings{}{}",
        set.len().saturating_sub(bundled_rules) + set.correlations().len(),
        if codes.is_empty() { "" } else { "; " },
        codes.join(", ")
    );
    Ok(if errors > 0 { std::process::ExitCode::from(1) } else { std::process::ExitCode::SUCCESS })
}

fn list(rule_dirs: Vec<PathBuf>, no_bundled: bool, json: bool) -> Result<()> {
    let rules = load_rules(!no_bundled, &rule_dirs, &Default::default(), "rules");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if json {
        for rule in rules.iter() {
            serde_json::to_writer(&mut out, rule)?;
            writeln!(out)?;
        }
    } else {
        writeln!(out, "{:<36}  {:<13}  {:<48}  ORIGIN", "ID", "LEVEL", "TITLE")?;
        for rule in rules.iter() {
            writeln!(out, "{:<36}  {:<13}  {:<48}  {}", rule.id, rule.level, rule.title, rule.origin)?;
        }
        if !rules.correlations().is_empty() {
            writeln!(out, "\n{:<36}  {:<16}  {:<48}  ORIGIN", "CORRELATION ID", "TYPE", "TITLE")?;
            for c in rules.correlations() {
                let (meta, kind) = (&c.meta, c.spec.kind.as_str());
                writeln!(out, "{:<36}  {:<16}  {:<48}  {}", meta.id, kind, meta.title, meta.origin)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
