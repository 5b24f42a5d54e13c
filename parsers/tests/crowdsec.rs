//! The crowdsec hub test fixtures (`../shared/corpus/samples/crowdsec-hub-tests`; skipped with a
//! notice when absent): every line of every fixture is parsed or rejected with a reason, never a
//! panic, and the CEF and firewall fixtures yield their payload fields.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, Format, InputFormat, ParseContext, parse};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/samples/crowdsec-hub-tests/tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; skipping the crowdsec fixtures test", dir.display());
        None
    }
}

fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    ParseContext::new(received)
}

fn text(e: &Event, name: &str) -> Option<String> {
    e.field(name).map(|v| v.as_text().into_owned())
}

/// Every line of every fixture under `dir` (one folder per fixture).
fn fixture_lines(dir: &Path) -> Vec<(String, String)> {
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    folders.sort();
    folders.iter().flat_map(|f| folder_lines(dir, f)).collect()
}

/// Every non-blank line of every file in a fixture's folder but its `config.yaml`, with
/// `FOLDER/FILE:LINE`.
fn folder_lines(dir: &Path, folder: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(folder).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.sort();
    for file in files.into_iter().filter(|f| f.file_name().is_some_and(|n| n != "config.yaml")) {
        let Ok(bytes) = std::fs::read(&file) else { continue };
        let name = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
        for (n, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
            if !line.trim().is_empty() {
                out.push((format!("{name}:{}", n + 1), line.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_fixture_line_is_parsed_or_rejected_with_a_reason() {
    let Some(dir) = corpus() else { return };
    let ctx = ctx();
    let lines = fixture_lines(&dir);
    assert!(lines.len() > 100, "only {} fixture lines", lines.len());
    let mut parsed = 0;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut payload_errors: BTreeMap<String, usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for (at, line) in &lines {
        match catch_unwind(AssertUnwindSafe(|| parse(line.as_bytes(), &ctx, InputFormat::Auto))) {
            Ok(Ok(e)) => {
                parsed += 1;
                if let Some(why) = text(&e, "payload_error") {
                    *payload_errors.entry(format!("{why} ({at})")).or_default() += 1;
                }
            }
            Ok(Err(err)) => {
                assert!(!err.reason().is_empty(), "{at}: empty reason");
                let fixture = at.split('/').next().unwrap_or_default();
                *reasons.entry(format!("{} ({fixture})", err.reason())).or_default() += 1;
            }
            Err(_) => panics.push(at.clone()),
        }
    }
    eprintln!(
        "crowdsec fixtures: {} lines, {parsed} parsed, rejected by reason {reasons:?}, payload errors {payload_errors:?}",
        lines.len()
    );
    assert!(panics.is_empty(), "panicked on {panics:?}");
}

fn parse_fixture(dir: &Path, folder: &str) -> Vec<(String, String, Result<Event, vigil_parsers::ParseError>)> {
    let ctx = ctx();
    let lines = folder_lines(dir, &dir.join(folder));
    assert!(!lines.is_empty(), "no lines in the {folder} fixture");
    lines
        .into_iter()
        .map(|(at, line)| {
            let r = parse(line.as_bytes(), &ctx, InputFormat::Auto);
            (at, line, r)
        })
        .collect()
}

#[test]
fn cef_fixtures_yield_cef_fields() {
    let Some(dir) = corpus() else { return };
    let mut cef = 0;
    for folder in ["cef-logs", "unifi-cef"] {
        for (at, line, r) in parse_fixture(&dir, folder) {
            // `0|Ubiquiti|...` lost its `CEF:` prefix; it is still read as CEF.
            let e = r.unwrap_or_else(|err| panic!("{at}: {err}"));
            assert_eq!(text(&e, "cef.device_vendor").as_deref(), Some("Ubiquiti"), "{at}");
            assert_eq!(text(&e, "cef.device_product").as_deref(), Some("UniFi Network"), "{at}");
            assert!(text(&e, "cef.signature_id").is_some() && text(&e, "cef.severity").is_some(), "{at}");
            assert!(text(&e, "src").is_some() && text(&e, "src_ip") == text(&e, "src"), "{at}");
            assert!(text(&e, "msg").is_some_and(|m| !m.contains('=')), "{at}: {:?}", text(&e, "msg"));
            assert_eq!(e.logsource.product.as_deref(), Some("unifi"), "{at}");
            assert!(e.field("app").is_none(), "{at}: the CEF tag is not a program");
            if line.contains("CEF:") {
                assert!(e.message().starts_with("CEF:"), "{at}: {}", e.message());
            }
            if !line.contains(' ') || line.starts_with("CEF:") || line.starts_with("0|") {
                assert_eq!(e.format, Format::Cef, "{at}");
            }
            if text(&e, "cef.signature_id").as_deref() == Some("201") && text(&e, "dst").is_some() {
                assert_eq!(e.logsource.category.as_deref(), Some("firewall"), "{at}");
                assert_eq!(text(&e, "UNIFIsubCategory").as_deref(), Some("Intrusion Prevention"), "{at}");
                assert!(text(&e, "UNIFIipsSignature").is_some_and(|s| s.starts_with("ET ")), "{at}");
            }
            cef += 1;
        }
    }
    assert!(cef >= 7, "only {cef} CEF lines");
}

#[test]
fn fortigate_fixture_yields_fortigate_fields() {
    let Some(dir) = corpus() else { return };
    let lines = parse_fixture(&dir, "fortinet-vpn-bf");
    assert!(!lines.is_empty());
    for (at, _, r) in lines {
        let e = r.unwrap_or_else(|err| panic!("{at}: {err}"));
        assert_eq!(e.format, Format::Kv, "{at}");
        assert_eq!(e.logsource.product.as_deref(), Some("fortigate"), "{at}");
        assert_eq!(e.logsource.service.as_deref(), Some("event"), "{at}");
        assert_eq!(text(&e, "action").as_deref(), Some("ssl-login-fail"), "{at}");
        assert_eq!(text(&e, "logdesc").as_deref(), Some("SSL VPN login fail"), "{at}");
        assert_eq!(text(&e, "remip").as_deref(), Some("192.168.0.1"), "{at}");
        assert!(text(&e, "user").is_some(), "{at}");
        // `date`/`time` with `tz="-0700"`: 13:46:xx local is 20:46:xx UTC.
        assert!(e.time.to_rfc3339().starts_with("2024-10-14T20:4"), "{at}: {}", e.time);
    }
}

#[test]
fn windows_xml_and_vendor_fixtures_yield_their_fields() {
    let Some(dir) = corpus() else { return };
    // Windows XML events (one per line; windows-logs is an Event Viewer copy with `- ` marks).
    for folder in ["windows-bf", "windows-logs"] {
        let lines = parse_fixture(&dir, folder);
        assert!(!lines.is_empty(), "{folder}");
        for (at, _, r) in lines {
            let e = r.unwrap_or_else(|err| panic!("{at}: {err}"));
            assert_eq!(e.format, Format::Xml, "{at}");
            assert_eq!(e.logsource.product.as_deref(), Some("windows"), "{at}");
            assert_eq!(e.logsource.service.as_deref(), Some("security"), "{at}");
            assert_eq!(text(&e, "EventID").as_deref(), Some("4625"), "{at}");
            assert!(text(&e, "TargetUserName").is_some() && text(&e, "IpAddress").is_some(), "{at}");
        }
    }
    for (at, _, r) in parse_fixture(&dir, "palo-alto-threat") {
        let e = r.unwrap_or_else(|err| panic!("{at}: {err}"));
        assert_eq!(e.logsource.product.as_deref(), Some("paloalto"), "{at}");
        assert_eq!(e.logsource.category.as_deref(), Some("firewall"), "{at}");
        assert!(text(&e, "src_ip").is_some() && text(&e, "dst_port").is_some() && text(&e, "threat").is_some(), "{at}");
    }
    for (at, _, r) in parse_fixture(&dir, "mikrotik-bf") {
        let e = r.unwrap_or_else(|err| panic!("{at}: {err}"));
        assert_eq!(e.logsource.product.as_deref(), Some("mikrotik"), "{at}");
        assert_eq!(text(&e, "event").as_deref(), Some("login_failure"), "{at}");
        assert_eq!(text(&e, "user").as_deref(), Some("admin"), "{at}");
    }
}

#[test]
fn firewall_fixtures_yield_firewall_fields() {
    let Some(dir) = corpus() else { return };
    let mut firewall = 0;
    for folder in
        ["mikrotik-logs", "mikrotik-scan-multi_ports", "pf-logs", "pf-scan-multi-port", "pfsense-rfc5424-filterlog"]
    {
        for (at, line, r) in parse_fixture(&dir, folder) {
            let e = r.unwrap_or_else(|err| panic!("{at}: {err}"));
            let is_firewall_line = line.contains("filterlog") || line.contains(" in:");
            if !is_firewall_line {
                assert_ne!(e.logsource.category.as_deref(), Some("firewall"), "{at}");
                continue;
            }
            assert_eq!(e.logsource.category.as_deref(), Some("firewall"), "{at}");
            assert!(text(&e, "payload_error").is_none(), "{at}");
            for f in ["src_ip", "dst_ip", "proto"] {
                assert!(text(&e, f).is_some_and(|v| !v.is_empty()), "{at}: no {f}");
            }
            let proto = text(&e, "proto").unwrap_or_default();
            if proto == "tcp" || proto == "udp" {
                assert!(text(&e, "dst_port").is_some() && text(&e, "src_port").is_some(), "{at}: no ports");
            }
            if line.contains("filterlog") {
                let product = if line.contains("opnsense") { "opnsense" } else { "pfsense" };
                assert_eq!(e.logsource.product.as_deref(), Some(product), "{at}");
                for f in ["interface", "action", "direction"] {
                    assert!(text(&e, f).is_some(), "{at}: no {f}");
                }
            } else {
                assert_eq!(e.logsource.product.as_deref(), Some("mikrotik"), "{at}");
                for f in ["in_interface", "out_interface", "chain"] {
                    assert!(text(&e, f).is_some(), "{at}: no {f}");
                }
            }
            firewall += 1;
        }
    }
    assert!(firewall >= 40, "only {firewall} firewall lines");
}
