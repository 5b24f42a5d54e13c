//! The fuzz harnesses of `vigil-parsers`: one function per fuzz target, each taking the
//! fuzzer's bytes, driving the parser's public API and asserting the invariants the parser
//! promises. A panic (a failed assertion included) is a crash.
//!
//! The same functions run in two places:
//! - the cargo-fuzz targets in `parsers/fuzz/fuzz_targets/` (nightly flags, libFuzzer);
//! - the stable regression test `parsers/tests/fuzz_regressions.rs`, which includes this file
//!   with `#[path]` and replays every seed under `parsers/fuzz/corpus/<target>/` and every kept
//!   crasher under `parsers/fuzz/regressions/<target>/`.
//!
//! So this file uses only `std`, `chrono`, `chrono-tz`, `serde_json` and `vigil_parsers`, no
//! `unsafe`, and no `unwrap` (the workspace lints apply to it in the regression test).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use vigil_parsers::framing::{self, Frame, FrameDecoder, FrameError, Framing};
use vigil_parsers::syslog::{self, Header};
use vigil_parsers::{Event, Fields, Format, InputFormat, LogSource, Origin, ParseContext, cef, json, kv, leef};

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name: the directory names under `corpus/` and `regressions/`.
pub const TARGETS: [(&str, Target); 8] = [
    ("framing", framing),
    ("rfc3164", rfc3164),
    ("rfc5424", rfc5424),
    ("cef", cef),
    ("leef", leef),
    ("json", json),
    ("kv", kv),
    ("parse_auto", parse_auto),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// Receive times and sender time zones the text targets are run under: an ordinary day in the
/// default zone, a year boundary in a zone with DST (RFC 3164's missing year), and a DST change
/// in a zone with a half-hour shift.
fn contexts() -> [(DateTime<Utc>, Tz); 3] {
    let at = |secs: i64| DateTime::from_timestamp(secs, 0).unwrap_or_default();
    [
        // 2026-11-23T12:00:00Z
        (at(1_795_435_200), vigil_parsers::DEFAULT_TZ),
        // 2027-01-01T00:00:30Z
        (at(1_798_761_630), chrono_tz::America::New_York),
        // 2026-04-04T15:10:00Z, around Lord Howe Island's DST end
        (at(1_775_315_400), chrono_tz::Australia::Lord_Howe),
    ]
}

fn parse_context(received: DateTime<Utc>, tz: Tz, with_origin: bool) -> ParseContext {
    let origin = with_origin.then(|| {
        Arc::new(Origin { source: "fuzz".to_owned(), agency: "agency".to_owned(), province: "province".to_owned() })
    });
    ParseContext { received, tz, origin }
}

/// The fuzzer's bytes as text, the way `vigil_parsers::parse` reads a line.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Whether `part` is a slice of `whole` (the parsers borrow every text field from the line).
/// An empty `part` may be a literal and is not checked.
fn borrowed(whole: &str, part: &str) -> bool {
    if part.is_empty() {
        return true;
    }
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    p >= w && p + part.len() <= w + whole.len()
}

fn assert_borrowed(whole: &str, part: &str, what: &str) {
    assert!(borrowed(whole, part), "{what} {part:?} is not a slice of the input");
}

/// An empty event to apply a payload to (what `vigil_parsers` builds before its payload
/// parsers add fields).
fn empty_event(raw: &str, format: Format) -> Event {
    let received = contexts()[0].0;
    Event {
        time: received,
        received,
        host: None,
        structured_data: Vec::new(),
        fields: Fields::new(),
        logsource: LogSource::default(),
        format,
        raw: raw.to_owned(),
        origin: None,
    }
}

/// Runs a line through the whole pipeline in every input format and checks the event. Also
/// serialises it as the engine does for alerts and `vigil parse`.
fn pipeline(line: &[u8], ctx: &ParseContext) {
    for format in [InputFormat::Auto, InputFormat::Syslog, InputFormat::Json] {
        match vigil_parsers::parse(line, ctx, format) {
            Ok(event) => check_event(&event, ctx),
            Err(e) => assert!(!e.reason().is_empty(), "error without a reason: {e:?}"),
        }
    }
    let unparsed = vigil_parsers::unparsed(line, ctx);
    assert_eq!(unparsed.format, Format::Unparsed);
    // The whole line, without its line end (`\r`, `\n`, NUL).
    assert_eq!(unparsed.message(), String::from_utf8_lossy(framing::trim_line(line)));
}

fn check_event(event: &Event, ctx: &ParseContext) {
    assert_eq!(event.received, ctx.received, "received time changed");
    assert_eq!(event.origin, ctx.origin, "origin changed");
    assert!(!event.raw.trim().is_empty(), "an event from an empty line");
    if let Some(category) = &event.logsource.category {
        let _ = vigil_parsers::implied_categories(category);
    }
    if let Err(e) = serde_json::to_string(event) {
        panic!("event does not serialise: {e}: {event:?}");
    }
}

/// Wraps a payload in a syslog header, as a relay would send it.
fn in_syslog(prefix: &str, payload: &str) -> Vec<u8> {
    let mut line = Vec::with_capacity(prefix.len() + payload.len());
    line.extend_from_slice(prefix.as_bytes());
    line.extend_from_slice(payload.as_bytes());
    line
}

// ---------------------------------------------------------------------------------------------
// framing

/// `FrameDecoder`. Input: `[max, mode, marker, stream...]`: byte 0 picks the maximum frame size
/// (1 to 192, then steps of 64 up to 4032, then the default 64 KiB), byte 1 the framing (bit 0:
/// fixed; bit 1: octet counting when fixed), byte 2 a marker byte: the stream is fed in chunks
/// cut at each marker (the markers themselves are dropped), so the fuzzer chooses the split
/// points. The same stream is also fed whole and both outputs are checked:
/// - every message is non-empty, at most `max` bytes, and does not end in CR, LF or NUL;
/// - with newline framing (or none detected by the end) no message holds a line feed;
/// - every truncated frame is exactly `max` bytes, with a `TooLong` error whose `len` exceeds
///   `max`;
/// - no more message bytes come out than went in;
/// - where the stream has no line longer than `max` and feeding it whole gives only messages
///   (no framing error), the chunked feed gives the same frames.
pub fn framing(data: &[u8]) {
    let [max_sel, mode, marker, stream @ ..] = data else {
        // Too short for the header: still a stream.
        let _ = framing::detect(data);
        let _ = decode(data.split(|_| false), None, 16);
        return;
    };
    let max = match *max_sel {
        b @ 0..=191 => usize::from(b) + 1,
        255 => framing::DEFAULT_MAX_FRAME,
        b => usize::from(b - 191) * 64,
    };
    let fixed = (mode & 1 == 1).then_some(if mode & 2 == 2 { Framing::OctetCounting } else { Framing::NewLine });
    let _ = framing::detect(stream);

    let chunked = decode(stream.split(|b| b == marker), fixed, max);
    let whole_stream: Vec<u8> = stream.iter().copied().filter(|b| b != marker).collect();
    let whole = decode(std::iter::once(&whole_stream[..]), fixed, max);
    check_frames(&chunked, max, &whole_stream);
    check_frames(&whole, max, &whole_stream);

    let longest_line = whole_stream.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
    let only_messages =
        whole.frames.iter().all(|f| matches!(f, Frame::Message(_) | Frame::Error(FrameError::Truncated { .. })));
    if longest_line <= max && only_messages {
        assert_eq!(chunked.framing, whole.framing, "framing detected differs when the stream is split");
        assert_eq!(chunked.frames, whole.frames, "frames differ when the stream is split");
    }
}

struct Decoded {
    frames: Vec<Frame>,
    framing: Option<Framing>,
}

fn decode<'a>(chunks: impl Iterator<Item = &'a [u8]>, fixed: Option<Framing>, max: usize) -> Decoded {
    let mut decoder = match fixed {
        Some(f) => FrameDecoder::with_framing(f, max),
        None => FrameDecoder::new(max),
    };
    let mut frames = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk, &mut frames);
    }
    let framing = decoder.framing();
    decoder.finish(&mut frames);
    Decoded { frames, framing }
}

fn check_frames(decoded: &Decoded, max: usize, stream: &[u8]) {
    let mut out_bytes = 0;
    for frame in &decoded.frames {
        match frame {
            Frame::Message(m) => {
                assert!(!m.is_empty(), "empty message");
                assert!(m.len() <= max, "message of {} bytes exceeds the maximum of {max}", m.len());
                assert!(!matches!(m.last(), Some(b'\r' | b'\n' | 0)), "message ends in CR, LF or NUL: {m:?}");
                // Newline framing, or a stream that ended before its framing was known (read as
                // one line).
                if decoded.framing != Some(Framing::OctetCounting) {
                    assert!(!m.contains(&b'\n'), "newline-framed message holds a line feed: {m:?}");
                }
                out_bytes += m.len();
            }
            Frame::Truncated(m, err) => {
                assert_eq!(m.len(), max, "truncated frame is not cut at the maximum");
                match err {
                    FrameError::TooLong { len, max: m_max } => {
                        assert_eq!(*m_max, max);
                        assert!(*len > max, "TooLong with len {len} <= max {max}");
                    }
                    other => panic!("truncated frame with error {other:?}"),
                }
                out_bytes += m.len();
            }
            Frame::Error(err) => {
                assert!(!err.reason().is_empty());
                assert!(!matches!(err, FrameError::TooLong { .. }), "TooLong without the truncated frame");
            }
        }
    }
    assert!(out_bytes <= stream.len(), "{out_bytes} message bytes out of a {}-byte stream", stream.len());
}

// ---------------------------------------------------------------------------------------------
// RFC 3164

/// `syslog::rfc3164` under each receive time and time zone of [`contexts`]: a header's text
/// fields are slices of the line, a PRI is at most 191, a host has no space, a Cisco tag's
/// severity is a digit 0 to 7; `syslog::parse` gives the same header for a line that is not
/// RFC 5424. Then the whole pipeline.
pub fn rfc3164(data: &[u8]) {
    let line = text(data);
    let line = line.as_ref();
    let rfc5424 = syslog::is_rfc5424(line);
    for (i, (received, tz)) in contexts().into_iter().enumerate() {
        let header = syslog::rfc3164(line, received, tz);
        if let Ok(h) = &header {
            assert_eq!(h.format, Format::Rfc3164);
            check_header(line, h);
            assert!(h.structured_data.is_empty(), "RFC 3164 header with structured data");
        }
        if !rfc5424 {
            assert_eq!(syslog::parse(line, received, tz), header, "syslog::parse differs from rfc3164");
        }
        if i < 2 {
            pipeline(data, &parse_context(received, tz, i == 1));
        }
    }
}

fn check_header(line: &str, h: &Header<'_>) {
    if let Some(pri) = h.pri {
        assert!(pri <= 191, "PRI {pri} above 191");
        let (facility, severity) = syslog::pri_names(pri);
        assert!(!facility.is_empty() && !severity.is_empty());
    }
    for (what, part) in [("host", h.host), ("app", h.app), ("tag", h.tag), ("pid", h.pid), ("msgid", h.msgid)] {
        if let Some(part) = part {
            assert_borrowed(line, part, what);
        }
    }
    assert_borrowed(line, h.message, "message");
    assert_borrowed(line, h.structured_data.as_str(), "structured data");
    if let Some(host) = h.host {
        assert!(!host.contains(' '), "host with a space: {host:?}");
    }
    if let Some(tag) = h.tag {
        let _ = syslog::app_of(tag);
    }
    if let Some(c) = &h.cisco {
        for part in [c.facility, c.severity, c.mnemonic, c.text] {
            assert_borrowed(line, part, "cisco tag");
        }
        assert!(matches!(c.severity.as_bytes(), [b'0'..=b'7']), "Cisco severity {:?}", c.severity);
        assert!(!c.facility.is_empty() && !c.mnemonic.is_empty());
    }
    let elements: Vec<_> = h.structured_data.elements().collect();
    assert_eq!(elements.is_empty(), h.structured_data.is_empty(), "validated structured data reads as no element");
    for e in elements {
        assert!(!e.id.is_empty(), "structured data element without an id");
        assert_borrowed(line, e.id, "SD-ID");
        for (name, value) in e.params() {
            assert!(!name.is_empty(), "SD-PARAM without a name");
            assert_borrowed(line, name, "SD-PARAM name");
            if let std::borrow::Cow::Borrowed(v) = value {
                assert_borrowed(line, v, "SD-PARAM value");
            }
        }
    }
    assert_eq!(h.structured_data.to_owned_elements().len(), h.structured_data.elements().count());
}

// ---------------------------------------------------------------------------------------------
// RFC 5424

/// `syslog::rfc5424`: a header is only read from a line that `is_rfc5424`; its text fields
/// are slices of the line, never the NILVALUE, without spaces; its structured data (validated
/// when the header was read) reads back as elements with an id and named params;
/// `syslog::parse` in UTC gives the same header. Then the whole pipeline.
pub fn rfc5424(data: &[u8]) {
    let line = text(data);
    let line = line.as_ref();
    let header = syslog::rfc5424(line);
    let rfc5424 = syslog::is_rfc5424(line);
    if let Ok(h) = &header {
        assert!(rfc5424, "rfc5424 read a line is_rfc5424 rejects");
        assert_eq!(h.format, Format::Rfc5424);
        assert!(h.pri.is_some(), "RFC 5424 header without a PRI");
        check_header(line, h);
        for (what, part) in [("host", h.host), ("app", h.app), ("pid", h.pid), ("msgid", h.msgid)] {
            if let Some(part) = part {
                assert!(part != "-", "{what} is the NILVALUE");
                assert!(!part.is_empty() && !part.contains(' '), "{what} {part:?}");
            }
        }
        assert!(h.tag.is_none(), "RFC 5424 header with an RFC 3164 tag");
    }
    for (i, (received, tz)) in contexts().into_iter().enumerate().take(2) {
        if rfc5424 {
            let parsed = syslog::parse(line, received, chrono_tz::UTC);
            assert_eq!(parsed, header, "syslog::parse differs from rfc5424");
            if let Ok(h) = syslog::parse(line, received, tz) {
                check_header(line, &h);
            }
        }
        pipeline(data, &parse_context(received, tz, i == 1));
    }
}

// ---------------------------------------------------------------------------------------------
// CEF

/// `cef::parse`, `parse_after_prefix`, `parse_headless`, `extension` and `apply`: a record's
/// version is digits and dots; extension keys are slices of the input that start a word with a
/// letter or `_` and hold only key characters; a headless record has a CEF severity. Then the
/// whole pipeline, as a line and as the message of RFC 5424 and RFC 3164 lines.
pub fn cef(data: &[u8]) {
    let input = text(data);
    let input = input.as_ref();
    let mut records = Vec::new();
    if let Ok(c) = cef::parse(input) {
        records.push(c);
    }
    if let Ok(c) = cef::parse_after_prefix(input) {
        records.push(c);
    }
    if let Some(c) = cef::parse_headless(input) {
        assert!(cef::is_severity(&c.severity), "headless CEF with severity {:?}", c.severity);
        records.push(c);
    }
    for c in &records {
        assert!(
            !c.version.is_empty() && c.version.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "CEF version {:?}",
            c.version
        );
        assert_borrowed(input, c.version, "CEF version");
        check_pairs(input, &c.extension, "CEF extension");
        let _ = c.get("src");
        let mut event = empty_event(input, Format::Cef);
        cef::apply(c, &mut event);
        assert!(event.fields.contains_key("cef.version"));
    }
    check_pairs(input, &cef::extension(input), "CEF extension");
    let _ = cef::is_severity(input);

    let ctx = parse_context(contexts()[0].0, contexts()[0].1, false);
    pipeline(data, &ctx);
    pipeline(&in_syslog("<134>1 2026-11-23T03:00:00Z fw01 app - - - ", input), &ctx);
    pipeline(&in_syslog("<134>1 2026-11-23T03:00:00Z fw01 CEF - - - ", input), &ctx);
    pipeline(&in_syslog("<134>Nov 23 10:00:00 fw01 CEF:", input), &ctx);
}

/// CEF/LEEF extension pairs: keys are slices of the input that start with a letter or `_` and
/// hold only letters, digits, `_`, `.`, `-`, `[` and `]`; borrowed values are slices too.
fn check_pairs(input: &str, pairs: &[(&str, std::borrow::Cow<'_, str>)], what: &str) {
    for (key, value) in pairs {
        assert_borrowed(input, key, what);
        assert!(!key.is_empty(), "{what}: empty key");
        if what == "CEF extension" {
            assert!(key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'), "{what}: key {key:?}");
            assert!(
                key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')),
                "{what}: key {key:?}"
            );
        }
        if let std::borrow::Cow::Borrowed(v) = value {
            assert_borrowed(input, v, what);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// LEEF

/// `leef::parse`, `parse_after_prefix`, `attributes` (with a tab, `^`, `|`, a space and a
/// non-ASCII delimiter) and `apply`: a record's version is digits and dots with major 1 or 2,
/// only LEEF 2.0 gives a delimiter, attribute names are non-empty slices of the input without
/// surrounding spaces. Then the whole pipeline, as a line and inside syslog.
pub fn leef(data: &[u8]) {
    let input = text(data);
    let input = input.as_ref();
    let mut records = Vec::new();
    if let Ok(l) = leef::parse(input) {
        records.push(l);
    }
    if let Ok(l) = leef::parse_after_prefix(input) {
        records.push(l);
    }
    for l in &records {
        assert!(
            !l.version.is_empty() && l.version.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "LEEF version {:?}",
            l.version
        );
        let major = l.version.split('.').next().unwrap_or_default();
        assert!(major == "1" || major == "2", "LEEF version {:?} accepted", l.version);
        assert!(!l.delimiter_given || major == "2", "LEEF 1.0 with a delimiter field");
        assert_borrowed(input, l.version, "LEEF version");
        check_leef_attributes(input, &l.attributes);
        let _ = l.get("src");
        let mut event = empty_event(input, Format::Leef);
        leef::apply(l, &mut event);
        assert!(event.fields.contains_key("leef.version"));
    }
    for delim in ['\t', '^', '|', ' ', '\u{e9}'] {
        check_leef_attributes(input, &leef::attributes(input, delim));
    }

    let ctx = parse_context(contexts()[0].0, contexts()[0].1, false);
    pipeline(data, &ctx);
    pipeline(&in_syslog("<134>1 2026-11-23T03:00:00Z qradar app - - - ", input), &ctx);
    pipeline(&in_syslog("<134>1 2026-11-23T03:00:00Z qradar LEEF - - - ", input), &ctx);
    pipeline(&in_syslog("<134>Nov 23 10:00:00 qradar LEEF:", input), &ctx);
}

fn check_leef_attributes(input: &str, attrs: &[(&str, std::borrow::Cow<'_, str>)]) {
    for (key, value) in attrs {
        assert_borrowed(input, key, "LEEF attribute name");
        assert!(!key.is_empty(), "LEEF attribute with an empty name");
        if let std::borrow::Cow::Borrowed(v) = value {
            assert_borrowed(input, v, "LEEF attribute value");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// `json::parse` (flat, evtx_dump, winlogbeat and NXLog flattening): only an object is read;
/// `local_time` is only set without `time`; a Windows logsource's service and category come
/// from `windows_logsource` and is lower case; the fields serialise. Then the whole pipeline, as
/// a line and inside syslog.
pub fn json(data: &[u8]) {
    let input = text(data);
    let input = input.as_ref();
    let root: Option<serde_json::Value> = serde_json::from_str(input).ok();
    match json::parse(input) {
        Ok(event) => {
            assert!(matches!(root, Some(serde_json::Value::Object(_))), "json::parse read a non-object");
            assert!(event.time.is_none() || event.local_time.is_none(), "both time and local_time");
            if event.logsource.product.as_deref() == Some("windows") {
                if let Some(category) = &event.logsource.category {
                    let _ = vigil_parsers::implied_categories(category);
                }
                if let Some(service) = &event.logsource.service {
                    assert_eq!(service, &service.to_ascii_lowercase(), "Windows service not lower case");
                }
            }
            if let Some(host) = &event.host {
                assert!(!host.is_empty() || event.logsource.product.as_deref() == Some("windows"));
            }
            if let Err(e) = serde_json::to_string(&event.fields) {
                panic!("fields do not serialise: {e}");
            }
        }
        Err(_) => assert!(
            !matches!(root, Some(serde_json::Value::Object(_))),
            "json::parse rejected an object serde_json reads"
        ),
    }
    for channel in [input, "Security", "Microsoft-Windows-Sysmon/Operational"] {
        let ls = json::windows_logsource(channel, Some(12), Some(input));
        assert_eq!(ls.product.as_deref(), Some("windows"));
        let _ = json::windows_service(channel);
    }

    let ctx = parse_context(contexts()[1].0, contexts()[1].1, true);
    pipeline(data, &ctx);
    pipeline(&in_syslog("<14>1 2026-11-23T03:00:00Z ws01 nxlog - - - ", input), &ctx);
    pipeline(&in_syslog("<14>Nov 23 10:00:00 ws01 winlogbeat: ", input), &ctx);
}

// ---------------------------------------------------------------------------------------------
// key=value

/// `kv::pairs`, `generic`, `is_fortigate`, `looks_like_fortigate`, `mikrotik`, `filterlog` and
/// `filterlog_product`: keys are non-empty slices of the input made of key characters, values
/// are slices of the input (or unescaped copies); `generic` only accepts two pairs or more with
/// at most three stray words; MikroTik and filterlog fields are slices of the input, and a
/// MikroTik line has both addresses. Then the whole pipeline, as a line and as the message of
/// a FortiGate, filterlog and MikroTik syslog line.
pub fn kv(data: &[u8]) {
    let input = text(data);
    let input = input.as_ref();
    let pairs = kv::pairs(input);
    for (key, value) in &pairs.pairs {
        assert!(!key.is_empty(), "empty key");
        assert_borrowed(input, key, "key");
        assert!(
            key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':')),
            "key {key:?}"
        );
        if let std::borrow::Cow::Borrowed(v) = value {
            assert_borrowed(input, v, "value");
        }
        let _ = kv::fortigate_alias(key);
    }
    let _ = pairs.get("logid");
    if kv::is_fortigate(&pairs) {
        let _ = kv::fortigate_logsource(pairs.get("type"));
    }
    if let Some(g) = kv::generic(input) {
        assert!(g.pairs.len() >= 2 && g.stray_words <= 3, "generic accepted {g:?}");
    }
    let _ = kv::looks_like_fortigate(input);
    if let Some(fields) = kv::mikrotik(input) {
        for (name, value) in &fields {
            assert_borrowed(input, value, name);
        }
        let has = |k: &str| fields.iter().any(|(n, _)| *n == k);
        assert!(has("src_ip") && has("dst_ip"), "MikroTik fields without addresses: {fields:?}");
    }
    if let Some(fields) = kv::filterlog(input) {
        for (name, value) in &fields {
            assert_borrowed(input, value, name);
        }
        let tracker = fields.iter().find(|(k, _)| *k == "tracker").map(|(_, v)| *v);
        let product = kv::filterlog_product(tracker);
        assert!(product == "pfsense" || product == "opnsense");
    }
    for word in input.split(',').take(16) {
        let _ = kv::filterlog_product(Some(word));
    }

    let ctx = parse_context(contexts()[0].0, contexts()[0].1, false);
    pipeline(data, &ctx);
    pipeline(&in_syslog("<189>1 2026-11-23T03:00:00Z FGT-HN - - - - ", input), &ctx);
    pipeline(&in_syslog("<134>Nov 23 10:00:00 pfsense filterlog[4242]: ", input), &ctx);
    pipeline(&in_syslog("<30>Nov 23 10:00:00 mikrotik firewall,info ", input), &ctx);
}

// ---------------------------------------------------------------------------------------------
// The whole pipeline

/// `vigil_parsers::parse` in each input format and `unparsed`, under three receive times and
/// time zones, with and without an origin: an event keeps the receive time and origin, is not
/// from a blank line, and serialises; an error has a reason.
pub fn parse_auto(data: &[u8]) {
    for (i, (received, tz)) in contexts().into_iter().enumerate() {
        pipeline(data, &parse_context(received, tz, i == 1));
    }
}
