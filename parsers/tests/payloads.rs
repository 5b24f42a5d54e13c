//! Payload formats end to end through `vigil_parsers::parse`: CEF, LEEF, FortiGate, MikroTik,
//! filterlog, generic key=value and Windows JSON, as whole lines and inside syslog.

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, Format, InputFormat, LogSource, ParseContext, Value, parse};

fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    ParseContext::new(received)
}

fn ok(line: &str) -> Event {
    parse(line.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn f(e: &Event, name: &str) -> String {
    e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {name}>"))
}

const CEF: &str = r"CEF:0|Fortinet|FortiGate-100F|7.2.5|0000000013|forward traffic deny|5|src=10.1.2.3 spt=51234 dst=203.0.113.5 dpt=443 proto=6 act=deny suser=DOM\\alice msg=policy \= 12 matched app=HTTPS rt=1795402801000 dvchost=FGT-HN";

#[test]
fn cef_whole_line() {
    let e = ok(CEF);
    assert_eq!(e.format, Format::Cef);
    assert_eq!(f(&e, "cef.version"), "0");
    assert_eq!(f(&e, "cef.device_vendor"), "Fortinet");
    assert_eq!(f(&e, "cef.device_product"), "FortiGate-100F");
    assert_eq!(f(&e, "cef.device_version"), "7.2.5");
    assert_eq!(f(&e, "cef.signature_id"), "0000000013");
    assert_eq!(f(&e, "cef.name"), "forward traffic deny");
    assert_eq!(f(&e, "cef.severity"), "5");
    assert_eq!(
        (f(&e, "src"), f(&e, "src_ip"), f(&e, "spt"), f(&e, "src_port")),
        ("10.1.2.3".into(), "10.1.2.3".into(), "51234".into(), "51234".into())
    );
    assert_eq!(
        (f(&e, "dst_ip"), f(&e, "dst_port"), f(&e, "action")),
        ("203.0.113.5".into(), "443".into(), "deny".into())
    );
    assert_eq!((f(&e, "suser"), f(&e, "src_user")), (r"DOM\alice".into(), r"DOM\alice".into()));
    assert_eq!(f(&e, "msg"), "policy = 12 matched");
    // `app` is a vigil header field name: the extension's `app` is kept as `cef.app`.
    assert_eq!((f(&e, "cef.app"), e.field("app")), ("HTTPS".into(), None));
    assert_eq!(e.logsource, LogSource::new(Some("fortigate"), Some("firewall"), None));
    assert_eq!(e.host.as_deref(), Some("FGT-HN"));
    assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    assert_eq!(e.message(), CEF);
    // The same line with a PRI, and read as `--format syslog`.
    let e = ok(&format!("<134>{CEF}"));
    assert_eq!((e.format, f(&e, "severity"), f(&e, "cef.severity")), (Format::Cef, "info".into(), "5".into()));
    let e = parse(CEF.as_bytes(), &ctx(), InputFormat::Syslog).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.format, Format::Cef);
}

#[test]
fn cef_in_syslog() {
    // The program tag is the device's.
    let e = ok(&format!("<134>Nov 23 10:00:01 fw01 CheckPoint[42]: {CEF}"));
    assert_eq!(e.format, Format::Rfc3164);
    assert_eq!((f(&e, "app"), f(&e, "host")), ("CheckPoint".into(), "fw01".into()));
    assert_eq!(f(&e, "cef.device_product"), "FortiGate-100F");
    assert_eq!(f(&e, "dst_port"), "443");
    // The header's time wins over `rt`.
    assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    // No program tag: RFC 3164 reads `CEF:` as one; the event is still CEF, without that `app`.
    let e = ok(
        "<134>Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232",
    );
    assert_eq!((f(&e, "cef.name"), f(&e, "src_ip")), ("worm successfully stopped".into(), "10.0.0.1".into()));
    assert_eq!(e.field("app"), None);
    assert!(e.message().starts_with("CEF:0|Security"), "{}", e.message());
    assert_eq!(e.logsource, LogSource::default());
    let e = ok("<134>1 2026-11-23T10:00:01+07:00 fw01 - - - - CEF:0|V|P|1|2|n|3|a=b c d=e");
    assert_eq!((e.format, f(&e, "a"), f(&e, "d")), (Format::Rfc5424, "b c".into(), "e".into()));
}

#[test]
fn malformed_cef() {
    let err = parse(b"CEF:0|only|three", &ctx(), InputFormat::Auto).err();
    assert_eq!(err.as_ref().map(|e| e.reason()), Some("bad_cef"));
    assert_eq!(err.map(|e| e.to_string()), Some("invalid CEF: missing header fields".into()));
    assert_eq!(
        parse(b"<13>CEF:zero|a|b|c|d|e|f|", &ctx(), InputFormat::Auto).err().map(|e| e.reason()),
        Some("bad_cef")
    );
    // Inside syslog the event stays, with the payload's reason.
    let e = ok("<134>Nov 23 10:00:01 fw01 dev: CEF:0|only|three");
    assert_eq!((f(&e, "payload_error"), f(&e, "app")), ("bad_cef".into(), "dev".into()));
}

#[test]
fn leef_whole_line_and_in_syslog() {
    let line = "LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsrcPort=81\tdstPort=21\tusrName=joe.black\tdevTime=1795402801000";
    let e = ok(line);
    assert_eq!(e.format, Format::Leef);
    assert_eq!(
        (f(&e, "leef.version"), f(&e, "leef.vendor"), f(&e, "leef.product")),
        ("1.0".into(), "Microsoft".into(), "MSExchange".into())
    );
    assert_eq!((f(&e, "leef.product_version"), f(&e, "leef.event_id")), ("4.0 SP1".into(), "15345".into()));
    assert_eq!(
        (f(&e, "src_ip"), f(&e, "dst_port"), f(&e, "user")),
        ("192.0.2.0".into(), "21".into(), "joe.black".into())
    );
    assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    assert_eq!(e.field("leef.delimiter"), None);

    let e =
        ok("<13>Nov 23 10:00:01 qradar LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^msg=a b");
    assert_eq!(e.format, Format::Rfc3164);
    assert_eq!((f(&e, "leef.delimiter"), f(&e, "dst_ip"), f(&e, "msg")), ("^".into(), "10.0.0.5".into(), "a b".into()));
    assert_eq!(e.field("app"), None);
    let e = ok("<13>Nov 23 10:00:01 qradar sensor: LEEF:2.0|V|P|1|E|x09|a=1\tb=2");
    assert_eq!((f(&e, "app"), f(&e, "b"), f(&e, "leef.delimiter")), ("sensor".into(), "2".into(), "\t".into()));
    assert_eq!(parse(b"LEEF:9|V|P|1|E|", &ctx(), InputFormat::Auto).err().map(|e| e.reason()), Some("bad_leef"));
    let e = ok("<13>Nov 23 10:00:01 qradar sensor: LEEF:2.0|V|P|1|E|bad|a=1");
    assert_eq!(f(&e, "payload_error"), "bad_leef");
}

const FORTI: &str = r#"date=2026-11-23 time=10:00:01 devname="FGT-HN" devid="FG100FTK19000000" eventtime=1795402801000000000 tz="+0700" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" srcip=10.1.2.3 srcport=51234 srcintf="port1" dstip=203.0.113.5 dstport=443 dstintf="wan1" proto=6 action="deny" policyid=12 service="HTTPS" app="HTTPS" msg="denied by policy""#;

#[test]
fn fortigate_whole_line_pri_and_syslog() {
    for line in [FORTI.to_owned(), format!("<189>{FORTI}")] {
        let e = ok(&line);
        assert_eq!(e.format, Format::Kv, "{line}");
        assert_eq!(e.logsource, LogSource::new(Some("fortigate"), Some("firewall"), Some("traffic")));
        assert_eq!(
            (f(&e, "devname"), f(&e, "logid"), f(&e, "subtype")),
            ("FGT-HN".into(), "0000000013".into(), "forward".into())
        );
        assert_eq!(
            (f(&e, "srcip"), f(&e, "src_ip"), f(&e, "dst_ip"), f(&e, "dst_port")),
            ("10.1.2.3".into(), "10.1.2.3".into(), "203.0.113.5".into(), "443".into())
        );
        assert_eq!(
            (f(&e, "action"), f(&e, "msg"), f(&e, "fortigate.app")),
            ("deny".into(), "denied by policy".into(), "HTTPS".into())
        );
        assert_eq!(e.host.as_deref(), Some("FGT-HN"));
        assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    }
    let e = ok(&format!("<189>Nov 23 10:00:01 FGT-HN {FORTI}"));
    assert_eq!(e.format, Format::Rfc3164);
    assert_eq!((f(&e, "host"), f(&e, "dstport")), ("FGT-HN".into(), "443".into()));
    assert_eq!(e.logsource.product.as_deref(), Some("fortigate"));
    // An event log (no firewall category), with the field names Sigma's FortiGate rules use.
    let e = ok(
        r#"date=2026-11-23 time=10:00:01 devname="FGT" devid="FG1" logid="0100044547" type="event" subtype="system" level="information" vd="root" logdesc="Object attribute configured" user="admin" ui="GUI(10.0.0.9)" action="Add" cfgtid=1 cfgpath="firewall.policy" cfgobj="7" msg="Add firewall.policy 7""#,
    );
    assert_eq!(e.logsource, LogSource::new(Some("fortigate"), None, Some("event")));
    assert_eq!((f(&e, "action"), f(&e, "cfgpath")), ("Add".into(), "firewall.policy".into()));
}

#[test]
fn mikrotik_and_filterlog_in_syslog() {
    let e = ok(
        "<134>Nov 23 10:00:01 gw firewall,info input: in:ether1 out:(unknown 0), src-mac 00:11:22:33:44:55, proto TCP (SYN), 203.0.113.9:40000->10.0.0.1:22, len 60",
    );
    assert_eq!(e.logsource, LogSource::new(Some("mikrotik"), Some("firewall"), None));
    assert_eq!(
        (f(&e, "in_interface"), f(&e, "out_interface"), f(&e, "proto")),
        ("ether1".into(), "(unknown 0)".into(), "tcp".into())
    );
    assert_eq!(
        (f(&e, "src_ip"), f(&e, "src_port"), f(&e, "dst_ip"), f(&e, "dst_port")),
        ("203.0.113.9".into(), "40000".into(), "10.0.0.1".into(), "22".into())
    );

    let e = ok(
        "Sep 28 10:38:09 pfSense filterlog[123]: 53,,,1000000301,em0,match,block,in,4,0x0,,64,420,0,none,6,tcp,460,10.0.2.2,10.0.2.15,53742,22,420,PA,29633380:29633800,3617062173,65535,,",
    );
    assert_eq!(e.logsource, LogSource::new(Some("pfsense"), Some("firewall"), None));
    assert_eq!(
        (f(&e, "interface"), f(&e, "action"), f(&e, "direction"), f(&e, "proto")),
        ("em0".into(), "block".into(), "in".into(), "tcp".into())
    );
    assert_eq!(
        (f(&e, "src_ip"), f(&e, "dst_ip"), f(&e, "src_port"), f(&e, "dst_port")),
        ("10.0.2.2".into(), "10.0.2.15".into(), "53742".into(), "22".into())
    );
    let e = ok(
        "<134>1 2025-11-06T11:42:14.270789+00:00 firewall.lan filterlog 92653 - - 621,,,1644355515,vtnet0.10,match,block,in,6,0x00,0x07c63,64,TCP,6,44,fdfd:ace:ace:10:d8:cdbf:f6f8:6d69,fdfd:ace:ace:5::6,65382,443,0,S,1927530165,,0,,mss",
    );
    assert_eq!(
        (f(&e, "proto"), f(&e, "dst_ip"), f(&e, "dst_port")),
        ("tcp".into(), "fdfd:ace:ace:5::6".into(), "443".into())
    );
    let e = ok("Sep 28 10:38:09 pfSense filterlog: 53,,,garbage");
    assert_eq!(f(&e, "payload_error"), "bad_filterlog");
}

#[test]
fn generic_key_value_is_conservative() {
    let e = ok("<13>Nov 23 10:00:01 gw01 portal: user=alice action=login result=fail src=198.51.100.7 host=evil");
    assert_eq!((f(&e, "user"), f(&e, "result"), f(&e, "src")), ("alice".into(), "fail".into(), "198.51.100.7".into()));
    // Never replaces a header field.
    assert_eq!((f(&e, "host"), f(&e, "app")), ("gw01".into(), "portal".into()));
    assert_eq!(e.logsource, LogSource::new(Some("linux"), None, Some("syslog")));
    // Prose with an `=` in it is left alone.
    let e = ok("<13>Nov 23 10:00:01 gw01 portal: Login failed for alice because retries=3 was exceeded");
    assert_eq!(e.field("retries"), None);
    // Program extractors still run.
    let e = ok("<38>Nov 23 10:00:01 bastion sshd[812]: Failed password for root from 203.0.113.9 port 52044 ssh2");
    assert_eq!((f(&e, "event"), f(&e, "src_ip")), ("failed_password".into(), "203.0.113.9".into()));
}

const WINLOGBEAT: &str = r#"{"@timestamp":"2026-11-23T03:00:01.000Z","event":{"code":"4688","provider":"Microsoft-Windows-Security-Auditing"},"host":{"name":"dc01"},"message":"A new process has been created.","winlog":{"channel":"Security","computer_name":"DC01.corp.local","event_id":4688,"provider_name":"Microsoft-Windows-Security-Auditing","event_data":{"NewProcessName":"C:\\Windows\\System32\\whoami.exe","ParentProcessName":"C:\\Windows\\System32\\cmd.exe","CommandLine":"whoami /priv","SubjectUserName":"alice"}}}"#;

#[test]
fn windows_json_whole_line_and_in_syslog() {
    for line in [WINLOGBEAT.to_owned(), format!("<14>Nov 23 10:00:01 relay winlogbeat: {WINLOGBEAT}")] {
        let e = ok(&line);
        assert_eq!(e.field("EventID"), Some(&Value::Int(4688)));
        assert_eq!((f(&e, "Channel"), f(&e, "Computer")), ("Security".into(), "DC01.corp.local".into()));
        assert_eq!(f(&e, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
        assert_eq!(
            (f(&e, "Image"), f(&e, "CommandLine")),
            (r"C:\Windows\System32\whoami.exe".into(), "whoami /priv".into())
        );
        assert_eq!(f(&e, "ParentImage"), r"C:\Windows\System32\cmd.exe");
        assert_eq!(e.logsource, LogSource::new(Some("windows"), Some("process_creation"), Some("security")));
        assert_eq!(e.host.as_deref(), Some("DC01.corp.local"));
        assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    }
    // NXLog's zone-less EventTime is read in the sender's zone (Asia/Ho_Chi_Minh by default).
    let nxlog = r#"{"EventTime":"2026-11-23 10:00:01","Hostname":"ws01","EventID":13,"SourceName":"Microsoft-Windows-Sysmon","Channel":"Microsoft-Windows-Sysmon/Operational","EventType":"SetValue","TargetObject":"HKLM\\Software\\Run\\x","Image":"C:\\x.exe"}"#;
    let e = ok(nxlog);
    assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    assert_eq!(e.logsource.category.as_deref(), Some("registry_set"));
    assert_eq!(vigil_parsers::implied_categories("registry_set"), &["registry_event"]);
    let e = ok(&format!("<14>1 2026-11-23T03:00:05Z ws01 nxlog - - - {nxlog}"));
    assert_eq!(
        (e.time.to_rfc3339(), f(&e, "Provider_Name")),
        ("2026-11-23T03:00:01+00:00".into(), "Microsoft-Windows-Sysmon".into())
    );
    let e = ok("<14>Nov 23 10:00:01 relay nxlog: {\"EventID\":");
    assert_eq!(f(&e, "payload_error"), "bad_json");
}

#[test]
fn odd_input_never_panics() {
    let ctx = ctx();
    let seeds = [CEF, FORTI, WINLOGBEAT, "LEEF:2.0|V|P|1|E|^|a=1^b=2", "filterlog: 1,,,2,em0,match,block,in,4"];
    for seed in seeds {
        // Every prefix, and every prefix behind a syslog header, at char boundaries.
        for (i, _) in seed.char_indices() {
            for line in [
                seed[..i].to_owned(),
                format!("<13>Nov 23 10:00:01 h filterlog: {}", &seed[..i]),
                format!("<13>Nov 23 10:00:01 h CEF:{}", &seed[i..]),
            ] {
                let _ = parse(line.as_bytes(), &ctx, InputFormat::Auto);
            }
        }
    }
}

/// Random edits of payload lines (a fixed xorshift seed, so failures reproduce): deletions,
/// duplications and insertions of the bytes the grammars care about and of multi-byte
/// characters. Nothing may panic.
#[test]
fn mutated_payloads_never_panic() {
    let ctx = ctx();
    let seeds = [
        CEF.to_owned(),
        FORTI.to_owned(),
        WINLOGBEAT.to_owned(),
        "LEEF:2.0|V|P|1|E|^|a=1^b=2".to_owned(),
        "LEEF:1.0|V|P|1|E|src=1.2.3.4\tdst=5.6.7.8".to_owned(),
        "<134>Nov 23 10:00:01 gw firewall,info input: in:ether1 out:(unknown 0), src-mac 00:11:22:33:44:55, proto TCP (SYN), [2001:db8::1]:40000->10.0.0.1:22, NAT (1.1.1.1:1->2.2.2.2:2)->3.3.3.3:3, len 60".to_owned(),
        "Sep 28 10:38:09 pfSense filterlog: 621,,,1644355515,vtnet0.10,match,block,in,6,0x00,0x07c63,64,TCP,6,44,fd::1,fd::6,65382,443,0,S,1,,0,,mss".to_owned(),
        "<13>Nov 23 10:00:01 h app: a=1 b=\"x y\" c='z' d=\\\"".to_owned(),
    ];
    let inserts = [
        "|", "\\", "=", " ", "\"", "'", "(", ")", "[", "]", ":", ",", "->", "\t", "é", "日", "{", "}", "CEF:", "LEEF:",
        " in:", "\u{feff}",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let seed = &seeds[round % seeds.len()];
        let mut line: Vec<u8> = seed.as_bytes().to_vec();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % (line.len() + 1);
            match next() % 4 {
                0 => {
                    let end = (at + 1 + (next() as usize) % 8).min(line.len());
                    line.drain(at.min(end)..end);
                }
                1 => {
                    let what = inserts[(next() as usize) % inserts.len()].as_bytes();
                    line.splice(at..at, what.iter().copied());
                }
                2 => line.truncate(at),
                _ => {
                    // A byte of a multi-byte character alone: invalid UTF-8.
                    line.insert(at, 0xc3);
                }
            }
        }
        let _ = parse(&line, &ctx, InputFormat::Auto);
    }
}
