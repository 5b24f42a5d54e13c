//! Bad input against the real `vigil serve`: each kind is counted by reason, and the stream
//! goes on, on the same connection where it can and for another agency's source (127.0.0.2,
//! "steady") whose lines are checked to arrive before, during and after.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use common::{
    MARK, Server, bsd_line, closed_by_server, errors, octet_counted, send_tls, source, steady_source, tcp_from,
    tls_client,
};
use serde_json::Value;

const MARKER_RULE: &str = "Ingest Test Marker";
const SSH_RULE: &str = "SSH Password Authentication Failure";
const NOISY_AGENCY: &str = "Cong thong tin dien tu Quang Ninh";

/// The sources of these tests: 127.0.0.1 sends the bad input, 127.0.0.2 is the steady source.
fn sources() -> String {
    format!("{}{}", steady_source(), source("noisy", NOISY_AGENCY, "Quang Ninh", &["127.0.0.1"], None))
}

fn start(dir: &std::path::Path, syslog: &str) -> Server {
    common::start(dir, syslog, &sources())
}

/// The message of an alert.
fn message(a: &Value) -> &str {
    a["fields"]["message"].as_str().unwrap_or_default()
}

/// Asserts the alert came from the noisy source (127.0.0.1) over `transport`.
fn assert_noisy(a: &Value, transport: &str) {
    assert_eq!(a["source"]["name"], "noisy", "{a}");
    assert_eq!(a["agency"], NOISY_AGENCY, "{a}");
    assert_eq!(a["province"], "Quang Ninh", "{a}");
    assert_eq!(a["source"]["transport"], transport, "{a}");
}

fn noisy_tcp(server: &Server) -> TcpStream {
    tcp_from("127.0.0.1", server.tcp())
}

fn send_udp(server: &Server, bytes: &[u8]) {
    common::udp_from("127.0.0.1").send_to(bytes, server.udp()).expect("send datagram");
}

#[test]
fn over_long_lines_are_truncated_counted_and_still_processed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "max_message_bytes = 1024\n");
    server.probe_tcp();

    let long = |tag: &str| {
        let mut m = bsd_line(
            "bastion",
            "sshd[812]",
            &format!("Failed password for root from 203.0.113.9 port 52044 ssh2 {MARK} {tag} "),
        );
        m.push_str(&"A".repeat(3000));
        m
    };
    let after = |tag: &str| bsd_line("bastion", "sshd[812]", &format!("{MARK} after {tag}"));

    // Newline framing, the long line arriving in two parts (the cut happens before its end
    // is seen), then a normal line on the same connection.
    let mut nl = noisy_tcp(&server);
    let line = long("long-nl");
    nl.write_all(&line.as_bytes()[..2000]).expect("send");
    nl.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(200));
    nl.write_all(format!("{}\n{}\n", &line[2000..], after("long-nl")).as_bytes()).expect("send");
    // Octet counting: an over-long frame, then a normal one.
    let mut oc = noisy_tcp(&server);
    let mut frames = octet_counted(long("long-oc").as_bytes());
    frames.extend(octet_counted(after("long-oc").as_bytes()));
    oc.write_all(&frames).expect("send");
    // UDP: an over-long datagram, then a normal one.
    send_udp(&server, long("long-udp").as_bytes());
    send_udp(&server, after("long-udp").as_bytes());
    // The other agency's lines still flow while these connections are open.
    server.probe_tcp();
    server.probe_udp();

    for (tag, transport) in [("long-nl", "tcp"), ("long-oc", "tcp"), ("long-udp", "udp")] {
        let alert = server.wait_alert(MARKER_RULE, &format!("{MARK} {tag} "));
        let raw = alert["raw"].as_str().unwrap_or_default();
        assert_eq!(raw.len(), 1024, "truncated to max_message_bytes: {alert}");
        assert!(long(tag).starts_with(raw), "the first 1024 bytes are kept: {alert}");
        assert_noisy(&alert, transport);
        // Truncated, the line is still parsed: sshd's rule fires on it with its fields.
        let ssh = server.wait_alert(SSH_RULE, &format!("{MARK} {tag} "));
        assert_eq!(ssh["fields"]["user"], "root", "{ssh}");
        assert_eq!(ssh["fields"]["src_ip"], "203.0.113.9", "{ssh}");
        assert_eq!(ssh["host"], "bastion", "{ssh}");
        // And the next message on the same stream is intact.
        let next = server.wait_alert(MARKER_RULE, &format!("{MARK} after {tag}"));
        assert_eq!(message(&next), format!("{MARK} after {tag}"), "{next}");
        assert_noisy(&next, transport);
    }
    drop((nl, oc));
    let stats = server.wait_stats("three frame_too_long", |s| errors(s, "frame_too_long") >= 3);
    assert_eq!(errors(&stats, "frame_too_long"), 3, "{stats}");
    assert_eq!(stats["errors"].as_object().map(|e| e.len()), Some(1), "no other problem: {stats}");
    server.probe_tcp();
}

#[test]
fn invalid_utf8_is_replaced_counted_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    server.probe_tcp();

    let mut tcp = noisy_tcp(&server);
    let mut bytes = b"<38>Nov 23 10:00:02 bastion sshd[813]: Failed password for bob\xff\xfe ".to_vec();
    bytes.extend(b"from 203.0.113.11 port 52044 ssh2 vigilmark utf8-tcp\n");
    bytes.extend(bsd_line("bastion", "app", &format!("{MARK} after utf8-tcp\n")).as_bytes());
    tcp.write_all(&bytes).expect("send");
    // A lone continuation byte, a truncated sequence and an encoded surrogate, over UDP.
    send_udp(&server, b"<38>Nov 23 10:00:02 bastion app: vigilmark utf8-udp \x80 \xc3\x28 \xed\xa0\x80 end");
    server.probe_udp();

    let ssh = server.wait_alert(SSH_RULE, "utf8-tcp");
    assert_eq!(ssh["fields"]["user"], "bob\u{fffd}\u{fffd}", "invalid bytes become U+FFFD: {ssh}");
    assert_eq!(ssh["fields"]["src_ip"], "203.0.113.11", "{ssh}");
    assert_noisy(&ssh, "tcp");
    let next = server.wait_alert(MARKER_RULE, "after utf8-tcp");
    assert_noisy(&next, "tcp");
    let udp = server.wait_alert(MARKER_RULE, "utf8-udp");
    let msg = message(&udp);
    assert!(msg.starts_with(&format!("{MARK} utf8-udp ")) && msg.ends_with(" end"), "{udp}");
    assert!(msg.contains('\u{fffd}'), "{udp}");
    assert_noisy(&udp, "udp");
    drop(tcp);
    server.probe_tcp();

    // Nothing is altered silently: two messages had invalid UTF-8.
    let stats = server.wait_stats("the lines processed", |s| common::counter(s, "processed") >= 6);
    assert_eq!(
        errors(&stats, "invalid_utf8"),
        2,
        "ENGINE GAP: messages with invalid UTF-8 are decoded lossily but no `invalid_utf8` counter says so: {stats}"
    );
}

#[test]
fn nul_bytes_inside_messages_are_kept_counted_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    server.probe_tcp();

    // NUL inside an octet-counted frame (the framing is unambiguous), then another frame.
    let mut tcp = noisy_tcp(&server);
    let nul = b"<38>Nov 23 10:00:03 bastion sshd[815]: Failed password for carol from 203.0.113.12 port 52044 ssh2";
    let mut frames = octet_counted(&[&nul[..], b" vigilmark nul-tcp a\0b"].concat());
    frames.extend(octet_counted(bsd_line("bastion", "app", &format!("{MARK} after nul-tcp")).as_bytes()));
    tcp.write_all(&frames).expect("send");
    send_udp(&server, b"<38>Nov 23 10:00:03 bastion app: vigilmark nul-udp x\0y");
    server.probe_udp();

    let ssh = server.wait_alert(SSH_RULE, "nul-tcp");
    assert_eq!(ssh["fields"]["user"], "carol", "{ssh}");
    let msg = message(&ssh);
    assert!(
        msg.contains(&format!("{MARK} nul-tcp a")) && msg.ends_with('b'),
        "the message is not cut at the NUL: {ssh}"
    );
    assert_noisy(&ssh, "tcp");
    let udp = server.wait_alert(MARKER_RULE, "nul-udp");
    let msg = message(&udp);
    assert!(msg.contains(&format!("{MARK} nul-udp x")) && msg.ends_with('y'), "{udp}");
    assert_noisy(&udp, "udp");
    let next = server.wait_alert(MARKER_RULE, "after nul-tcp");
    assert_noisy(&next, "tcp");
    drop(tcp);
    server.probe_tcp();

    let stats = server.wait_stats("the lines processed", |s| common::counter(s, "processed") >= 6);
    assert_eq!(
        errors(&stats, "nul_byte"),
        2,
        "ENGINE GAP: messages with NUL bytes inside are passed on with no `nul_byte` counter: {stats}"
    );
}

#[test]
fn a_bad_pri_is_counted_and_the_line_still_matched_as_unparsed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    server.probe_tcp();

    let bad_tcp = [
        format!("<999>Nov 23 10:00:04 bastion sshd[815]: {MARK} pri-999"),
        format!("<192>Nov 23 10:00:04 bastion sshd[815]: {MARK} pri-192"),
    ];
    let mut tcp = noisy_tcp(&server);
    let text =
        format!("{}\n{}\n{}\n", bad_tcp[0], bad_tcp[1], bsd_line("bastion", "app", &format!("{MARK} after bad pri")));
    tcp.write_all(text.as_bytes()).expect("send");
    let bad_udp = format!("<1000>1 2026-11-23T10:00:04+07:00 bastion app - - - {MARK} pri-udp");
    send_udp(&server, bad_udp.as_bytes());
    server.probe_udp();

    for (line, tag, transport) in
        [(&bad_tcp[0], "pri-999", "tcp"), (&bad_tcp[1], "pri-192", "tcp"), (&bad_udp, "pri-udp", "udp")]
    {
        let alert = server.wait_alert(MARKER_RULE, tag);
        // Unparsed: the whole line is the message, no header fields were read from it.
        assert_eq!(message(&alert), line.as_str(), "{alert}");
        assert_eq!(alert["raw"], line.as_str(), "{alert}");
        assert_eq!(alert["host"], Value::Null, "{alert}");
        assert_noisy(&alert, transport);
    }
    assert_noisy(&server.wait_alert(MARKER_RULE, "after bad pri"), "tcp");
    drop(tcp);
    server.probe_tcp();
    let stats = server.wait_stats("three bad_header", |s| errors(s, "bad_header") >= 3);
    assert_eq!(errors(&stats, "bad_header"), 3, "{stats}");
    assert_eq!(stats["errors"].as_object().map(|e| e.len()), Some(1), "no other problem: {stats}");
}

#[test]
fn an_unparsed_line_gives_the_same_alert_content_in_serve_and_replay() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    let line = format!("<999>Nov 23 10:00:04 bastion sshd[815]: {MARK} replay agrees");
    let mut tcp = noisy_tcp(&server);
    tcp.write_all(format!("{line}\n").as_bytes()).expect("send");
    drop(tcp);
    let served = server.wait_alert(MARKER_RULE, "replay agrees");

    let file = dir.path().join("line.log");
    std::fs::write(&file, format!("{line}\n")).expect("write line");
    let out = std::process::Command::new(common::VIGIL)
        .arg("replay")
        .arg("--rules")
        .arg(dir.path().join("test-rules"))
        .arg(&file)
        .output()
        .expect("run vigil replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let replayed: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|a: &Value| a["rule"]["title"] == MARKER_RULE)
        .collect();
    assert_eq!(replayed.len(), 1, "{replayed:?}");
    assert_eq!(replayed[0]["raw"], served["raw"], "replay and serve see the same raw line");
    assert_eq!(replayed[0]["fields"], served["fields"]);
    // Without a valid header the line has no time of its own: its time is when it was
    // received, which differs between serve and replay, and so do time and id (the id hashes
    // the event time). Lines with a timestamp get the same id (serve.rs checks that).
    assert_ne!(replayed[0]["time"], served["time"]);
    assert_eq!(replayed[0]["rule"], served["rule"]);
}

#[test]
fn an_octet_count_larger_than_what_follows_is_a_truncated_frame() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    server.probe_tcp();

    // A good frame, then one announcing 500 bytes of which 50 come before the client closes.
    let mut tcp = noisy_tcp(&server);
    let mut bytes = octet_counted(bsd_line("bastion", "app", &format!("{MARK} before truncated")).as_bytes());
    bytes.extend(format!("500 <38>Nov 23 10:00:01 bastion app: {MARK} truncated").as_bytes());
    tcp.write_all(&bytes).expect("send");
    tcp.shutdown(Shutdown::Write).expect("close our side");
    assert!(closed_by_server(&mut tcp, Duration::from_secs(10)), "the server ends the connection");
    let stats = server.wait_stats("a truncated_frame", |s| errors(s, "truncated_frame") >= 1);
    assert_eq!(errors(&stats, "truncated_frame"), 1, "{stats}");
    assert_noisy(&server.wait_alert(MARKER_RULE, "before truncated"), "tcp");

    // A count that is not a number resynchronises at the next line feed.
    let mut tcp = noisy_tcp(&server);
    let mut bytes = octet_counted(bsd_line("bastion", "app", &format!("{MARK} before bad count")).as_bytes());
    bytes.extend(b"12x3 not a count\n");
    bytes.extend(octet_counted(bsd_line("bastion", "app", &format!("{MARK} after bad count")).as_bytes()));
    tcp.write_all(&bytes).expect("send");
    server.probe_tcp();
    assert_noisy(&server.wait_alert(MARKER_RULE, "before bad count"), "tcp");
    assert_noisy(&server.wait_alert(MARKER_RULE, "after bad count"), "tcp");
    drop(tcp);

    let stats = server.wait_stats("a bad_octet_count", |s| errors(s, "bad_octet_count") >= 1);
    assert_eq!(errors(&stats, "bad_octet_count"), 1, "{stats}");
    assert_eq!(errors(&stats, "truncated_frame"), 1, "{stats}");
    assert!(!server.alerts().iter().any(|a| message(a).contains("not a count")), "the bad frame is not an event");
    server.probe_tcp();
}

#[test]
fn a_client_sending_a_byte_a_second_stays_and_a_stalled_one_is_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "tcp_idle_timeout_secs = 2\n");
    server.probe_tcp();

    // The stalled client: half a line, then nothing.
    let mut stalled = noisy_tcp(&server);
    stalled.write_all(bsd_line("bastion", "app", &format!("{MARK} stalled half")).as_bytes()).expect("send");
    // The slow client: a line whose end trickles in one byte a second, for 2.5 timeouts.
    let mut slow = noisy_tcp(&server);
    slow.write_all(bsd_line("bastion", "app", &format!("{MARK} slow ")).as_bytes()).expect("send");
    let slow = std::thread::spawn(move || {
        for b in b"tick!\n" {
            std::thread::sleep(Duration::from_secs(1));
            slow.write_all(&[*b]).expect("the slow client is not disconnected");
        }
        slow
    });

    let stats = server.wait_stats("the stalled client timed out", |s| errors(s, "idle_timeout") >= 1);
    assert_eq!(errors(&stats, "idle_timeout"), 1, "{stats}");
    assert!(closed_by_server(&mut stalled, Duration::from_secs(5)), "the stalled connection is closed");
    // Its half line is not lost: it is an event, as at any end of stream.
    assert_noisy(&server.wait_alert(MARKER_RULE, "stalled half"), "tcp");
    // Others are not held up meanwhile.
    server.probe_tcp();
    server.probe_udp();

    let mut slow = slow.join().expect("slow client");
    let alert = server.wait_alert(MARKER_RULE, "slow tick!");
    assert_eq!(message(&alert), format!("{MARK} slow tick!"), "{alert}");
    assert_noisy(&alert, "tcp");
    slow.write_all(bsd_line("bastion", "app", &format!("{MARK} slow still open\n")).as_bytes()).expect("send");
    assert_noisy(&server.wait_alert(MARKER_RULE, "slow still open"), "tcp");
    let stats = server.stats();
    assert_eq!(errors(&stats, "idle_timeout"), 1, "the slow client was not timed out: {stats}");
    drop(slow);
    server.probe_tcp();
}

#[test]
fn tls_garbage_is_counted_and_tls_keeps_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    // With no [tls] cert, a development certificate is generated into the data dir and said so.
    let dev_cert = server.dev_cert.clone().expect("the development certificate is printed");
    assert!(dev_cert.starts_with(&server.data_dir), "{dev_cert:?}");
    assert!(dev_cert.is_file(), "{dev_cert:?}");
    let good = |n: u32| bsd_line("steady-host", "app", &format!("{MARK} tls good {n}"));

    send_tls(&server, common::STEADY_IP, &dev_cert, None, &[good(1)]);
    let first = server.wait_alert(MARKER_RULE, "tls good 1");
    assert_eq!(first["source"]["transport"], "tls", "{first}");
    assert_eq!(first["agency"], common::STEADY_AGENCY, "{first}");

    // Bytes that look like a TLS record but are not a ClientHello.
    let mut junk = noisy_tcp_to(&server);
    junk.write_all(b"\x16\x03\x01\x00\x20this is not a client hello at all, no").expect("send");
    assert!(closed_by_server(&mut junk, Duration::from_secs(10)), "the server drops it");
    // Plain syslog sent to the TLS port by mistake.
    let mut plain = noisy_tcp_to(&server);
    plain
        .write_all(format!("{}\n", bsd_line("bastion", "app", &format!("{MARK} plaintext on tls"))).as_bytes())
        .expect("send");
    assert!(closed_by_server(&mut plain, Duration::from_secs(10)), "the server drops it");
    let stats = server.wait_stats("two tls_handshake_error", |s| errors(s, "tls_handshake_error") >= 2);
    assert_eq!(errors(&stats, "tls_handshake_error"), 2, "{stats}");

    // Good clients and the other listeners carry on.
    send_tls(&server, common::STEADY_IP, &dev_cert, None, &[good(2), good(3)]);
    server.probe_tcp();
    server.probe_udp();
    for n in [2, 3] {
        let a = server.wait_alert(MARKER_RULE, &format!("tls good {n}"));
        assert_eq!(a["source"]["transport"], "tls", "{a}");
        assert_eq!(a["source"]["name"], "steady", "{a}");
    }
    assert!(!server.alerts().iter().any(|a| message(a).contains("plaintext on tls")));
    let stats = server.stats();
    assert_eq!(errors(&stats, "tls_handshake_error"), 2, "{stats}");
}

#[test]
fn a_tls_client_that_never_finishes_its_handshake_times_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "", &format!("[tls]\nhandshake_timeout_secs = 1\n{}", sources()));
    let dev_cert = server.dev_cert.clone().expect("development certificate");
    // Connects and says nothing; and one that sends half a ClientHello.
    let mut silent = noisy_tcp_to(&server);
    let mut half = noisy_tcp_to(&server);
    half.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").expect("send");
    let stats = server.wait_stats("two tls_handshake_timeout", |s| errors(s, "tls_handshake_timeout") >= 2);
    assert_eq!(errors(&stats, "tls_handshake_timeout"), 2, "{stats}");
    assert!(closed_by_server(&mut silent, Duration::from_secs(5)));
    assert!(closed_by_server(&mut half, Duration::from_secs(5)));
    send_tls(
        &server,
        common::STEADY_IP,
        &dev_cert,
        None,
        &[bsd_line("steady-host", "app", &format!("{MARK} tls after timeouts"))],
    );
    let a = server.wait_alert(MARKER_RULE, "tls after timeouts");
    assert_eq!(a["source"]["transport"], "tls", "{a}");
    assert_eq!(errors(&server.stats(), "tls_handshake_error"), 0);
}

/// A raw TCP connection from 127.0.0.1 to the TLS port.
fn noisy_tcp_to(server: &Server) -> TcpStream {
    tcp_from("127.0.0.1", server.tls())
}

#[test]
fn a_tls_client_that_writes_and_closes_loses_nothing() {
    // What a forwarder flushing its backlog does: handshake, write many messages, close_notify,
    // close, without ever reading. Whatever the server sent meanwhile (TLS 1.3 session tickets)
    // sits unread in the client's socket, so its close turns into a reset; the messages it
    // wrote before must all arrive all the same.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "");
    let dev_cert = server.dev_cert.clone().expect("development certificate");
    let (rounds, per_round) = (3, 2000);
    for round in 0..rounds {
        let mut tls = tls_client(&server, common::STEADY_IP, &dev_cert, None);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).expect("TLS handshake");
        }
        // Let whatever the server sends after the handshake arrive.
        std::thread::sleep(Duration::from_millis(100));
        let mut backlog = Vec::new();
        for n in 0..per_round {
            let line = bsd_line("steady-host", "app", &format!("backlog message {n} of round {round}"));
            backlog.extend(octet_counted(line.as_bytes()));
        }
        tls.write_all(&backlog).expect("TLS write");
        tls.conn.send_close_notify();
        tls.flush().expect("TLS flush");
        drop(tls);
    }
    let sent = rounds * per_round;
    server.wait_stats("the write-and-close connections ended", |s| common::counter(s, "connections") == 0);
    let stats = server.wait_idle();
    assert_eq!(
        common::counter(&stats, "received"),
        sent,
        "ENGINE BUG: messages written before a TLS client's close were lost: {stats}"
    );
}
