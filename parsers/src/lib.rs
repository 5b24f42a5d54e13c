//! vigil's parsers: bytes in, [`Event`]s out.
//!
//! Architecture invariant: this crate does no IO. It is handed bytes and a [`ParseContext`]
//! (receive time, time zone) and returns events or errors with a stable reason code.
//!
//! - [`framing`] cuts TCP streams into messages (RFC 6587 octet counting or newlines).
//! - [`syslog`] reads RFC 5424 and RFC 3164 headers.
//! - [`programs`] extracts the fields of well-known programs' messages (sshd, sudo, useradd,
//!   web access logs, Cisco ASA/IOS) and tags each event with its Sigma logsource.
//! - [`json`] flattens JSON events (flat, evtx_dump, winlogbeat and NXLog Windows events) to
//!   Sigma's Windows field names and tags Windows events with their logsource.
//! - [`winxml`] reads Windows events as XML into the same fields, with quick-xml.
//! - [`cef`], [`leef`], [`panos`], [`snare`] and [`kv`] read payloads: ArcSight CEF, QRadar
//!   LEEF 1.0/2.0, Palo Alto PAN-OS CSV, Snare's `MSWinEventLog` Windows records (Snare agents,
//!   NXLog's `to_syslog_snare()`), FortiGate key=value, MikroTik firewall and login lines,
//!   pfSense/OPNsense `filterlog` and generic key=value.
//!   A syslog body is dispatched to them by `payload::apply`; a line that is such a payload
//!   without a syslog header is read by `payload::line`.
//! - [`relp`] decodes RELP frames (rsyslog's `omrelp`) and encodes the server's answers.

pub mod cef;
pub mod event;
pub mod fields;
pub mod framing;
pub mod json;
mod jsondoc;
pub mod kv;
pub mod leef;
pub mod names;
pub mod panos;
mod payload;
pub mod programs;
pub mod relp;
pub mod snare;
pub mod syslog;
pub mod winxml;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

pub use event::{Event, FieldName, Fields, Format, LogSource, Origin, SdElement, Value};
pub use json::implied_categories;

/// The default time zone for senders whose timestamps carry none.
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// What a parser needs to know besides the bytes.
#[derive(Clone, Debug)]
pub struct ParseContext {
    /// When the line was received; the event time when the line has none, and the reference
    /// for RFC 3164's missing year.
    pub received: DateTime<Utc>,
    /// The sender's time zone, for timestamps without an offset.
    pub tz: Tz,
    /// The sender's source, copied into every event.
    pub origin: Option<std::sync::Arc<Origin>>,
}

impl ParseContext {
    pub fn new(received: DateTime<Utc>) -> Self {
        ParseContext { received, tz: DEFAULT_TZ, origin: None }
    }
}

/// Which grammar to read a line with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// JSON when the line starts with `{`, otherwise syslog (then a web access line).
    #[default]
    Auto,
    Syslog,
    Json,
}

/// Why a line could not be parsed. The line is still kept: see [`unparsed`].
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error("not a valid {0} header")]
    BadHeader(&'static str),
    #[error("invalid timestamp {0:?}")]
    BadTimestamp(String),
    #[error("invalid RFC 5424 structured data")]
    BadStructuredData,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("invalid Windows XML event: {0}")]
    Xml(String),
    #[error("invalid CEF: {0}")]
    BadCef(&'static str),
    #[error("invalid LEEF: {0}")]
    BadLeef(&'static str),
    #[error("invalid filterlog CSV")]
    BadFilterlog,
    #[error("invalid Snare MSWinEventLog record")]
    BadSnare,
}

impl ParseError {
    /// A stable reason code, for counters and summaries.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::BadHeader(_) => "bad_header",
            ParseError::BadTimestamp(_) => "bad_timestamp",
            ParseError::BadStructuredData => "bad_structured_data",
            ParseError::Json(_) => "bad_json",
            ParseError::Xml(_) => "bad_xml",
            ParseError::BadCef(_) => "bad_cef",
            ParseError::BadLeef(_) => "bad_leef",
            ParseError::BadFilterlog => "bad_filterlog",
            ParseError::BadSnare => "bad_snare",
        }
    }
}

fn base_event(raw: String, format: Format, ctx: &ParseContext) -> Event {
    Event {
        time: ctx.received,
        received: ctx.received,
        host: None,
        structured_data: Vec::new(),
        fields: Fields::new(),
        logsource: LogSource::default(),
        format,
        raw,
        origin: ctx.origin.clone(),
    }
}

/// Parses one line (a frame, without its framing) into an event.
/// Bytes that are not UTF-8 are replaced by U+FFFD.
pub fn parse(line: &[u8], ctx: &ParseContext, format: InputFormat) -> Result<Event, ParseError> {
    parse_text(&String::from_utf8_lossy(line), ctx, format)
}

/// [`parse`] for a line already decoded (the engine decodes once, to count invalid UTF-8).
pub fn parse_text(text: &str, ctx: &ParseContext, format: InputFormat) -> Result<Event, ParseError> {
    let trimmed = text.trim_end_matches(['\r', '\n', '\0']);
    if trimmed.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    match format {
        InputFormat::Json => parse_json(trimmed, ctx),
        InputFormat::Auto if trimmed.trim_start().starts_with('{') => parse_json(trimmed, ctx),
        InputFormat::Auto if winxml::looks_like(trimmed) => parse_xml(trimmed, ctx),
        // CEF, LEEF or FortiGate key=value without a syslog header (optionally after a PRI).
        InputFormat::Auto | InputFormat::Syslog => match payload::line(trimmed, ctx) {
            Some(result) => result,
            None => parse_syslog(trimmed, ctx),
        },
    }
}

/// The event for a line no grammar recognised: the whole line is the message, the event time is
/// the receive time. Keyword rules still see it.
pub fn unparsed(line: &[u8], ctx: &ParseContext) -> Event {
    let raw = String::from_utf8_lossy(framing::trim_line(line)).into_owned();
    let mut event = base_event(raw.clone(), Format::Unparsed, ctx);
    event.set("message", raw);
    event
}

fn parse_xml(text: &str, ctx: &ParseContext) -> Result<Event, ParseError> {
    let body = text.trim_start();
    let body = body.strip_prefix("- ").unwrap_or(body);
    let parsed = winxml::parse(body).map_err(ParseError::Xml)?;
    let mut event = base_event(text.to_owned(), Format::Xml, ctx);
    event.time = parsed.time.unwrap_or(ctx.received);
    event.host = parsed.host;
    event.fields = parsed.fields;
    event.logsource = parsed.logsource;
    Ok(event)
}

fn parse_json(text: &str, ctx: &ParseContext) -> Result<Event, ParseError> {
    let parsed = json::parse(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let mut event = base_event(text.to_owned(), Format::Json, ctx);
    event.time = parsed
        .time
        .or_else(|| parsed.local_time.and_then(|t| ctx.tz.from_local_datetime(&t).earliest()).map(|t| t.to_utc()))
        .unwrap_or(ctx.received);
    event.host = parsed.host;
    event.fields = parsed.fields;
    event.logsource = parsed.logsource;
    Ok(event)
}

fn parse_syslog(text: &str, ctx: &ParseContext) -> Result<Event, ParseError> {
    let header = match syslog::parse(text, ctx.received, ctx.tz) {
        Ok(h) => h,
        // Not syslog: a web access line, or another well-known format of its own (raw auditd
        // records, web server error logs, application logs that start with a timestamp).
        // A line that starts like a syslog PRI but is not valid syslog is not some other log
        // format: it is a bad header, counted as such.
        Err(e) if text.starts_with('<') => return Err(e),
        Err(e) => return access_log_event(text, ctx).or_else(|| programs::headerless(text, ctx)).ok_or(e),
    };
    // rsyslog's traditional templates relay an RFC 5424 message as `HOST APP MSG`, the tag
    // without its colon: the first word is the tag when it names a known program, or when a
    // JSON object, an XML event or a Snare record follows it.
    let header = match header.untagged() {
        Some(candidate) if programs::untagged_program(&candidate) || payload::is_document(candidate.message) => {
            candidate
        }
        _ => header,
    };
    let mut event = base_event(text.to_owned(), header.format, ctx);
    programs::apply_header(&header, &mut event, ctx);
    // NXLog's to_syslog_ietf() carries a Windows event's fields in its structured data.
    if !header.structured_data.is_empty() {
        payload::apply_structured(&header, &mut event);
    }

    let body = header.message.trim_start();
    if header.cisco.is_some() {
        // Cisco's `%FAC-SEV-MNEMONIC: text` has a grammar per message id, not a payload.
        programs::extract(&header, &mut event);
    } else if payload::apply(header.app, body, &mut event, ctx) {
        // JSON, CEF, LEEF, filterlog, FortiGate or MikroTik: the payload parsers set the fields.
    } else {
        // auditd, netfilter, web access and error lines, and the programs' own messages.
        programs::extract(&header, &mut event);
    }
    Ok(event)
}

fn access_log_event(text: &str, ctx: &ParseContext) -> Option<Event> {
    let (time, fields) = programs::access_log(text)?;
    let mut event = base_event(text.to_owned(), Format::AccessLog, ctx);
    event.time = time;
    event.logsource = LogSource::new(None, Some("webserver"), None);
    event.set("message", text);
    for (k, v) in fields {
        event.set(k, v);
    }
    Some(event)
}

/// Helpers for the parsers' unit tests: a line parsed at a fixed receive time, and a field as
/// text.
#[cfg(test)]
pub(crate) mod test_util {
    use chrono::{TimeZone, Utc};

    use crate::{InputFormat, ParseContext};

    pub(crate) fn parse(line: &str) -> crate::Event {
        let ctx = ParseContext::new(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).single().unwrap_or_default());
        crate::parse(line.as_bytes(), &ctx, InputFormat::Auto).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    /// A field's text; empty when absent.
    pub(crate) fn f(e: &crate::Event, name: &str) -> String {
        e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        let received =
            DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
        ParseContext::new(received)
    }

    fn field(e: &Event, name: &str) -> String {
        e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {name}>"))
    }

    #[test]
    fn sshd_failed_password_fields() {
        let line = b"<38>Nov 23 10:00:01 bastion sshd[812]: Failed password for invalid user admin from 203.0.113.9 port 52044 ssh2";
        let e = parse(line, &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.format, Format::Rfc3164);
        assert_eq!(e.logsource, LogSource::new(Some("linux"), None, Some("sshd")));
        assert_eq!(field(&e, "event"), "failed_password");
        assert_eq!(field(&e, "user"), "admin");
        assert_eq!(field(&e, "invalid_user"), "true");
        assert_eq!(field(&e, "src_ip"), "203.0.113.9");
        assert_eq!(field(&e, "src_port"), "52044");
        assert_eq!(e.host.as_deref(), Some("bastion"));
        assert_eq!(e.time.to_rfc3339(), "2026-11-23T03:00:01+00:00");
    }

    #[test]
    fn sudo_and_useradd_fields() {
        let e = parse(b"<85>1 2026-11-23T10:00:00Z h sudo - - - alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash", &ctx(), InputFormat::Auto)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.format, Format::Rfc5424);
        assert_eq!(
            (field(&e, "user"), field(&e, "target_user"), field(&e, "command")),
            ("alice".into(), "root".into(), "/bin/bash".into())
        );
        let e = parse(b"Nov 23 10:00:00 h useradd[7]: new user: name=bob, UID=0, GID=0, home=/home/bob, shell=/bin/bash, from=/dev/pts/0", &ctx(), InputFormat::Auto)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (field(&e, "event"), field(&e, "user"), field(&e, "uid")),
            ("new_user".into(), "bob".into(), "0".into())
        );
        assert_eq!(e.logsource.service.as_deref(), Some("auth"));
    }

    #[test]
    fn access_log_line_with_and_without_syslog_header() {
        let access = r#"198.51.100.7 - - [23/Nov/2026:10:00:00 +0700] "GET /uploads/shell.php?cmd=whoami HTTP/1.1" 200 512 "-" "curl/8.5""#;
        let e = parse(access.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.format, Format::AccessLog);
        assert_eq!(e.logsource.category.as_deref(), Some("webserver"));
        assert_eq!(field(&e, "cs-uri-query"), "cmd=whoami");
        assert_eq!(field(&e, "cs-user-agent"), "curl/8.5");
        let wrapped = format!("<190>Nov 23 10:00:00 portal nginx: {access}");
        let e = parse(wrapped.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(field(&e, "cs-uri-stem"), "/uploads/shell.php");
        assert_eq!(field(&e, "cs-uri"), "/uploads/shell.php?cmd=whoami");
        assert_eq!(field(&e, "c-ip"), "198.51.100.7");
    }

    #[test]
    fn evtx_dump_json_is_flattened_to_sigma_names() {
        let line = r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws01","TimeCreated":{"#attributes":{"SystemTime":"2025-11-27T07:40:10.165324Z"}}},"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami"}}}"##;
        let e = parse(line.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.field("EventID"), Some(&Value::Int(1)));
        assert_eq!(field(&e, "Provider_Name"), "Microsoft-Windows-Sysmon");
        assert_eq!(field(&e, "CommandLine"), "cmd /c whoami");
        assert_eq!(e.logsource, LogSource::new(Some("windows"), Some("process_creation"), Some("sysmon")));
        assert_eq!(e.host.as_deref(), Some("ws01"));
        assert_eq!(e.time.to_rfc3339(), "2025-11-27T07:40:10.165324+00:00");
    }

    #[test]
    fn a_word_before_a_json_object_is_its_tag() {
        let e = parse(
            b"<14>Dec  4 21:36:40 relay shipper {\"EventID\":4625,\"Channel\":\"Security\"}",
            &ctx(),
            InputFormat::Auto,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((field(&e, "app"), field(&e, "EventID")), ("shipper".into(), "4625".into()));
        assert_eq!(e.logsource, LogSource::new(Some("windows"), None, Some("security")));
        // Not a whole object: the word stays message.
        let e = parse(b"<14>Dec  4 21:36:40 h counted {a} of b", &ctx(), InputFormat::Auto)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((field(&e, "app"), e.message().into_owned()), ("<no app>".into(), "counted {a} of b".into()));
    }

    #[test]
    fn garbage_is_an_error_with_a_reason_never_a_panic() {
        for line in [&b"not syslog at all"[..], b"<999>x", b"{\"broken\": ", b"   ", b"\xff\xfe<13>"] {
            if let Err(e) = parse(line, &ctx(), InputFormat::Auto) {
                assert!(!e.reason().is_empty());
            }
        }
        assert_eq!(parse(b"{\"a\":", &ctx(), InputFormat::Auto).map_err(|e| e.reason()), Err("bad_json"));
        let e = unparsed(b"free text", &ctx());
        assert_eq!(e.message(), "free text");
    }
}
