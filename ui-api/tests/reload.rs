//! Rule reload under load: a valid new set is swapped in between two batches (no event
//! matched by both sets or by neither), an invalid one is refused and the rules in force stay,
//! and SIGHUP reloads as the API does.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;

const ALPHA: &str = "6c1f3e2a-0b4d-4e8f-9a7c-5d2b1e0f3a41";
const BETA: &str = "7d2a4f3b-1c5e-4f90-8b8d-6e3c2f1a4b52";

fn rule(id: &str, title: &str, word: &str) -> String {
    format!(
        "title: {title}\nid: {id}\nstatus: test\nlogsource: {{}}\ndetection:\n  selection:\n    message|contains: '{word}'\n  condition: selection\nlevel: low\n"
    )
}

const EVENTS: usize = 6000;

/// Event `i`, 1 ms after event `i - 1`: carries both words.
fn event(i: usize) -> Vec<u8> {
    octet_counted(format!("<13>1 {} app7 reload - - - alpha beta n={i}", time(i)).as_bytes())
}

fn time(i: usize) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-30T02:00:00Z").expect("time")
        + chrono::Duration::milliseconds(i as i64);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn count(server: &Server, rule: &str, range: &str) -> u64 {
    let (status, body) = server.get(&format!("/api/v1/alerts?q=rule_id:{rule}&limit=0{range}"));
    assert_eq!(status, 200, "{body}");
    body["total"].as_u64().expect("total")
}

#[test]
fn reload_under_load_swaps_between_batches_and_refuses_a_broken_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("test-rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(rules.join("alpha.yml"), rule(ALPHA, "Alpha Word", "alpha")).expect("write");
    let server = start(dir.path(), "udp = \"\"\ntls = \"\"\n", "");

    let addr = server.tcp();
    let sender = std::thread::spawn(move || {
        let mut conn = std::net::TcpStream::connect(addr).expect("connect");
        for i in 0..EVENTS {
            conn.write_all(&event(i)).expect("send");
            if i % 20 == 19 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });

    // A valid set, mid-stream: beta is added.
    server.wait_stats("a third of the stream", |s| counter(s, "received") >= (EVENTS / 3) as u64);
    std::fs::write(rules.join("beta.yml"), rule(BETA, "Beta Word", "beta")).expect("write");
    let (status, report) = server.post("/api/v1/rules/reload", None);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["reloaded"], true, "{report}");
    assert_eq!(report["added"].as_array().map(|a| a.len()), Some(1), "{report}");
    assert_eq!(report["added"][0]["id"], BETA, "{report}");
    assert!(report["removed"].as_array().is_some_and(|a| a.is_empty()), "{report}");
    assert!(report["changed"].as_array().is_some_and(|a| a.is_empty()), "{report}");
    let rules_after = report["rules"].as_u64().expect("rules");
    // The last event matched by alpha alone (log positions count events here: nothing else
    // was appended).
    let position = report["position"].as_u64().expect("position") as usize;
    assert!(position > 0 && position < EVENTS, "swapped mid-stream: {report}");

    // A broken set, mid-stream: refused, with the problem; the rules in force stay.
    server.wait_stats("two thirds of the stream", |s| counter(s, "received") >= (2 * EVENTS / 3) as u64);
    std::fs::write(rules.join("broken.yml"), "title: Broken\ndetection: [unclosed\n").expect("write");
    let (status, refused) = server.post("/api/v1/rules/reload", None);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["reloaded"], false, "{refused}");
    assert!(refused["error"].as_str().is_some_and(|e| !e.is_empty()), "{refused}");
    let problems = refused["new_problems"].as_array().expect("new_problems");
    assert!(problems.iter().any(|p| p["origin"].as_str().is_some_and(|o| o.ends_with("broken.yml"))), "{refused}");
    assert_eq!(refused["rules"].as_u64(), Some(rules_after), "{refused}");
    // The token is needed.
    assert_eq!(server.post("/api/v1/rules/reload", Some("wrong")).0, 401);

    sender.join().expect("sender");
    let stats = server.wait_idle();
    assert_eq!(counter(&stats, "processed"), EVENTS as u64);
    // Every event matched by alpha once; by beta exactly from the swap on; none twice.
    assert_eq!(count(&server, ALPHA, ""), EVENTS as u64);
    let beta = (EVENTS - position) as u64;
    assert_eq!(count(&server, BETA, ""), beta);
    assert_eq!(count(&server, BETA, &format!("&to={}", time(position - 1))), 0, "no beta before the swap");
    assert_eq!(count(&server, BETA, &format!("&from={}", time(position))), beta);
    assert_eq!(counter(&stats, "alerts"), EVENTS as u64 + beta, "alerts raised: none twice");

    // SIGHUP reloads too: beta's title changes.
    std::fs::remove_file(rules.join("broken.yml")).expect("remove");
    std::fs::write(rules.join("beta.yml"), rule(BETA, "Beta Word Renamed", "beta")).expect("write");
    server.hangup();
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let (_, body) = server.get("/api/v1/rules");
        let titles: Vec<&str> =
            body["rules"].as_array().expect("rules").iter().filter_map(|r| r["title"].as_str()).collect();
        if titles.contains(&"Beta Word Renamed") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "SIGHUP did not reload: {titles:?}\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.terminate(), "still running after SIGHUP, and stops cleanly");
}
