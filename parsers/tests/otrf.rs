//! The OTRF Security-Datasets Windows events (NDJSON, NXLog-style, from
//! `../shared/corpus/samples/otrf-security-datasets`; skipped with a notice when absent): every
//! line parses, and the events carry the field names Sigma's Windows rules use.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, Format, InputFormat, ParseContext, Value, implied_categories, parse};

fn corpus() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/samples/otrf-security-datasets/windows");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; skipping the OTRF test", dir.display());
        None
    }
}

fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    ParseContext::new(received)
}

fn text(e: &Event, name: &str) -> Option<String> {
    e.field(name).map(|v| v.as_text().into_owned()).filter(|s| !s.is_empty())
}

/// The checks every OTRF Windows event must pass, whatever its framing.
fn check(e: &Event, raw: &serde_json::Value, at: &str) -> Option<String> {
    let want_id = raw.get("EventID").and_then(serde_json::Value::as_i64);
    assert!(
        matches!(e.field("EventID"), Some(Value::Int(_))),
        "{at}: EventID is not an integer: {:?}",
        e.field("EventID")
    );
    assert_eq!(e.field("EventID").and_then(Value::as_f64).map(|f| f as i64), want_id, "{at}");
    assert!(text(e, "Channel").is_some(), "{at}: no Channel");
    assert!(text(e, "Computer").is_some(), "{at}: no Computer");
    assert_eq!(text(e, "Computer"), raw.get("Hostname").and_then(|h| h.as_str()).map(str::to_owned), "{at}");
    if raw.get("SourceName").is_some() {
        assert!(text(e, "Provider_Name").is_some(), "{at}: no Provider_Name");
    }
    assert_eq!(e.logsource.product.as_deref(), Some("windows"), "{at}");
    assert!(e.logsource.service.is_some(), "{at}: no service");
    assert_eq!(e.host, text(e, "Computer"), "{at}");
    let category = e.logsource.category.clone();
    match category.as_deref() {
        Some("process_creation") => {
            for f in ["Image", "CommandLine", "ParentImage"] {
                assert!(text(e, f).is_some(), "{at}: process_creation without {f}");
            }
        }
        Some("process_access") => {
            for f in ["SourceImage", "TargetImage", "GrantedAccess"] {
                assert!(text(e, f).is_some(), "{at}: process_access without {f}");
            }
        }
        Some("image_load") => assert!(text(e, "ImageLoaded").is_some(), "{at}: image_load without ImageLoaded"),
        Some(c) if c.starts_with("registry_") => {
            assert!(text(e, "TargetObject").is_some(), "{at}: {c} without TargetObject");
            if c != "registry_event" {
                assert_eq!(implied_categories(c), &["registry_event"], "{at}");
            }
        }
        Some("network_connection") => {
            assert!(text(e, "DestinationIp").is_some(), "{at}: network_connection without DestinationIp")
        }
        _ => {}
    }
    if text(e, "Channel").as_deref() == Some("Microsoft-Windows-Sysmon/Operational") {
        assert_eq!(e.logsource.service.as_deref(), Some("sysmon"), "{at}");
        let known = matches!(want_id, Some(1..=29));
        assert!(!known || category.is_some(), "{at}: Sysmon event {want_id:?} without a category");
    }
    category.map(String::from)
}

#[test]
fn otrf_windows_events_yield_sigma_field_names() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    files.sort();
    assert!(!files.is_empty(), "no OTRF files in {}", dir.display());
    let ctx = ctx();
    let mut events = 0;
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    let mut services: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let content = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for (n, line) in content.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{name}:{}", n + 1);
            let raw: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            let e = parse(line.as_bytes(), &ctx, InputFormat::Auto).unwrap_or_else(|err| panic!("{at}: {err}"));
            assert_eq!(e.format, Format::Json, "{at}");
            assert_ne!(e.time, ctx.received, "{at}: no event time");
            let category = check(&e, &raw, &at);
            *categories.entry(category.unwrap_or_else(|| "-".into())).or_default() += 1;
            *services.entry(e.logsource.service.as_deref().unwrap_or_default().to_owned()).or_default() += 1;
            events += 1;

            // The same event forwarded as the message of a syslog line (NXLog's to_syslog_bsd
            // with to_json) must give the same Sigma fields.
            if n % 25 == 0 {
                let wrapped = format!("<14>Nov 23 10:00:01 wec nxlog: {line}");
                let w = parse(wrapped.as_bytes(), &ctx, InputFormat::Auto).unwrap_or_else(|err| panic!("{at}: {err}"));
                assert_eq!(w.format, Format::Rfc3164, "{at}");
                check(&w, &raw, &format!("{at} (syslog)"));
                assert_eq!(w.logsource, e.logsource, "{at}");
                assert_eq!(w.time, e.time, "{at}");
            }
        }
    }
    eprintln!("OTRF: {events} events in {} files; categories {categories:?}; services {services:?}", files.len());
    assert!(events >= 5_000, "only {events} events");
    for c in ["process_creation", "process_access", "image_load", "registry_set", "registry_add", "network_connection"]
    {
        assert!(categories.get(c).copied().unwrap_or_default() > 0, "no {c} event");
    }
    for s in ["security", "sysmon", "powershell", "powershell-classic", "wmi", "system", "taskscheduler"] {
        assert!(services.get(s).copied().unwrap_or_default() > 0, "no {s} event");
    }
}
