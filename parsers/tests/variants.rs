//! Syslog as real senders write it, through `vigil_parsers::parse`: each case is a line, the
//! format and time it must get, and fields it must have (`-` for a field it must not have).
//!
//! The senders: util-linux `logger` (`--rfc3164`, `--rfc5424`), rsyslog's forwarding templates,
//! syslog-ng, Python's `SysLogHandler`, NXLog, Cisco IOS and ASA, old sysklogd, and RFC 5424's
//! corners (NILVALUE everywhere, BOM, escapes, fractions, offsets). What relays make of lines
//! (rsyslog's templates, syslog-ng, NXLog, Snare, Windows events in syslog) is in
//! `tests/forwarders.rs`.

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, Format, InputFormat, ParseContext, parse};

fn ctx_at(received: &str) -> ParseContext {
    let received = DateTime::parse_from_rfc3339(received).map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    ParseContext::new(received)
}

fn ctx() -> ParseContext {
    ctx_at("2026-11-23T12:00:00Z")
}

struct Case {
    line: &'static str,
    format: Format,
    /// RFC 3339 in UTC; `None` for "the receive time".
    time: Option<&'static str>,
    fields: &'static [(&'static str, &'static str)],
}

const fn case(
    line: &'static str,
    format: Format,
    time: Option<&'static str>,
    fields: &'static [(&'static str, &'static str)],
) -> Case {
    Case { line, format, time, fields }
}

const RFC3164: Format = Format::Rfc3164;
const RFC5424: Format = Format::Rfc5424;

const CASES: &[Case] = &[
    // util-linux logger --rfc3164 (UDP/TCP): `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`.
    case(
        "<13>Nov 23 10:00:01 bastion alice[4242]: hello from logger",
        RFC3164,
        Some("2026-11-23T03:00:01Z"),
        &[
            ("host", "bastion"),
            ("app", "alice"),
            ("pid", "4242"),
            ("facility", "user"),
            ("severity", "notice"),
            ("message", "hello from logger"),
            ("tag", "-"),
        ],
    ),
    // util-linux logger --rfc5424: microseconds, an offset, timeQuality structured data.
    case(
        r#"<13>1 2026-11-23T10:00:01.123456+07:00 bastion alice 4242 - [timeQuality tzKnown="1" isSynced="1" syncAccuracy="512000"] hello from logger"#,
        RFC5424,
        Some("2026-11-23T03:00:01.123456Z"),
        &[
            ("host", "bastion"),
            ("app", "alice"),
            ("pid", "4242"),
            ("msgid", "-"),
            ("sd.timeQuality.isSynced", "1"),
            ("message", "hello from logger"),
        ],
    ),
    // rsyslog RSYSLOG_ForwardFormat: an RFC 3339 timestamp in a BSD-style line.
    case(
        "<86>2026-11-23T10:00:01.000123+07:00 web01 sudo[77]: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
        RFC3164,
        Some("2026-11-23T03:00:01.000123Z"),
        &[
            ("host", "web01"),
            ("app", "sudo"),
            ("facility", "authpriv"),
            ("target_user", "root"),
            ("USER", "root"),
            ("command", "/bin/bash"),
        ],
    ),
    // rsyslog RSYSLOG_SyslogProtocol23Format, no structured data, no MSGID.
    case(
        "<38>1 2026-11-23T03:00:01Z web01 sshd 812 - - Accepted publickey for deploy from 10.0.0.5 port 50000 ssh2",
        RFC5424,
        Some("2026-11-23T03:00:01Z"),
        &[("app", "sshd"), ("event", "accepted"), ("user", "deploy"), ("src_ip", "10.0.0.5")],
    ),
    // Python logging.handlers.SysLogHandler: PRI and message only (its NUL is framing).
    case("<14>myapp: user login ok\0", RFC3164, None, &[("app", "myapp"), ("host", "-"), ("message", "user login ok")]),
    case(
        "<11>something failed",
        RFC3164,
        None,
        &[("app", "-"), ("host", "-"), ("severity", "err"), ("message", "something failed")],
    ),
    // syslog-ng and rsyslog file output (no PRI), day padded with a space.
    case(
        "Nov  3 08:15:02 gw01 CRON[99]: (root) CMD (run-parts /etc/cron.hourly)",
        RFC3164,
        Some("2026-11-03T01:15:02Z"),
        &[("app", "CRON"), ("event", "cmd"), ("command", "run-parts /etc/cron.hourly")],
    ),
    // No hostname.
    case(
        "<38>Nov 23 10:00:01 sshd[812]: Invalid user admin from 203.0.113.9",
        RFC3164,
        Some("2026-11-23T03:00:01Z"),
        &[("host", "-"), ("app", "sshd"), ("pid", "812"), ("event", "invalid_user")],
    ),
    // Fractional seconds on a BSD timestamp.
    case(
        "Nov 23 10:00:01.250 h app: m",
        RFC3164,
        Some("2026-11-23T03:00:01.250Z"),
        &[("app", "app"), ("message", "m")],
    ),
    // sysklogd: a double space, a tag with a space and a pid, a tag `NAME VERSION`.
    case(
        "Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2",
        RFC3164,
        Some("2026-07-07T01:06:15Z"),
        &[("host", "combo"), ("app", "-- root"), ("pid", "2421"), ("message", "ROOT LOGIN ON tty2")],
    ),
    case(
        "Jun 19 04:09:11 combo syslogd 1.4.1: restart.",
        RFC3164,
        Some("2026-06-18T21:09:11Z"),
        &[("app", "syslogd"), ("tag", "syslogd 1.4.1"), ("message", "restart.")],
    ),
    // Linux-PAM's `program(pam_module)` tag.
    case(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ",
        RFC3164,
        Some("2026-06-14T08:16:01Z"),
        &[
            ("app", "sshd"),
            ("tag", "sshd(pam_unix)"),
            ("pam.module", "pam_unix"),
            ("event", "auth_failure"),
            ("src_ip", "218.188.2.4"),
        ],
    ),
    // NXLog's BSD output of a Windows event.
    case(
        "<14>Nov 23 10:00:01 DC01 Service_Control_Manager[524]: The Windows Update service entered the running state.",
        RFC3164,
        Some("2026-11-23T03:00:01Z"),
        &[("host", "DC01"), ("app", "Service_Control_Manager"), ("pid", "524")],
    ),
    // Cisco ASA with a year in the timestamp and `HOST :`.
    case(
        "<166>Nov 23 2026 10:00:01 asa-hn : %ASA-6-302013: Built inbound TCP connection 7 for outside:203.0.113.9/5000 (203.0.113.9/5000) to inside:10.0.0.5/443 (10.0.0.5/443)",
        RFC3164,
        Some("2026-11-23T03:00:01Z"),
        &[("host", "asa-hn"), ("cisco.facility", "ASA"), ("cisco.severity", "6"), ("cisco.mnemonic", "302013")],
    ),
    // Cisco ASA without a timestamp.
    case(
        "<164>%ASA-4-106023: Deny tcp src outside:203.0.113.9/5000 dst inside:10.0.0.5/22 by access-group \"outside_in\"",
        RFC3164,
        None,
        &[("cisco.mnemonic", "106023"), ("cisco.severity", "4")],
    ),
    // Cisco IOS: sequence number, `*` (clock not synced), milliseconds, UTC zone.
    case(
        "<189>1234: *Nov 23 03:00:01.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 203.0.113.9(5000) -> 10.0.0.5(22), 1 packet",
        RFC3164,
        Some("2026-11-23T03:00:01.123Z"),
        &[("cisco.facility", "SEC"), ("cisco.mnemonic", "IPACCESSLOGP")],
    ),
    // Cisco IOS XE with `logging origin-id hostname`.
    case(
        "<189>57: core-sw1: Nov 23 10:00:01.5: %SYS-5-CONFIG_I: Configured from console by admin on vty0",
        RFC3164,
        Some("2026-11-23T03:00:01.5Z"),
        &[("host", "core-sw1"), ("cisco.facility", "SYS"), ("cisco.mnemonic", "CONFIG_I")],
    ),
    // rsyslog's repeat notice.
    case(
        "<38>Nov 23 10:00:01 h sshd[1]: message repeated 5 times: [ Failed password for root from 203.0.113.9 port 22 ssh2]",
        RFC3164,
        Some("2026-11-23T03:00:01Z"),
        &[
            ("repeat_count", "5"),
            ("event", "failed_password"),
            ("message", "Failed password for root from 203.0.113.9 port 22 ssh2"),
        ],
    ),
    // RFC 5424: NILVALUE everywhere, with and without a MSG, with a BOM.
    case(
        "<165>1 - - - - - -",
        RFC5424,
        None,
        &[("host", "-"), ("app", "-"), ("pid", "-"), ("msgid", "-"), ("message", "")],
    ),
    case("<165>1 - - - - - - \u{feff}caf\u{e9}", RFC5424, None, &[("message", "caf\u{e9}")]),
    // RFC 5424's own examples (section 6.5).
    case(
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \u{feff}'su root' failed for lonvick on /dev/pts/8",
        RFC5424,
        Some("2003-10-11T22:14:15.003Z"),
        &[
            ("host", "mymachine.example.com"),
            ("app", "su"),
            ("msgid", "ID47"),
            ("message", "'su root' failed for lonvick on /dev/pts/8"),
        ],
    ),
    case(
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
        RFC5424,
        Some("2003-08-24T12:14:15.000003Z"),
        &[("host", "192.0.2.1"), ("pid", "8710"), ("message", "%% It's time to make the do-nuts.")],
    ),
    case(
        r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry..."#,
        RFC5424,
        Some("2003-10-11T22:14:15.003Z"),
        &[("sd.exampleSDID@32473.eventID", "1011"), ("message", "An application event log entry...")],
    ),
    case(
        r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]"#,
        RFC5424,
        Some("2003-10-11T22:14:15.003Z"),
        &[("sd.examplePriority@32473.class", "high"), ("message", "")],
    ),
    // Escapes in structured data.
    case(
        r#"<14>1 2026-11-23T03:00:01Z h app - - [x@1 q="a \"quoted\" \\ path \] end"] m"#,
        RFC5424,
        Some("2026-11-23T03:00:01Z"),
        &[("sd.x@1.q", r#"a "quoted" \ path ] end"#)],
    ),
    // Nine and more fractional digits.
    case("<14>1 2026-11-23T03:00:01.123456789123Z h app - - - m", RFC5424, Some("2026-11-23T03:00:01.123456789Z"), &[]),
];

fn text(e: &Event, name: &str) -> Option<String> {
    if name == "message" {
        return Some(e.message().into_owned());
    }
    e.field(name).map(|v| v.as_text().into_owned())
}

#[test]
fn real_senders_lines() {
    let ctx = ctx();
    let mut failures = Vec::new();
    for c in CASES {
        let e = match parse(c.line.as_bytes(), &ctx, InputFormat::Auto) {
            Ok(e) => e,
            Err(err) => {
                failures.push(format!("{}: {err}", c.line));
                continue;
            }
        };
        if e.format != c.format {
            failures.push(format!("{}: format {:?}", c.line, e.format));
        }
        let want_time =
            c.time.and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map_or(ctx.received, |d| d.with_timezone(&Utc));
        if e.time != want_time {
            failures.push(format!("{}: time {} != {want_time}", c.line, e.time.to_rfc3339()));
        }
        for (name, want) in c.fields {
            let got = text(&e, name);
            let ok = if *want == "-" { got.is_none() } else { got.as_deref() == Some(*want) };
            if !ok {
                failures.push(format!("{}: {name} = {got:?}, want {want:?}", c.line));
            }
        }
    }
    for f in &failures {
        println!("{f}");
    }
    assert!(failures.is_empty(), "{} mismatches", failures.len());
}

#[test]
fn year_inference_across_new_year() {
    // A December 31st line received just after midnight on January 1st (sender's time) is
    // last year's; a January 1st line a minute ahead of the receiver's clock is this year's.
    let ctx = ctx_at("2026-12-31T17:00:30Z"); // 2027-01-01 00:00:30 in Asia/Ho_Chi_Minh
    let e = parse(b"<13>Dec 31 23:59:58 h app: m", &ctx, InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.time.to_rfc3339(), "2026-12-31T16:59:58+00:00");
    let e = parse(b"<13>Jan  1 00:01:30 h app: m", &ctx, InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.time.to_rfc3339(), "2026-12-31T17:01:30+00:00");
}

#[test]
fn bad_input_is_an_error_with_a_reason() {
    let ctx = ctx();
    for (line, reason) in [
        (&b"<192>Nov 23 10:00:01 h app: m"[..], "bad_header"),
        (b"<999>1 - - - - - -", "bad_header"),
        (b"<13>1 2026-11-31T10:00:00Z h a - - - m", "bad_timestamp"),
        (b"<13>Feb 30 10:00:00 h a: m", "bad_timestamp"),
        (b"<13>1 - h a - - [unterminated m", "bad_structured_data"),
        (b"plain words with no header", "bad_header"),
    ] {
        let got = parse(line, &ctx, InputFormat::Syslog).map(|e| format!("{:?}", e.format)).map_err(|e| e.reason());
        assert_eq!(got, Err(reason), "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn no_input_panics() {
    let ctx = ctx();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for c in CASES {
        let b = c.line.as_bytes();
        for n in 0..=b.len() {
            inputs.push(b[..n].to_vec());
            inputs.push(b[n..].to_vec());
        }
    }
    for junk in [
        &b"\xff\xfe<13>1 \xc3"[..],
        b"<",
        b"<>",
        b"<1",
        b"<13>",
        b"<13>1",
        b"<13>1 ",
        b"<13>1 - - - - - [",
        b"<13>1 - - - - - [a",
        b"<13>1 - - - - - [a b=",
        b"<13>1 - - - - - [a b=\"\\",
        b"Nov",
        b"Nov 2",
        b"Nov 23 1",
        b"Nov 23 10:00:0",
        b"*Nov 23 10:00:00.",
        b"%ASA-",
        b"<13>%-1-:",
        b"type=SYSCALL msg=audit(",
        b"type=EXECVE msg=audit(1.1:1): a0=4",
        b"[Sun Dec 04 04:47:44 2005] [",
        b"- 1117838570 2005.06.03 ",
        b"20171223-22:15:29:9999|",
        b"03-17 16:13:38.811  1 2 D",
    ] {
        inputs.push(junk.to_vec());
    }
    for input in &inputs {
        // Any result is fine; returning at all is the test.
        let _ = parse(input, &ctx, InputFormat::Auto);
    }
}
