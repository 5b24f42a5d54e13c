//! Many idle connections against the real `vigil serve`: 2,000 of them stay open when the limit
//! allows it and cost no one else anything; over the limit, the surplus is refused and counted,
//! UDP keeps flowing, and TCP serves again once connections are freed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{MARK, Server, bsd_line, counter, errors, source, steady_source, tcp_from};

const MARKER_RULE: &str = "Ingest Test Marker";

fn start(dir: &std::path::Path, max_connections: usize) -> Server {
    let tables =
        format!("{}{}", steady_source(), source("idle-host", "So TTTT Lao Cai", "Lao Cai", &["127.0.0.1"], None));
    common::start(dir, &format!("max_connections = {max_connections}\n"), &tables)
}

fn open_idle(server: &Server, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| tcp_from("127.0.0.1", server.tcp())).collect()
}

/// Opens `n` idle connections in waves of 100 (below the listen backlog, 128, so that no SYN is
/// dropped and retried a second later), each wave accepted (or refused) before the next.
fn open_idle_in_waves(server: &Server, n: usize) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(n);
    while conns.len() < n {
        conns.extend(open_idle(server, (n - conns.len()).min(100)));
        let opened = conns.len() as u64;
        server.wait_stats(&format!("{opened} connections accepted"), |s| {
            counter(s, "connections") + errors(s, "connection_limit") == opened
        });
    }
    conns
}

/// Whether the server has closed this connection (non-blocking: no waiting).
fn is_closed(mut conn: &TcpStream) -> bool {
    conn.set_nonblocking(true).expect("non-blocking");
    let mut buf = [0u8; 16];
    let closed = match conn.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    conn.set_nonblocking(false).expect("blocking");
    closed
}

#[test]
fn two_thousand_idle_connections_stay_open_and_others_still_deliver() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), 2500);
    let mut idle = open_idle_in_waves(&server, 2000);
    assert_eq!(counter(&server.stats(), "connections"), 2000);

    // Another agency's lines flow over fresh connections and over UDP.
    server.probe_tcp();
    server.probe_udp();
    // The idle connections are alive: the first and the last still deliver.
    for (i, n) in [(0, 1), (1999, 2)] {
        let line = bsd_line("idle-host", "app", &format!("{MARK} from idle connection {n}\n"));
        idle[i].write_all(line.as_bytes()).expect("write on an idle connection");
        let a = server.wait_alert(MARKER_RULE, &format!("from idle connection {n}"));
        assert_eq!(a["agency"], "So TTTT Lao Cai", "{a}");
    }
    let stats = server.wait_stats("the probes' connections closed", |s| counter(s, "connections") == 2000);
    assert_eq!(errors(&stats, "connection_limit"), 0, "{stats}");
    assert_eq!(errors(&stats, "idle_timeout"), 0, "{stats}");
    assert!(idle.iter().all(|c| !is_closed(c)), "every idle connection is still open");

    drop(idle);
    server.wait_stats("every connection closed", |s| counter(s, "connections") == 0);
    server.probe_tcp();
}

#[test]
fn connections_over_the_limit_are_refused_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), 100);
    let mut idle = open_idle_in_waves(&server, 150);
    let stats = server.wait_stats("100 open and 50 refused", |s| {
        counter(s, "connections") == 100 && errors(s, "connection_limit") == 50
    });
    idle.retain(|c| !is_closed(c));
    assert_eq!(idle.len(), 100, "the surplus is closed by the server: {stats}");

    // At the limit, UDP still flows, and a new TCP connection is refused and counted.
    server.probe_udp();
    let mut refused = tcp_from(common::STEADY_IP, server.tcp());
    let _ =
        refused.write_all(format!("{}\n", bsd_line("steady-host", "app", &format!("{MARK} at the limit"))).as_bytes());
    let stats = server.wait_stats("a 51st connection_limit", |s| errors(s, "connection_limit") == 51);
    assert!(common::closed_by_server(&mut refused, std::time::Duration::from_secs(5)), "{stats}");

    // Held connections still deliver; once they are closed, new connections are served.
    let line = bsd_line("idle-host", "app", &format!("{MARK} from a held connection\n"));
    idle[0].write_all(line.as_bytes()).expect("write on a held connection");
    server.wait_alert(MARKER_RULE, "from a held connection");
    drop(idle);
    server.wait_stats("every connection closed", |s| counter(s, "connections") == 0);
    server.probe_tcp();
    let stats = server.stats();
    assert_eq!(errors(&stats, "connection_limit"), 51, "{stats}");
}
