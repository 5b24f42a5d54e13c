//! Alert search on a real tantivy index in a temp dir: Vietnamese text, entities, the query
//! language's errors and limits, scope, cursor pages, facets and the time histogram.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use vigil_engine::{AggQuery, Alert, AlertQuery, AlertStore, Facet, Scope, SortOrder, StoreError};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T02:00:00Z").map(|d| d.to_utc()).unwrap_or_default()
}

/// An alert of `rule` at `t0 + secs`, in `province`/`agency`, with these fields.
fn alert(n: u32, rule: &str, secs: i64, province: &str, agency: &str, fields: &[(&str, &str)]) -> Alert {
    let mut a = Alert::of_fields(format!("{n:032x}"), rule, t0() + Duration::seconds(secs), Default::default());
    a.rule.title = format!("Rule {rule}");
    a.rule.level = if n.is_multiple_of(3) { "high" } else { "medium" }.to_owned();
    a.rule.tags = vec!["attack.credential-access".into(), "attack.t1110.001".into()];
    a.province = Some(province.to_owned());
    a.agency = Some(agency.to_owned());
    a.host = Some(format!("HOST{}", n % 4));
    for (k, v) in fields {
        a.fields.insert((*k).to_owned().into(), (*v).into());
    }
    a.raw = fields.iter().find(|(k, _)| *k == "message").map(|(_, v)| (*v).to_owned()).unwrap_or_default();
    a
}

fn store() -> (AlertStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = AlertStore::open(dir.path(), 20_000_000).expect("open");
    (store, dir)
}

fn search(store: &AlertStore, q: &str, scope: Scope) -> Result<Vec<String>, StoreError> {
    let r = store.search(&AlertQuery { q: q.into(), limit: 1000, scope, ..Default::default() })?;
    assert_eq!(r.total, r.alerts.len(), "{q}");
    Ok(r.alerts.into_iter().map(|a| a.id).collect())
}

fn ids(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|n| format!("{n:032x}")).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn vietnamese_text_is_found_with_and_without_diacritics() {
    let (store, _dir) = store();
    let lines = [
        "Đăng nhập thất bại cho người dùng nguyenvana từ 203.0.113.9",
        "Đăng nhập thành công: tài khoản quản trị admin",
        "Truy cập bị từ chối tới cổng dịch vụ công trực tuyến",
        // The same words decomposed (NFD), as some systems send them.
        "Đa\u{306}ng nha\u{323}\u{302}p tha\u{302}\u{301}t ba\u{323}i: mật khẩu sai",
        "Cổng một cửa điện tử: yêu cầu hồ sơ thành công",
    ];
    let alerts: Vec<Alert> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| alert(i as u32, "vn", i as i64, "HN", "sotttt", &[("message", l)]))
        .collect();
    store.add(&alerts).expect("add");
    store.commit().expect("commit");
    let cases: &[(&str, &[u32])] = &[
        ("dang nhap that bai", &[0, 3]),
        ("Đăng nhập thất bại", &[0, 3]),
        ("\"dang nhap that bai\"", &[0, 3]),
        ("\"Đăng nhập thành công\"", &[1]),
        ("\"dang nhap thanh cong\"", &[1]),
        ("dang nhap", &[0, 1, 3]),
        ("thanh cong", &[1, 4]),
        ("\"thanh cong dang\"", &[]),
        ("cong mot cua", &[4]),
        ("message:tu AND message:choi", &[2]),
        ("nguoi dung nguyenvana", &[0]),
        ("mat khau", &[3]),
        ("203.0.113.9", &[0]),
        ("dich vu cong -truy", &[]),
        ("quản OR hồ", &[1, 4]),
        ("Đăng*", &[0, 1, 3]),
    ];
    for (q, want) in cases {
        assert_eq!(sorted(search(&store, q, Scope::All).expect(q)), ids(want), "{q}");
    }
}

#[test]
fn entities_tactics_and_keywords_are_fields_of_their_own() {
    let (store, _dir) = store();
    let alerts = vec![
        alert(
            1,
            "proc",
            1,
            "HN",
            "a1",
            &[
                ("Image", "C:\\Windows\\System32\\cmd.exe"),
                ("CommandLine", "cmd.exe /c whoami /all"),
                ("TargetUserName", "Administrator"),
                ("IpAddress", "::ffff:10.20.30.40"),
                ("Hashes", "SHA1=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,MD5=0123456789ABCDEF0123456789ABCDEF"),
            ],
        ),
        alert(
            2,
            "ssh",
            2,
            "HN",
            "a1",
            &[("message", "Failed password for root"), ("user", "root"), ("src_ip", "203.0.113.9")],
        ),
        alert(3, "web", 3, "HCM", "a2", &[("url", "/login.php?id=1"), ("c-ip", "10.20.31.1")]),
    ];
    store.add(&alerts).expect("add");
    store.commit().expect("commit");
    let cases: &[(&str, &[u32])] = &[
        ("user:administrator", &[1]),
        ("user:ADMINISTRATOR", &[1]),
        ("user:root", &[2]),
        ("src_ip:10.20.30.40", &[1]),
        ("src_ip:[10.20.0.0 TO 10.20.255.255]", &[1, 3]),
        ("process:*\\\\cmd.exe", &[1]),
        ("command_line:whoami", &[1]),
        ("hash:0123456789abcdef0123456789abcdef", &[1]),
        ("url:*login*", &[3]),
        ("technique:t1110", &[1, 2, 3]),
        ("technique:T1110.001 AND tactic:credential-access", &[1, 2, 3]),
        ("host:host1", &[1]),
        ("level:high", &[3]),
        ("rule_id:ssh", &[2]),
        ("province:HCM", &[3]),
        ("kind:rule", &[1, 2, 3]),
        ("status:new", &[1, 2, 3]),
        ("failed", &[2]),
        ("user:adm?nistrator", &[1]),
        ("rule_title:/rule p.*/", &[]),
        ("rule_title:/pro.*/", &[1]),
        ("id:00000000000000000000000000000002", &[2]),
        ("id:00000000000000000000000000000002 OR id:00000000000000000000000000000003", &[2, 3]),
    ];
    for (q, want) in cases {
        assert_eq!(sorted(search(&store, q, Scope::All).expect(q)), ids(want), "{q}");
    }
}

#[test]
fn bad_queries_are_errors_with_a_position_and_hostile_ones_stay_in_scope() {
    let (store, _dir) = store();
    let alerts: Vec<Alert> = (0..20)
        .map(|n| {
            let (p, a) = if n % 2 == 0 { ("HN", "hn-agency") } else { ("HCM", "hcm-agency") };
            alert(n, "r", n as i64, p, a, &[("message", "secret report")])
        })
        .collect();
    store.add(&alerts).expect("add");
    store.commit().expect("commit");
    for (q, position) in [
        ("\"unterminated", Some(13)),
        ("nosuchfield:x", Some(0)),
        ("a AND nosuchfield:x", Some(6)),
        ("src_ip:notanip", None),
        ("time:[yesterday TO now]", None),
        ("/regex without field/", None),
        ("rule_title:/(a+)+[/", None),
    ] {
        match store.search(&AlertQuery { q: q.into(), limit: 10, ..Default::default() }) {
            Err(StoreError::Query { message, position: p }) => {
                assert!(!message.is_empty(), "{q}");
                if position.is_some() {
                    assert_eq!(p, position, "{q}: {message}");
                }
            }
            other => panic!("{q}: {other:?}"),
        }
    }
    // Nesting and length are bounded before parsing.
    let deep = format!("{}secret{}", "(".repeat(100_000), ")".repeat(100_000));
    assert!(matches!(store.search(&AlertQuery { q: deep, ..Default::default() }), Err(StoreError::Query { .. })));
    // Whatever the query, a province sees its own alerts only.
    let hn = Scope::Province("HN".into());
    let own: Vec<String> = sorted(ids(&(0..20).filter(|n| n % 2 == 0).collect::<Vec<_>>()));
    for q in [
        "",
        "secret",
        "*",
        ") OR province:*",
        "secret OR province:HCM",
        "province:HCM",
        "agency:hcm-agency",
        "NOT province:HN",
        "province:/.*/",
        "province:* OR *",
        "time:[* TO *]",
        "secret OR (secret OR (secret))",
        "\\) OR province:HCM",
    ] {
        match search(&store, q, hn.clone()) {
            Ok(got) => {
                let got = sorted(got);
                assert!(got.iter().all(|id| own.contains(id)), "{q}: {got:?}");
            }
            Err(StoreError::Query { .. }) => {}
            Err(e) => panic!("{q}: {e}"),
        }
    }
    assert_eq!(sorted(search(&store, "secret", hn).expect("search")), own);
    assert_eq!(search(&store, "secret", Scope::Agency("hcm-agency".into())).expect("search").len(), 10);
    assert_eq!(search(&store, "secret", Scope::Province("DN".into())).expect("search").len(), 0);
}

/// Reads every page of `query`, adding `arrivals` after each page.
fn pages(store: &AlertStore, query: &AlertQuery, mut arrivals: impl FnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    let mut query = query.clone();
    for page in 0.. {
        let r = store.search(&query).expect("page");
        assert!(
            r.alerts.len() <= query.limit + 10,
            "a page is its limit, or more when its last key ties (10 alerts here)"
        );
        seen.extend(r.alerts.iter().map(|a| a.id.clone()));
        match r.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
        arrivals(page);
        assert!(page < 1000);
    }
    seen
}

#[test]
fn cursor_pages_neither_skip_nor_repeat_while_alerts_arrive() {
    let (store, _dir) = store();
    // 300 alerts; groups of 5 share a millisecond (one event hit by five rules).
    let mut alerts: Vec<Alert> = (0..300).map(|n| alert(n, "r", (n / 5) as i64, "HN", "a", &[])).collect();
    // And 10 alerts with the very same sort key (same millisecond, same low 22 bits of id).
    for k in 1..=10u32 {
        let mut a = alert(0, "tie", 25, "HN", "a", &[]);
        a.id = format!("{k:08x}{:024x}", 77);
        alerts.push(a);
    }
    store.add(&alerts).expect("add");
    store.commit().expect("commit");
    let mut next_id = 10_000;
    for sort in [SortOrder::NewestFirst, SortOrder::OldestFirst] {
        let query = AlertQuery { limit: 7, sort, ..Default::default() };
        let seen = pages(&store, &query, |page| {
            // Newer, older and same-time alerts arrive between pages.
            let batch: Vec<Alert> = [-10i64, 30, 120, 400]
                .iter()
                .map(|s| {
                    next_id += 1;
                    alert(next_id, "late", *s + page as i64, "HN", "a", &[])
                })
                .collect();
            store.add(&batch).expect("add");
            store.commit().expect("commit");
        });
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort:?}: an alert was on two pages");
        for a in &alerts {
            assert!(unique.contains(&a.id), "{sort:?}: {} skipped", a.id);
        }
        // The order holds across pages.
        let found = store.get(&seen.iter().map(String::as_str).collect::<Vec<_>>(), &Scope::All).expect("get");
        assert_eq!(found.len(), seen.len());
        let times: Vec<_> = found.iter().map(|a| a.time).collect();
        let mut want = times.clone();
        want.sort();
        if sort == SortOrder::NewestFirst {
            want.reverse();
        }
        assert_eq!(times, want, "{sort:?}");
    }
    // A cursor not given by the server is refused.
    let bad = AlertQuery { limit: 7, cursor: Some("nonsense".into()), ..Default::default() };
    assert!(matches!(store.search(&bad), Err(StoreError::Query { .. })));
}

#[test]
fn facets_and_histogram_count_within_the_scope() {
    let (store, _dir) = store();
    let mut alerts = Vec::new();
    for n in 0..120u32 {
        let (p, a) = match n % 3 {
            0 => ("HN", "hn-1"),
            1 => ("HN", "hn-2"),
            _ => ("HCM", "hcm-1"),
        };
        let rule = if n % 4 == 0 { "brute" } else { "scan" };
        alerts.push(alert(n, rule, i64::from(n) * 60, p, a, &[("user", if n % 2 == 0 { "root" } else { "admin" })]));
    }
    store.add(&alerts).expect("add");
    store.commit().expect("commit");
    let request = |scope: Scope| AggQuery {
        search: AlertQuery { scope, ..Default::default() },
        facets: Facet::ALL.to_vec(),
        size: 10,
        histogram: true,
    };
    let all = store.aggregate(&request(Scope::All)).expect("aggregate");
    assert_eq!(all.total, 120);
    let counts = |r: &vigil_engine::AggResult, facet: &str| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = r.facets[facet].buckets.iter().map(|b| (b.key.clone(), b.count)).collect();
        v.sort();
        v
    };
    assert_eq!(counts(&all, "province"), vec![("HCM".into(), 40), ("HN".into(), 80)]);
    assert_eq!(counts(&all, "rule"), vec![("brute".into(), 30), ("scan".into(), 90)]);
    assert_eq!(
        all.facets["rule"].buckets.iter().find(|b| b.key == "brute").and_then(|b| b.title.clone()).as_deref(),
        Some("Rule brute")
    );
    assert_eq!(counts(&all, "user"), vec![("admin".into(), 60), ("root".into(), 60)]);
    assert_eq!(counts(&all, "technique"), vec![("t1110".into(), 120), ("t1110.001".into(), 120)]);
    assert_eq!(counts(&all, "status"), vec![("new".into(), 120)]);
    let h = all.histogram.as_ref().expect("histogram");
    assert_eq!(h.interval, "1m");
    assert_eq!(h.buckets.iter().map(|b| b.count).sum::<u64>(), 120);
    assert_eq!(h.buckets.len(), 120);

    // A province's counts hold its alerts only: no other province appears, even as a zero.
    let hn = store.aggregate(&request(Scope::Province("HN".into()))).expect("aggregate");
    assert_eq!(hn.total, 80);
    assert_eq!(counts(&hn, "province"), vec![("HN".into(), 80)]);
    assert_eq!(counts(&hn, "agency"), vec![("hn-1".into(), 40), ("hn-2".into(), 40)]);
    assert_eq!(hn.histogram.as_ref().map(|h| h.buckets.iter().map(|b| b.count).sum::<u64>()), Some(80));
    let agency = store.aggregate(&request(Scope::Agency("hcm-1".into()))).expect("aggregate");
    assert_eq!(counts(&agency, "agency"), vec![("hcm-1".into(), 40)]);
    // A query and a range narrow it further; the histogram covers the range asked.
    let mut narrow = request(Scope::All);
    narrow.search.q = "user:root".into();
    narrow.search.from = Some(t0());
    narrow.search.to = Some(t0() + Duration::hours(24));
    let r = store.aggregate(&narrow).expect("aggregate");
    assert_eq!(r.total, 60);
    let h = r.histogram.expect("histogram");
    assert_eq!(h.interval, "30m");
    assert_eq!(h.buckets.iter().map(|b| b.count).sum::<u64>(), 60);
    // From 00:00 to 24:00 inclusive: 48 half hours and the instant 24:00.
    assert_eq!(h.buckets.len(), 49);
}

#[test]
fn rule_hits_count_alerts_and_the_newest_within_the_scope() {
    let (store, _dir) = store();
    let alerts: Vec<Alert> = (0..30u32)
        .map(|n| {
            alert(n, if n < 20 { "a" } else { "b" }, i64::from(n) * 10, if n % 2 == 0 { "HN" } else { "HCM" }, "x", &[])
        })
        .collect();
    store.add(&alerts).expect("add");
    store.commit().expect("commit");
    let all = store.rule_hits(&Scope::All).expect("hits");
    assert_eq!(all["a"].alerts, 20);
    assert_eq!(all["b"].alerts, 10);
    assert_eq!(all["a"].last, Some(t0() + Duration::seconds(190)));
    assert_eq!(all["b"].last, Some(t0() + Duration::seconds(290)));
    let hn = store.rule_hits(&Scope::Province("HN".into())).expect("hits");
    assert_eq!(hn["a"].alerts, 10);
    assert_eq!(hn["a"].last, Some(t0() + Duration::seconds(180)));
    assert!(store.rule_hits(&Scope::Province("DN".into())).expect("hits").is_empty());
}
