//! Backpressure: with small queues, a TCP sender faster than matching is slowed (not read) and
//! loses nothing; a UDP flood is dropped and counted, per source.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

/// Small queues: 64 messages between the listeners and the log, a few batches of 16 after it.
fn tables() -> String {
    format!("[pipeline]\nbatch_size = 16\nqueue_capacity = 64\n{}", steady_source())
}

#[test]
fn a_fast_tcp_sender_is_slowed_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "udp = \"\"\ntls = \"\"\nrelp = \"\"\n", &tables());
    const N: usize = 60_000;
    let addr = server.tcp();
    let sender = std::thread::spawn(move || {
        let mut conn = std::net::TcpStream::connect(addr).expect("connect");
        let mut buf = Vec::new();
        for i in 0..N {
            buf.extend_from_slice(&octet_counted(format!("<13>Nov 30 10:00:00 h app: {MARK} bp n={i}").as_bytes()));
            if buf.len() > 64 * 1024 {
                conn.write_all(&buf).expect("send");
                buf.clear();
            }
        }
        conn.write_all(&buf).expect("send");
    });
    // The queues fill and the rest waits in the sockets' buffers: a backlog is seen on the way.
    let mut saw_backlog = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = server.stats();
        saw_backlog |= counter(&s, "received") > counter(&s, "processed") + 64
            || (counter(&s, "received") < N as u64 && sender.is_finished());
        if counter(&s, "processed") >= N as u64 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    sender.join().expect("sender");
    let stats = server.wait_stats("every event processed", |s| counter(s, "processed") >= N as u64);
    assert_eq!(counter(&stats, "received"), N as u64, "{stats}");
    assert_eq!(counter(&stats, "processed"), N as u64, "{stats}");
    assert!(stats["errors"].as_object().is_some_and(|e| e.is_empty()), "no drops, no errors: {stats}");
    assert!(saw_backlog, "the sender outran matching at some point (else this test shows nothing)");
}

#[test]
fn a_udp_flood_is_dropped_and_counted_per_source() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), "tcp = \"\"\ntls = \"\"\nrelp = \"\"\n", &tables());
    let udp = udp_from(STEADY_IP);
    for i in 0..50_000 {
        let _ = udp.send_to(format!("<13>Nov 30 10:00:00 h app: {MARK} flood n={i}").as_bytes(), server.udp());
    }
    let stats = server.wait_stats("the flood to settle", |s| {
        counter(s, "processed") + errors(s, "udp_queue_full") >= counter(s, "received") && counter(s, "received") > 0
    });
    let dropped = errors(&stats, "udp_queue_full");
    assert!(dropped > 0, "small queues drop part of a flood: {stats}");
    let (_, body) = server.get("/api/v1/sources");
    let steady = body["sources"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "steady").cloned());
    let steady = steady.unwrap_or_else(|| panic!("{body}"));
    assert_eq!(steady["dropped"].as_u64(), Some(dropped), "drops counted against the source that sent them: {steady}");
    assert_eq!(steady["events"].as_u64(), Some(counter(&stats, "processed")), "{steady}");
}
