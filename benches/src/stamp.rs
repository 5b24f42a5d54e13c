//! Lines as templates whose timestamp is replaced by the send time, and the clock that writes
//! that time.
//!
//! A [`Template`] is a framed line cut around its timestamp: the bytes before it (with the
//! octet-counting prefix already computed for the new length), the kind of timestamp, and the
//! bytes after it. Sending a line is three copies: head, [`Clock::stamp`], tail. The clock
//! formats "now" at most once per millisecond, so the per-line cost does not depend on it.
//!
//! | kind | found | written as |
//! |---|---|---|
//! | RFC 3164 | `<PRI>Mmm dd hh:mm:ss ` | `Mmm dd hh:mm:ss` in UTC+07:00 (Asia/Ho_Chi_Minh, no DST), day space-padded |
//! | RFC 5424 | `<PRI>1 TIMESTAMP ` (not `-`) | `yyyy-mm-ddThh:mm:ss.mmm+07:00` |
//! | JSON | the first `"@timestamp":"..."` of a line starting with `{` | `yyyy-mm-ddThh:mm:ss.mmmZ` (UTC) |
//!
//! Everything outside the timestamp is sent byte for byte as it is in the input. A line with
//! none of these is sent unchanged.

use std::io::{self, Write};
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, Utc};

/// The kind of timestamp a line carries, and so how the send time is written into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StampKind {
    /// RFC 3164 `Mmm dd hh:mm:ss`, local time of UTC+07:00.
    Rfc3164,
    /// RFC 5424 / RFC 3339 with milliseconds and the +07:00 offset.
    Rfc5424,
    /// JSON `@timestamp`, RFC 3339 in UTC with milliseconds.
    Json,
}

impl StampKind {
    /// Length of the timestamp as [`Clock`] writes it.
    pub const fn width(self) -> usize {
        match self {
            StampKind::Rfc3164 => 15,
            StampKind::Rfc5424 => 29,
            StampKind::Json => 24,
        }
    }
}

/// The UTC offset of the senders' local time: Asia/Ho_Chi_Minh, UTC+07:00 all year.
const ICT_SECS: i32 = 7 * 3600;

const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Where `line`'s timestamp is, and its kind; `None` when it has none this module rewrites.
pub fn find(line: &[u8]) -> Option<(StampKind, Range<usize>)> {
    match line.first()? {
        b'<' => find_syslog(line),
        b'{' => find_json(line),
        _ => None,
    }
}

fn find_syslog(line: &[u8]) -> Option<(StampKind, Range<usize>)> {
    // `<` 1 to 3 digits `>`.
    let close = line.iter().take(5).position(|&b| b == b'>')?;
    if close < 2 || !line[1..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let after = close + 1;
    let rest = &line[after..];
    if let Some(ts) = rest.strip_prefix(b"1 ") {
        let len = ts.iter().position(|&b| b == b' ')?;
        let start = after + 2;
        return (len > 1 && ts[0].is_ascii_digit()).then_some((StampKind::Rfc5424, start..start + len));
    }
    let ts = rest.get(..16)?;
    let digit = |i: usize| ts[i].is_ascii_digit();
    let month = MONTHS.iter().any(|m| ts[..3] == m[..]);
    let day = ts[3] == b' ' && (ts[4] == b' ' || digit(4)) && digit(5) && ts[6] == b' ';
    let clock = digit(7) && digit(8) && ts[9] == b':' && digit(10) && digit(11) && ts[12] == b':';
    let seconds = digit(13) && digit(14) && ts[15] == b' ';
    (month && day && clock && seconds).then_some((StampKind::Rfc3164, after..after + 15))
}

fn find_json(line: &[u8]) -> Option<(StampKind, Range<usize>)> {
    const KEY: &[u8] = b"\"@timestamp\"";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let skip_spaces = |mut i: usize| {
        while line.get(i).is_some_and(|b| *b == b' ') {
            i += 1;
        }
        i
    };
    let colon = skip_spaces(at);
    if line.get(colon) != Some(&b':') {
        return None;
    }
    let quote = skip_spaces(colon + 1);
    if line.get(quote) != Some(&b'"') {
        return None;
    }
    let start = quote + 1;
    let len = line[start..].iter().position(|&b| b == b'"' || b == b'\\')?;
    (len > 0 && line[start + len] == b'"').then_some((StampKind::Json, start..start + len))
}

/// How lines are delimited on the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// RFC 6587 octet counting: `LEN SP MSG`.
    Octet,
    /// One message per line, ended by LF.
    Newline,
}

/// A framed line, cut around its timestamp.
#[derive(Clone, Debug)]
pub struct Template {
    head: Box<[u8]>,
    stamp: Option<StampKind>,
    tail: Box<[u8]>,
}

impl Template {
    /// The template of one line (without its line ending). With `rewrite` false, or when the
    /// line has no timestamp [`find`] knows, the line is sent as it is.
    pub fn new(line: &[u8], framing: Framing, rewrite: bool) -> Template {
        let found = if rewrite { find(line) } else { None };
        let (before, stamp, after) = match &found {
            Some((kind, range)) => (&line[..range.start], Some(*kind), &line[range.end..]),
            None => (line, None, &line[line.len()..]),
        };
        let len = before.len() + stamp.map_or(0, StampKind::width) + after.len();
        let mut head = Vec::with_capacity(before.len() + 8);
        if framing == Framing::Octet {
            head.extend_from_slice(format!("{len} ").as_bytes());
        }
        head.extend_from_slice(before);
        let mut tail = after.to_vec();
        if framing == Framing::Newline {
            tail.push(b'\n');
        }
        Template { head: head.into(), stamp, tail: tail.into() }
    }

    /// Whether the send time is written into this line.
    pub fn is_stamped(&self) -> bool {
        self.stamp.is_some()
    }

    /// Bytes written per send, framing included.
    pub fn framed_len(&self) -> usize {
        self.head.len() + self.stamp.map_or(0, StampKind::width) + self.tail.len()
    }

    /// Writes the framed line with `clock`'s time in it.
    #[inline]
    pub fn write_to(&self, clock: &Clock, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.head)?;
        if let Some(kind) = self.stamp {
            out.write_all(clock.stamp(kind))?;
        }
        out.write_all(&self.tail)
    }
}

/// The send time in each kind's format, formatted again when the millisecond changes.
#[derive(Clone, Debug)]
pub struct Clock {
    millis: i64,
    rfc3164: [u8; 15],
    rfc5424: [u8; 29],
    json: [u8; 24],
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock set to now.
    pub fn new() -> Clock {
        let mut c = Clock { millis: i64::MIN, rfc3164: [b' '; 15], rfc5424: [b' '; 29], json: [b' '; 24] };
        c.refresh();
        c
    }

    /// Reads the system clock; formats the stamps again when the millisecond has changed.
    #[inline]
    pub fn refresh(&mut self) {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if millis != self.millis {
            self.set_millis(millis);
        }
    }

    /// Sets the clock to `millis` since the Unix epoch.
    pub fn set_millis(&mut self, millis: i64) {
        self.millis = millis;
        let Some(utc) = DateTime::<Utc>::from_timestamp_millis(millis) else { return };
        let Some(ict) = FixedOffset::east_opt(ICT_SECS) else { return };
        let local = utc.with_timezone(&ict);
        copy_exact(&mut self.rfc3164, local.format("%b %e %H:%M:%S").to_string().as_bytes());
        copy_exact(&mut self.rfc5424, local.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string().as_bytes());
        copy_exact(&mut self.json, utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().as_bytes());
    }

    /// The time as `kind` writes it: always [`StampKind::width`] bytes.
    #[inline]
    pub fn stamp(&self, kind: StampKind) -> &[u8] {
        match kind {
            StampKind::Rfc3164 => &self.rfc3164,
            StampKind::Rfc5424 => &self.rfc5424,
            StampKind::Json => &self.json,
        }
    }
}

/// Copies `src` into `dst` when the lengths agree (they do for years 1000 to 9999); otherwise
/// leaves `dst` as it was.
fn copy_exact(dst: &mut [u8], src: &[u8]) {
    if dst.len() == src.len() {
        dst.copy_from_slice(src);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(line: &str, framing: Framing, millis: i64) -> String {
        let mut clock = Clock::new();
        clock.set_millis(millis);
        let t = Template::new(line.as_bytes(), framing, true);
        let mut out = Vec::new();
        t.write_to(&clock, &mut out).unwrap();
        assert_eq!(out.len(), t.framed_len());
        String::from_utf8(out).unwrap()
    }

    // 2026-11-30T05:09:27.123Z, 12:09:27 in +07:00.
    const NOW: i64 = 1_796_015_367_123;

    #[test]
    fn rfc3164_time_is_local_and_day_space_padded() {
        let line = "<38>Nov 23 08:00:01 portal-dvc.hanoi.gov.vn sshd[811]: Accepted publickey for x";
        assert_eq!(
            sent(line, Framing::Newline, NOW),
            "<38>Nov 30 12:09:27 portal-dvc.hanoi.gov.vn sshd[811]: Accepted publickey for x\n"
        );
        // 2026-12-01T17:00:00Z is Dec  2 00:00:00 in +07:00.
        assert_eq!(
            sent("<38>Nov  3 08:00:01 h p: m", Framing::Newline, 1_796_144_400_000),
            "<38>Dec  2 00:00:00 h p: m\n"
        );
    }

    #[test]
    fn rfc5424_time_gets_milliseconds_and_the_offset() {
        let line = "<85>1 2026-11-23T08:01:58.610635+07:00 dc01 sudo - - [meta sequenceId=\"1\"] x : COMMAND=/bin/ls";
        let out = "<85>1 2026-11-30T12:09:27.123+07:00 dc01 sudo - - [meta sequenceId=\"1\"] x : COMMAND=/bin/ls";
        assert_eq!(sent(line, Framing::Octet, NOW), format!("{} {out}", out.len()));
        // A nil timestamp stays nil.
        assert_eq!(sent("<85>1 - h a - - - m", Framing::Newline, NOW), "<85>1 - h a - - - m\n");
    }

    #[test]
    fn json_timestamp_is_utc() {
        let line = r#"{"@timestamp":"2026-11-23T01:00:00.444Z","event":{"code":"4625"},"message":"x"}"#;
        assert_eq!(
            sent(line, Framing::Newline, NOW),
            "{\"@timestamp\":\"2026-11-30T05:09:27.123Z\",\"event\":{\"code\":\"4625\"},\"message\":\"x\"}\n"
        );
        assert_eq!(
            find(br#"{"a":1, "@timestamp" : "2026-11-23T01:00:00Z"}"#).map(|(k, r)| (k, r.len())),
            Some((StampKind::Json, 20))
        );
    }

    #[test]
    fn lines_without_a_known_timestamp_are_sent_as_they_are() {
        for line in [
            "plain text",
            "<38>Hello world this is not a date",
            "{\"time\":\"2026\"}",
            "<38>1 ",
            "<x>Nov 23 08:00:01 h",
        ] {
            let t = Template::new(line.as_bytes(), Framing::Newline, true);
            assert!(!t.is_stamped(), "{line}");
            assert_eq!(sent(line, Framing::Newline, NOW), format!("{line}\n"));
        }
        let t = Template::new(b"<38>Nov 23 08:00:01 h p: m", Framing::Newline, false);
        assert!(!t.is_stamped());
    }

    #[test]
    fn cef_leef_and_fortigate_over_rfc3164() {
        for line in [
            "<134>Nov 23 08:00:00 waf01 CEF:0|Vigil Synthetic|WAF|3.2|942100|SQLi|9|src=198.51.100.179 rt=1795917600000",
            "<134>Nov 23 08:00:01 ids02 LEEF:1.0|Vigil Synthetic|IDS|2.1|AUTH_FAIL|src=203.0.113.44\tdst=10.14.4.5",
            "<189>Nov 23 08:00:00 fgt-edge-hn date=2026-11-23 time=08:00:00 devname=\"FGT-HN-EDGE\"",
        ] {
            let out = sent(line, Framing::Newline, NOW);
            assert!(out.contains("> Nov 30 12:09:27 ") || out.contains(">Nov 30 12:09:27 "), "{out}");
            assert_eq!(out.len(), line.len() + 1);
            assert_eq!(out[20..], format!("{}\n", &line[20..]), "only the header time changes");
        }
    }
}
