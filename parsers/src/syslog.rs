//! Syslog headers: RFC 5424 and RFC 3164 with its real-world variants, in nom.
//!
//! Both grammars return a [`Header`] that borrows from the line and allocates nothing: every
//! text field is a slice of the line, RFC 5424 structured data included (it is validated here
//! and read lazily with [`StructuredData::elements`]; a value is only copied, when read, if it
//! holds escapes). Only the time is computed rather than borrowed.
//!
//! # RFC 5424
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`, with:
//! - the NILVALUE `-` in any header field and for the structured data;
//! - timestamps with any number of fractional digits (the RFC allows 6; up to 9 are kept,
//!   more are read and dropped), a `Z` or a `±HH:MM` offset (`±HHMM` too); a timestamp with no
//!   offset, which the RFC forbids, is read in the sender's time zone;
//! - structured data elements `[ID NAME="VALUE" ...]` with the `\"`, `\\` and `\]` escapes
//!   (any other backslash is kept as it is, as the RFC says);
//! - a UTF-8 BOM at the start of MSG, which is dropped;
//! - rsyslog's output of a message it received as RFC 3164, whose MSG keeps the space that
//!   followed the tag's colon (`- -  MSG`): MSG is read without it;
//! - leniency: a sender that leaves the structured data out altogether (the MSG follows the
//!   MSGID) is read as having none; malformed structured data that starts with `[` is an error.
//!
//! # RFC 3164 and its variants
//!
//! `[<PRI>][SEQ: ][TIMESTAMP][:] [HOST] [TAG[PID]:] MSG`, where:
//! - PRI may be missing (lines read from files); a PRI above 191 is an error;
//! - TIMESTAMP is `Mmm dd hh:mm:ss` (day padded with a space or not, optional fraction), the
//!   Cisco ASA `Mmm dd yyyy hh:mm:ss`, Cisco IOS's `*Mmm dd hh:mm:ss.mmm UTC:` (the `*`/`.`
//!   clock-state mark, a `UTC`/`GMT` zone and a trailing colon), or ISO 8601 / RFC 3339
//!   (`2026-11-23T10:00:00.123+07:00`, read in the sender's time zone when it has no offset).
//!   A year-less timestamp gets the year that puts it closest before the receive time (see
//!   [`infer_year`]): a December line read on January 1st is last year's. A PRI followed by no
//!   timestamp is accepted (the event time is then the receive time); no PRI and no timestamp
//!   is not syslog;
//! - SEQ is Cisco IOS's message sequence number (`<189>123: *Mar  1 ...`);
//! - HOST may be missing: `Nov 23 10:00:00 sudo: ...` is read as a tag without a host;
//! - `HOST - MSG` has no tag: rsyslog's traditional templates write `-` for the NILVALUE
//!   APP-NAME of a message it received as RFC 5424;
//! - extra spaces between fields are skipped (`Jul  7 08:06:15 combo  -- root[2421]: ...`);
//! - TAG is the tag as written (`sshd`, `sshd(pam_unix)`, `/usr/sbin/cron`, `syslogd 1.4.1`,
//!   `-- root`); [`Header::app`] is the program for logsource and extractor purposes: the tag up
//!   to a `(` or a space, without a directory (`sshd(pam_unix)` -> `sshd`, `syslogd 1.4.1` ->
//!   `syslogd`). A tag with spaces is only taken when a `[PID]` follows it or when it is
//!   `NAME VERSION` (`syslogd 1.4.1:`), so that text such as `Out of memory: ...` stays message;
//! - TAG may lack its colon: `TAG[PID] MSG` (macOS; rsyslog's traditional templates relaying an
//!   RFC 5424 message, whose tag is `APP[PROCID]`) is read as a tag, and so is `APP MSG` (the same
//!   relay when there is no PROCID) where APP names a known program or a JSON object, an XML
//!   event or a Snare record follows it. The grammar only offers the candidate ([`Header::untagged`]);
//!   `parse_syslog` takes it when [`crate::programs::untagged_program`] knows the name or the
//!   message is such a document, so `h Out of memory: ...` and `h last message repeated 3 times`
//!   keep no program;
//! - a message that starts with Cisco's `%FACILITY-SEVERITY-MNEMONIC:` gets a [`CiscoTag`]
//!   (`%ASA-6-302013: Built ...`, `%SEC-6-IPACCESSLOGP: ...`, IOS XR's `%PKT_INFRA-LINK-3-UPDOWN`);
//!   the message keeps the tag, since Sigma's Cisco keyword rules search for it there.
//!
//! Both grammars read rsyslog's `message repeated N times: [ MSG]`: the message is the inner
//! MSG and [`Header::repeat_count`] is N.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use nom::bytes::complete::{tag, take_while_m_n, take_while1};
use nom::character::complete::char;
use nom::combinator::map_res;
use nom::sequence::delimited;
use nom::{IResult, Parser};

use crate::ParseError;
use crate::event::{Format, SdElement};

/// The parts of a syslog header, borrowed from the line.
#[derive(Clone, Debug, PartialEq)]
pub struct Header<'a> {
    /// [`Format::Rfc5424`] or [`Format::Rfc3164`]: which grammar read the line.
    pub format: Format,
    pub pri: Option<u8>,
    /// The event time in UTC; `None` when the line has none (then the receive time is used).
    pub time: Option<DateTime<Utc>>,
    pub host: Option<&'a str>,
    /// The program: APP-NAME in RFC 5424; in RFC 3164 the tag without what is not the
    /// program's name (`sshd(pam_unix)` -> `sshd`).
    pub app: Option<&'a str>,
    /// The RFC 3164 tag as written, when it differs from `app` (`sshd(pam_unix)`).
    pub tag: Option<&'a str>,
    /// RFC 5424 PROCID, or the RFC 3164 `[PID]`.
    pub pid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    pub structured_data: StructuredData<'a>,
    /// Cisco's `%FACILITY-SEVERITY-MNEMONIC:` at the start of the message.
    pub cisco: Option<CiscoTag<'a>>,
    /// N of rsyslog's `message repeated N times: [ MSG]` (the message is then MSG).
    pub repeat_count: Option<u32>,
    pub message: &'a str,
}

impl<'a> Header<'a> {
    fn new(format: Format, pri: Option<u8>, time: Option<DateTime<Utc>>, message: &'a str) -> Self {
        Header {
            format,
            pri,
            time,
            host: None,
            app: None,
            tag: None,
            pid: None,
            msgid: None,
            structured_data: StructuredData::default(),
            cisco: None,
            repeat_count: None,
            message,
        }
    }

    /// The message-level variants both grammars share: rsyslog's repeat notice and Cisco tags.
    fn finish(mut self) -> Self {
        // An empty hostname (IOS's `SEQ: : TIME`) names no host: the sender is attributed by
        // its address, never by an empty name.
        self.host = self.host.filter(|h| !h.is_empty());
        if let Some((count, inner)) = repeated(self.message) {
            self.repeat_count = Some(count);
            self.message = inner;
        }
        if self.message.starts_with('%') {
            self.cisco = cisco_tag(self.message);
        }
        self
    }

    /// The header read as if the first word of its message were a tag written without a colon
    /// (`HOST APP MSG`): what rsyslog's traditional templates write for a message it received
    /// as RFC 5424 without a PROCID. `None` unless an RFC 3164 line with a host and no tag
    /// has a message of at least two words, the first of which can be a tag.
    ///
    /// Whether it is one is not the grammar's to say (`Out of memory: ...` has the same shape):
    /// the caller decides by the program's name (see [`crate::programs::untagged_program`]).
    pub fn untagged(&self) -> Option<Header<'a>> {
        if self.format != Format::Rfc3164
            || self.host.is_none()
            || self.app.is_some()
            || self.cisco.is_some()
            || self.repeat_count.is_some()
        {
            return None;
        }
        let len = self.message.bytes().take_while(|&b| tag_char(b)).count();
        if len == 0 || len > 64 {
            return None;
        }
        let (tag, rest) = self.message.split_at(len);
        let message = rest.strip_prefix(' ').filter(|m| !m.trim().is_empty())?;
        let mut header = self.clone();
        Tag { tag, pid: None, message }.apply(&mut header);
        Some(header.finish())
    }
}

/// Cisco IOS / ASA / NX-OS `%FACILITY-SEVERITY-MNEMONIC: text`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CiscoTag<'a> {
    /// `ASA`, `SEC`, `SYS`, or IOS XR's `PKT_INFRA-LINK`.
    pub facility: &'a str,
    /// The severity digit, `0` (emergencies) to `7` (debugging).
    pub severity: &'a str,
    pub mnemonic: &'a str,
    /// The message after the tag.
    pub text: &'a str,
}

const FACILITIES: [&str; 24] = [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
];
const SEVERITIES: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/// Facility and severity names of a PRI value.
pub fn pri_names(pri: u8) -> (&'static str, &'static str) {
    let facility = FACILITIES.get(usize::from(pri >> 3)).copied().unwrap_or("unknown");
    (facility, SEVERITIES[usize::from(pri & 7)])
}

fn pri(i: &str) -> IResult<&str, u8> {
    map_res(delimited(char('<'), take_while_m_n(1, 3, |c: char| c.is_ascii_digit()), char('>')), |d: &str| {
        match d.parse::<u8>() {
            Ok(p) if p <= 191 => Ok(p),
            _ => Err(()),
        }
    })
    .parse(i)
}

/// `<digits>` at the start, whatever their value: a PRI that [`pri`] may still reject.
fn looks_like_pri(i: &str) -> bool {
    let b = i.as_bytes();
    let n = b.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
    b.first() == Some(&b'<') && n > 0 && b.get(1 + n) == Some(&b'>')
}

fn token(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c != ' ').parse(i)
}

fn nil_or(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// Reads a syslog header with the grammar the line calls for: RFC 5424 when it starts with
/// `<PRI>1 `, RFC 3164 (and its variants) otherwise.
pub fn parse(line: &str, received: DateTime<Utc>, tz: Tz) -> Result<Header<'_>, ParseError> {
    if is_rfc5424(line) { rfc5424_in(line, tz) } else { rfc3164(line, received, tz) }
}

/// Whether the line starts with an RFC 5424 `<PRI>1 `.
pub fn is_rfc5424(line: &str) -> bool {
    let b = line.as_bytes();
    if b.first() != Some(&b'<') {
        return false;
    }
    let digits = b[1..].iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    (1..=3).contains(&digits) && b[1 + digits..].starts_with(b">1 ")
}

/// Parses an RFC 5424 line: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`. A timestamp
/// without an offset (not RFC 5424, but sent) is read as UTC; see [`parse`] for the sender's
/// time zone.
pub fn rfc5424(line: &str) -> Result<Header<'_>, ParseError> {
    rfc5424_in(line, chrono_tz::UTC)
}

fn rfc5424_in(line: &str, tz: Tz) -> Result<Header<'_>, ParseError> {
    type Fields<'a> = (u8, &'a str, &'a str, &'a str, &'a str, &'a str);
    let header = |i| -> IResult<&str, Fields<'_>> {
        let (i, pri) = pri(i)?;
        let (i, _) = tag("1 ").parse(i)?;
        let (i, ts) = token(i)?;
        let (i, _) = char(' ').parse(i)?;
        let (i, host) = token(i)?;
        let (i, _) = char(' ').parse(i)?;
        let (i, app) = token(i)?;
        let (i, _) = char(' ').parse(i)?;
        let (i, procid) = token(i)?;
        let (i, _) = char(' ').parse(i)?;
        let (i, msgid) = token(i)?;
        Ok((i, (pri, ts, host, app, procid, msgid)))
    };
    let (rest, (pri, ts, host, app, procid, msgid)) = header(line).map_err(|_| ParseError::BadHeader("rfc5424"))?;
    let time = match ts {
        "-" => None,
        ts => Some(
            iso_datetime(ts, false)
                .filter(|(_, rest)| rest.is_empty())
                .and_then(|(stamp, _)| stamp.resolve(tz))
                .ok_or_else(|| ParseError::BadTimestamp(ts.to_owned()))?,
        ),
    };
    // MSGID is followed by ` SD`, or ends the line (no SD and no MSG: lenient).
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (structured_data, rest) = structured_data(rest)?;
    let message = rest.strip_prefix(' ').unwrap_or(rest);
    // rsyslog writes the MSG of a message it received as RFC 3164 with the space that followed
    // the tag's colon (`- -  MSG`): that space is the old header's, not the message's.
    let message = message.strip_prefix(' ').unwrap_or(message);
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    let mut header = Header::new(Format::Rfc5424, Some(pri), time, message);
    header.host = nil_or(host);
    header.app = nil_or(app);
    header.pid = nil_or(procid);
    header.msgid = nil_or(msgid);
    header.structured_data = structured_data;
    Ok(header.finish())
}

/// RFC 5424 structured data, borrowed from the line and validated when the header was read.
/// Empty for the NILVALUE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StructuredData<'a>(&'a str);

/// One structured-data element, borrowed: `[ID NAME="VALUE" ...]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdElementRef<'a> {
    pub id: &'a str,
    /// The ` NAME="VALUE"` pairs as written (escapes included).
    params: &'a str,
}

impl<'a> StructuredData<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The structured data as written, `[...]` elements back to back; empty for `-`.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// The elements, in order.
    pub fn elements(self) -> impl Iterator<Item = SdElementRef<'a>> + use<'a> {
        let mut rest = self.0;
        std::iter::from_fn(move || {
            let (element, after) = sd_element(rest)?;
            rest = after;
            Some(element)
        })
    }

    /// The elements as owned values, for an [`crate::Event`].
    pub fn to_owned_elements(&self) -> Vec<SdElement> {
        self.elements()
            .map(|e| SdElement {
                id: e.id.to_owned(),
                params: e.params().map(|(n, v)| (n.to_owned(), v.into_owned())).collect(),
            })
            .collect()
    }
}

impl<'a> SdElementRef<'a> {
    /// `(NAME, VALUE)` pairs, values unescaped (borrowed unless they hold an escape).
    pub fn params(self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> + use<'a> {
        let mut rest = self.params;
        std::iter::from_fn(move || {
            let (name, raw, after) = sd_param(rest)?;
            rest = after;
            Some((name, sd_unescape(raw)))
        })
    }
}

fn sd_name_char(b: u8) -> bool {
    (33..=126).contains(&b) && !matches!(b, b'=' | b']' | b'"')
}

/// `[ID PARAMS]` at the start of `i`: the element and the rest after `]`.
fn sd_element(i: &str) -> Option<(SdElementRef<'_>, &str)> {
    let after = i.strip_prefix('[')?;
    let id_len = after.bytes().take_while(|&b| sd_name_char(b)).count();
    if id_len == 0 {
        return None;
    }
    let id = &after[..id_len];
    let mut cur = &after[id_len..];
    loop {
        if let Some(rest) = cur.strip_prefix(']') {
            let params = &after[id_len..after.len() - cur.len()];
            return Some((SdElementRef { id, params }, rest));
        }
        let (_, _, rest) = sd_param(cur)?;
        cur = rest;
    }
}

/// ` NAME="VALUE"` at the start of `i`: the name, the value as written, and the rest.
fn sd_param(i: &str) -> Option<(&str, &str, &str)> {
    let r = i.strip_prefix(' ')?;
    let name_len = r.bytes().take_while(|&b| sd_name_char(b)).count();
    if name_len == 0 {
        return None;
    }
    let name = &r[..name_len];
    let r = r[name_len..].strip_prefix("=\"")?;
    let bytes = r.as_bytes();
    let mut n = 0;
    while n < bytes.len() {
        match bytes[n] {
            b'\\' => n += 2,
            b'"' => return Some((name, &r[..n], &r[n + 1..])),
            _ => n += 1,
        }
    }
    None
}

/// Undoes RFC 5424's `\"`, `\\` and `\]`; any other backslash stays.
fn sd_unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ ('"' | '\\' | ']')) => out.push(e),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

/// `-` or one or more `[ID PARAM="VALUE" ...]` elements. Anything else is taken as a MSG from a
/// sender that left the structured data out.
fn structured_data(i: &str) -> Result<(StructuredData<'_>, &str), ParseError> {
    if i.is_empty() {
        return Ok((StructuredData::default(), i));
    }
    if let Some(rest) = i.strip_prefix('-')
        && (rest.is_empty() || rest.starts_with(' '))
    {
        return Ok((StructuredData::default(), rest));
    }
    if !i.starts_with('[') {
        return Ok((StructuredData::default(), i));
    }
    let mut rest = i;
    while rest.starts_with('[') {
        let (_, after) = sd_element(rest).ok_or(ParseError::BadStructuredData)?;
        rest = after;
    }
    Ok((StructuredData(&i[..i.len() - rest.len()]), rest))
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// A timestamp as read, before it is placed in a year and a time zone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stamp {
    /// Month, day and time without a year (BSD), read in the sender's time zone.
    YearLess { month: u32, day: u32, time: NaiveTime, utc: bool },
    /// A full date and time; with an offset in seconds east of UTC, or local.
    Full { at: NaiveDateTime, offset: Option<i32> },
}

impl Stamp {
    /// The UTC time, given the receive time (for the year) and the sender's time zone.
    pub(crate) fn resolve_at(self, received: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Stamp::YearLess { month, day, time, utc: true } => infer_year(month, day, time, received, chrono_tz::UTC),
            Stamp::YearLess { month, day, time, utc: false } => infer_year(month, day, time, received, tz),
            Stamp::Full { .. } => self.resolve(tz),
        }
    }

    fn resolve(self, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Stamp::Full { at, offset: Some(secs) } => Some(DateTime::from_naive_utc_and_offset(
                at.checked_sub_signed(chrono::Duration::seconds(secs.into()))?,
                Utc,
            )),
            Stamp::Full { at, offset: None } => local(at, tz),
            Stamp::YearLess { .. } => None,
        }
    }
}

/// A local time in `tz`; in a DST gap, the time an hour later.
pub(crate) fn local(at: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    let t = tz.from_local_datetime(&at);
    t.earliest()
        .or_else(|| tz.from_local_datetime(&(at + chrono::Duration::hours(1))).earliest())
        .map(|d| d.with_timezone(&Utc))
}

/// Exactly `n` ASCII digits at the start of `b`.
pub(crate) fn digits(b: &[u8], n: usize) -> Option<u32> {
    let d = b.get(..n)?;
    d.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// `HH:MM:SS[.frac|,frac]` at the start of `s`, the fraction of any length (up to nanoseconds
/// kept). A second of 60 is a leap second.
pub(crate) fn clock(s: &str) -> Option<(NaiveTime, &str)> {
    let b = s.as_bytes();
    let (h, m, sec) = (digits(b, 2)?, digits(b.get(3..)?, 2)?, digits(b.get(6..)?, 2)?);
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let mut n = 8;
    let mut nanos = 0u32;
    if matches!(b.get(8), Some(b'.' | b',')) && b.get(9).is_some_and(u8::is_ascii_digit) {
        n = 9;
        let mut scale = 100_000_000u32;
        while let Some(&d) = b.get(n).filter(|d| d.is_ascii_digit()) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            n += 1;
        }
    }
    let time = if sec == 60 {
        NaiveTime::from_hms_nano_opt(h, m, 59, 1_000_000_000 + nanos)?
    } else {
        NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?
    };
    Some((time, &s[n..]))
}

/// Month abbreviation (any case) at the start of `s`: 1 to 12.
pub(crate) fn month(s: &str) -> Option<u32> {
    let m = s.get(..3)?;
    MONTHS.iter().position(|x| x.eq_ignore_ascii_case(m)).map(|p| p as u32 + 1)
}

/// `Mmm dd hh:mm:ss[.frac]` or Cisco ASA's `Mmm dd yyyy hh:mm:ss`.
fn bsd_timestamp(s: &str) -> Option<(Stamp, &str)> {
    let mon = month(s)?;
    let r = s[3..].strip_prefix(' ')?.trim_start_matches(' ');
    let day_len = r.bytes().take(3).take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_len) {
        return None;
    }
    let day = digits(r.as_bytes(), day_len)?;
    let r = r[day_len..].strip_prefix(' ')?.trim_start_matches(' ');
    let b = r.as_bytes();
    if let (Some(year), Some(b' ')) = (digits(b, 4), b.get(4)) {
        let (time, rest) = clock(&r[5..])?;
        let date = NaiveDate::from_ymd_opt(year as i32, mon, day)?;
        return Some((Stamp::Full { at: NaiveDateTime::new(date, time), offset: None }, rest));
    }
    let (time, rest) = clock(r)?;
    Some((Stamp::YearLess { month: mon, day, time, utc: false }, rest))
}

/// `YYYY-MM-DD(T|t)hh:mm:ss[.frac][Z|±hh:mm|±hhmm|±hh]` at the start of `s` (also with a
/// space for the `T` when `space_sep`).
pub(crate) fn iso_datetime(s: &str, space_sep: bool) -> Option<(Stamp, &str)> {
    let b = s.as_bytes();
    let (y, mo, d) = (digits(b, 4)?, digits(b.get(5..)?, 2)?, digits(b.get(8..)?, 2)?);
    if b[4] != b'-'
        || b[7] != b'-'
        || !(matches!(b.get(10), Some(b'T' | b't')) || space_sep && b.get(10) == Some(&b' '))
    {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y as i32, mo, d)?;
    let (time, rest) = clock(&s[11..])?;
    let at = NaiveDateTime::new(date, time);
    let (offset, rest) = utc_offset(rest);
    Some((Stamp::Full { at, offset }, rest))
}

/// `Z`, `±hh:mm`, `±hhmm` or `±hh` at the start of `s`, in seconds east of UTC.
fn utc_offset(s: &str) -> (Option<i32>, &str) {
    let b = s.as_bytes();
    match b.first() {
        Some(b'Z' | b'z') => (Some(0), &s[1..]),
        Some(&sign @ (b'+' | b'-')) => {
            let Some(h) = digits(&b[1..], 2) else { return (None, s) };
            let (m, len) = match (b.get(3), digits(b.get(3..).unwrap_or_default(), 2)) {
                (Some(b':'), _) => match digits(b.get(4..).unwrap_or_default(), 2) {
                    Some(m) => (m, 6),
                    None => return (None, s),
                },
                (_, Some(m)) => (m, 5),
                _ => (0, 3),
            };
            if h > 23 || m > 59 {
                return (None, s);
            }
            let secs = (h * 3600 + m * 60) as i32;
            (Some(if sign == b'-' { -secs } else { secs }), &s[len..])
        }
        _ => (None, s),
    }
}

/// Resolves a year-less local time: the year of `received` in `tz`, or the year before when that
/// would put the event more than a week in the future (a December line read in January).
pub fn infer_year(month: u32, day: u32, time: NaiveTime, received: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let local_now = received.with_timezone(&tz);
    let at = |year: i32| {
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        local(NaiveDateTime::new(date, time), tz)
    };
    let this_year = at(local_now.year());
    if let Some(t) = this_year.filter(|t| *t <= received + chrono::Duration::days(7)) {
        return Some(t);
    }
    // Last year; Feb 29 read in a common year goes back to the last leap year.
    (1..=4).find_map(|back| at(local_now.year() - back)).or(this_year)
}

/// A syslog timestamp in any of the accepted shapes, with Cisco's decorations: the `*`/`.`
/// clock-state mark before, a `UTC`/`GMT` zone and a `:` after.
fn timestamp(i: &str) -> Option<(Stamp, &str)> {
    let i = i.strip_prefix(['*', '.']).unwrap_or(i);
    let (mut stamp, rest) = bsd_timestamp(i).or_else(|| iso_datetime(i, false))?;
    let mut rest = rest;
    for zone in [" UTC", " GMT"] {
        if let Some(r) = rest.strip_prefix(zone)
            && (r.is_empty() || r.starts_with([' ', ':']))
        {
            stamp = match stamp {
                Stamp::YearLess { month, day, time, .. } => Stamp::YearLess { month, day, time, utc: true },
                Stamp::Full { at, offset: None } => Stamp::Full { at, offset: Some(0) },
                full => full,
            };
            rest = r;
        }
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    // A timestamp runs up to a space or the end of the line: `Nov 23 10:00:00x` is not one.
    (rest.is_empty() || rest.starts_with(' ')).then_some((stamp, rest))
}

/// Parses an RFC 3164 line and its real-world variants (see the module docs).
pub fn rfc3164(line: &str, received: DateTime<Utc>, tz: Tz) -> Result<Header<'_>, ParseError> {
    let (rest, pri) = match pri(line) {
        Ok((rest, p)) => (rest, Some(p)),
        Err(_) if looks_like_pri(line) => return Err(ParseError::BadHeader("PRI")),
        Err(_) => (line, None),
    };
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let mut ios_host = None;
    let stamped = timestamp(rest).or_else(|| {
        // Cisco IOS: `SEQ: TIMESTAMP`, or `SEQ: HOST: TIMESTAMP` with `logging origin-id`.
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = rest.get(n..)?.strip_prefix(": ").filter(|_| n > 0)?;
        timestamp(after).or_else(|| {
            let (host, r) = after.split_once(": ")?;
            let stamped = timestamp(r).filter(|_| !host.contains(' '))?;
            ios_host = Some(host);
            Some(stamped)
        })
    });
    let (time, rest) = match (stamped, pri) {
        (Some((stamp, rest)), _) => {
            let time = stamp.resolve_at(received, tz).ok_or_else(|| ParseError::BadTimestamp(line.to_owned()))?;
            (Some(time), rest)
        }
        // A PRI and no timestamp: the rest is the message, read at receive time.
        (None, Some(_)) => (None, rest),
        (None, None) => return Err(ParseError::BadHeader("rfc3164")),
    };
    let rest = rest.trim_start_matches(' ');
    let mut header = Header::new(Format::Rfc3164, pri, time, rest);
    header.host = ios_host;
    if rest.starts_with('%') {
        return Ok(header.finish());
    }
    // `TAG[PID]: MSG` with no host before it.
    if let Some(t) = hostless_tag(rest) {
        t.apply(&mut header);
        return Ok(header.finish());
    }
    if stamped.is_none() {
        return Ok(header.finish());
    }
    if let Some((host, after)) = rest.split_once(' ') {
        header.host = Some(host);
        let after = after.trim_start_matches(' ');
        // Cisco ASA writes `HOST : %ASA-...`; rsyslog writes a NILVALUE APP-NAME as `HOST - MSG`.
        let after = after.strip_prefix(": ").or_else(|| after.strip_prefix("- ")).unwrap_or(after);
        header.message = after;
        if !after.starts_with('%')
            && let Some(t) = program_tag(after)
        {
            t.apply(&mut header);
        }
    } else if !rest.is_empty() {
        header.host = Some(rest);
        header.message = "";
    }
    Ok(header.finish())
}

/// A tag read from an RFC 3164 line.
struct Tag<'a> {
    tag: &'a str,
    pid: Option<&'a str>,
    message: &'a str,
}

impl<'a> Tag<'a> {
    fn apply(self, header: &mut Header<'a>) {
        let app = app_of(self.tag);
        header.app = Some(app);
        header.tag = (app != self.tag).then_some(self.tag);
        header.pid = self.pid;
        header.message = self.message;
    }
}

/// The program in a tag: up to a `(` or a space, without a directory; the whole tag when that
/// leaves no letter or digit (`-- root`).
pub fn app_of(tag: &str) -> &str {
    let end = tag.find(['(', ' ']).unwrap_or(tag.len());
    let name = &tag[..end];
    let name = name.rsplit_once('/').map_or(name, |(_, base)| base);
    if name.bytes().any(|b| b.is_ascii_alphanumeric()) { name } else { tag }
}

fn tag_char(b: u8) -> bool {
    b > b' ' && !matches!(b, b'[' | b']' | b':')
}

/// `TAG[PID]:` or `TAG:` as the first word of `i`, with no space in TAG.
fn hostless_tag(i: &str) -> Option<Tag<'_>> {
    let len = i.bytes().take_while(|&b| tag_char(b)).count();
    if len == 0 || len > 128 {
        return None;
    }
    let (tag, rest) = i.split_at(len);
    let (pid, rest) = pid(rest);
    let rest = rest.strip_prefix(':')?;
    Some(Tag { tag, pid, message: rest.strip_prefix(' ').unwrap_or(rest) })
}

/// `[PID]` at the start of `i`.
fn pid(i: &str) -> (Option<&str>, &str) {
    if let Some(r) = i.strip_prefix('[')
        && let Some(close) = r.find(']')
        && close > 0
        && !r[..close].contains(' ')
    {
        return (Some(&r[..close]), &r[close + 1..]);
    }
    (None, i)
}

/// The tag after the host: `TAG[PID]: `, `TAG: `, `TAG[PID] ` (macOS), and tags with spaces
/// when a `[PID]` follows them (`-- root[2421]: `) or when they are `NAME VERSION:`
/// (`syslogd 1.4.1: `).
fn program_tag(i: &str) -> Option<Tag<'_>> {
    let len = i.bytes().take_while(|&b| tag_char(b)).count();
    if len > 0 && len <= 128 {
        let (tag, rest) = i.split_at(len);
        let (pid, rest) = pid(rest);
        if let Some(r) = rest.strip_prefix(':')
            && (r.is_empty() || r.starts_with(' '))
        {
            return Some(Tag { tag, pid, message: r.strip_prefix(' ').unwrap_or(r) });
        }
        if pid.is_some()
            && let Some(r) = rest.strip_prefix(' ')
        {
            return Some(Tag { tag, pid, message: r });
        }
        if !rest.starts_with(' ') {
            return None;
        }
    }
    // A tag with spaces: at most 64 bytes and 3 spaces, ending at `[` or `:`.
    let end = i.bytes().take(65).position(|b| matches!(b, b'[' | b':' | b'=' | b'"' | b',' | b';'))?;
    let (tag, rest) = i.split_at(end);
    if tag.is_empty() || tag.ends_with(' ') || tag.bytes().filter(|&b| b == b' ').count() > 3 {
        return None;
    }
    let (pid, rest) = pid(rest);
    let rest = rest.strip_prefix(':')?;
    let versioned = || match tag.split_once(' ') {
        Some((name, version)) => {
            !name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()) && !version.contains(' ')
        }
        None => false,
    };
    if !(pid.is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) || versioned()) {
        return None;
    }
    Some(Tag { tag, pid, message: rest.strip_prefix(' ').unwrap_or(rest) })
}

/// `%FACILITY-SEVERITY-MNEMONIC: text`.
pub fn cisco_tag(msg: &str) -> Option<CiscoTag<'_>> {
    let body = msg.strip_prefix('%')?;
    let end = body.bytes().take(96).position(|b| b == b':')?;
    let (name, text) = (&body[..end], &body[end + 1..]);
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return None;
    }
    let (rest, mnemonic) = name.rsplit_once('-')?;
    let (facility, severity) = rest.rsplit_once('-')?;
    let sev_ok = severity.len() == 1 && severity.as_bytes()[0].is_ascii_digit() && severity.as_bytes()[0] <= b'7';
    if facility.is_empty() || mnemonic.is_empty() || !sev_ok {
        return None;
    }
    Some(CiscoTag { facility, severity, mnemonic, text: text.strip_prefix(' ').unwrap_or(text) })
}

/// rsyslog's `message repeated N times: [ MSG]`: N and MSG.
fn repeated(msg: &str) -> Option<(u32, &str)> {
    let r = msg.strip_prefix("message repeated ")?;
    let n = r.bytes().take_while(u8::is_ascii_digit).count();
    let count = r.get(..n)?.parse().ok()?;
    let inner = r[n..].strip_prefix(" times: [")?;
    let inner = inner.strip_suffix(']').unwrap_or(inner);
    Some((count, inner.strip_prefix(' ').unwrap_or(inner)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    const TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

    fn received() -> DateTime<Utc> {
        utc("2026-11-23T12:00:00Z")
    }

    fn p3164(line: &str) -> Header<'_> {
        rfc3164(line, received(), TZ).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn params(h: &Header<'_>) -> Vec<(String, String, String)> {
        h.structured_data
            .elements()
            .flat_map(|e| e.params().map(move |(n, v)| (e.id.to_owned(), n.to_owned(), v.into_owned())))
            .collect()
    }

    #[test]
    fn rfc5424_full() {
        let line = r#"<38>1 2026-11-23T10:00:00.123+07:00 web01 sshd 4242 ID47 [exampleSDID@32473 iut="3" eventSource="App\"x\]"][b@1 k="v"] BOMless message"#;
        let h = rfc5424(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.pri, Some(38));
        assert_eq!(h.format, Format::Rfc5424);
        assert_eq!(h.time, Some(utc("2026-11-23T03:00:00.123Z")));
        assert_eq!((h.host, h.app, h.pid, h.msgid), (Some("web01"), Some("sshd"), Some("4242"), Some("ID47")));
        assert_eq!(h.structured_data.elements().count(), 2);
        let owned = h.structured_data.to_owned_elements();
        assert_eq!(owned[0].params[1], ("eventSource".into(), "App\"x]".into()));
        assert_eq!(owned[1], SdElement { id: "b@1".into(), params: vec![("k".into(), "v".into())] });
        assert_eq!(h.message, "BOMless message");
    }

    #[test]
    fn rfc5424_sd_escapes_are_undone_and_others_kept() {
        let line = r#"<14>1 - - - - - [a@1 q="say \"hi\"" b="back\\slash" c="close\]" d="keep\n" e="" f="ünï"] m"#;
        let h = rfc5424(line).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<_> = params(&h).into_iter().map(|(_, n, v)| (n, v)).collect();
        let want =
            [("q", "say \"hi\""), ("b", "back\\slash"), ("c", "close]"), ("d", "keep\\n"), ("e", ""), ("f", "ünï")];
        assert_eq!(got, want.map(|(n, v)| (n.to_owned(), v.to_owned())));
        assert_eq!(h.message, "m");
        // An element with no params, and SD with no MSG.
        let h = rfc5424("<14>1 - - - - - [x@1]").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.structured_data.as_str(), h.message), ("[x@1]", ""));
        // Unescaped values are borrowed, not copied.
        let h = rfc5424(r#"<14>1 - - - - - [x@1 k="v"] m"#).unwrap_or_else(|e| panic!("{e}"));
        let (_, v) =
            h.structured_data.elements().flat_map(|e| e.params()).next().unwrap_or(("", Cow::Owned(String::new())));
        assert!(matches!(v, Cow::Borrowed("v")));
    }

    #[test]
    fn rfc5424_nil_values_and_bom() {
        let h = rfc5424("<13>1 - - - - - - \u{feff}hello").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.time, h.host, h.app, h.pid, h.msgid), (None, None, None, None, None));
        assert!(h.structured_data.is_empty());
        assert_eq!(h.message, "hello");
        // No MSG at all, and no SD either (lenient).
        let h = rfc5424("<13>1 - - - - -").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.message, "");
        let h = rfc5424("<13>1 - - - - - -").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.message, "");
        // rsyslog's relay of an RFC 3164 message: the space after the old tag's colon.
        let h = rfc5424("<38>1 - h sshd 1 - -  Failed password").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.message, "Failed password");
        let h = rfc5424("<13>1 2026-11-23T10:00:00Z h app - - no sd here").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.message, h.structured_data.is_empty()), ("no sd here", true));
    }

    #[test]
    fn rfc5424_fractions_and_offsets() {
        for (ts, want) in [
            ("2026-11-23T10:00:00Z", "2026-11-23T10:00:00Z"),
            ("2026-11-23T10:00:00.1Z", "2026-11-23T10:00:00.1Z"),
            ("2026-11-23T10:00:00.123456Z", "2026-11-23T10:00:00.123456Z"),
            ("2026-11-23T10:00:00.123456789123Z", "2026-11-23T10:00:00.123456789Z"),
            ("2026-11-23T10:00:00.5-05:30", "2026-11-23T15:30:00.5Z"),
            ("2026-11-23T10:00:00+0700", "2026-11-23T03:00:00Z"),
            ("2026-11-23t10:00:00z", "2026-11-23T10:00:00Z"),
            ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999999Z"),
        ] {
            let line = format!("<14>1 {ts} h a p m - x");
            let h = rfc5424(&line).unwrap_or_else(|e| panic!("{ts}: {e}"));
            if ts.contains(":60") {
                // chrono keeps a leap second as 59 + 1s of nanoseconds, and prints it as :60.
                let got = h.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
                assert!(got.is_some_and(|g| g.starts_with("2016-12-31T23:59:60")), "{ts}");
            } else {
                assert_eq!(h.time, Some(utc(want)), "{ts}");
            }
        }
        // No offset: the sender's zone.
        let h = parse("<14>1 2026-11-23T10:00:00 h a p m - x", received(), TZ).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.time, Some(utc("2026-11-23T03:00:00Z")));
        for bad in
            ["2026-13-01T00:00:00Z", "2026-11-23T25:00:00Z", "2026-11-23T10:00Z", "yesterday", "2026-11-23T10:00:00+7"]
        {
            let line = format!("<14>1 {bad} h a p m - x");
            assert!(matches!(rfc5424(&line), Err(ParseError::BadTimestamp(_))), "{bad}");
        }
    }

    #[test]
    fn rfc5424_rejects_bad_sd() {
        for bad in [r#"[x a="b] msg"#, r#"[x a=b] m"#, "[ a=\"b\"] m", r#"[x a="b"c="d"] m"#, "[x", r#"[x a="b\"]"#] {
            let line = format!("<13>1 - - - - - {bad}");
            assert_eq!(rfc5424(&line), Err(ParseError::BadStructuredData), "{bad}");
        }
        assert!(matches!(rfc5424("<13>1 yesterday h a p m - x"), Err(ParseError::BadTimestamp(_))));
    }

    #[test]
    fn rfc3164_with_and_without_host_and_pri() {
        let h = p3164("<34>Nov  3 08:15:02 gw01 sshd[99]: Failed password");
        assert_eq!(h.time, Some(utc("2026-11-03T01:15:02Z")));
        assert_eq!((h.host, h.app, h.pid, h.tag), (Some("gw01"), Some("sshd"), Some("99"), None));
        assert_eq!(h.message, "Failed password");

        let h = p3164("Nov 23 18:00:00 sudo: alice : TTY=pts/0");
        assert_eq!((h.host, h.app, h.pid), (None, Some("sudo"), None));
        assert_eq!(h.message, "alice : TTY=pts/0");

        let h = p3164("2026-11-23T10:00:00+07:00 host cron[1]: job");
        assert_eq!(h.time, Some(utc("2026-11-23T03:00:00Z")));
        assert_eq!((h.host, h.app), (Some("host"), Some("cron")));

        // ISO without offset: the sender's zone; with a fraction.
        let h = p3164("2026-11-23T10:00:00.250 host app: m");
        assert_eq!(h.time, Some(utc("2026-11-23T03:00:00.25Z")));

        // A PRI and no timestamp.
        let h = p3164("<13>sudo: hi");
        assert_eq!((h.time, h.app, h.message), (None, Some("sudo"), "hi"));
        let h = p3164("<13>just text");
        assert_eq!((h.time, h.host, h.app, h.message), (None, None, None, "just text"));

        // Neither PRI nor timestamp; a PRI out of range.
        assert_eq!(rfc3164("just text", received(), TZ), Err(ParseError::BadHeader("rfc3164")));
        assert_eq!(rfc3164("<192>Nov 23 10:00:00 h a: m", received(), TZ), Err(ParseError::BadHeader("PRI")));
        assert_eq!(rfc3164("<1234>x", received(), TZ), Err(ParseError::BadHeader("PRI")));
    }

    #[test]
    fn rfc3164_real_world_tags() {
        let h = p3164("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0");
        assert_eq!((h.host, h.app, h.tag, h.pid), (Some("combo"), Some("sshd"), Some("sshd(pam_unix)"), Some("19939")));
        assert_eq!(h.message, "authentication failure; logname= uid=0");

        let h = p3164("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2");
        assert_eq!((h.host, h.app, h.tag, h.pid), (Some("combo"), Some("-- root"), None, Some("2421")));
        assert_eq!(h.message, "ROOT LOGIN ON tty2");

        let h = p3164("Jun 19 04:09:11 combo syslogd 1.4.1: restart.");
        assert_eq!((h.app, h.tag, h.pid, h.message), (Some("syslogd"), Some("syslogd 1.4.1"), None, "restart."));

        let h = p3164("Jul  3 17:10:11 mac BezelServices 255.10[94]: ASSERTION FAILED");
        assert_eq!((h.app, h.tag, h.pid), (Some("BezelServices"), Some("BezelServices 255.10"), Some("94")));

        let h = p3164("Jul  1 09:29:02 mac sandboxd[129] ([31211]): deny");
        assert_eq!((h.app, h.pid, h.message), (Some("sandboxd"), Some("129"), "([31211]): deny"));

        let h = p3164("Nov 23 10:00:00 h /usr/sbin/cron[77]: (root) CMD (true)");
        assert_eq!((h.app, h.tag), (Some("cron"), Some("/usr/sbin/cron")));

        let h = p3164("Nov 23 10:00:00 h kernel: [  203.842973] IPTABLES-DROP: IN=lo");
        assert_eq!((h.app, h.message), (Some("kernel"), "[  203.842973] IPTABLES-DROP: IN=lo"));

        // Text that only looks like a tag stays message.
        let h = p3164("Nov 23 10:00:00 h Out of memory: Kill process 1234");
        assert_eq!((h.host, h.app, h.message), (Some("h"), None, "Out of memory: Kill process 1234"));
        let h = p3164("Nov 23 10:00:00 h last message repeated 3 times");
        assert_eq!((h.app, h.message), (None, "last message repeated 3 times"));

        // rsyslog's NILVALUE APP-NAME.
        let h = p3164("Dec  4 21:36:40 host - no app name here");
        assert_eq!((h.host, h.app, h.message), (Some("host"), None, "no app name here"));
        let h = p3164("Dec  4 21:36:40 host -- MARK --");
        assert_eq!((h.app, h.message), (None, "-- MARK --"));

        // Nothing after the host; nothing after the timestamp.
        let h = p3164("Nov 23 10:00:00 h");
        assert_eq!((h.host, h.message), (Some("h"), ""));
        let h = p3164("<13>Nov 23 10:00:00");
        assert_eq!((h.host, h.message), (None, ""));
    }

    #[test]
    fn untagged_reads_the_first_word_as_a_tag() {
        let h = p3164("<38>Dec  4 21:36:40 host sshd Failed password for root from 203.0.113.9 port 22 ssh2");
        assert_eq!((h.app, h.message), (None, "sshd Failed password for root from 203.0.113.9 port 22 ssh2"));
        let u = h.untagged().unwrap_or_else(|| panic!("no candidate"));
        assert_eq!((u.host, u.app, u.tag, u.pid), (Some("host"), Some("sshd"), None, None));
        assert_eq!(u.message, "Failed password for root from 203.0.113.9 port 22 ssh2");
        // The tag as written and the program, as for a tag with a colon.
        let u = p3164("Dec  4 21:36:40 mx postfix/smtpd warning: x").untagged();
        assert_eq!(u.map(|u| (u.app, u.tag, u.message)), Some((Some("smtpd"), Some("postfix/smtpd"), "warning: x")));
        // rsyslog's repeat notice after the tag.
        let u = p3164("Dec  4 21:36:40 h sshd message repeated 2 times: [ Failed password for root]").untagged();
        assert_eq!(u.map(|u| (u.repeat_count, u.message)), Some((Some(2), "Failed password for root")));
        // No candidate: a tag already, no host, RFC 5424, one word, a Cisco tag, a tab after the word.
        for line in [
            "Dec  4 21:36:40 h sshd[1]: Failed password",
            "Dec  4 21:36:40 h sshd[1] Failed password",
            "<13>sshd Failed password",
            "Dec  4 21:36:40 h sshd",
            "Dec  4 21:36:40 h sshd ",
            "Dec  4 21:36:40 h %ASA-6-302013: Built",
            "Dec  4 21:36:40 h MSWinEventLog\t1\tSecurity",
        ] {
            assert_eq!(p3164(line).untagged(), None, "{line}");
        }
        let h = rfc5424("<38>1 - h - - - - sshd Failed password").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.untagged(), None);
    }

    #[test]
    fn cisco_variants() {
        let h = p3164(
            "<166>Jan 05 2026 10:00:00 asa01 : %ASA-6-302013: Built inbound TCP connection 1 for outside:1.2.3.4/5",
        );
        assert_eq!(h.time, Some(utc("2026-01-05T03:00:00Z")));
        assert_eq!((h.host, h.app), (Some("asa01"), None));
        let c = h.cisco.unwrap_or_else(|| panic!("no cisco tag"));
        assert_eq!((c.facility, c.severity, c.mnemonic), ("ASA", "6", "302013"));
        assert_eq!(c.text, "Built inbound TCP connection 1 for outside:1.2.3.4/5");
        assert_eq!(h.message, "%ASA-6-302013: Built inbound TCP connection 1 for outside:1.2.3.4/5");

        let h = p3164(
            "<189>123: *Mar  1 00:00:00.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.0.0.1(1234) -> 10.0.0.2(22), 1 packet",
        );
        assert_eq!(h.time, Some(utc("2026-03-01T00:00:00.123Z")));
        let c = h.cisco.unwrap_or_else(|| panic!("no cisco tag"));
        assert_eq!((c.facility, c.severity, c.mnemonic), ("SEC", "6", "IPACCESSLOGP"));

        let h = p3164(
            "<187>45: router1: Nov 23 10:00:00.5: %PKT_INFRA-LINK-3-UPDOWN: Interface Gi0/0/0/0, changed state to Down",
        );
        let c = h.cisco.unwrap_or_else(|| panic!("no cisco tag"));
        assert_eq!((c.facility, c.severity, c.mnemonic), ("PKT_INFRA-LINK", "3", "UPDOWN"));
        assert_eq!(h.host, Some("router1"));
        // `logging origin-id` with an empty name: no host, not an empty one.
        let h = p3164("<187>46: : Nov 23 10:00:00.5: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down");
        assert_eq!((h.host, h.cisco.map(|c| c.facility)), (None, Some("LINK")));

        let h = p3164("<166>%ASA-4-106023: Deny tcp src outside:1.2.3.4/5 dst inside:10.0.0.1/22");
        assert_eq!((h.time, h.cisco.map(|c| c.mnemonic)), (None, Some("106023")));
        let h = p3164("Nov 23 10:00:00 sw1 %LINK-3-UPDOWN: Interface Gi0/1, changed state to down");
        assert_eq!((h.host, h.cisco.map(|c| c.facility)), (Some("sw1"), Some("LINK")));

        assert_eq!(cisco_tag("%ASA-9-1: x"), None);
        assert_eq!(cisco_tag("%not a tag: x"), None);
        assert_eq!(cisco_tag("%ASA-6-: x"), None);
        assert_eq!(cisco_tag("%-6-X: x"), None);
    }

    #[test]
    fn message_repeated() {
        let h = p3164(
            "Nov 23 10:00:00 h sshd[1]: message repeated 3 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
        );
        assert_eq!((h.repeat_count, h.message), (Some(3), "Failed password for root from 1.2.3.4 port 22 ssh2"));
        let h = rfc5424("<38>1 - h sshd 1 - - message repeated 2 times: [ x]").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.repeat_count, h.message), (Some(2), "x"));
    }

    #[test]
    fn year_is_inferred_across_new_year() {
        let received = Utc.with_ymd_and_hms(2027, 1, 1, 0, 5, 0).single().unwrap_or_default();
        let t = NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default();
        assert_eq!(infer_year(12, 31, t, received, TZ), Some(utc("2026-12-31T16:59:00Z")));
        // A line a few minutes ahead of the receiver's clock stays in this year.
        let t = NaiveTime::from_hms_opt(7, 10, 0).unwrap_or_default();
        assert_eq!(infer_year(1, 1, t, received, TZ), Some(utc("2027-01-01T00:10:00Z")));
        // Through the header grammar, with a BSD timestamp.
        let h = rfc3164("Dec 31 23:59:00 h a: m", received, TZ).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.time, Some(utc("2026-12-31T16:59:00Z")));
        // Feb 29 read in a common year is the last leap year's.
        let received = utc("2027-03-01T00:00:00Z");
        let h = rfc3164("Feb 29 10:00:00 h a: m", received, chrono_tz::UTC).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.time, Some(utc("2024-02-29T10:00:00Z")));
        // A day that no year has is a bad timestamp.
        assert!(matches!(rfc3164("Feb 30 10:00:00 h a: m", received, TZ), Err(ParseError::BadTimestamp(_))));
    }

    #[test]
    fn pri_out_of_range_is_rejected() {
        assert!(rfc5424("<192>1 - - - - - -").is_err());
        assert_eq!(pri_names(38), ("auth", "info"));
        assert_eq!(pri_names(191), ("local7", "debug"));
    }

    #[test]
    fn never_panics_on_truncations() {
        let lines = [
            r#"<38>1 2026-11-23T10:00:00.123+07:00 web01 sshd 4242 ID47 [a@1 k="v\"\]"][b@1] msg"#,
            "<189>123: *Mar  1 00:00:00.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied",
            "Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2",
            "Nov 23 10:00:00 h sshd[1]: message repeated 3 times: [ x]",
            "<166>Jan 05 2026 10:00:00 asa01 : %ASA-6-302013: Built ünïcode",
        ];
        for line in lines {
            for end in (0..=line.len()).filter(|&n| line.is_char_boundary(n)) {
                let _ = parse(&line[..end], received(), TZ);
                let _ = parse(&line[end..], received(), TZ);
            }
        }
    }
}
