//! Shared by the ingestion tests (`ingest_*.rs`): the real `vigil serve` binary started on
//! ephemeral 127.0.0.1 ports with a temp config and data dir, its HTTP API, and small real
//! clients (raw sockets bound to a chosen loopback address, util-linux `logger`).
//!
//! Every server is started with one extra rule, `Ingest Test Marker`, that raises an alert for
//! any event whose message contains `vigilmark`, whatever its logsource (unparsed lines too), so
//! a test can see what any line became through `/api/v1/alerts`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

/// How long any wait on the server may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The marker the test rule looks for in messages.
pub const MARK: &str = "vigilmark";

const MARKER_RULE: &str = "title: Ingest Test Marker
id: 5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f
status: test
description: Raised by every event whose message carries the ingestion tests' marker.
author: vigil tests
date: 2026-11-24
logsource: {}
detection:
  selection:
    message|contains: 'vigilmark'
  condition: selection
level: informational
";

/// The address the "other source" sends from, whose events must keep flowing while a test
/// feeds bad input from 127.0.0.1.
pub const STEADY_IP: &str = "127.0.0.2";
pub const STEADY_AGENCY: &str = "So TTTT Thua Thien Hue";
pub const STEADY_PROVINCE: &str = "Hue";

/// A `[[sources]]` table for the steady source (tables go at the end of the config).
pub fn steady_source() -> String {
    source("steady", STEADY_AGENCY, STEADY_PROVINCE, &[STEADY_IP], None)
}

/// A `[[sources]]` table.
pub fn source(name: &str, agency: &str, province: &str, matches: &[&str], timezone: Option<&str>) -> String {
    let matches: Vec<String> = matches.iter().map(|m| format!("{m:?}")).collect();
    let mut t = format!(
        "[[sources]]\nname = {name:?}\nagency = {agency:?}\nprovince = {province:?}\nmatch = [{}]\n",
        matches.join(", ")
    );
    if let Some(tz) = timezone {
        t.push_str(&format!("timezone = {tz:?}\n"));
    }
    t
}

/// The running server; killed when the test ends, however it ends.
pub struct Server {
    child: Child,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    pub relp: Option<SocketAddr>,
    /// The development certificate, when the server said it generated one.
    pub dev_cert: Option<PathBuf>,
    pub http: String,
    pub data_dir: PathBuf,
    pub token: String,
    stderr: PathBuf,
    probes: std::cell::Cell<u32>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vigil serve` in `dir` with every listener on 127.0.0.1:0 (unless `syslog` sets
/// that listener itself), `syslog` appended to `[syslog]`, and `tables` (`[tls]`,
/// `[unknown_sources]`, `[[sources]]`...) appended at the end of the file.
pub fn start(dir: &Path, syslog: &str, tables: &str) -> Server {
    let sets = |key: &str| syslog.lines().any(|l| l.trim_start().starts_with(key));
    let mut config = String::from("[syslog]\n");
    for key in ["udp", "tcp", "tls", "relp"] {
        if !sets(key) {
            config.push_str(&format!("{key} = \"127.0.0.1:0\"\n"));
        }
    }
    config.push_str(syslog);
    config.push_str("\n[http]\nlisten = \"127.0.0.1:0\"\n[store]\ncommit_interval_ms = 100\n");
    config.push_str(tables);
    start_with_config(dir, &config)
}

/// Starts `vigil serve` with exactly this configuration file.
pub fn start_with_config(dir: &Path, config: &str) -> Server {
    start_full(dir, config, &[], "warn")
}

/// [`start_with_config`] with extra global flags (`--log-format json`) and a `RUST_LOG`.
pub fn start_full(dir: &Path, config: &str, flags: &[&str], rust_log: &str) -> Server {
    let data_dir = dir.join("data");
    let rules = dir.join("test-rules");
    std::fs::create_dir_all(&rules).expect("create rules dir");
    std::fs::write(rules.join("marker.yml"), MARKER_RULE).expect("write marker rule");
    let config_path = dir.join("vigil.toml");
    std::fs::write(&config_path, config).expect("write config");
    let stderr = dir.join("vigil.stderr");
    let mut child = Command::new(VIGIL)
        .args(flags)
        .arg("serve")
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--rules")
        .arg(&rules)
        .env_remove("VIGIL_ADMIN_TOKEN")
        .env("RUST_LOG", rust_log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).expect("create stderr file"))
        .spawn()
        .expect("start vigil serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut udp, mut tcp, mut tls, mut relp, mut dev_cert, mut http) = (None, None, None, None, None, None);
    loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(&stderr).unwrap_or_default();
            panic!("vigil serve exited before it was ready:\n{err}\nconfig:\n{config}");
        };
        let rest = line.strip_prefix("vigil serve: ").unwrap_or(&line);
        let addr = |a: &str| a.parse::<SocketAddr>().unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
        if let Some(a) = rest.strip_prefix("syslog/udp ") {
            udp = Some(addr(a));
        } else if let Some(a) = rest.strip_prefix("syslog/tcp ") {
            tcp = Some(addr(a));
        } else if let Some(a) = rest.strip_prefix("syslog/relp ") {
            relp = Some(addr(a));
        } else if let Some(a) = rest.strip_prefix("syslog/tls ") {
            let (a, note) = a.split_once(' ').unwrap_or((a, ""));
            tls = Some(addr(a));
            if let Some(path) = note.strip_prefix("(development certificate ").and_then(|p| p.strip_suffix(')')) {
                dev_cert = Some(PathBuf::from(path));
            }
        } else if let Some(a) = rest.strip_prefix("http http://") {
            http = Some(a.to_owned());
        } else if rest.starts_with("admin token") {
            break;
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let token = std::fs::read_to_string(data_dir.join("admin.token")).expect("admin.token written").trim().to_owned();
    Server {
        child,
        udp,
        tcp,
        tls,
        relp,
        dev_cert,
        http: http.expect("http address printed"),
        data_dir,
        token,
        stderr,
        probes: std::cell::Cell::new(0),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

impl Server {
    pub fn udp(&self) -> SocketAddr {
        self.udp.expect("the UDP listener is on")
    }

    pub fn tcp(&self) -> SocketAddr {
        self.tcp.expect("the TCP listener is on")
    }

    pub fn relp(&self) -> SocketAddr {
        self.relp.expect("the RELP listener is on")
    }

    pub fn tls(&self) -> SocketAddr {
        self.tls.expect("the TLS listener is on")
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit: it drains,
    /// commits and saves its correlation state. Returns whether it exited successfully.
    pub fn terminate(mut self) -> bool {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Kills the server with SIGKILL (no draining, no commit, no snapshot) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGHUP (rule reload).
    pub fn hangup(&self) {
        let _ = Command::new("kill").arg("-HUP").arg(self.child.id().to_string()).status();
    }

    /// `POST path` with `token` (the admin token when `None`): status and JSON body.
    pub fn post(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut resp = agent()
            .post(format!("http://{}{path}", self.http))
            .header("Authorization", format!("Bearer {}", token.unwrap_or(&self.token)))
            .send_empty()
            .expect("HTTP request");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().expect("HTTP body");
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")))
    }

    /// `GET path?params` with `token`: status and body text (the parameters are URL-encoded).
    pub fn get_as(&self, path: &str, params: &[(&str, &str)], token: &str) -> (u16, String) {
        let mut req =
            agent().get(format!("http://{}{path}", self.http)).header("Authorization", format!("Bearer {token}"));
        for (k, v) in params {
            req = req.query(*k, *v);
        }
        let mut resp = req.call().expect("HTTP request");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().expect("HTTP body"))
    }

    /// `POST path` with a JSON body and `token`: status and body text.
    pub fn post_as(&self, path: &str, body: &Value, token: &str) -> (u16, String) {
        let mut resp = agent()
            .post(format!("http://{}{path}", self.http))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("HTTP request");
        let status = resp.status().as_u16();
        (status, resp.body_mut().read_to_string().expect("HTTP body"))
    }

    /// Runs `vigil token ARGS --data-dir <this server's>` and returns its standard output.
    pub fn token_cli(&self, args: &[&str]) -> String {
        let out = Command::new(VIGIL)
            .arg("token")
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("run vigil token");
        assert!(out.status.success(), "vigil token {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What the server wrote on stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `GET path` with the admin token: status and JSON body.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut resp = agent()
            .get(format!("http://{}{path}", self.http))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .expect("HTTP request");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().expect("HTTP body");
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")))
    }

    pub fn stats(&self) -> Value {
        let (status, body) = self.get("/api/v1/stats");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls the stats until `done` holds; fails the test (saying `what`) at the deadline.
    pub fn wait_stats(&self, what: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; stats: {stats}\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every event received so far went through the rules (nothing queued) and
    /// every alert is committed.
    pub fn wait_idle(&self) -> Value {
        let mut last = None;
        let mut same = 0;
        self.wait_stats("the pipeline to drain", |s| {
            let key = (s["received"].clone(), s["processed"].clone(), s["alerts"].clone(), s["errors"].clone());
            let settled = s["alerts_stored"].as_u64() >= s["alerts"].as_u64();
            // Stable over a few polls: received counts raise before processed does.
            if last.as_ref() == Some(&key) && settled {
                same += 1;
            } else {
                same = 0;
            }
            last = Some(key);
            same >= 4
        })
    }

    /// Every stored alert (newest first).
    pub fn alerts(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/v1/alerts?limit=10000");
        assert_eq!(status, 200, "{body}");
        body["alerts"].as_array().expect("alerts array").clone()
    }

    /// Polls the alerts until `done` holds; fails the test (saying `what`) at the deadline.
    pub fn wait_alerts(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let alerts = self.alerts();
            if done(&alerts) {
                return alerts;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; alerts: {}\nstats: {}\n{}",
                raws(&alerts),
                self.stats(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The alert of rule `title` whose message contains `needle`, once it is searchable.
    pub fn wait_alert(&self, title: &str, needle: &str) -> Value {
        let alerts = self.wait_alerts(&format!("an alert `{title}` for {needle:?}"), |alerts| {
            alerts.iter().any(|a| is_alert(a, title, needle))
        });
        alerts.into_iter().find(|a| is_alert(a, title, needle)).expect("found above")
    }

    /// Sends one line over a fresh TCP connection from the steady source (127.0.0.2) and
    /// waits until it is an alert attributed to that source: the other agency's traffic still
    /// flows. Returns the alert.
    pub fn probe_tcp(&self) -> Value {
        let line = self.probe_line("tcp");
        let mut conn = tcp_from(STEADY_IP, self.tcp());
        conn.write_all(format!("{line}\n").as_bytes()).expect("send probe");
        drop(conn);
        self.check_probe(&line, "tcp")
    }

    /// The same as [`Server::probe_tcp`], over UDP.
    pub fn probe_udp(&self) -> Value {
        let line = self.probe_line("udp");
        udp_from(STEADY_IP).send_to(line.as_bytes(), self.udp()).expect("send probe");
        self.check_probe(&line, "udp")
    }

    fn probe_line(&self, transport: &str) -> String {
        let n = self.probes.get() + 1;
        self.probes.set(n);
        format!("<38>Nov 23 10:00:00 steady-host probe[{n}]: {MARK} steady probe {n} over {transport}")
    }

    fn check_probe(&self, line: &str, transport: &str) -> Value {
        let needle = line.split_once(": ").map_or(line, |(_, m)| m);
        let alert = self.wait_alert("Ingest Test Marker", needle);
        assert_eq!(alert["source"]["name"], "steady", "{alert}");
        assert_eq!(alert["source"]["transport"], transport, "{alert}");
        assert_eq!(alert["agency"], STEADY_AGENCY, "{alert}");
        assert_eq!(alert["province"], STEADY_PROVINCE, "{alert}");
        alert
    }
}

/// The raw lines of alerts, for failure messages.
pub fn raws(alerts: &[Value]) -> String {
    let raws: Vec<&str> = alerts.iter().filter_map(|a| a["raw"].as_str()).collect();
    format!("{raws:#?}")
}

pub fn is_alert(a: &Value, title: &str, needle: &str) -> bool {
    a["rule"]["title"] == title && a["fields"]["message"].as_str().is_some_and(|m| m.contains(needle))
}

/// Alerts of rule `title` whose message contains `needle`.
pub fn find<'a>(alerts: &'a [Value], title: &str, needle: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| is_alert(a, title, needle)).collect()
}

/// `errors.REASON` of a stats snapshot (0 when absent).
pub fn errors(stats: &Value, reason: &str) -> u64 {
    stats["errors"][reason].as_u64().unwrap_or(0)
}

pub fn counter(stats: &Value, name: &str) -> u64 {
    stats[name].as_u64().unwrap_or_else(|| panic!("stats lack {name}: {stats}"))
}

/// A TCP connection from `local` (a 127.0.0.0/8 address) to `to`.
pub fn tcp_from(local: &str, to: SocketAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    // The 2,000-connection test needs `ulimit -n` well above 4,000 (server and test together).
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)
        .unwrap_or_else(|e| panic!("socket: {e} (is `ulimit -n` high enough for the connection tests?)"));
    let local: SocketAddr = format!("{local}:0").parse().expect("local address");
    socket.bind(&local.into()).unwrap_or_else(|e| panic!("bind {local}: {e}"));
    socket.connect(&to.into()).unwrap_or_else(|e| panic!("connect {to}: {e}"));
    socket.into()
}

/// A UDP socket bound to `local` (a 127.0.0.0/8 address).
pub fn udp_from(local: &str) -> UdpSocket {
    UdpSocket::bind(format!("{local}:0")).unwrap_or_else(|e| panic!("bind {local}: {e}"))
}

/// Reads until the server closes the connection (or `within` passes): true when it did.
pub fn closed_by_server(conn: &mut TcpStream, within: Duration) -> bool {
    conn.set_read_timeout(Some(within)).expect("read timeout");
    let mut buf = [0u8; 256];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Sends `lines` with util-linux logger (`args` as given, then `-n 127.0.0.1 -P PORT -t TAG`).
pub fn logger(args: &[&str], to: SocketAddr, tag: &str, lines: &[&str]) {
    logger_env(args, to, tag, lines, &[]);
}

/// [`logger`] with extra environment variables (`TZ`...).
pub fn logger_env(args: &[&str], to: SocketAddr, tag: &str, lines: &[&str], env: &[(&str, &str)]) {
    let mut child = Command::new("logger")
        .args(args)
        .envs(env.iter().copied())
        .args(["-n", "127.0.0.1", "-P", &to.port().to_string(), "-t", tag])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run util-linux `logger` ({e}); install it (Debian: bsdutils) or run .ci/setup")
        });
    {
        let mut stdin = child.stdin.take().expect("logger stdin");
        for line in lines {
            writeln!(stdin, "{line}").expect("write to logger");
        }
    }
    let status = child.wait().expect("logger ran");
    assert!(status.success(), "logger {args:?} failed: {status}");
}

/// An RFC 3164 line (the way most agencies' servers send) with the given program and message.
pub fn bsd_line(host: &str, program: &str, message: &str) -> String {
    format!("<38>Nov 23 10:00:01 {host} {program}: {message}")
}

/// `LEN SP MSG`, RFC 6587 octet counting.
pub fn octet_counted(msg: &[u8]) -> Vec<u8> {
    let mut frame = format!("{} ", msg.len()).into_bytes();
    frame.extend_from_slice(msg);
    frame
}

/// A test CA, a server certificate for localhost/127.0.0.1 it signed, and client certificates
/// on demand, all written as PEM files into one folder.
pub struct Pki {
    dir: PathBuf,
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
        std::fs::create_dir_all(dir).expect("pki dir");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.distinguished_name.push(DnType::CommonName, format!("vigil test CA {}", dir.display()));
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let issuer = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA cert");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, issuer.pem()).expect("write CA");
        let mut pki = Pki { dir: dir.to_owned(), issuer, ca, server_cert: PathBuf::new(), server_key: PathBuf::new() };
        let (cert, key) = pki.sign(
            "server",
            vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            &[(rcgen::DnType::CommonName, "localhost")],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        (pki.server_cert, pki.server_key) = (cert, key);
        pki
    }

    /// A client certificate `CN=cn, O=org` signed by this CA: its PEM certificate and key files.
    pub fn client(&self, name: &str, cn: &str, org: &str) -> (PathBuf, PathBuf) {
        self.sign(
            name,
            Vec::new(),
            &[(rcgen::DnType::CommonName, cn), (rcgen::DnType::OrganizationName, org)],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    fn sign(
        &self,
        name: &str,
        sans: Vec<String>,
        dn: &[(rcgen::DnType, &str)],
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> (PathBuf, PathBuf) {
        let mut params = rcgen::CertificateParams::new(sans).expect("params");
        for (kind, value) in dn {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let (cert_path, key_path) = (self.dir.join(format!("{name}.pem")), self.dir.join(format!("{name}-key.pem")));
        std::fs::write(&cert_path, cert.pem()).expect("write certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        (cert_path, key_path)
    }
}

pub type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection from `from` to the server's TLS port, trusting the CA certificates in `ca`
/// (PEM), presenting `client` (certificate and key PEM files) when given.
pub fn tls_client(server: &Server, from: &str, ca: &Path, client: Option<(&Path, &Path)>) -> TlsStream {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read CA") {
        roots.add(cert.expect("PEM certificate")).expect("add root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain: Vec<_> =
                CertificateDer::pem_file_iter(cert).expect("read cert").map(|c| c.expect("PEM cert")).collect();
            let key = PrivateKeyDer::from_pem_file(key).expect("read key");
            builder.with_client_auth_cert(chain, key).expect("client certificate")
        }
    };
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("TLS client");
    rustls::StreamOwned::new(conn, tcp_from(from, server.tls()))
}

/// Sends `lines` over TLS (octet counting, as RFC 5425 says), sends close_notify, and reads
/// until the server closes, as a careful client does. Fails the test if the handshake fails.
pub fn send_tls(server: &Server, from: &str, ca: &Path, client: Option<(&Path, &Path)>, lines: &[String]) {
    let mut tls = tls_client(server, from, ca, client);
    for line in lines {
        tls.write_all(&octet_counted(line.as_bytes())).expect("TLS write");
    }
    tls.flush().expect("TLS flush");
    tls.conn.send_close_notify();
    tls.flush().expect("TLS close");
    tls.sock.set_read_timeout(Some(Duration::from_secs(10))).expect("read timeout");
    let mut buf = [0u8; 1024];
    // The server ends with a FIN, with or without its own close_notify: either ends this.
    while let Ok(n) = tls.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

/// Tries a TLS handshake and waits up to two seconds for the server's answer: the error (or
/// "closed") when the server refused the connection, `None` when it kept it open.
pub fn tls_refusal(server: &Server, from: &str, ca: &Path, client: Option<(&Path, &Path)>) -> Option<String> {
    let mut tls = tls_client(server, from, ca, client);
    tls.sock.set_read_timeout(Some(Duration::from_secs(2))).expect("read timeout");
    let mut buf = [0u8; 16];
    match tls.read(&mut buf) {
        Ok(0) => Some("closed".to_owned()),
        Ok(_) => None,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => None,
        Err(e) => Some(e.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// rsyslog

/// rsyslogd in the foreground on a private config and work dir; killed on drop.
pub struct Rsyslog {
    child: Child,
    log: PathBuf,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rsyslog {
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The rsyslogd binary (Debian's `rsyslog`, which `.ci/setup` installs).
pub fn rsyslogd() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("rsyslogd")).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin/rsyslogd"), PathBuf::from("/sbin/rsyslogd")])
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("rsyslogd is not installed: run .ci/setup (it installs the Debian package rsyslog)"))
}

/// Whether rsyslog has the module `name` (`omrelp`, `lmnsd_gtls`).
pub fn rsyslog_module(name: &str) -> bool {
    std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .any(|d| d.path().join(format!("rsyslog/{name}.so")).is_file())
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("free UDP port").port()
}

/// Starts `binary` on `conf` in `dir`; ready once its UDP inputs on `ports` are bound.
pub fn start_rsyslog(binary: &Path, dir: &Path, conf: &str, ports: &[u16]) -> Rsyslog {
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).expect("write rsyslog.conf");
    let check = Command::new(binary).arg("-N1").arg("-f").arg(&conf_path).output().expect("rsyslogd -N1");
    assert!(
        check.status.success(),
        "rsyslog rejects its config:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let log = dir.join("rsyslogd.out");
    let out = std::fs::File::create(&log).expect("rsyslogd output file");
    let child = Command::new(binary)
        .arg("-n")
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone file"))
        .stderr(out)
        .spawn()
        .expect("start rsyslogd");
    let mut rsyslog = Rsyslog { child, log };
    // Ready when its UDP inputs are bound (we can no longer bind them ourselves).
    let deadline = Instant::now() + DEADLINE;
    for &port in ports {
        while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            if let Ok(Some(status)) = rsyslog.child.try_wait() {
                panic!("rsyslogd exited ({status}):\n{}", rsyslog.output());
            }
            assert!(Instant::now() < deadline, "rsyslogd never listened on {port}:\n{}", rsyslog.output());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    rsyslog
}
