//! Senders no source matches, against the real `vigil serve`: assigned to "unassigned" and
//! counted, or refused and counted (per connection when the address decides, per message when
//! hostnames may still match), while configured sources keep flowing.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{MARK, bsd_line, closed_by_server, counter, errors, source, steady_source, tcp_from};

const MARKER_RULE: &str = "Ingest Test Marker";
const SSH_RULE: &str = "SSH Password Authentication Failure";
/// A client certificate and key, as `send_tls` takes them.
fn pair(p: &(PathBuf, PathBuf)) -> Option<(&Path, &Path)> {
    Some((p.0.as_path(), p.1.as_path()))
}

const SSH_FAIL: &str = "Failed password for root from 203.0.113.9 port 52044 ssh2";

fn private_net() -> String {
    source("private-net", "Cuc An toan thong tin", "Ha Noi", &["10.0.0.0/8"], None)
}

#[test]
fn unknown_senders_are_assigned_to_unassigned_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "", &format!("{}{}", private_net(), steady_source()));
    let tcp_line = format!("{SSH_FAIL} {MARK} unknown tcp");
    let udp_line = format!("{SSH_FAIL} {MARK} unknown udp");
    common::logger(&["--tcp", "--octet-count", "--rfc5424"], server.tcp(), "sshd", &[&tcp_line]);
    common::logger(&["--udp", "--rfc3164"], server.udp(), "sshd", &[&udp_line]);
    for (line, transport) in [(&tcp_line, "tcp"), (&udp_line, "udp")] {
        let a = server.wait_alert(SSH_RULE, line);
        assert_eq!(a["fields"]["user"], "root", "{a}");
        assert_eq!(a["source"]["transport"], transport, "{a}");
        assert_eq!(a["source"]["name"], "unassigned", "{a}");
        assert_eq!(a["agency"], "unassigned", "{a}");
        assert_eq!(a["province"], "unassigned", "{a}");
    }
    server.probe_tcp();
    let stats = server.wait_stats("three events processed", |s| counter(s, "processed") >= 3);
    assert_eq!(counter(&stats, "unknown_senders"), 2, "a known source is not counted: {stats}");
    assert_eq!(stats["errors"], serde_json::json!({}), "{stats}");
}

#[test]
fn unknown_senders_are_refused_and_counted_when_configured() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tables = format!("[unknown_sources]\naction = \"refuse\"\n{}{}", private_net(), steady_source());
    let server = common::start(dir.path(), "", &tables);
    server.probe_tcp();

    // 127.0.0.1 is no source: its TCP connection is refused as a whole, its datagrams each.
    let mut tcp = tcp_from("127.0.0.1", server.tcp());
    let lines: String = (1..=3)
        .map(|n| format!("{}\n", bsd_line("bastion", "sshd[1]", &format!("{SSH_FAIL} {MARK} refused tcp {n}"))))
        .collect();
    let _ = tcp.write_all(lines.as_bytes());
    assert!(closed_by_server(&mut tcp, Duration::from_secs(10)), "the refused connection is closed");
    let udp = common::udp_from("127.0.0.1");
    for n in 1..=2 {
        let line = bsd_line("bastion", "sshd[1]", &format!("{SSH_FAIL} {MARK} refused udp {n}"));
        udp.send_to(line.as_bytes(), server.udp()).expect("send");
    }
    let stats = server.wait_stats("three refusals", |s| errors(s, "unknown_source_refused") >= 3);
    assert_eq!(errors(&stats, "unknown_source_refused"), 3, "one connection and two datagrams: {stats}");

    server.probe_udp();
    server.probe_tcp();
    let stats = server.wait_idle();
    assert!(!server.alerts().iter().any(|a| a["raw"].as_str().is_some_and(|r| r.contains("refused"))));
    assert_eq!(counter(&stats, "processed"), 3, "only the probes became events: {stats}");
    assert_eq!(counter(&stats, "unknown_senders"), 0, "{stats}");
}

#[test]
fn with_hostname_sources_unknown_senders_are_refused_per_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tables = format!(
        "[unknown_sources]\naction = \"refuse\"\n{}{}",
        source("danang-portal", "Cong DVC Da Nang", "Da Nang", &["host:portal-dvc.danang.gov.vn"], None),
        steady_source(),
    );
    let server = common::start(dir.path(), "", &tables);

    // One connection from an unknown address: the line naming a known host is that source's,
    // the one naming a stranger is refused, and the connection goes on.
    let mut tcp = tcp_from("127.0.0.1", server.tcp());
    let text = format!(
        "{}\n{}\n{}\n",
        bsd_line("portal-dvc.danang.gov.vn", "sshd[2]", &format!("{SSH_FAIL} {MARK} known host 1")),
        bsd_line("stranger", "sshd[2]", &format!("{SSH_FAIL} {MARK} stranger host")),
        bsd_line("PORTAL-DVC.danang.gov.vn", "sshd[2]", &format!("{MARK} known host 2")),
    );
    tcp.write_all(text.as_bytes()).expect("send");
    let known = server.wait_alert(SSH_RULE, "known host 1");
    assert_eq!(known["source"]["name"], "danang-portal", "{known}");
    assert_eq!(known["agency"], "Cong DVC Da Nang", "{known}");
    assert_eq!(known["province"], "Da Nang", "{known}");
    assert_eq!(known["host"], "portal-dvc.danang.gov.vn", "{known}");
    let second = server.wait_alert(MARKER_RULE, "known host 2");
    assert_eq!(second["source"]["name"], "danang-portal", "hostnames match without case: {second}");
    server.probe_tcp();
    let stats = server.wait_stats("the stranger refused", |s| errors(s, "unknown_source_refused") >= 1);
    assert_eq!(errors(&stats, "unknown_source_refused"), 1, "{stats}");
    drop(tcp);
    let stats = server.wait_idle();
    assert!(!server.alerts().iter().any(|a| a["raw"].as_str().is_some_and(|r| r.contains("stranger"))));
    assert_eq!(counter(&stats, "received"), 4, "{stats}");
    assert_eq!(counter(&stats, "processed"), 3, "{stats}");
}

#[test]
fn tls_client_certificates_identify_the_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = common::Pki::new(&dir.path().join("pki"));
    let portal = pki.client("portal", "portal.hanoi.gov.vn", "UBND Ha Noi");
    let mail = pki.client("mail", "mail.hue.gov.vn", "So TTTT Hue");
    let stranger = pki.client("stranger", "unknown.example.gov.vn", "Nobody");
    let other_ca = common::Pki::new(&dir.path().join("other-pki"));
    let forged = other_ca.client("forged", "portal.hanoi.gov.vn", "UBND Ha Noi");
    let tls = |require: bool| {
        format!(
            "[tls]\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\nrequire_client_cert = {require}\n",
            pki.server_cert, pki.server_key, pki.ca
        )
    };
    let sources = format!(
        "{}{}{}",
        source("hanoi-portal", "Cong Dich vu cong Ha Noi", "Ha Noi", &["cert:CN=portal.hanoi.gov.vn"], None),
        // A full subject, written with other spacing and case than the certificate's.
        source("hue-mail", "So TTTT Thua Thien Hue", "Hue", &["cert: cn = MAIL.hue.gov.vn ,o=so tttt hue"], None),
        source("local-net", "Trung tam du lieu", "Da Nang", &["127.0.0.1"], None),
    );
    let server = common::start(dir.path(), "", &format!("{}{sources}", tls(false)));

    let line = |tag: &str| bsd_line("relay", "app", &format!("{MARK} cert {tag}"));
    let ca = pki.ca.as_path();
    common::send_tls(&server, "127.0.0.1", ca, pair(&portal), &[line("portal")]);
    common::send_tls(&server, "127.0.0.1", ca, pair(&mail), &[line("mail")]);
    common::send_tls(&server, "127.0.0.1", ca, pair(&stranger), &[line("stranger")]);
    common::send_tls(&server, "127.0.0.1", ca, None, &[line("none")]);
    for (tag, name, province) in [
        ("portal", "hanoi-portal", "Ha Noi"),
        ("mail", "hue-mail", "Hue"),
        // A valid certificate no source names, or none at all: the address decides.
        ("stranger", "local-net", "Da Nang"),
        ("none", "local-net", "Da Nang"),
    ] {
        let a = server.wait_alert(MARKER_RULE, &format!("cert {tag}"));
        assert_eq!(a["source"]["name"], name, "{a}");
        assert_eq!(a["province"], province, "{a}");
        assert_eq!(a["source"]["transport"], "tls", "{a}");
    }
    // A certificate from another CA is refused, even where certificates are optional.
    let refusal = common::tls_refusal(&server, "127.0.0.1", ca, pair(&forged));
    assert!(refusal.is_some(), "a certificate from an unknown CA is refused");
    let stats = server.wait_stats("the forged certificate refused", |s| errors(s, "tls_handshake_error") >= 1);
    assert_eq!(errors(&stats, "tls_handshake_error"), 1, "{stats}");
    assert_eq!(counter(&stats, "unknown_senders"), 0, "{stats}");
    drop(server);

    // Where certificates are required, a client without one is refused; one with a valid one is served.
    let dir2 = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir2.path(), "", &format!("{}{sources}", tls(true)));
    let refusal = common::tls_refusal(&server, "127.0.0.1", ca, None);
    assert!(refusal.is_some(), "no certificate, refused");
    common::send_tls(&server, "127.0.0.1", ca, pair(&portal), &[line("required")]);
    let a = server.wait_alert(MARKER_RULE, "cert required");
    assert_eq!(a["source"]["name"], "hanoi-portal", "{a}");
    let stats = server.wait_stats("the certificate-less client refused", |s| errors(s, "tls_handshake_error") >= 1);
    assert_eq!(errors(&stats, "tls_handshake_error"), 1, "{stats}");
}
