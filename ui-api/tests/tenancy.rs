//! Tenant isolation, as a matrix: the real `vigil serve`, alerts from three agencies in two
//! provinces sent over TCP, tokens made by the real `vigil token` CLI while the server runs,
//! and every endpoint called by every role, with hostile queries. A caller outside a province
//! or agency gets a 403 or 404 and no byte of its data: no alert, no count, no name.

mod common;

use std::io::Write;

use common::{MARK, Server, bsd_line, source, start, tcp_from};
use serde_json::{Value, json};

/// (source name, agency, province, sender address, secret word in its messages, events)
const AGENCIES: &[(&str, &str, &str, &str, &str, usize)] = &[
    ("hn-portal", "so-tttt-hn", "HN", "127.0.0.11", "secrethnportal", 30),
    ("hn-mail", "vp-ubnd-hn", "HN", "127.0.0.12", "secrethnmail", 20),
    ("hcm-gw", "so-tttt-hcm", "HCM", "127.0.0.13", "secrethcmgw", 25),
];
const TOTAL: usize = 75;

fn setup(dir: &std::path::Path) -> Server {
    let tables: String = AGENCIES.iter().map(|(n, a, p, ip, _, _)| source(n, a, p, &[ip], None)).collect();
    let server = start(dir, "", &tables);
    for (_, _, _, ip, secret, n) in AGENCIES {
        let mut conn = tcp_from(ip, server.tcp());
        for i in 0..*n {
            let msg = format!("{MARK} {secret} Đăng nhập thất bại cho người dùng user{i} từ 10.0.0.{i}");
            conn.write_all(format!("{}\n", bsd_line("portal01", "webapp", &msg)).as_bytes()).expect("send");
        }
    }
    let deadline = std::time::Instant::now() + common::DEADLINE;
    loop {
        let (_, body) = server.get_as("/api/v1/alerts", &[("limit", "0")], &server.token);
        let total = serde_json::from_str::<Value>(&body).ok().and_then(|v| v["total"].as_u64()).unwrap_or(0);
        if total as usize == TOTAL {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{total} alerts of {TOTAL}\n{}", server.stderr());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server
}

/// A caller and what it may see.
struct Who {
    role: &'static str,
    token: String,
    /// Agencies whose data it sees (empty: no alerts at all).
    sees: Vec<&'static str>,
}

fn token(server: &Server, args: &[&str]) -> String {
    let out = server.token_cli(&[&["create"], args].concat());
    let t = out.trim().to_owned();
    assert!(t.starts_with("vigil_"), "{out}");
    t
}

fn callers(server: &Server) -> Vec<Who> {
    let all: Vec<&str> = AGENCIES.iter().map(|a| a.1).collect();
    vec![
        Who { role: "admin", token: token(server, &["--role", "admin"]), sees: all.clone() },
        Who { role: "national_analyst", token: token(server, &["--role", "national_analyst"]), sees: all },
        Who {
            role: "provincial_analyst",
            token: token(server, &["--role", "provincial_analyst", "--province", "HN"]),
            sees: vec!["so-tttt-hn", "vp-ubnd-hn"],
        },
        Who {
            role: "provincial_analyst",
            token: token(server, &["--role", "provincial_analyst", "--province", "HCM"]),
            sees: vec!["so-tttt-hcm"],
        },
        Who {
            role: "agency_viewer",
            token: token(server, &["--role", "agency_viewer", "--agency", "so-tttt-hn"]),
            sees: vec!["so-tttt-hn"],
        },
        Who { role: "rule_author", token: token(server, &["--role", "rule_author"]), sees: vec![] },
    ]
}

/// Words, names and counts that belong to agencies `who` may not see.
fn foreign(who: &Who) -> Vec<String> {
    let mut out = Vec::new();
    for (name, agency, province, _, secret, _) in AGENCIES {
        if who.sees.contains(agency) {
            continue;
        }
        out.push((*secret).to_owned());
        out.push(format!("\"{agency}\""));
        out.push(format!("\"{name}\""));
        if !AGENCIES.iter().any(|a| a.2 == *province && who.sees.contains(&a.1)) {
            out.push(format!("\"{province}\""));
        }
    }
    out
}

fn expected(who: &Who) -> usize {
    AGENCIES.iter().filter(|a| who.sees.contains(&a.1)).map(|a| a.5).sum()
}

fn assert_no_leak(who: &Who, what: &str, body: &str) {
    for word in foreign(who) {
        assert!(!body.contains(&word), "{} {what}: leaks {word}: {}", who.role, &body[..body.len().min(600)]);
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

const HOSTILE: &[&str] = &[
    ") OR province:*",
    "province:HCM",
    "province:HN OR province:HCM",
    "agency:so-tttt-hcm OR agency:vp-ubnd-hn",
    "secrethcmgw OR secrethnmail OR secrethnportal",
    "NOT province:HN",
    "* OR province:*",
    "province:/.*/",
    "agency:*",
    "time:[* TO *] OR *",
    "source:hcm-gw",
    "\\) OR (province:HCM",
    "id:* OR member:*",
];

#[test]
fn every_endpoint_for_every_role_stays_in_scope() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = setup(dir.path());
    let callers = callers(&server);

    // An alert of each agency, by the admin.
    let (_, body) = server.get_as("/api/v1/alerts", &[("limit", "1000")], &server.token);
    let all = json(&body)["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), TOTAL);
    let id_of = |agency: &str| {
        all.iter().find(|a| a["agency"] == agency).and_then(|a| a["id"].as_str()).map(str::to_owned).expect("alert")
    };

    for who in &callers {
        let reads = !who.sees.is_empty();
        let want = expected(who);
        // Search, plain and hostile.
        for q in std::iter::once("").chain(HOSTILE.iter().copied()) {
            let (status, body) = server.get_as("/api/v1/alerts", &[("q", q), ("limit", "1000")], &who.token);
            if !reads {
                assert_eq!(status, 403, "{} {q}: {body}", who.role);
                assert!(!body.contains(MARK));
                continue;
            }
            assert!(status == 200 || status == 400, "{} {q}: {status} {body}", who.role);
            assert_no_leak(who, &format!("search {q:?}"), &body);
            if status == 200 {
                let v = json(&body);
                for a in v["alerts"].as_array().into_iter().flatten() {
                    assert!(who.sees.contains(&a["agency"].as_str().unwrap_or("")), "{} {q}: {a}", who.role);
                }
                assert!(v["total"].as_u64().unwrap_or(0) as usize <= want, "{} {q}", who.role);
            }
            if q.is_empty() {
                assert_eq!(json(&body)["total"].as_u64(), Some(want as u64), "{}", who.role);
            }
        }
        // Aggregations: the counts are the scope's; no other province or agency appears.
        for q in ["", ") OR province:*", "province:HCM OR province:HN"] {
            let (status, body) = server.get_as("/api/v1/alerts/aggregations", &[("q", q), ("size", "100")], &who.token);
            if !reads {
                assert_eq!(status, 403, "{}", who.role);
                continue;
            }
            assert!(status == 200 || status == 400, "{} {q}: {body}", who.role);
            assert_no_leak(who, &format!("aggregations {q:?}"), &body);
            if q.is_empty() {
                let v = json(&body);
                assert_eq!(v["total"].as_u64(), Some(want as u64), "{}", who.role);
                let agencies: u64 = v["facets"]["agency"]["buckets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["count"].as_u64())
                    .sum();
                assert_eq!(agencies, want as u64, "{}: {v}", who.role);
                let histogram: u64 = v["histogram"]["buckets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|b| b["count"].as_u64())
                    .sum();
                assert_eq!(histogram, want as u64, "{}", who.role);
            }
        }
        // Export, both formats, plain and hostile.
        for (format, q) in [("ndjson", ""), ("csv", ""), ("ndjson", "province:HCM OR *")] {
            let (status, body) = server.get_as("/api/v1/alerts/export", &[("format", format), ("q", q)], &who.token);
            if !reads {
                assert_eq!(status, 403, "{}", who.role);
                continue;
            }
            assert!(status == 200 || status == 400, "{} export {q}: {body}", who.role);
            assert_no_leak(who, &format!("export {format} {q:?}"), &body);
            if q.is_empty() {
                let rows = body.lines().count() - usize::from(format == "csv");
                assert_eq!(rows, want, "{} export {format}", who.role);
            }
        }
        // Detail and triage of each agency's alert.
        for (_, agency, _, _, secret, _) in AGENCIES {
            let id = id_of(agency);
            let (status, body) = server.get_as(&format!("/api/v1/alerts/{id}"), &[], &who.token);
            let (t_status, t_body) =
                server.post_as(&format!("/api/v1/alerts/{id}/triage"), &json!({"note": "seen"}), &who.token);
            match (reads, who.sees.contains(agency)) {
                (false, _) => {
                    assert_eq!((status, t_status), (403, 403), "{} {agency}", who.role);
                }
                (true, false) => {
                    // Not the caller's: as if it did not exist (a viewer may not triage at all).
                    let t_want = if who.role == "agency_viewer" { 403 } else { 404 };
                    assert_eq!((status, t_status), (404, t_want), "{} {agency}: {body} {t_body}", who.role);
                }
                (true, true) => {
                    assert_eq!(status, 200, "{} {agency}: {body}", who.role);
                    assert!(body.contains(secret));
                    let may_triage = who.role != "agency_viewer";
                    assert_eq!(t_status, if may_triage { 200 } else { 403 }, "{} {agency}: {t_body}", who.role);
                }
            }
            assert_no_leak(who, "detail", &body);
            assert_no_leak(who, "triage", &t_body);
        }
        // Sources.
        let (status, body) = server.get_as("/api/v1/sources", &[], &who.token);
        if reads {
            assert_eq!(status, 200, "{}", who.role);
            assert_no_leak(who, "sources", &body);
            let names: Vec<String> = json(&body)["sources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["agency"].as_str().map(str::to_owned))
                .collect();
            for agency in who.sees.iter() {
                assert!(names.iter().any(|n| n == agency), "{} sources lack {agency}: {body}", who.role);
            }
        } else {
            assert_eq!(status, 403, "{}", who.role);
        }
        // Rules: everyone but the viewer reads them; the counts are the scope's.
        let (status, body) = server.get_as("/api/v1/rules", &[], &who.token);
        if who.role == "agency_viewer" {
            assert_eq!(status, 403);
        } else {
            assert_eq!(status, 200, "{}", who.role);
            let v = json(&body);
            let marker = v["rules"].as_array().into_iter().flatten().find(|r| r["title"] == "Ingest Test Marker");
            let marker = marker.expect("marker rule listed");
            if reads {
                assert_eq!(marker["alerts"].as_u64(), Some(want as u64), "{}", who.role);
            } else {
                assert!(marker.get("alerts").is_none(), "a rule author sees no alert counts");
            }
        }
        // Every province's counters: national and admin only.
        for path in ["/api/v1/stats", "/metrics"] {
            let (status, _) = server.get_as(path, &[], &who.token);
            let national = matches!(who.role, "admin" | "national_analyst");
            assert_eq!(status, if national { 200 } else { 403 }, "{} {path}", who.role);
        }
        // Reload: rule authors and the admin.
        let (status, _) = server.post_as("/api/v1/rules/reload", &json!({}), &who.token);
        let may = matches!(who.role, "admin" | "rule_author");
        assert_eq!(status, if may { 200 } else { 403 }, "{} reload", who.role);
    }
}

#[test]
fn hostile_queries_neither_widen_scope_nor_hurt_the_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = setup(dir.path());
    let hn = token(&server, &["--role", "provincial_analyst", "--province", "HN"]);
    let deep = format!("{}x{}", "(".repeat(3_000), ")".repeat(3_000));
    let long = "a ".repeat(3_000);
    let nasty = [
        deep.as_str(),
        long.as_str(),
        "time:[1000-01-01T00:00:00Z TO 9999-12-31T00:00:00Z]",
        "message:/(a|aa)*b{1000}/",
        "message:/((((a*)*)*)*)*c/",
        "message:/.{0,1000}.{0,1000}.{0,1000}/",
        "*a*b*c*d*e*f*",
        "src_ip:[0.0.0.0 TO 255.255.255.255]",
        "\"unterminated",
        "a:b:c:d",
        "province:",
        "((((",
        "))))",
    ];
    for q in nasty {
        let started = std::time::Instant::now();
        let (status, body) = server.get_as("/api/v1/alerts", &[("q", q)], &hn);
        assert!(status == 200 || status == 400, "{}: {status} {body}", &q[..q.len().min(60)]);
        assert!(!body.contains("secrethcmgw") && !body.contains("\"HCM\""), "{body}");
        if status == 400 {
            assert!(json(&body)["error"].as_str().is_some_and(|e| e.starts_with("invalid query")), "{body}");
        }
        // Not a timing test: a bound far above any honest answer, to catch a hang.
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{q:.60} took {:?}", started.elapsed());
    }
    // A syntax error says where.
    let (status, body) = server.get_as("/api/v1/alerts", &[("q", "portal AND \"unterminated")], &hn);
    assert_eq!(status, 400);
    assert_eq!(json(&body)["position"].as_u64(), Some(24), "{body}");
    // Still answering, and still scoped.
    let (status, body) = server.get_as("/api/v1/alerts", &[("limit", "0")], &hn);
    assert_eq!((status, json(&body)["total"].as_u64()), (200, Some(50)));
}

#[test]
fn tokens_are_revoked_at_once_and_every_call_is_audited() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = setup(dir.path());
    let hn = token(&server, &["--role", "provincial_analyst", "--province", "HN", "--name", "Lan (HN SOC)"]);
    let (status, body) = server.get_as("/api/v1/alerts", &[("q", "dang nhap that bai"), ("limit", "7")], &hn);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["alerts"].as_array().map(Vec::len), Some(7));
    assert_eq!(json(&body)["total"].as_u64(), Some(50), "Vietnamese found without its diacritics");
    // Cursor pages over HTTP: 50 alerts, 7 a page, none twice, in order.
    let (mut seen, mut cursor, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let (status, body) =
            server.get_as("/api/v1/alerts", &[("limit", "7"), ("sort", "oldest"), ("cursor", &cursor)], &hn);
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        seen.extend(v["alerts"].as_array().into_iter().flatten().map(|a| (a["time"].to_string(), a["id"].to_string())));
        pages += 1;
        match v["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!((seen.len(), pages), (50, 8));
    assert_eq!(seen.iter().collect::<std::collections::BTreeSet<_>>().len(), 50);
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "oldest first");
    let (status, body) = server.get_as("/api/v1/alerts", &[("cursor", "not-a-cursor")], &hn);
    assert_eq!(status, 400, "{body}");
    let id = hn.split('_').nth(1).expect("token id").to_owned();
    // The list shows the token, never a secret or its hash.
    let list = server.token_cli(&["list"]);
    assert!(list.contains(&id) && list.contains("province HN") && list.contains("Lan (HN SOC)"), "{list}");
    assert!(!list.contains(&hn[15..]));
    let listed = server.token_cli(&["list", "--json"]);
    assert!(!listed.contains("hash"), "{listed}");
    // Revoked while the server runs: refused at the next request.
    assert!(server.token_cli(&["revoke", &id]).contains("revoked"));
    let (status, _) = server.get_as("/api/v1/alerts", &[], &hn);
    assert_eq!(status, 401);
    let (status, _) = server.get_as("/api/v1/alerts", &[], "vigil_00000000_nothing");
    assert_eq!(status, 401);

    let audit = std::fs::read_to_string(server.data_dir.join("audit.log")).expect("audit log");
    let lines: Vec<Value> = audit.lines().map(json).collect();
    let search = lines
        .iter()
        .find(|l| l["token"] == id.as_str() && l["status"] == 200 && l["path"] == "/api/v1/alerts")
        .unwrap_or_else(|| panic!("no audited search in {audit}"));
    assert_eq!(search["role"], "provincial_analyst");
    assert_eq!(search["name"], "Lan (HN SOC)");
    assert_eq!(search["results"], 7);
    assert!(search["query"].as_str().is_some_and(|q| q.contains("dang+nhap") || q.contains("dang%20nhap")), "{search}");
    assert!(search["time"].is_string() && search["ms"].is_number());
    // After the revocation: refused, and recorded as nobody.
    let refused: Vec<&Value> = lines.iter().filter(|l| l["status"] == 401).collect();
    assert_eq!(refused.len(), 2, "{audit}");
    assert!(refused.iter().all(|l| l["token"].is_null()));
}

#[test]
fn triage_is_kept_with_its_history_and_is_searchable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = setup(dir.path());
    let hn = token(&server, &["--role", "provincial_analyst", "--province", "HN", "--name", "Lan"]);
    let hcm = token(&server, &["--role", "provincial_analyst", "--province", "HCM"]);
    let (_, body) = server.get_as("/api/v1/alerts", &[("q", "secrethnportal"), ("limit", "1")], &hn);
    let id = json(&body)["alerts"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(json(&body)["alerts"][0]["triage"]["status"], "new");
    let path = format!("/api/v1/alerts/{id}/triage");
    for (change, status) in [
        (json!({"status": "in_progress", "assignee": "lan"}), 200),
        (json!({"note": "Đã kiểm tra máy chủ: mật khẩu bị dò"}), 200),
        (json!({}), 400),
        (json!({"status": "closed"}), 400),
        (json!({"status": "closed_true_positive", "assignee": null}), 200),
    ] {
        let (s, body) = server.post_as(&path, &change, &hn);
        assert_eq!(s, status, "{change}: {body}");
    }
    let (_, body) = server.get_as(&format!("/api/v1/alerts/{id}"), &[], &hn);
    let v = json(&body);
    assert_eq!(v["triage"]["status"], "closed_true_positive");
    assert!(v["triage"]["assignee"].is_null());
    let token_id = hn.split('_').nth(1).expect("token id");
    assert_eq!(v["triage"]["notes"][0]["author"], format!("Lan ({token_id})"), "the name and which token");
    assert_eq!(v["history"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["history"][0]["status"], json!(["new", "in_progress"]));
    assert_eq!(v["events"][0]["raw"].as_str().map(|r| r.contains("secrethnportal")), Some(true));
    // The index has it once the store commits: searchable and counted, in scope only.
    let deadline = std::time::Instant::now() + common::DEADLINE;
    loop {
        let (_, body) = server.get_as("/api/v1/alerts", &[("q", "status:closed_true_positive")], &hn);
        if json(&body)["total"] == 1 {
            assert_eq!(json(&body)["alerts"][0]["triage"]["status"], "closed_true_positive");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "triage not searchable: {body}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (_, body) = server.get_as("/api/v1/alerts/aggregations", &[("facets", "status")], &hn);
    let buckets = json(&body)["facets"]["status"]["buckets"].clone();
    assert!(
        buckets.as_array().is_some_and(|b| b.iter().any(|b| b["key"] == "closed_true_positive" && b["count"] == 1))
    );
    let (_, body) = server.get_as("/api/v1/alerts", &[("q", "status:closed_true_positive")], &hcm);
    assert_eq!(json(&body)["total"], 0);
    // The total stays: the alert was replaced, not added again.
    let (_, body) = server.get_as("/api/v1/alerts", &[("limit", "0")], &hn);
    assert_eq!(json(&body)["total"], 50);
    // Kept across a restart, in the store and in the index; the token too.
    assert!(server.terminate(), "clean shutdown");
    let tables: String = AGENCIES.iter().map(|(n, a, p, ip, _, _)| source(n, a, p, &[ip], None)).collect();
    let server = start(dir.path(), "", &tables);
    let (_, body) = server.get_as("/api/v1/alerts", &[("q", "status:closed_true_positive")], &hn);
    assert_eq!(json(&body)["total"], 1, "{body}");
    let (_, body) = server.get_as(&format!("/api/v1/alerts/{id}"), &[], &hn);
    assert_eq!(json(&body)["history"].as_array().map(Vec::len), Some(3));
}
