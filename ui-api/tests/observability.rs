//! Observability of the running engine: `GET /metrics` (Prometheus text), `GET /api/v1/sources`
//! with per-source counts and health, the internal "Log Source Silent" alert, and JSON logs.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const MARKER_ID: &str = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";

fn config() -> String {
    format!(
        "[syslog]\nudp = \"127.0.0.1:0\"\ntcp = \"127.0.0.1:0\"\ntls = \"\"\nrelp = \"\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n[store]\ncommit_interval_ms = 100\n\
         [health]\nmin_silence = \"1s\"\ncheck_interval_secs = 1\n{}expect_every = \"3s\"\n",
        steady_source()
    )
}

/// `GET /metrics` as text, with the admin token (or `token`).
fn metrics(server: &Server, token: Option<&str>) -> (u16, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent
        .get(format!("http://{}/metrics", server.http))
        .header("Authorization", format!("Bearer {}", token.unwrap_or(&server.token)))
        .call()
        .expect("GET /metrics");
    let status = resp.status().as_u16();
    let kind = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, kind, resp.body_mut().read_to_string().expect("body"))
}

/// The value of the sample `name{labels}` whose labels include every `want`.
fn sample(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, labels) = series.split_once('{').map_or((series, ""), |(n, l)| (n, l));
        (n == name && want.iter().all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")))).then(|| value.parse().ok())?
    })
}

#[test]
fn metrics_sources_and_a_silent_source_alert() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start_full(dir.path(), &config(), &["--log-format", "json"], "info");

    // Five marked events from the steady source, one bad frame from elsewhere.
    let mut conn = tcp_from(STEADY_IP, server.tcp());
    for i in 0..5 {
        conn.write_all(format!("<13>Nov 30 10:00:0{i} web01 app: {MARK} n={i}\n").as_bytes()).expect("send");
    }
    drop(conn);
    let udp = udp_from("127.0.0.1");
    udp.send_to(b"", server.udp()).expect("send empty datagram");
    server.wait_stats("the events", |s| counter(s, "processed") >= 5 && counter(s, "alerts_stored") >= 5);

    // Sources: the configured one is active with its counts; its rate and expectation show.
    let (status, body) = server.get("/api/v1/sources");
    assert_eq!(status, 200, "{body}");
    let steady = body["sources"].as_array().expect("sources").iter().find(|s| s["name"] == "steady").cloned();
    let steady = steady.unwrap_or_else(|| panic!("steady listed: {body}"));
    assert_eq!(steady["state"], "active", "{steady}");
    assert_eq!(steady["events"], 5, "{steady}");
    assert!(steady["bytes"].as_u64().is_some_and(|b| b > 100), "{steady}");
    assert_eq!(
        (steady["province"].as_str(), steady["expectation"].as_str()),
        (Some(STEADY_PROVINCE), Some("configured"))
    );
    assert_eq!(steady["expected_within_secs"], 3, "{steady}");
    assert!(steady["last_received"].is_string(), "{steady}");

    // Metrics: the Prometheus text format, behind the token.
    assert_eq!(metrics(&server, Some("wrong")).0, 401);
    let (status, kind, text) = metrics(&server, None);
    assert_eq!(status, 200, "{text}");
    assert!(kind.starts_with("text/plain"), "{kind}");
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let value = line.rsplit_once(' ').map(|(_, v)| v).unwrap_or("");
        assert!(value.parse::<f64>().is_ok(), "not a sample line: {line:?}");
    }
    let events = sample(&text, "vigil_source_events_total", &[("source", "steady"), ("province", STEADY_PROVINCE)]);
    assert_eq!(events, Some(5.0), "{text}");
    assert_eq!(sample(&text, "vigil_rule_hits_total", &[("rule_id", MARKER_ID)]), Some(5.0), "{text}");
    assert!(sample(&text, "vigil_errors_total", &[("reason", "empty")]).is_some_and(|n| n >= 1.0), "{text}");
    assert!(sample(&text, "vigil_wal_bytes", &[]).is_some_and(|b| b > 0.0), "{text}");
    assert_eq!(sample(&text, "vigil_wal_unprocessed", &[]), Some(0.0), "{text}");
    let latencies = sample(&text, "vigil_alert_latency_seconds_count", &[]);
    assert!(latencies.is_some_and(|n| n >= 5.0), "{text}");
    assert!(sample(&text, "vigil_batch_duration_seconds_bucket", &[("le", "+Inf")]).is_some(), "{text}");
    assert!(sample(&text, "vigil_index_commit_duration_seconds_count", &[]).is_some_and(|n| n >= 1.0), "{text}");
    assert!(sample(&text, "vigil_queue_depth", &[("queue", "detect")]).is_some(), "{text}");
    assert!(sample(&text, "vigil_correlation_keys", &[]).is_some(), "{text}");

    // Quiet past its 3 s: silent, and an internal alert in its province, searchable.
    let alert = server.wait_alert("Log Source Silent", "steady");
    assert_eq!(alert["province"], STEADY_PROVINCE, "{alert}");
    assert_eq!(alert["agency"], STEADY_AGENCY, "{alert}");
    assert_eq!(alert["fields"]["source"], "steady", "{alert}");
    let (_, body) = server.get("/api/v1/sources");
    let state = body["sources"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "steady").cloned());
    assert_eq!(state.map(|s| s["state"].clone()), Some(Value::from("silent")), "{body}");
    let (_, text) = (0, metrics(&server, None).2);
    assert_eq!(sample(&text, "vigil_source_silent", &[("source", "steady")]), Some(1.0), "{text}");
    // One alert per silence.
    std::thread::sleep(Duration::from_millis(2500));
    let silent = server.alerts().iter().filter(|a| a["rule"]["title"] == "Log Source Silent").count();
    assert_eq!(silent, 1);

    // It speaks again: active.
    let mut conn = tcp_from(STEADY_IP, server.tcp());
    conn.write_all(format!("<13>Nov 30 10:01:00 web01 app: {MARK} back\n").as_bytes()).expect("send");
    drop(conn);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (_, body) = server.get("/api/v1/sources");
        let s = body["sources"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "steady").cloned());
        if s.is_some_and(|s| s["state"] == "active" && s["events"] == 6) {
            break;
        }
        assert!(Instant::now() < deadline, "not active again: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The log on stderr is one JSON object per line.
    assert!(server.terminate());
    let log = std::fs::read_to_string(dir.path().join("vigil.stderr")).expect("stderr");
    let json_lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    assert!(!json_lines.is_empty(), "no JSON log lines:\n{log}");
    assert!(json_lines.iter().all(|l| l["level"].is_string() && l["fields"].is_object()), "{log}");
    assert!(
        json_lines.iter().any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains("detection drained"))),
        "{log}"
    );
}
