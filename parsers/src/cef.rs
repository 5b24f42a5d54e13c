//! ArcSight Common Event Format (CEF), as a whole line or as the message of a syslog line:
//!
//! ```text
//! CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension
//! ```
//!
//! Header fields escape `|` and `\` with a backslash. The extension is `key=value` pairs
//! separated by spaces; a value may hold spaces and ends where the next ` key=` starts; in values
//! `\=`, `\\`, `\n` and `\r` are escapes. The parser borrows from the line and allocates only for
//! values that hold an escape.
//!
//! Fields (see [`apply`]):
//!
//! | field | from |
//! |---|---|
//! | `cef.version`, `cef.device_vendor`, `cef.device_product`, `cef.device_version`, `cef.signature_id`, `cef.name`, `cef.severity` | the header |
//! | every extension key under its own name (`src`, `dst`, `spt`, `dpt`, `act`, `suser`, `request`, `msg`, `cs1`, `cs1Label`, ...) | the extension; a key that is one of vigil's header field names (`app`, `host`, `pid`, `msgid`, `facility`, `severity`, `message`) is kept as `cef.KEY` |
//! | the label of a custom field (`cs1Label=User-Agent cs1=curl/8` gives `User-Agent` = `curl/8`), for `cs1`..`cs6`, `cn1`..`cn3`, `cfp1`..`cfp4`, `c6a1`..`c6a4`, `flexString1`/`2`, `flexNumber1`/`2`, `flexDate1`, `deviceCustom*` | the extension, unless a field of that name exists already (the label never replaces a field) |
//! | `src_ip`, `dst_ip`, `src_port`, `dst_port`, `proto`, `action`, `src_user`, `dst_user`, `src_host`, `dst_host`, `c-uri`, `cs-method`, `c-useragent` | Sigma-style aliases of `src`/`sourceAddress`, `dst`/`destinationAddress`, `spt`/`sourcePort`, `dpt`/`destinationPort`, `proto`/`transportProtocol`, `act`/`deviceAction`, `suser`/`sourceUserName`, `duser`/`destinationUserName`, `shost`/`sourceHostName`, `dhost`/`destinationHostName`, `request`/`requestUrl`, `requestMethod`, `requestClientApplication` |

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, space0};
use nom::combinator::rest;
use nom::sequence::terminated;
use nom::{IResult, Parser};

use crate::ParseError;
use crate::event::Event;

/// A CEF record, borrowed from its line.
#[derive(Debug, PartialEq)]
pub struct Cef<'a> {
    pub version: &'a str,
    pub device_vendor: Cow<'a, str>,
    pub device_product: Cow<'a, str>,
    pub device_version: Cow<'a, str>,
    pub signature_id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub severity: Cow<'a, str>,
    /// Extension pairs in line order, values unescaped.
    pub extension: Vec<(&'a str, Cow<'a, str>)>,
}

impl Cef<'_> {
    /// The first value of an extension key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extension.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_ref())
    }
}

/// A header field: everything up to the next unescaped `|` (not consumed), raw.
pub(crate) fn header_field(i: &str) -> IResult<&str, &str> {
    let bytes = i.as_bytes();
    let mut n = 0;
    while n < bytes.len() {
        match bytes[n] {
            b'\\' => n += 2,
            b'|' => return Ok((&i[n..], &i[..n])),
            _ => n += 1,
        }
    }
    Err(nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Char)))
}

/// A header field followed by `|`.
pub(crate) fn piped(i: &str) -> IResult<&str, &str> {
    terminated(header_field, char('|')).parse(i)
}

/// `\|` and `\\` unescaped; any other backslash is kept as it is.
pub(crate) fn unescape_header(s: &str) -> Cow<'_, str> {
    unescape(s, |c| matches!(c, '|' | '\\').then_some(c))
}

/// `\=`, `\\`, `\|`, `\n` and `\r` unescaped; any other backslash is kept as it is.
pub(crate) fn unescape_value(s: &str) -> Cow<'_, str> {
    unescape(s, |c| match c {
        '=' | '\\' | '|' => Some(c),
        'n' => Some('\n'),
        'r' => Some('\r'),
        _ => None,
    })
}

fn unescape(s: &str, map: impl Fn(char) -> Option<char>) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e) => match map(e) {
                Some(u) => out.push(u),
                None => {
                    out.push('\\');
                    out.push(e);
                }
            },
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn version(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_digit() || c == '.').parse(i)
}

type Header<'a> = (&'a str, [&'a str; 6], &'a str);

/// After `CEF:`: `Version|Vendor|Product|DevVersion|SignatureID|Name|Severity|` and the rest.
fn header(i: &str) -> IResult<&str, Header<'_>> {
    let (i, _) = space0.parse(i)?;
    let (i, version) = terminated(version, char('|')).parse(i)?;
    let (i, (vendor, product, dev_version, sig, name)) = (piped, piped, piped, piped, piped).parse(i)?;
    // The severity ends at `|`; a line without an extension may leave that last `|` out.
    let (i, severity) = alt((piped, rest)).parse(i)?;
    Ok((i, (version, [vendor, product, dev_version, sig, name, severity], i)))
}

/// Parses a CEF record; `text` starts with `CEF:` (spaces before it are allowed).
pub fn parse(text: &str) -> Result<Cef<'_>, ParseError> {
    let (after, _) = (space0, tag("CEF:"))
        .parse(text)
        .map_err(|_: nom::Err<nom::error::Error<&str>>| ParseError::BadCef("missing CEF: prefix"))?;
    parse_after_prefix(after)
}

/// Parses a CEF record whose `CEF:` prefix was already consumed (as when a syslog parser read
/// `CEF` as the program tag): `text` starts at the version.
pub fn parse_after_prefix(text: &str) -> Result<Cef<'_>, ParseError> {
    let (_, (version, [vendor, product, dev_version, sig, name, severity], ext)) = header(text).map_err(|_| {
        if version(text.trim_start()).is_err() {
            ParseError::BadCef("bad version")
        } else {
            ParseError::BadCef("missing header fields")
        }
    })?;
    if severity.contains('|') {
        return Err(ParseError::BadCef("missing header fields"));
    }
    Ok(Cef {
        version,
        device_vendor: unescape_header(vendor),
        device_product: unescape_header(product),
        device_version: unescape_header(dev_version),
        signature_id: unescape_header(sig),
        name: unescape_header(name),
        severity: unescape_header(severity.trim()),
        extension: extension(ext),
    })
}

/// Whether `s` is a CEF severity: 0 to 10, or `Unknown`, `Low`, `Medium`, `High`, `Very-High`.
pub fn is_severity(s: &str) -> bool {
    matches!(s.parse::<u8>(), Ok(0..=10))
        || ["unknown", "low", "medium", "high", "very-high"].iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// A line that is a CEF record whose `CEF:` prefix was lost on the way (a relay that kept only
/// the message after a `CEF:` tag): `0|Vendor|Product|...`, accepted only when the version is
/// 0 or 1 and the severity is a CEF severity.
pub fn parse_headless(text: &str) -> Option<Cef<'_>> {
    if !(text.starts_with("0|") || text.starts_with("1|")) {
        return None;
    }
    parse_after_prefix(text).ok().filter(|c| is_severity(&c.severity))
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
}

/// Splits a CEF extension into `key=value` pairs: a key is a word of letters, digits, `_`, `.`,
/// `-`, `[`, `]` that starts the extension or follows a space, and is followed by an unescaped
/// `=`; its value runs to the space before the next key. Text before the first key is dropped.
pub fn extension(ext: &str) -> Vec<(&str, Cow<'_, str>)> {
    let b = ext.as_bytes();
    let mut out = Vec::new();
    // The key being read: (start of the key, its `=`).
    let mut current: Option<(usize, usize)> = None;
    fn push<'a>(ext: &'a str, (k, eq): (usize, usize), end: usize, out: &mut Vec<(&'a str, Cow<'a, str>)>) {
        let value = ext[eq + 1..end].trim_end_matches([' ', '\r', '\n']);
        out.push((&ext[k..eq], unescape_value(value)));
    }
    let mut escaped = false;
    for (i, &c) in b.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            b'\\' => escaped = true,
            b'=' => {
                let mut k = i;
                while k > 0 && is_key_byte(b[k - 1]) {
                    k -= 1;
                }
                let starts_word = k == 0 || b[k - 1] == b' ';
                if k < i && starts_word && (b[k].is_ascii_alphabetic() || b[k] == b'_') {
                    if let Some(prev) = current {
                        push(ext, prev, k, &mut out);
                    }
                    current = Some((k, i));
                }
            }
            _ => {}
        }
    }
    if let Some(prev) = current {
        push(ext, prev, b.len(), &mut out);
    }
    out
}

/// Field names vigil's syslog header already uses; an extension key with one of these names is
/// stored under a prefix instead, so a payload never hides the header's value.
pub(crate) const RESERVED: [&str; 7] = ["app", "host", "pid", "msgid", "facility", "severity", "message"];

/// Sigma-style names for common ArcSight keys (short and long forms).
fn alias(key: &str) -> Option<&'static str> {
    Some(match key {
        "src" | "sourceAddress" => "src_ip",
        "dst" | "destinationAddress" => "dst_ip",
        "spt" | "sourcePort" => "src_port",
        "dpt" | "destinationPort" => "dst_port",
        "transportProtocol" => "proto",
        "act" | "deviceAction" => "action",
        "suser" | "sourceUserName" => "src_user",
        "duser" | "destinationUserName" => "dst_user",
        "shost" | "sourceHostName" => "src_host",
        "dhost" | "destinationHostName" => "dst_host",
        "request" | "requestUrl" => "c-uri",
        "requestMethod" => "cs-method",
        "requestClientApplication" => "c-useragent",
        _ => return None,
    })
}

/// Adds a CEF record's fields to an event (header as `cef.*`, extension keys, aliases).
pub fn apply(cef: &Cef<'_>, event: &mut Event) {
    event.set("cef.version", cef.version);
    event.set("cef.device_vendor", cef.device_vendor.as_ref());
    event.set("cef.device_product", cef.device_product.as_ref());
    event.set("cef.device_version", cef.device_version.as_ref());
    event.set("cef.signature_id", cef.signature_id.as_ref());
    event.set("cef.name", cef.name.as_ref());
    event.set("cef.severity", cef.severity.as_ref());
    for (key, value) in &cef.extension {
        if RESERVED.contains(key) {
            event.set(format!("cef.{key}"), value.as_ref());
        } else {
            event.set(key.to_string(), value.as_ref());
        }
    }
    for (key, value) in &cef.extension {
        if let Some(name) = alias(key)
            && !value.is_empty()
        {
            event.set(name, value.as_ref());
        }
    }
    // Custom fields under their labels: vendors put what matters most there.
    for (key, label) in &cef.extension {
        let label = label.trim();
        if let Some(base) = key.strip_suffix("Label")
            && is_custom(base)
            && !label.is_empty()
            && !event.fields.contains_key(label)
            && let Some(value) = cef.get(base)
        {
            event.set(label.to_owned(), value);
        }
    }
}

/// Whether an extension key is one of CEF's custom fields, which come with a `...Label` key.
fn is_custom(key: &str) -> bool {
    let numbered = |prefix: &str, max: u8| {
        key.strip_prefix(prefix).is_some_and(|n| n.len() == 1 && (b'1'..=b'0' + max).contains(&n.as_bytes()[0]))
    };
    numbered("cs", 6)
        || numbered("cn", 3)
        || numbered("cfp", 4)
        || numbered("c6a", 4)
        || numbered("flexString", 2)
        || numbered("flexNumber", 2)
        || numbered("flexDate", 1)
        || key.starts_with("deviceCustom")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Cef<'_> {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn header_and_extension() {
        let c =
            ok("CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232");
        assert_eq!(c.version, "0");
        assert_eq!(c.device_vendor, "Security");
        assert_eq!(c.device_product, "threatmanager");
        assert_eq!(c.device_version, "1.0");
        assert_eq!(c.signature_id, "100");
        assert_eq!(c.name, "worm successfully stopped");
        assert_eq!(c.severity, "10");
        assert_eq!(c.get("src"), Some("10.0.0.1"));
        assert_eq!(c.get("dst"), Some("2.1.2.2"));
        assert_eq!(c.get("spt"), Some("1232"));
    }

    #[test]
    fn header_escapes() {
        let c = ok(r"CEF:0|security|threat\|manager|1.0|100|detected a \\ in packet|10|src=10.0.0.1");
        assert_eq!(c.device_product, "threat|manager");
        assert_eq!(c.name, r"detected a \ in packet");
        assert!(matches!(c.device_product, Cow::Owned(_)));
        assert!(matches!(c.device_vendor, Cow::Borrowed(_)));
        // An unknown escape is kept as written (Windows paths in names).
        let c = ok(r"CEF:0|v|p|1|2|C:\Windows\x|3|");
        assert_eq!(c.name, r"C:\Windows\x");
    }

    #[test]
    fn extension_values_with_spaces_and_escapes() {
        let c = ok(
            r"CEF:0|v|p|1|2|n|5|msg=Detected a threat. No action needed act=blocked a \= b request=http://x/?a=b&c=d suser=DOM\\alice cs1=line1\nline2\rx fname=C:\Temp\a.exe",
        );
        assert_eq!(c.get("msg"), Some("Detected a threat. No action needed"));
        assert_eq!(c.get("act"), Some("blocked a = b"));
        assert_eq!(c.get("request"), Some("http://x/?a=b&c=d"));
        assert_eq!(c.get("suser"), Some(r"DOM\alice"));
        assert_eq!(c.get("cs1"), Some("line1\nline2\rx"));
        assert_eq!(c.get("fname"), Some(r"C:\Temp\a.exe"));
        assert_eq!(c.extension.len(), 6);
    }

    #[test]
    fn empty_values_trailing_spaces_and_no_extension() {
        let c = ok("CEF:0|v|p|1|2|n|5|a= b=x  ");
        assert_eq!(c.extension, vec![("a", Cow::Borrowed("")), ("b", Cow::Borrowed("x"))]);
        let c = ok("CEF:1|v|p|1|2|n|Very-High|");
        assert_eq!((c.version, c.severity.as_ref(), c.extension.len()), ("1", "Very-High", 0));
        let c = ok("CEF:0|v|p|1|2|n|3");
        assert_eq!(c.severity, "3");
        let c = ok("  CEF: 0|v|p|1|2|n|3|x=1");
        assert_eq!(c.get("x"), Some("1"));
    }

    #[test]
    fn after_prefix() {
        let c = parse_after_prefix(" 0|Ubiquiti|UniFi Network|9.4.19|201|Threat|9|proto=TCP src=1.2.3.4")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.device_vendor.as_ref(), c.get("proto")), ("Ubiquiti", Some("TCP")));
    }

    #[test]
    fn headless() {
        let c = parse_headless("0|Ubiquiti|UniFi Network|9.3.45|201|Threat Detected and Blocked|7|proto=TCP");
        assert_eq!(c.map(|c| c.signature_id), Some(Cow::Borrowed("201")));
        assert!(parse_headless("0|a|b|c|d|e|urgent|x=1").is_none());
        assert!(parse_headless("2|a|b|c|d|e|1|x=1").is_none());
        assert!(parse_headless("0|a|b").is_none());
        assert!(is_severity("Very-High") && is_severity("10") && !is_severity("11"));
    }

    #[test]
    fn malformed_lines_have_stable_reasons() {
        for (line, why) in [
            ("CEF0|a|b", "missing CEF: prefix"),
            ("LEEF:1.0|a|b|c|d|", "missing CEF: prefix"),
            ("CEF:x|a|b|c|d|e|f|", "bad version"),
            ("CEF:|a|b|c|d|e|f|", "bad version"),
            ("CEF:0|a|b|c", "missing header fields"),
            ("CEF:0|a|b|c|d|e", "missing header fields"),
            ("CEF:0", "missing header fields"),
            ("CEF:0|a|b|c|d|e\\|f", "missing header fields"),
        ] {
            let err = parse(line).err();
            assert_eq!(err, Some(ParseError::BadCef(why)), "{line}");
            assert_eq!(err.map(|e| e.reason()), Some("bad_cef"));
        }
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for line in [
            "CEF:0|\\",
            "CEF:0|a|b|c|d|e|f|\\",
            "CEF:0|a|b|c|d|e|f|=",
            "CEF:0|a|b|c|d|e|f|==x =y z=",
            "CEF:0|é\\é|b|c|d|e|f|k=\\é \\",
            "CEF:0|a|b|c|d|e|f|1=2 [x]=y é=1 _=2",
        ] {
            let _ = parse(line);
        }
        let c = ok("CEF:0|a|b|c|d|e|f|_=2 a.b-c=3");
        assert_eq!(c.get("a.b-c"), Some("3"));
    }

    #[test]
    fn custom_fields_under_their_labels() {
        let c = ok(
            "CEF:0|Acme|WAF|1.0|7|Blocked|7|src=10.0.0.1 cs1=curl/8.5 cs1Label=User-Agent cn1=42 cn1Label=Risk Score cs2=x cs2Label=src cs7=y cs7Label=Seven",
        );
        let mut event = crate::unparsed(b"x", &crate::ParseContext::new(chrono::DateTime::UNIX_EPOCH));
        apply(&c, &mut event);
        let get = |n: &str| event.field(n).map(|v| v.as_text().into_owned());
        assert_eq!(get("User-Agent").as_deref(), Some("curl/8.5"));
        assert_eq!(get("Risk Score").as_deref(), Some("42"));
        assert_eq!(get("cs1").as_deref(), Some("curl/8.5"));
        // A label never replaces a field; keys that are not custom fields are not relabelled.
        assert_eq!(get("src").as_deref(), Some("10.0.0.1"));
        assert_eq!(get("Seven"), None);
        assert!(is_custom("cs6") && is_custom("flexDate1") && is_custom("deviceCustomString3"));
        assert!(!is_custom("cs0") && !is_custom("cs7") && !is_custom("cs10") && !is_custom("cn4") && !is_custom("src"));
    }
}
