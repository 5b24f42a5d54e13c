//! End to end: the real `vigil serve` binary on ephemeral ports and a temp data dir, fed by
//! util-linux `logger` over UDP and TCP (both framings, RFC 3164 and RFC 5424), queried over
//! its real HTTP API; then `vigil replay` on the same lines must give the same alerts.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const VIGIL: &str = env!("CARGO_BIN_EXE_vigil");

/// Kills the server when the test ends, however it ends.
struct Server {
    child: Child,
    udp: String,
    tcp: String,
    http: String,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    let data_dir = dir.join("data");
    let config = dir.join("vigil.toml");
    std::fs::write(
        &config,
        "[syslog]\nudp = \"127.0.0.1:0\"\ntcp = \"127.0.0.1:0\"\ntls = \"127.0.0.1:0\"\nrelp = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n[store]\ncommit_interval_ms = 100\n",
    )
    .expect("write config");
    let mut child = Command::new(VIGIL)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("VIGIL_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start vigil serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let (mut udp, mut tcp, mut http) = (None, None, None);
    let mut token_line = None;
    while token_line.is_none() {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            panic!("vigil serve exited before it was ready");
        };
        let rest = line.strip_prefix("vigil serve: ").unwrap_or(&line).to_owned();
        if let Some(a) = rest.strip_prefix("syslog/udp ") {
            udp = Some(a.to_owned());
        } else if let Some(a) = rest.strip_prefix("syslog/tcp ") {
            tcp = Some(a.to_owned());
        } else if let Some(a) = rest.strip_prefix("http http://") {
            http = Some(a.to_owned());
        } else if rest.starts_with("admin token") {
            token_line = Some(rest);
        }
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let token_line = token_line.unwrap_or_default();
    assert!(token_line.contains("admin.token"), "the token path is printed: {token_line}");
    Server {
        child,
        udp: udp.expect("udp address printed"),
        tcp: tcp.expect("tcp address printed"),
        http: http.expect("http address printed"),
        data_dir,
    }
}

fn port(addr: &str) -> &str {
    addr.rsplit_once(':').map(|(_, p)| p).unwrap_or(addr)
}

/// Sends `lines` (one message each) with util-linux logger.
fn logger(server: &Server, args: &[&str], tag: &str, lines: &[&str]) {
    let udp = args.contains(&"--udp");
    let addr = if udp { &server.udp } else { &server.tcp };
    let mut child = Command::new("logger")
        .args(args)
        .args(["-n", "127.0.0.1", "-P", port(addr), "-t", tag])
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

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = agent().get(format!("http://{}{path}", server.http));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().expect("HTTP request");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().expect("HTTP body");
    (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}")))
}

const SSH_FAIL: &str = "Failed password for root from 203.0.113.9 port 52044 ssh2";
const SSH_INVALID: &str = "Invalid user oracle from 198.51.100.23 port 40222";
const SUDO_SHELL: &str = "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash";
const NEW_USER: &str =
    "new user: name=backup2, UID=1002, GID=1002, home=/home/backup2, shell=/bin/bash, from=/dev/pts/0";
const WEB_SHELL: &str =
    r#"198.51.100.7 - - [23/Nov/2026:10:00:04 +0700] "GET /uploads/avatar.php?cmd=id HTTP/1.1" 200 91 "-" "curl/8.5""#;

#[test]
fn logger_lines_become_searchable_alerts_and_replay_agrees() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_server(dir.path());
    let token_path = server.data_dir.join("admin.token");
    let token = std::fs::read_to_string(&token_path).expect("admin.token written").trim().to_owned();
    assert_eq!(token.len(), 64);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_path).expect("token metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "admin.token must be private");
    }

    // Health needs no token; everything else does.
    assert_eq!(get(&server, "/api/v1/health", None).0, 200);
    for bad in [None, Some("wrong"), Some("")] {
        let (status, body) = get(&server, "/api/v1/alerts", bad);
        assert_eq!(status, 401, "token {bad:?}");
        assert_eq!(body, serde_json::json!({"error": "unauthorized"}));
    }

    // Five triggers, each over a different transport/format, and lines that must not alert.
    logger(
        &server,
        &["--tcp", "--octet-count"],
        "sshd",
        &[SSH_FAIL, "Accepted publickey for deploy from 10.0.0.5 port 40022 ssh2"],
    );
    logger(&server, &["--udp", "--rfc3164"], "sudo", &[SUDO_SHELL]);
    logger(
        &server,
        &["--tcp", "--rfc3164"],
        "sshd",
        &[SSH_INVALID, "Connection closed by 10.0.0.9 port 51000 [preauth]"],
    );
    logger(&server, &["--udp", "--rfc5424"], "useradd", &[NEW_USER]);
    logger(
        &server,
        &["--tcp", "--octet-count", "--rfc5424"],
        "nginx",
        &[
            WEB_SHELL,
            r#"198.51.100.8 - - [23/Nov/2026:10:00:05 +0700] "GET /index.php?page=news HTTP/1.1" 200 5120 "-" "Mozilla/5.0""#,
        ],
    );
    logger(
        &server,
        &["--tcp", "--octet-count", "--rfc3164"],
        "sudo",
        &["bob : TTY=pts/1 ; PWD=/srv ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"],
    );
    // sshd's words from another program: another logsource, no alert.
    logger(&server, &["--udp", "--rfc5424"], "myapp", &[SSH_FAIL]);
    let sent = 10;

    // Wait until every message went through the rules and the alerts are committed.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, stats) = get(&server, "/api/v1/stats", Some(&token));
        let processed = stats["processed"].as_u64().unwrap_or(0);
        let stored = stats["alerts_stored"].as_u64().unwrap_or(0);
        let alerts = stats["alerts"].as_u64().unwrap_or(0);
        if processed >= sent && stored >= alerts {
            assert_eq!(processed, sent, "{stats}");
            assert_eq!(stats["errors"], serde_json::json!({}), "{stats}");
            break;
        }
        assert!(Instant::now() < deadline, "timed out waiting for the pipeline: {stats}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, body) = get(&server, "/api/v1/alerts", Some(&token));
    assert_eq!(status, 200, "{body}");
    let alerts = body["alerts"].as_array().expect("alerts array").clone();
    assert_eq!(body["total"], 5, "{body:#}");
    let found: BTreeSet<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a["rule"]["title"].as_str().unwrap_or("").to_owned(),
                a["fields"]["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("SSH Password Authentication Failure", SSH_FAIL),
        ("SSH Login Attempt for an Invalid User", SSH_INVALID),
        ("Sudo to a Root Shell", SUDO_SHELL),
        ("New Local User Account Created", NEW_USER),
        ("Web Shell Style Request", WEB_SHELL),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(found, expected);

    // The alert shape users' scripts rely on, newest first.
    for a in &alerts {
        for key in ["id", "time", "rule", "host", "fields", "raw", "source"] {
            assert!(a.get(key).is_some(), "alert lacks {key}: {a}");
        }
        for key in ["id", "title", "level", "author", "tags"] {
            assert!(a["rule"].get(key).is_some(), "alert rule lacks {key}: {a}");
        }
        assert!(a["source"].get("file").is_some() && a["source"].get("line").is_some());
        assert_eq!(a["id"].as_str().map(str::len), Some(32));
    }
    let times: Vec<&str> = alerts.iter().filter_map(|a| a["time"].as_str()).collect();
    let parsed: Vec<chrono::DateTime<chrono::FixedOffset>> =
        times.iter().map(|t| chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339 time")).collect();
    assert!(parsed.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    // Search: a bare term, a field term, a time window and a limit.
    let (_, body) = get(&server, "/api/v1/alerts?q=oracle", Some(&token));
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["alerts"][0]["rule"]["title"], "SSH Login Attempt for an Invalid User");
    let (_, body) = get(&server, "/api/v1/alerts?q=level:high", Some(&token));
    assert_eq!(body["total"], 1, "{body}");
    let (_, body) = get(&server, "/api/v1/alerts?from=2100-01-01T00:00:00Z", Some(&token));
    assert_eq!(body["total"], 0, "{body}");
    let (_, body) = get(&server, "/api/v1/alerts?limit=2", Some(&token));
    assert_eq!((body["total"].as_u64(), body["alerts"].as_array().map(Vec::len)), (Some(5), Some(2)));
    assert_eq!(get(&server, "/api/v1/alerts?from=yesterday", Some(&token)).0, 400);
    assert_eq!(get(&server, "/api/v1/alerts?q=%28unclosed", Some(&token)).0, 400);

    // Replay of the same raw lines gives the same alerts (same ids, same rules).
    let raw_file = dir.path().join("lines.log");
    let mut by_id = std::collections::BTreeMap::new();
    let mut text = String::new();
    for a in &alerts {
        text.push_str(a["raw"].as_str().unwrap_or_default());
        text.push('\n');
        by_id.insert(a["id"].as_str().unwrap_or_default().to_owned(), a["rule"]["id"].clone());
    }
    std::fs::write(&raw_file, text).expect("write lines");
    let out = Command::new(VIGIL).arg("replay").arg(&raw_file).output().expect("run vigil replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("replay prints JSON lines"))
        .collect();
    assert_eq!(replayed.len(), alerts.len());
    for (i, r) in replayed.iter().enumerate() {
        let id = r["id"].as_str().unwrap_or_default();
        assert_eq!(by_id.get(id), Some(&r["rule"]["id"]), "replayed alert {r} is not one serve raised");
        assert_eq!(r["source"]["line"], i + 1);
        assert_eq!(r["source"]["file"], raw_file.display().to_string());
        let served = alerts.iter().find(|a| a["id"] == r["id"]).expect("same id");
        assert_eq!(served["fields"], r["fields"]);
        assert_eq!(served["time"], r["time"]);
    }
}

#[test]
fn bad_config_is_rejected_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[http]\nlisen = \"127.0.0.1:0\"\n").expect("write config");
    let out = Command::new(VIGIL)
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("run vigil");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("http.lisen"), "{stderr}");
}
