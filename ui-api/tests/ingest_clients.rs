//! Ingestion from the syslog clients agencies really run, against the real `vigil serve`:
//! rsyslog forwarding over TCP (octet counting) and over TLS with a client certificate,
//! Python's `logging.handlers.SysLogHandler` over UDP and TCP, and util-linux `logger` with
//! RFC 5424 structured data, and rsyslog's traditional forward format of an RFC 5424 message
//! (a tag without its colon). Each checks the fields, agency and province of the events.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{MARK, Pki, find, free_udp_port, raws, source};
use serde_json::Value;

const SSH_FAIL: &str = "Failed password for root from 203.0.113.9 port 52044 ssh2";
const SSH_INVALID: &str = "Invalid user oracle from 198.51.100.23 port 40222";
const SUDO_SHELL: &str = "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash";

const SSH_RULE: &str = "SSH Password Authentication Failure";
const INVALID_RULE: &str = "SSH Login Attempt for an Invalid User";
const SUDO_RULE: &str = "Sudo to a Root Shell";
const MARKER_RULE: &str = "Ingest Test Marker";

/// The machine's hostname, as util-linux logger writes it in RFC 5424 headers.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").expect("read the hostname").trim().to_owned()
}

/// Asserts an alert's `time` is within ten minutes of now (so its time zone was applied right).
fn assert_recent(alert: &Value) {
    let time = alert["time"].as_str().unwrap_or_default();
    let t = chrono::DateTime::parse_from_rfc3339(time).unwrap_or_else(|e| panic!("time {time:?}: {e}"));
    let skew = (chrono::Utc::now() - t.to_utc()).num_seconds().abs();
    assert!(skew < 600, "event time {time} is {skew} s from now: time zone misapplied? {alert}");
}

fn rsyslogd_binary() -> PathBuf {
    let binary = common::rsyslogd();
    assert!(
        common::rsyslog_module("lmnsd_gtls"),
        "rsyslog's TLS driver (lmnsd_gtls) is not installed: run .ci/setup (Debian package rsyslog-gnutls)"
    );
    binary
}

fn start_rsyslog(dir: &Path, conf: &str, ports: &[u16]) -> common::Rsyslog {
    common::start_rsyslog(&rsyslogd_binary(), dir, conf, ports)
}

#[test]
fn rsyslog_forwards_over_tcp_octet_counted_and_over_tls_with_a_client_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new(&dir.path().join("pki"));
    let (client_cert, client_key) = pki.client("hanoi-portal", "portal.hanoi.gov.vn", "UBND Ha Noi");
    let tables = format!(
        "[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\nrequire_client_cert = true\n{}{}",
        pki.server_cert,
        pki.server_key,
        pki.ca,
        // rsyslog's own address: what the plain TCP forward is attributed by.
        source("danang-relay", "So TTTT Da Nang", "Da Nang", &["127.0.0.1"], None),
        // The TLS forward comes from 127.0.0.1 too: its certificate must win. rsyslog runs
        // with TZ=UTC and forwards RFC 3164 (no offset) over TLS, so this source is in UTC.
        source("hanoi-portal", "Cong Dich vu cong Ha Noi", "Ha Noi", &["cert:CN=portal.hanoi.gov.vn"], Some("UTC")),
    );
    let server = common::start(dir.path(), "", &tables);

    let work = dir.path().join("rsyslog");
    std::fs::create_dir_all(&work).expect("rsyslog work dir");
    let (to_tcp, to_tls) = (free_udp_port(), free_udp_port());
    let conf = format!(
        r#"global(workDirectory="{work}"
       defaultNetstreamDriverCAFile="{ca}"
       defaultNetstreamDriverCertFile="{cert}"
       defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{to_tcp}" ruleset="to_vigil_tcp")
input(type="imudp" address="127.0.0.1" port="{to_tls}" ruleset="to_vigil_tls")
ruleset(name="to_vigil_tcp") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format")
}}
ruleset(name="to_vigil_tls") {{
  action(type="omfwd" target="127.0.0.1" port="{tls}" protocol="tcp" StreamDriver="gtls"
         StreamDriverMode="1" StreamDriverAuthMode="x509/certvalid")
}}
*.* action(type="omfile" file="{work}/rsyslog-internal.log")
"#,
        work = work.display(),
        ca = pki.ca.display(),
        cert = client_cert.display(),
        key = client_key.display(),
        tcp = server.tcp().port(),
        tls = server.tls().port(),
    );
    let rsyslog = start_rsyslog(&work, &conf, &[to_tcp, to_tls]);

    let utc = [("TZ", "UTC")];
    let tcp_marker = format!("{MARK} rsyslog tcp third line");
    let to_tcp_addr = ([127, 0, 0, 1], to_tcp).into();
    common::logger_env(&["--udp", "--rfc5424"], to_tcp_addr, "sshd", &[SSH_FAIL, SSH_INVALID, &tcp_marker], &utc);
    let tls_marker = format!("{MARK} rsyslog tls second line");
    let to_tls_addr = ([127, 0, 0, 1], to_tls).into();
    common::logger_env(&["--udp", "--rfc3164"], to_tls_addr, "sudo", &[SUDO_SHELL, &tls_marker], &utc);

    let alerts = server.wait_alerts("rsyslog's five forwarded lines as alerts", |a| {
        !find(a, SSH_RULE, SSH_FAIL).is_empty()
            && !find(a, INVALID_RULE, SSH_INVALID).is_empty()
            && !find(a, MARKER_RULE, &tcp_marker).is_empty()
            && !find(a, SUDO_RULE, SUDO_SHELL).is_empty()
            && !find(a, MARKER_RULE, &tls_marker).is_empty()
    });
    let context = format!("alerts: {}\nrsyslogd: {}", raws(&alerts), rsyslog.output());
    let host = hostname();

    // Over TCP with octet counting: RFC 5424, attributed by address.
    for (title, needle) in [(SSH_RULE, SSH_FAIL), (INVALID_RULE, SSH_INVALID), (MARKER_RULE, tcp_marker.as_str())] {
        let hits = find(&alerts, title, needle);
        assert_eq!(hits.len(), 1, "one alert `{title}`: {context}");
        let a = hits[0];
        assert_eq!(a["fields"]["message"], needle, "{a}");
        assert_eq!(a["fields"]["app"], "sshd", "{a}");
        assert_eq!(a["host"], host.as_str(), "{a}");
        assert_eq!(a["source"]["transport"], "tcp", "{a}");
        assert_eq!(a["source"]["name"], "danang-relay", "{a}");
        assert_eq!(a["agency"], "So TTTT Da Nang", "{a}");
        assert_eq!(a["province"], "Da Nang", "{a}");
        assert!(a["raw"].as_str().is_some_and(|r| r.starts_with('<') && r.contains(">1 ")), "RFC 5424: {a}");
        assert_recent(a);
    }
    let ssh = find(&alerts, SSH_RULE, SSH_FAIL)[0];
    for (k, v) in [("event", "failed_password"), ("user", "root"), ("src_ip", "203.0.113.9"), ("src_port", "52044")] {
        assert_eq!(ssh["fields"][k], v, "field {k}: {ssh}");
    }
    let invalid = find(&alerts, INVALID_RULE, SSH_INVALID)[0];
    assert_eq!(invalid["fields"]["src_ip"], "198.51.100.23", "{invalid}");

    // Over TLS with a client certificate: RFC 3164, attributed by the certificate's CN.
    for (title, needle) in [(SUDO_RULE, SUDO_SHELL), (MARKER_RULE, tls_marker.as_str())] {
        let hits = find(&alerts, title, needle);
        assert_eq!(hits.len(), 1, "one alert `{title}`: {context}");
        let a = hits[0];
        assert_eq!(a["fields"]["message"], needle, "{a}");
        assert_eq!(a["fields"]["app"], "sudo", "{a}");
        assert_eq!(a["source"]["transport"], "tls", "{a}");
        assert_eq!(a["source"]["name"], "hanoi-portal", "{a}");
        assert_eq!(a["agency"], "Cong Dich vu cong Ha Noi", "{a}");
        assert_eq!(a["province"], "Ha Noi", "{a}");
        assert_recent(a);
    }
    let sudo = find(&alerts, SUDO_RULE, SUDO_SHELL)[0];
    for (k, v) in
        [("user", "alice"), ("tty", "pts/0"), ("pwd", "/home/alice"), ("target_user", "root"), ("command", "/bin/bash")]
    {
        assert_eq!(sudo["fields"][k], v, "field {k}: {sudo}");
    }

    let stats = server.wait_stats("the five lines processed", |s| common::counter(s, "processed") >= 5);
    assert_eq!(common::counter(&stats, "received"), 5, "{stats}");
    assert_eq!(common::counter(&stats, "unknown_senders"), 0, "{stats}");
    assert_eq!(stats["errors"], serde_json::json!({}), "{stats}\n{context}");
    drop(rsyslog);
}

/// rsyslog relaying an RFC 5424 message without a PROCID in its traditional forward format
/// writes `<PRI>Mmm dd hh:mm:ss HOST sshd Failed password ...`: a tag with no colon after it.
/// vigil read `sshd` as part of the message, so the sshd extractor and every sshd rule missed
/// it (issue 17).
#[test]
fn rsyslog_traditional_forward_of_rfc5424_without_a_tag_colon_still_alerts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tables = source("relay", "So TTTT Hue", "Hue", &["127.0.0.1"], Some("UTC"));
    let server = common::start(dir.path(), "", &tables);
    let work = dir.path().join("rsyslog");
    std::fs::create_dir_all(&work).expect("rsyslog work dir");
    let input = free_udp_port();
    let conf = format!(
        r#"global(workDirectory="{work}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{input}" ruleset="relay")
ruleset(name="relay") {{
  action(type="omfwd" target="127.0.0.1" port="{tcp}" protocol="tcp"
         template="RSYSLOG_TraditionalForwardFormat")
  action(type="omfile" file="{work}/relayed.log" template="RSYSLOG_TraditionalForwardFormat")
}}
"#,
        work = work.display(),
        tcp = server.tcp().port(),
    );
    let rsyslog = start_rsyslog(&work, &conf, &[input]);
    // logger --rfc5424 without --id writes no PROCID, so rsyslog's tag is `sshd`, no `[pid]:`.
    let to = ([127, 0, 0, 1], input).into();
    common::logger_env(&["--udp", "--rfc5424"], to, "sshd", &[SSH_FAIL, SSH_INVALID], &[("TZ", "UTC")]);

    let alerts = server.wait_alerts("both relayed sshd lines as alerts", |a| {
        !find(a, SSH_RULE, SSH_FAIL).is_empty() && !find(a, INVALID_RULE, SSH_INVALID).is_empty()
    });
    let relayed = std::fs::read_to_string(work.join("relayed.log")).unwrap_or_default();
    let context = format!("alerts: {}\nrelayed: {relayed}\nrsyslogd: {}", raws(&alerts), rsyslog.output());
    let ssh = find(&alerts, SSH_RULE, SSH_FAIL);
    assert_eq!(ssh.len(), 1, "{context}");
    let a = ssh[0];
    let raw = a["raw"].as_str().unwrap_or_default();
    assert!(raw.contains(&format!(" sshd {SSH_FAIL}")), "the tag has no colon in what rsyslog sent: {a}");
    for (k, v) in [("app", "sshd"), ("message", SSH_FAIL), ("event", "failed_password"), ("src_ip", "203.0.113.9")] {
        assert_eq!(a["fields"][k], v, "field {k}: {a}\n{context}");
    }
    assert_eq!(find(&alerts, INVALID_RULE, SSH_INVALID)[0]["fields"]["src_ip"], "198.51.100.23", "{context}");
    assert_recent(a);
    drop(rsyslog);
}

// ---------------------------------------------------------------------------------------------
// Python

fn python() -> &'static str {
    let ok = Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(ok, "python3 is not installed: run .ci/setup");
    "python3"
}

/// Logs through `logging.handlers.SysLogHandler` (facility auth, ident `sshd[812]: `): one line
/// over UDP, then two over TCP on one connection, which it keeps open until its stdin closes,
/// as a long-running Python service does.
const PYTHON_CLIENT: &str = r#"
import logging, logging.handlers, socket, sys
udp_port, tcp_port = int(sys.argv[1]), int(sys.argv[2])
def handler(port, socktype):
    h = logging.handlers.SysLogHandler(address=("127.0.0.1", port),
                                       facility=logging.handlers.SysLogHandler.LOG_AUTH,
                                       socktype=socktype)
    h.ident = "sshd[812]: "
    return h
log = logging.getLogger("vigil-test")
log.setLevel(logging.INFO)
log.propagate = False
udp = handler(udp_port, socket.SOCK_DGRAM)
log.addHandler(udp)
log.warning("Failed password for root from 203.0.113.9 port 52044 ssh2")
log.removeHandler(udp)
udp.close()
tcp = handler(tcp_port, socket.SOCK_STREAM)
log.addHandler(tcp)
log.warning("Failed password for admin from 203.0.113.10 port 52045 ssh2")
log.warning("Failed password for backup from 203.0.113.11 port 52046 ssh2")
print("sent", flush=True)
sys.stdin.read()
tcp.close()
"#;

#[test]
fn python_sysloghandler_over_udp_and_tcp() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server =
        common::start(dir.path(), "", &source("python-app", "Cong DVC Da Nang", "Da Nang", &["127.0.0.1"], None));
    let mut child = Command::new(python())
        .args(["-c", PYTHON_CLIENT, &server.udp().port().to_string(), &server.tcp().port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python3");
    let stdin = child.stdin.take().expect("python stdin");
    let mut out = String::new();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stdout.take().expect("python stdout"));
        lines.read_line(&mut out).expect("python says it sent");
    }
    assert_eq!(out.trim(), "sent", "the Python client failed");

    let check = |a: &Value, user: &str, ip: &str, transport: &str| {
        assert_eq!(a["source"]["transport"], transport, "{a}");
        for (k, v) in [("app", "sshd"), ("pid", "812"), ("user", user), ("src_ip", ip)] {
            assert_eq!(a["fields"][k], v, "field {k}: {a}");
        }
        assert_eq!(a["fields"]["facility"], "auth", "{a}");
        assert_eq!(a["fields"]["severity"], "warning", "{a}");
        assert_eq!(
            a["fields"]["message"],
            format!(
                "Failed password for {user} from {ip} port {} ssh2",
                a["fields"]["src_port"].as_str().unwrap_or("?")
            ),
            "{a}"
        );
        assert_eq!(a["source"]["name"], "python-app", "{a}");
        assert_eq!(a["agency"], "Cong DVC Da Nang", "{a}");
        assert_eq!(a["province"], "Da Nang", "{a}");
        assert_recent(a);
    };
    let udp = server.wait_alert(SSH_RULE, "for root from 203.0.113.9");
    check(&udp, "root", "203.0.113.9", "udp");

    // Over TCP the handler writes `<PRI>MSG\0` per record, no line feed, and keeps the
    // connection: each record must be an event while the connection is still open.
    let tcp_wanted = [("admin", "203.0.113.10"), ("backup", "203.0.113.11")];
    let deadline = Instant::now() + Duration::from_secs(10);
    let arrived = loop {
        let alerts = server.alerts();
        let all = tcp_wanted
            .iter()
            .all(|(user, ip)| !find(&alerts, SSH_RULE, &format!("for {user} from {ip} port")).is_empty());
        if all || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(stdin);
    let status = child.wait().expect("python exits");
    assert!(status.success(), "python3: {status}");
    if !arrived {
        // Show what the records became once the connection closed.
        std::thread::sleep(Duration::from_secs(1));
        let alerts = server.alerts();
        panic!(
            "SysLogHandler over TCP: two NUL-terminated records sent on an open connection did not become two \
             events within 10 s; after the client closed, the alerts are: {}\nstats: {}",
            raws(&alerts),
            server.stats()
        );
    }
    let alerts = server.alerts();
    for (user, ip) in tcp_wanted {
        let hits = find(&alerts, SSH_RULE, &format!("for {user} from {ip} port"));
        assert_eq!(hits.len(), 1, "{}", raws(&alerts));
        check(hits[0], user, ip, "tcp");
    }
    let stats = server.wait_stats("three records processed", |s| common::counter(s, "processed") >= 3);
    assert_eq!(common::counter(&stats, "received"), 3, "{stats}");
    assert_eq!(stats["errors"], serde_json::json!({}), "{stats}");
}

// ---------------------------------------------------------------------------------------------
// util-linux logger with structured data, attributed by hostname

#[test]
fn logger_rfc5424_structured_data_and_attribution_by_hostname() {
    let dir = tempfile::tempdir().expect("temp dir");
    let host = hostname();
    let server = common::start(
        dir.path(),
        "",
        &source("bastion-by-name", "So TTTT Can Tho", "Can Tho", &[&format!("host:{host}")], None),
    );
    let message = format!("{SSH_FAIL} {MARK} sd");
    common::logger(
        &[
            "--tcp",
            "--octet-count",
            "--rfc5424",
            "--msgid",
            "AUTH1",
            "--sd-id",
            "vigil@32473",
            "--sd-param",
            r#"agency="Ha Noi""#,
            "--sd-param",
            r#"note="a \"quoted\" \] value""#,
        ],
        server.tcp(),
        "sshd",
        &[&message],
    );
    let alert = server.wait_alert(SSH_RULE, &message);
    let f = &alert["fields"];
    assert_eq!(f["message"], message.as_str(), "{alert}");
    assert_eq!(f["msgid"], "AUTH1", "{alert}");
    assert_eq!(f["app"], "sshd", "{alert}");
    assert_eq!(f["user"], "root", "{alert}");
    assert_eq!(f["src_ip"], "203.0.113.9", "{alert}");
    assert_eq!(f["sd.vigil@32473.agency"], "Ha Noi", "{alert}");
    assert_eq!(f["sd.vigil@32473.note"], r#"a "quoted" ] value"#, "{alert}");
    assert_eq!(alert["host"], host.as_str(), "{alert}");
    assert_eq!(alert["source"]["name"], "bastion-by-name", "{alert}");
    assert_eq!(alert["agency"], "So TTTT Can Tho", "{alert}");
    assert_eq!(alert["province"], "Can Tho", "{alert}");
    assert_recent(&alert);
    let stats = server.wait_stats("the line processed", |s| common::counter(s, "processed") >= 1);
    assert_eq!(common::counter(&stats, "unknown_senders"), 0, "{stats}");
    assert_eq!(stats["errors"], serde_json::json!({}), "{stats}");
}
