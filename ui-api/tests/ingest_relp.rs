//! RELP from Debian's rsyslog (`omrelp`, package rsyslog-relp): vigil is killed (SIGKILL) in
//! the middle of the stream and restarted on the same port and data dir; rsyslog sends again
//! what was not acknowledged, and no message is lost or stored twice.

mod common;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;

const MARKER_ID: &str = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
const MESSAGES: usize = 2000;

/// A TCP port free on 127.0.0.1 right now (vigil's RELP port must stay the same across the
/// restart: rsyslog reconnects to it).
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free TCP port").port()
}

fn start_vigil(dir: &std::path::Path, relp: u16) -> Server {
    start(dir, &format!("udp = \"\"\ntcp = \"\"\ntls = \"\"\nrelp = \"127.0.0.1:{relp}\"\n"), "")
}

/// The `n=` of every stored marker alert, with how many times each is stored.
fn stored(server: &Server) -> BTreeMap<usize, usize> {
    let (status, body) = server.get(&format!("/api/v1/alerts?q=rule_id:{MARKER_ID}&limit=10000"));
    assert_eq!(status, 200, "{body}");
    let mut seen = BTreeMap::new();
    for a in body["alerts"].as_array().expect("alerts") {
        let raw = a["raw"].as_str().unwrap_or_default();
        let n = raw.rsplit("n=").next().and_then(|n| n.trim().parse::<usize>().ok()).expect("n= in the message");
        *seen.entry(n).or_insert(0) += 1;
    }
    seen
}

#[test]
fn rsyslog_omrelp_loses_nothing_across_a_vigil_kill() {
    let binary = rsyslogd();
    assert!(
        rsyslog_module("omrelp"),
        "rsyslog's RELP output (omrelp) is not installed: run .ci/setup (Debian package rsyslog-relp)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let relp = free_tcp_port();
    let vigil = start_vigil(dir.path(), relp);

    let work = dir.path().join("rsyslog");
    std::fs::create_dir_all(&work).expect("rsyslog dir");
    let input = free_udp_port();
    // rsyslog keeps its own copy of what it received (the ground truth) and forwards it over
    // RELP, retrying forever while vigil is down, its queue holding what waits.
    let conf = format!(
        r#"global(workDirectory="{work}")
module(load="imudp")
module(load="omrelp")
input(type="imudp" address="127.0.0.1" port="{input}" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfile" file="{work}/seen.log" template="RSYSLOG_FileFormat")
  action(type="omrelp" target="127.0.0.1" port="{relp}" template="RSYSLOG_SyslogProtocol23Format"
         action.resumeRetryCount="-1" action.resumeInterval="1"
         queue.type="LinkedList" queue.size="100000")
}}
"#,
        work = work.display()
    );
    let rsyslog = start_rsyslog(&binary, &work, &conf, &[input]);

    // The stream, paced (loopback UDP into rsyslog must not overflow its socket): about 2 s.
    let sender = std::thread::spawn(move || {
        let client = UdpSocket::bind("127.0.0.1:0").expect("udp client");
        for n in 0..MESSAGES {
            // rsyslog runs in UTC and reads RFC 3164 times as its own.
            let now = chrono::Utc::now().format("%b %e %H:%M:%S");
            let msg = format!("<13>{now} relp-host app: {MARK} relp n={n}");
            client.send_to(msg.as_bytes(), ("127.0.0.1", input)).expect("send to rsyslog");
            if n % 10 == 9 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });

    // SIGKILL vigil in the middle of the stream, while rsyslog forwards; restart it a moment
    // later on the same port and data dir. rsyslog queues meanwhile and sends again what was
    // not acknowledged.
    vigil.wait_stats("RELP messages to arrive", |s| counter(s, "received") >= (MESSAGES / 4) as u64);
    vigil.kill();
    std::thread::sleep(Duration::from_millis(300));
    let vigil = start_vigil(dir.path(), relp);
    sender.join().expect("sender");

    // rsyslog's own copy: every message reached it (else the test says nothing about vigil).
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen_by_rsyslog = loop {
        let log = std::fs::read_to_string(work.join("seen.log")).unwrap_or_default();
        let lines = log.lines().filter(|l| l.contains(MARK)).count();
        if lines >= MESSAGES || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(seen_by_rsyslog, MESSAGES, "rsyslog itself lost input:\n{}", rsyslog.output());

    let stored = loop {
        let stored = stored(&vigil);
        if stored.len() >= MESSAGES || Instant::now() > deadline {
            break stored;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let missing: Vec<usize> = (0..MESSAGES).filter(|n| !stored.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {MESSAGES} messages lost, first {:?}\nvigil stats: {}\nrsyslog:\n{}",
        missing.len(),
        &missing[..missing.len().min(10)],
        vigil.stats(),
        rsyslog.output()
    );
    let twice: Vec<_> = stored.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    // Both lives took part: the kill came mid-stream.
    let stats = vigil.stats();
    let second = counter(&stats, "received");
    assert!(second > 0 && second < MESSAGES as u64, "the second life got part of the stream: {stats}");
    assert!(vigil.terminate());
}
