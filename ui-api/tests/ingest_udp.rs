//! UDP bursts against the real `vigil serve`: every datagram sent is either received or counted
//! as lost (kernel drops on the socket, a full queue), so no loss is silent. Once with the
//! default buffers, once with a tiny receive buffer and queue, where losses are likely.

mod common;

use common::{Server, counter, errors, steady_source};
use serde_json::Value;

/// Sends `n` small datagrams from the steady source as fast as the socket takes them.
fn burst(server: &Server, n: u64) {
    let socket = common::udp_from(common::STEADY_IP);
    for i in 0..n {
        let line = format!("<14>Nov 23 10:00:00 steady-host burst[1]: datagram {i} of a burst");
        socket.send_to(line.as_bytes(), server.udp()).expect("send datagram");
    }
}

/// Waits until every datagram is accounted for, and checks the books balance.
fn check_accounted(server: &Server, sent: u64) -> Value {
    let stats = server.wait_stats(&format!("{sent} datagrams received or counted as dropped"), |s| {
        counter(s, "received") + counter(s, "udp_kernel_drops") >= sent
            && counter(s, "processed") + errors(s, "udp_queue_full") >= counter(s, "received")
    });
    let (received, drops) = (counter(&stats, "received"), counter(&stats, "udp_kernel_drops"));
    assert_eq!(received + drops, sent, "received + udp_kernel_drops = sent: {stats}");
    assert_eq!(
        counter(&stats, "processed") + errors(&stats, "udp_queue_full"),
        received,
        "processed + udp_queue_full = received: {stats}"
    );
    stats
}

#[test]
fn a_udp_burst_is_received_or_counted_as_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "", &steady_source());
    burst(&server, 5000);
    check_accounted(&server, 5000);
    // Still serving afterwards.
    server.probe_udp();
}

#[test]
fn with_tiny_buffers_udp_losses_are_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!("[pipeline]\nqueue_capacity = 1\nbatch_size = 1\n{}", steady_source());
    let server = common::start(dir.path(), "udp_recv_buffer_bytes = 4096\n", &config);
    burst(&server, 20_000);
    let stats = check_accounted(&server, 20_000);
    eprintln!(
        "tiny buffers: {} received, {} kernel drops, {} queue full",
        counter(&stats, "received"),
        counter(&stats, "udp_kernel_drops"),
        errors(&stats, "udp_queue_full")
    );
    server.probe_udp();
}

#[test]
fn every_datagram_received_is_processed_or_counted() {
    // Blank datagrams carry nothing, but the books must still balance: what is received is
    // either an event or counted under a reason.
    let dir = tempfile::tempdir().expect("temp dir");
    let server = common::start(dir.path(), "", &steady_source());
    let socket = common::udp_from(common::STEADY_IP);
    for datagram in [&b"   "[..], b"\t\n", b"\r\n", b"<14>Nov 23 10:00:00 steady-host app: not blank"] {
        socket.send_to(datagram, server.udp()).expect("send datagram");
    }
    server.wait_stats("four datagrams received", |s| counter(s, "received") >= 4);
    let stats = server.wait_stats("the not-blank datagram processed", |s| counter(s, "processed") >= 1);
    let counted: u64 = stats["errors"].as_object().map_or(0, |e| e.values().filter_map(Value::as_u64).sum());
    assert_eq!(
        counter(&stats, "processed") + counted,
        counter(&stats, "received"),
        "ENGINE GAP: blank messages are received but neither processed nor counted: {stats}"
    );
}
