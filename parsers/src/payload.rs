//! Payload dispatch: what a syslog message body (or a whole line without a syslog header) is,
//! and which payload parser adds its fields.
//!
//! A syslog body is read, in order, as: JSON (starts with `{`), a Windows XML event, a Snare
//! `MSWinEventLog` record, CEF (`CEF:`, or the syslog tag `CEF` when a parser read `CEF:0|...`
//! as `TAG: MSG`), LEEF (likewise), pfSense/OPNsense
//! `filterlog`, FortiGate key=value, a MikroTik firewall line, and last, when the body is mostly
//! `key=value` pairs, the generic pairs (which only add fields, never replace one, and let the
//! program extractors run after them). A payload that is recognised but malformed keeps the
//! syslog event and adds `payload_error` with the reason code (`bad_cef`, `bad_leef`,
//! `bad_filterlog`, `bad_json`, `bad_snare`).
//!
//! Before the body, the RFC 5424 structured data: NXLog's `to_syslog_ietf()` writes a Windows
//! event's fields there, which [`apply_structured`] reads as NXLog's JSON keys are read.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::event::{Event, Fields, Format, LogSource, Value};
use crate::{ParseContext, ParseError, base_event, cef, json, kv, leef, panos, snare, syslog, winxml};

/// An optional `<PRI>` at the start of a line.
fn split_pri(text: &str) -> (Option<u8>, &str) {
    if let Some(r) = text.strip_prefix('<')
        && let Some(end) = r.get(..4).unwrap_or(r).find('>')
        && let Ok(pri) = r[..end].parse::<u8>()
        && end > 0
        && pri <= 191
    {
        return (Some(pri), &r[end + 1..]);
    }
    (None, text)
}

/// A line that is a payload without a syslog header (`CEF:...`, `LEEF:...`, FortiGate's
/// `date=... logid=...`, or a CEF record that lost its `CEF:` prefix, see
/// [`cef::parse_headless`]), optionally after a `<PRI>`. `None` when the line is something else.
pub(crate) fn line(text: &str, ctx: &ParseContext) -> Option<Result<Event, ParseError>> {
    let (pri, rest) = split_pri(text);
    let body = rest.trim_start();
    let headless = cef::parse_headless(body);
    let format = if body.starts_with("CEF:") || headless.is_some() {
        Format::Cef
    } else if body.starts_with("LEEF:") {
        Format::Leef
    } else if kv::looks_like_fortigate(body) {
        Format::Kv
    } else {
        return None;
    };
    let mut event = base_event(text.to_owned(), format, ctx);
    if let Some(pri) = pri {
        let (facility, severity) = syslog::pri_names(pri);
        event.set("facility", facility);
        event.set("severity", severity);
    }
    event.set("message", body);
    match format {
        Format::Cef => match headless.map_or_else(|| cef::parse(body), Ok) {
            Ok(c) => apply_cef(&c, &mut event, ctx),
            Err(e) => return Some(Err(e)),
        },
        Format::Leef => match leef::parse(body) {
            Ok(l) => apply_leef(&l, &mut event, ctx),
            Err(e) => return Some(Err(e)),
        },
        _ => {
            let pairs = kv::pairs(body);
            if !kv::is_fortigate(&pairs) {
                return None;
            }
            apply_fortigate(&pairs, &mut event, ctx);
        }
    }
    Some(Ok(event))
}

/// NXLog's SD-ID: its private enterprise number.
const NXLOG_SD_ID: &str = "NXLOG@14506";

/// NXLog's `to_syslog_ietf()` of a Windows event: its fields are the params of the
/// `NXLOG@14506` structured data element (`EventID`, `Channel`, the EventData such as
/// `TargetUserName`...), its `SourceName` the APP-NAME and its `Hostname` the HOSTNAME. They
/// join the event under their own names and Sigma's (as NXLog's JSON keys do, see [`json`]),
/// without replacing a field the header set, and the event gets the Windows logsource. Not a
/// Windows event (no `EventID`, or no `Channel` nor `SourceName`): nothing changes, the params
/// stay as `sd.NXLOG@14506.*` only.
pub(crate) fn apply_structured(header: &syslog::Header<'_>, event: &mut Event) {
    let Some(element) = header.structured_data.elements().find(|e| e.id == NXLOG_SD_ID) else { return };
    let mut fields = Fields::new();
    for (name, value) in element.params() {
        fields.insert(name.to_owned().into(), Value::from(value.into_owned()));
    }
    for (name, value) in [("SourceName", header.app), ("Hostname", header.host)] {
        if let Some(v) = value {
            fields.entry(name.into()).or_insert_with(|| Value::from(v));
        }
    }
    let Some(logsource) = json::nxlog_windows(&mut fields) else { return };
    for (name, value) in fields {
        event.fields.entry(name).or_insert(value);
    }
    event.logsource = logsource;
}

/// Whether a syslog message is a document that says what it is from its first bytes: a JSON
/// object, a Windows XML event or a Snare record. A word before one is the program's tag
/// without its colon (`relay winlogbeat {...}`: rsyslog relaying RFC 5424 in a traditional
/// template).
pub(crate) fn is_document(body: &str) -> bool {
    body.starts_with('{') && body.trim_end().ends_with('}')
        || winxml::looks_like(body)
        || body.starts_with(snare::PREFIX)
}

/// Adds the fields of a syslog message body's payload to `event` (whose header fields are set).
/// Returns whether the body was a payload, in which case no program extractor should read it.
pub(crate) fn apply(app: Option<&str>, body: &str, event: &mut Event, ctx: &ParseContext) -> bool {
    if body.starts_with('{') {
        // JSON carried in syslog (NXLog, winlogbeat via a relay): its fields join the event's.
        match json::parse(body) {
            Ok(parsed) => {
                event.fields.extend(parsed.fields);
                if parsed.logsource != LogSource::default() {
                    if parsed.logsource.product.as_deref() == Some("windows")
                        && let Some(host) = parsed.host
                    {
                        event.host = Some(host);
                    }
                    event.logsource = parsed.logsource;
                }
                if let Some(t) = parsed.time.or_else(|| parsed.local_time.and_then(|t| local(t, ctx.tz))) {
                    event.time = t;
                }
            }
            Err(_) => event.set("payload_error", "bad_json"),
        }
        return true;
    }
    if winxml::looks_like(body) {
        // A Windows event as XML carried in syslog (NXLog's to_xml(), relays).
        let xml = body.trim_start();
        match winxml::parse(xml.strip_prefix("- ").unwrap_or(xml)) {
            Ok(parsed) => {
                event.fields.extend(parsed.fields);
                event.logsource = parsed.logsource;
                if let Some(host) = parsed.host {
                    event.host = Some(host);
                }
                if let Some(t) = parsed.time {
                    event.time = t;
                }
            }
            Err(_) => event.set("payload_error", "bad_xml"),
        }
        return true;
    }
    if body.starts_with(snare::PREFIX) {
        // Snare's tab-separated Windows record (Snare agents, NXLog's to_syslog_snare()).
        match snare::parse(body) {
            Some(record) => snare::apply(&record, event),
            None => event.set("payload_error", ParseError::BadSnare.reason()),
        }
        return true;
    }
    let tagged = |name: &str| {
        app.is_some_and(|a| a.eq_ignore_ascii_case(name)) && body.trim_start().starts_with(|c: char| c.is_ascii_digit())
    };
    if body.starts_with("CEF:") || tagged("CEF") {
        let from_tag = !body.starts_with("CEF:");
        let parsed = if from_tag { cef::parse_after_prefix(body) } else { cef::parse(body) };
        match parsed {
            Ok(c) => {
                if from_tag {
                    untag(event, "CEF:");
                }
                apply_cef(&c, event, ctx);
            }
            Err(e) => event.set("payload_error", e.reason()),
        }
        return true;
    }
    if body.starts_with("LEEF:") || tagged("LEEF") {
        let from_tag = !body.starts_with("LEEF:");
        let parsed = if from_tag { leef::parse_after_prefix(body) } else { leef::parse(body) };
        match parsed {
            Ok(l) => {
                if from_tag {
                    untag(event, "LEEF:");
                }
                apply_leef(&l, event, ctx);
            }
            Err(e) => event.set("payload_error", e.reason()),
        }
        return true;
    }
    if app == Some("filterlog") {
        match kv::filterlog(body) {
            Some(fields) => {
                let product = kv::filterlog_product(fields.iter().find(|(k, _)| *k == "tracker").map(|(_, v)| *v));
                set_firewall_fields(event, &fields);
                event.logsource = LogSource::new(Some(product), Some("firewall"), None);
            }
            None => event.set("payload_error", ParseError::BadFilterlog.reason()),
        }
        return true;
    }
    if panos::apply(body, event) {
        return true;
    }
    if body.contains("logid=") {
        let pairs = kv::pairs(body);
        if kv::is_fortigate(&pairs) {
            apply_fortigate(&pairs, event, ctx);
            return true;
        }
    }
    if body.contains("in:")
        && body.contains("->")
        && let Some(fields) = kv::mikrotik(body)
    {
        set_firewall_fields(event, &fields);
        event.logsource = LogSource::new(Some("mikrotik"), Some("firewall"), None);
        return true;
    }
    if let Some(fields) = kv::mikrotik_login(body) {
        set_firewall_fields(event, &fields);
        event.logsource = LogSource::new(Some("mikrotik"), None, None);
        return true;
    }
    if let Some(pairs) = kv::generic(body) {
        for (k, v) in pairs.pairs {
            if !event.fields.contains_key(k) {
                event.set(k.to_owned(), v.into_owned());
            }
        }
    }
    false
}

/// The syslog parser read `CEF:`/`LEEF:` as a program tag: drop that `app` and give the message
/// its prefix back.
fn untag(event: &mut Event, prefix: &str) {
    event.fields.remove("app");
    if let Some(at) = event.raw.find(prefix) {
        let message = event.raw[at..].to_owned();
        event.set("message", message);
    }
}

fn set_firewall_fields(event: &mut Event, fields: &kv::FirewallFields<'_>) {
    for (name, value) in fields {
        if *name == "proto" {
            event.set(*name, value.to_ascii_lowercase());
        } else {
            event.set(*name, *value);
        }
    }
}

fn local(t: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&t).earliest().map(|t| t.with_timezone(&Utc))
}

/// A device time: epoch milliseconds (or seconds), RFC 3339, or `MMM dd yyyy HH:mm:ss[.SSS][ ZONE]`
/// (CEF's `rt`, LEEF's default `devTime` format), the last read in `tz` when it has no offset.
fn device_time(s: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return match s.len() {
            13 => DateTime::from_timestamp_millis(n),
            10 => DateTime::from_timestamp(n, 0),
            _ => None,
        };
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%b %d %Y %H:%M:%S%.f %z") {
        return Some(t.with_timezone(&Utc));
    }
    let no_zone = s.strip_suffix(" UTC").or_else(|| s.strip_suffix(" GMT"));
    if let Some(utc) = no_zone {
        return NaiveDateTime::parse_from_str(utc, "%b %d %Y %H:%M:%S%.f").ok().map(|t| t.and_utc());
    }
    NaiveDateTime::parse_from_str(s, "%b %d %Y %H:%M:%S%.f").ok().and_then(|t| local(t, tz))
}

/// A time written in the Java `SimpleDateFormat` pattern `pattern` (LEEF's `devTimeFormat`, for
/// example `yyyy-MM-dd'T'HH:mm:ss.SSSZ` or `MMM dd yyyy HH:mm:ss z`), read in `tz` when the
/// pattern has no offset. A zone written as a name (`z`) is understood for UTC and GMT only.
fn java_time(s: &str, pattern: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let (format, offset, named_zone) = java_to_strftime(pattern)?;
    let mut s = s.trim();
    if named_zone {
        s = s.strip_suffix("UTC").or_else(|| s.strip_suffix("GMT")).or_else(|| s.strip_suffix('Z'))?.trim_end();
        return NaiveDateTime::parse_from_str(s, format.trim_end()).ok().map(|t| t.and_utc());
    }
    if offset {
        return DateTime::parse_from_str(s, &format).ok().map(|t| t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, &format).ok().and_then(|t| local(t, tz))
}

/// A `SimpleDateFormat` pattern as a chrono format: the format, whether it has a numeric offset,
/// and whether it ends in a zone name (left out of the format). `None` for letters chrono
/// cannot read.
fn java_to_strftime(pattern: &str) -> Option<(String, bool, bool)> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let (mut offset, mut named) = (false, false);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // Quoted literal text; '' is a quote.
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            for q in chars.by_ref() {
                if q == '\'' {
                    break;
                }
                if q == '%' {
                    out.push('%');
                }
                out.push(q);
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            if c == '%' {
                out.push('%');
            }
            out.push(c);
            continue;
        }
        let mut n = 1;
        while chars.peek() == Some(&c) {
            chars.next();
            n += 1;
        }
        let item = match (c, n) {
            ('y' | 'u', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 1..=3) => "%3f",
            ('S', 4..=6) => "%6f",
            ('S', _) => "%9f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('Z', _) | ('X', 1 | 2) | ('x', 1 | 2) => {
                offset = true;
                "%z"
            }
            ('X' | 'x', _) => {
                offset = true;
                "%:z"
            }
            ('z', _) => {
                named = true;
                ""
            }
            _ => return None,
        };
        out.push_str(item);
    }
    // A zone name is only understood at the end of the pattern.
    if named && (offset || !pattern.trim_end().ends_with('z')) {
        return None;
    }
    Some((out, offset, named))
}

/// Uses a payload's own time when the header gave none (the event time is still the receive time).
fn set_time(event: &mut Event, time: Option<DateTime<Utc>>) {
    if let Some(t) = time
        && event.time == event.received
    {
        event.time = t;
    }
}

/// The logsource of a CEF or LEEF record from its vendor and product: known firewalls get their
/// Sigma product, and `category: firewall` when the record has a source and destination address.
fn vendor_logsource(vendor: &str, product: &str, has_addresses: bool) -> LogSource {
    let v = vendor.to_ascii_lowercase();
    let p = product.to_ascii_lowercase();
    let (name, service) = if v.contains("fortinet") && (p.contains("fortigate") || p.contains("fortios")) {
        (Some("fortigate"), None)
    } else if v.contains("palo alto") {
        (Some("paloalto"), None)
    } else if v.contains("check point") || v.contains("checkpoint") {
        (Some("checkpoint"), None)
    } else if v.contains("cisco") && p.contains("asa") {
        (Some("cisco"), Some("asa"))
    } else if v.contains("ubiquiti") || p.contains("unifi") {
        (Some("unifi"), None)
    } else if v.contains("sophos") {
        (Some("sophos"), None)
    } else if v.contains("juniper") {
        (Some("juniper"), None)
    } else {
        (None, None)
    };
    let firewall = name.is_some() && has_addresses;
    LogSource::new(name, firewall.then_some("firewall"), service)
}

fn apply_cef(c: &cef::Cef<'_>, event: &mut Event, ctx: &ParseContext) {
    cef::apply(c, event);
    let has_addresses =
        c.get("src").or(c.get("sourceAddress")).is_some() && c.get("dst").or(c.get("destinationAddress")).is_some();
    event.logsource = vendor_logsource(&c.device_vendor, &c.device_product, has_addresses);
    if event.format == Format::Cef
        && let Some(host) = c.get("dvchost").or(c.get("deviceHostName")).or(c.get("dvc"))
    {
        event.host = Some(host.to_owned());
        event.set("host", host);
    }
    let time =
        ["rt", "deviceReceiptTime", "end", "start"].iter().find_map(|k| c.get(k)).and_then(|t| device_time(t, ctx.tz));
    set_time(event, time);
}

fn apply_leef(l: &leef::Leef<'_>, event: &mut Event, ctx: &ParseContext) {
    leef::apply(l, event);
    let has_addresses = l.get("src").is_some() && l.get("dst").is_some();
    event.logsource = vendor_logsource(&l.vendor, &l.product, has_addresses);
    if event.format == Format::Leef
        && let Some(host) = l.get("identHostName").or(l.get("devName"))
    {
        event.host = Some(host.to_owned());
        event.set("host", host);
    }
    let time = l
        .get("devTime")
        .and_then(|t| l.get("devTimeFormat").and_then(|f| java_time(t, f, ctx.tz)).or_else(|| device_time(t, ctx.tz)));
    set_time(event, time);
}

/// FortiGate's time: `date` and `time` with `tz`, else `eventtime` (epoch s, ms, µs or ns),
/// else `date` and `time` in the sender's zone.
fn fortigate_time(p: &kv::Pairs<'_>, tz: Tz) -> Option<DateTime<Utc>> {
    let date_time = p.get("date").zip(p.get("time")).map(|(d, t)| format!("{d} {t}"));
    if let (Some(dt), Some(zone)) = (&date_time, p.get("tz")) {
        let zone = zone.replace(':', "");
        if let Ok(t) = DateTime::parse_from_str(&format!("{dt} {zone}"), "%Y-%m-%d %H:%M:%S %z") {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Some(n) = p.get("eventtime").filter(|s| s.bytes().all(|b| b.is_ascii_digit())).and_then(|s| {
        let n: i64 = s.parse().ok()?;
        match s.len() {
            19 => Some(DateTime::from_timestamp_nanos(n)),
            16 => DateTime::from_timestamp_micros(n),
            13 => DateTime::from_timestamp_millis(n),
            10 => DateTime::from_timestamp(n, 0),
            _ => None,
        }
    }) {
        return Some(n);
    }
    date_time.and_then(|dt| NaiveDateTime::parse_from_str(&dt, "%Y-%m-%d %H:%M:%S").ok()).and_then(|t| local(t, tz))
}

fn apply_fortigate(p: &kv::Pairs<'_>, event: &mut Event, ctx: &ParseContext) {
    for (key, value) in &p.pairs {
        let name = if cef::RESERVED.contains(key) { format!("fortigate.{key}") } else { (*key).to_owned() };
        event.fields.insert(name.into(), Value::from(value.as_ref()));
        if let Some(alias) = kv::fortigate_alias(key) {
            event.set(alias, value.as_ref());
        }
    }
    event.logsource = kv::fortigate_logsource(p.get("type"));
    if event.format == Format::Kv
        && let Some(host) = p.get("devname")
    {
        event.host = Some(host.to_owned());
        event.set("host", host);
    }
    set_time(event, fortigate_time(p, ctx.tz));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
    }

    #[test]
    fn leef_dev_time_format() {
        let hcm: Tz = "Asia/Ho_Chi_Minh".parse().unwrap_or(chrono_tz::UTC);
        let cases = [
            ("2026-11-23T10:00:00.123+0700", "yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2026-11-23T03:00:00.123Z"),
            ("2026-11-23T10:00:00+07:00", "yyyy-MM-dd'T'HH:mm:ssXXX", "2026-11-23T03:00:00Z"),
            ("Nov 23 2026 10:00:00 UTC", "MMM dd yyyy HH:mm:ss z", "2026-11-23T10:00:00Z"),
            // No zone in the pattern: the sender's time zone.
            ("23/11/2026 10:00:00", "dd/MM/yyyy HH:mm:ss", "2026-11-23T03:00:00Z"),
            ("2026.11.23 at 10:00:00 PM", "yyyy.MM.dd 'at' hh:mm:ss a", "2026-11-23T15:00:00Z"),
        ];
        for (value, pattern, want) in cases {
            assert_eq!(java_time(value, pattern, hcm), utc(want), "{value} / {pattern}");
        }
        // Unreadable patterns and values give no time (the caller falls back to device_time).
        assert_eq!(java_time("Nov 23 2026 10:00:00 PST", "MMM dd yyyy HH:mm:ss z", hcm), None);
        assert_eq!(java_time("2026-11-23", "yyyy-MM-dd G", hcm), None);
        assert_eq!(java_time("garbage", "yyyy-MM-dd", hcm), None);
    }

    #[test]
    fn leef_record_uses_dev_time_format() {
        let ctx = ParseContext::new(utc("2026-11-23T05:00:00Z").unwrap_or_default());
        let line = "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^devTime=2026-11-23 10:00:00.250 +0700^devTimeFormat=yyyy-MM-dd HH:mm:ss.SSS Z";
        let e = crate::parse(line.as_bytes(), &ctx, crate::InputFormat::Auto).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Some(e.time), utc("2026-11-23T03:00:00.250Z"));
    }
}
