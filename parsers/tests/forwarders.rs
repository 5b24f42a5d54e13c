//! Lines as syslog forwarders relay them, through `vigil_parsers::parse`: rsyslog's built-in
//! templates, syslog-ng's outputs, NXLog's `to_syslog_bsd`/`to_syslog_ietf`/`to_syslog_snare`
//! and Windows events forwarded as JSON inside syslog.

use chrono::{DateTime, Utc};
use vigil_parsers::{Event, Format, InputFormat, LogSource, ParseContext, parse};

fn ctx() -> ParseContext {
    let received =
        DateTime::parse_from_rfc3339("2026-12-04T15:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
    ParseContext::new(received)
}

fn ok(line: &str) -> Event {
    parse(line.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn f(e: &Event, name: &str) -> String {
    e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {name}>"))
}

/// rsyslog relays a message it received as RFC 5424 (APP-NAME `sshd`, PROCID `-`) in
/// RSYSLOG_TraditionalForwardFormat as `HOST APP MSG`: its syslog tag is `APP[PROCID]` with no
/// colon, and `[PROCID]` is left out when there is none. The tag must still be read as the
/// program, so that the sshd extractor and the sshd rules see the event.
#[test]
fn rfc3164_tag_without_colon_from_rsyslog_traditional_forward() {
    let colon =
        ok("<38>Dec  4 21:36:40 host sshd: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2");
    let bare =
        ok("<38>Dec  4 21:36:40 host sshd Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2");
    assert_eq!(bare.logsource, LogSource::new(Some("linux"), None, Some("sshd")));
    assert_eq!(bare.fields, colon.fields);
    assert_eq!((bare.format, bare.time, &bare.host), (colon.format, colon.time, &colon.host));
    assert_eq!(f(&bare, "app"), "sshd");
    assert_eq!(f(&bare, "event"), "failed_password");
    assert_eq!((f(&bare, "user"), f(&bare, "invalid_user")), ("admin".into(), "true".into()));
    assert_eq!((f(&bare, "src_ip"), f(&bare, "src_port")), ("203.0.113.9".into(), "52044".into()));
    assert_eq!(bare.message(), "Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2");
    assert_eq!(bare.format, Format::Rfc3164);
    // With a PROCID rsyslog writes `APP[PROCID] MSG`.
    let pid = ok("<38>Dec  4 21:36:40 host sshd[123] Failed password for root from 203.0.113.9 port 52044 ssh2");
    assert_eq!(
        (f(&pid, "app"), f(&pid, "pid"), f(&pid, "event")),
        ("sshd".into(), "123".into(), "failed_password".into())
    );
    assert_eq!(pid.logsource, LogSource::new(Some("linux"), None, Some("sshd")));
}
