//! IBM QRadar Log Event Extended Format (LEEF) 1.0 and 2.0, as a whole line or as the message
//! of a syslog line:
//!
//! ```text
//! LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
//! LEEF:2.0|Vendor|Product|Version|EventID|DelimiterChar|key=value<DELIM>key=value...
//! ```
//!
//! LEEF 2.0's delimiter is one character (`^`, `;`...), or its code as hex (`x09`, `0x09`,
//! `\x09`); an empty delimiter field means a tab. A LEEF 1.0 line whose tabs a relay turned into
//! spaces is read like a CEF extension (values end where the next ` key=` starts).
//!
//! The event time is `devTime` when the syslog header gave none: read with `devTimeFormat`
//! when the record has one (a Java `SimpleDateFormat` pattern such as
//! `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, in the sender's time zone when it has no offset), else as epoch
//! milliseconds, RFC 3339 or LEEF's default `MMM dd yyyy HH:mm:ss[.SSS][ z]`.
//!
//! Fields (see [`apply`]):
//!
//! | field | from |
//! |---|---|
//! | `leef.version`, `leef.vendor`, `leef.product`, `leef.product_version`, `leef.event_id`, `leef.delimiter` (2.0 only) | the header |
//! | every attribute under its own name (`src`, `dst`, `srcPort`, `dstPort`, `proto`, `usrName`, `devTime`, `cat`, `sev`, ...) | the attributes; one named like a vigil header field (`app`, `host`, `pid`, `msgid`, `facility`, `severity`, `message`) is kept as `leef.KEY` |
//! | `src_ip`, `dst_ip`, `src_port`, `dst_port`, `user` | Sigma-style aliases of `src`, `dst`, `srcPort`, `dstPort`, `usrName` |

use std::borrow::Cow;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, space0};
use nom::combinator::rest;
use nom::sequence::terminated;
use nom::{IResult, Parser};

use crate::ParseError;
use crate::cef::{RESERVED, extension, header_field, piped, unescape_header};
use crate::event::Event;

/// A LEEF record, borrowed from its line.
#[derive(Debug, PartialEq)]
pub struct Leef<'a> {
    pub version: &'a str,
    pub vendor: Cow<'a, str>,
    pub product: Cow<'a, str>,
    pub product_version: Cow<'a, str>,
    pub event_id: Cow<'a, str>,
    /// The attribute delimiter: LEEF 2.0's header field, or a tab.
    pub delimiter: char,
    /// Whether the line is LEEF 2.0 with a delimiter field.
    pub delimiter_given: bool,
    /// Attributes in line order.
    pub attributes: Vec<(&'a str, Cow<'a, str>)>,
}

impl Leef<'_> {
    /// The first value of an attribute.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_ref())
    }
}

/// A LEEF 2.0 delimiter field: one character, or its code in hex after `x`, `0x` or `\x`.
/// `None` when the field is not a delimiter (a LEEF 2.0 line that left the field out).
fn delimiter(field: &str) -> Option<char> {
    let mut chars = field.chars();
    match (chars.next(), chars.next()) {
        (None, _) => return Some('\t'),
        (Some(c), None) => return Some(c),
        _ => {}
    }
    let hex = field
        .strip_prefix("0x")
        .or_else(|| field.strip_prefix("0X"))
        .or_else(|| field.strip_prefix("\\x"))
        .or_else(|| field.strip_prefix('x'))
        .or_else(|| field.strip_prefix('X'))?;
    if hex.is_empty() || hex.len() > 4 {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
}

type Header<'a> = (&'a str, [&'a str; 4]);

/// After `LEEF:`: `Version|Vendor|Product|Version|EventID|` and the rest.
fn header(i: &str) -> IResult<&str, Header<'_>> {
    let (i, _) = space0.parse(i)?;
    let (i, version) = terminated(take_while1(|c: char| c.is_ascii_digit() || c == '.'), char('|')).parse(i)?;
    let (i, (vendor, product, product_version)) = (piped, piped, piped).parse(i)?;
    // A line without attributes may leave out the `|` after the event id.
    let (i, event_id) = alt((piped, rest)).parse(i)?;
    Ok((i, (version, [vendor, product, product_version, event_id])))
}

/// Parses a LEEF record; `text` starts with `LEEF:` (spaces before it are allowed).
pub fn parse(text: &str) -> Result<Leef<'_>, ParseError> {
    let (after, _) = (space0, tag("LEEF:"))
        .parse(text)
        .map_err(|_: nom::Err<nom::error::Error<&str>>| ParseError::BadLeef("missing LEEF: prefix"))?;
    parse_after_prefix(after)
}

/// Parses a LEEF record whose `LEEF:` prefix was already consumed (as when a syslog parser read
/// `LEEF` as the program tag): `text` starts at the version.
pub fn parse_after_prefix(text: &str) -> Result<Leef<'_>, ParseError> {
    let (attrs, (version, [vendor, product, product_version, event_id])) =
        header(text).map_err(|_| ParseError::BadLeef("missing header fields"))?;
    if event_id.contains('|') {
        return Err(ParseError::BadLeef("missing header fields"));
    }
    let major = version.split('.').next().unwrap_or_default();
    let (delim, given, attrs) = match major {
        "1" => ('\t', false, attrs),
        "2" => match header_field(attrs) {
            Ok((after, field)) => match delimiter(field) {
                Some(d) => (d, true, after.strip_prefix('|').unwrap_or(after)),
                None if field.contains('=') => ('\t', false, attrs),
                None => return Err(ParseError::BadLeef("bad delimiter")),
            },
            // No `|` left: the attributes follow the event id directly.
            Err(_) => ('\t', false, attrs),
        },
        _ => return Err(ParseError::BadLeef("unsupported version")),
    };
    Ok(Leef {
        version,
        vendor: unescape_header(vendor),
        product: unescape_header(product),
        product_version: unescape_header(product_version),
        event_id: unescape_header(event_id),
        delimiter: delim,
        delimiter_given: given,
        attributes: attributes(attrs, delim),
    })
}

/// Splits attributes on the delimiter; a piece without `=` belongs to the value before it (a
/// value that held the delimiter). Tab-delimited attributes without a tab are read with the CEF
/// extension rule.
pub fn attributes(attrs: &str, delim: char) -> Vec<(&str, Cow<'_, str>)> {
    let attrs = attrs.trim_end_matches(['\r', '\n']);
    if delim == '\t' && !attrs.contains('\t') && attrs.contains(' ') {
        return extension(attrs);
    }
    let mut out: Vec<(&str, Cow<'_, str>)> = Vec::new();
    for piece in attrs.split(delim) {
        match piece.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => out.push((k.trim(), Cow::Borrowed(v))),
            _ => {
                if let Some((_, v)) = out.last_mut() {
                    let value = v.to_mut();
                    value.push(delim);
                    value.push_str(piece);
                }
            }
        }
    }
    out
}

fn alias(key: &str) -> Option<&'static str> {
    Some(match key {
        "src" => "src_ip",
        "dst" => "dst_ip",
        "srcPort" => "src_port",
        "dstPort" => "dst_port",
        "usrName" => "user",
        _ => return None,
    })
}

/// Adds a LEEF record's fields to an event (header as `leef.*`, attributes, aliases).
pub fn apply(leef: &Leef<'_>, event: &mut Event) {
    event.set("leef.version", leef.version);
    event.set("leef.vendor", leef.vendor.as_ref());
    event.set("leef.product", leef.product.as_ref());
    event.set("leef.product_version", leef.product_version.as_ref());
    event.set("leef.event_id", leef.event_id.as_ref());
    if leef.delimiter_given {
        event.set("leef.delimiter", leef.delimiter.to_string());
    }
    for (key, value) in &leef.attributes {
        if RESERVED.contains(key) {
            event.set(format!("leef.{key}"), value.as_ref());
        } else {
            event.set(key.to_string(), value.as_ref());
        }
    }
    for (key, value) in &leef.attributes {
        if let Some(name) = alias(key)
            && !value.is_empty()
        {
            event.set(name, value.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Leef<'_> {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn leef1_tabs() {
        let l = ok(
            "LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black",
        );
        assert_eq!((l.version, l.vendor.as_ref(), l.product.as_ref()), ("1.0", "Microsoft", "MSExchange"));
        assert_eq!((l.product_version.as_ref(), l.event_id.as_ref()), ("4.0 SP1", "15345"));
        assert_eq!(l.delimiter, '\t');
        assert!(!l.delimiter_given);
        assert_eq!(l.get("src"), Some("192.0.2.0"));
        assert_eq!(l.get("usrName"), Some("joe.black"));
        assert_eq!(l.attributes.len(), 7);
    }

    #[test]
    fn leef1_with_spaces_instead_of_tabs() {
        let l = ok("LEEF:1.0|V|P|1|E|src=10.0.0.1 dst=10.0.0.2 msg=a message with spaces");
        assert_eq!(l.get("msg"), Some("a message with spaces"));
        assert_eq!(l.get("dst"), Some("10.0.0.2"));
    }

    #[test]
    fn leef2_delimiters() {
        let l = ok("LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^msg=a b");
        assert_eq!((l.delimiter, l.delimiter_given), ('^', true));
        assert_eq!((l.get("dst"), l.get("msg")), (Some("10.0.0.5"), Some("a b")));
        for spec in ["x09", "0x09", "X9", "\\x09", ""] {
            let line = format!("LEEF:2.0|V|P|1|E|{spec}|a=1\tb=2");
            let l = ok(&line);
            assert_eq!((l.delimiter, l.get("b")), ('\t', Some("2")), "{spec}");
        }
        let l = ok("LEEF:2.0|V|P|1|E|0x5E|a=1^b=x=y");
        assert_eq!((l.delimiter, l.get("b")), ('^', Some("x=y")));
        // LEEF 2.0 without the delimiter field.
        let l = ok("LEEF:2.0|V|P|1|E|a=1\tb=2");
        assert_eq!((l.delimiter_given, l.get("a")), (false, Some("1")));
        // A value holding the delimiter.
        let l = ok("LEEF:2.0|V|P|1|E|;|a=1;2;b=3");
        assert_eq!((l.get("a"), l.get("b")), (Some("1;2"), Some("3")));
    }

    #[test]
    fn header_escapes_and_no_attributes() {
        let l = ok(r"LEEF:1.0|A\|B|P|1|E");
        assert_eq!((l.vendor.as_ref(), l.event_id.as_ref(), l.attributes.len()), ("A|B", "E", 0));
        let l = ok("LEEF:1.0|V|P|1|E|");
        assert_eq!(l.attributes.len(), 0);
    }

    #[test]
    fn malformed_lines_have_stable_reasons() {
        for (line, why) in [
            ("CEF:0|a|b|c|d|e|f|", "missing LEEF: prefix"),
            ("LEEF:1.0|V|P", "missing header fields"),
            ("LEEF:|V|P|1|E|", "missing header fields"),
            ("LEEF:3.0|V|P|1|E|a=b", "unsupported version"),
            ("LEEF:2.0|V|P|1|E|xyz|a=b", "bad delimiter"),
            ("LEEF:2.0|V|P|1|E|0x110000|a=b", "bad delimiter"),
        ] {
            let err = parse(line).err();
            assert_eq!(err, Some(ParseError::BadLeef(why)), "{line}");
            assert_eq!(err.map(|e| e.reason()), Some("bad_leef"));
        }
        for line in ["LEEF:1.0|\\", "LEEF:2.0|V|P|1|E|é", "LEEF:2.0|V|P|1|E|\\x|", "LEEF:1.0|V|P|1|E|=\t=\t\t"] {
            let _ = parse(line);
        }
    }
}
