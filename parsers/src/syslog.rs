//! Syslog headers: RFC 5424 and RFC 3164 (with its common real-world variants), in nom.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while_m_n, take_while1};
use nom::character::complete::{char, space1};
use nom::combinator::{map_res, opt};
use nom::sequence::delimited;
use nom::{IResult, Parser};

use crate::ParseError;
use crate::event::SdElement;

/// The parts of a syslog header, borrowed from the line.
#[derive(Debug, PartialEq)]
pub struct Header<'a> {
    pub pri: Option<u8>,
    pub time: Option<DateTime<Utc>>,
    pub host: Option<&'a str>,
    pub app: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    pub structured_data: Vec<SdElement>,
    pub message: &'a str,
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

fn token(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c != ' ').parse(i)
}

fn nil_or(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// Parses an RFC 5424 line: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`.
pub fn rfc5424(line: &str) -> Result<Header<'_>, ParseError> {
    let header = |i| -> IResult<&str, (u8, &str, &str, &str, &str, &str)> {
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
        let (i, _) = char(' ').parse(i)?;
        Ok((i, (pri, ts, host, app, procid, msgid)))
    };
    let (rest, (pri, ts, host, app, procid, msgid)) = header(line).map_err(|_| ParseError::BadHeader("rfc5424"))?;
    let time = match ts {
        "-" => None,
        ts => Some(
            DateTime::parse_from_rfc3339(ts).map_err(|_| ParseError::BadTimestamp(ts.to_owned()))?.with_timezone(&Utc),
        ),
    };
    let (structured_data, rest) = structured_data(rest)?;
    let message = rest.strip_prefix(' ').unwrap_or(rest);
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    Ok(Header {
        pri: Some(pri),
        time,
        host: nil_or(host),
        app: nil_or(app),
        pid: nil_or(procid),
        msgid: nil_or(msgid),
        structured_data,
        message,
    })
}

/// `-` or one or more `[ID PARAM="VALUE" ...]` elements, with `\"`, `\\` and `\]` escapes.
fn structured_data(i: &str) -> Result<(Vec<SdElement>, &str), ParseError> {
    if let Some(rest) = i.strip_prefix('-') {
        return Ok((Vec::new(), rest));
    }
    let bad = || ParseError::BadStructuredData;
    let mut elements = Vec::new();
    let mut rest = i;
    while let Some(after) = rest.strip_prefix('[') {
        let id_len = after.find([' ', ']']).ok_or_else(bad)?;
        let id = &after[..id_len];
        if id.is_empty() {
            return Err(bad());
        }
        let mut params = Vec::new();
        let mut cur = &after[id_len..];
        loop {
            if let Some(r) = cur.strip_prefix(']') {
                cur = r;
                break;
            }
            let r = cur.strip_prefix(' ').ok_or_else(bad)?;
            let eq = r.find('=').ok_or_else(bad)?;
            let name = &r[..eq];
            let r = r[eq + 1..].strip_prefix('"').ok_or_else(bad)?;
            let mut value = String::new();
            let mut chars = r.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(bad()),
                    Some((n, '"')) => break n,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, c @ ('"' | '\\' | ']'))) => value.push(c),
                        Some((_, c)) => {
                            value.push('\\');
                            value.push(c);
                        }
                        None => return Err(bad()),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            params.push((name.to_owned(), value));
            cur = &r[end + 1..];
        }
        elements.push(SdElement { id: id.to_owned(), params });
        rest = cur;
    }
    if elements.is_empty() {
        return Err(bad());
    }
    Ok((elements, rest))
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `Mmm dd hh:mm:ss[.frac]`: month, day and time, without a year.
fn bsd_timestamp(i: &str) -> IResult<&str, (u32, u32, NaiveTime)> {
    let (i, mon) = map_res(take_while_m_n(3, 3, |c: char| c.is_ascii_alphabetic()), |m: &str| {
        MONTHS.iter().position(|x| x.eq_ignore_ascii_case(m)).map(|p| p as u32 + 1).ok_or(())
    })
    .parse(i)?;
    let (i, _) = space1.parse(i)?;
    let (i, day) = map_res(take_while_m_n(1, 2, |c: char| c.is_ascii_digit()), str::parse::<u32>).parse(i)?;
    let (i, _) = char(' ').parse(i)?;
    let (i, time) = map_res(take_while1(|c: char| c.is_ascii_digit() || c == ':' || c == '.'), |t: &str| {
        NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
    })
    .parse(i)?;
    Ok((i, (mon, day, time)))
}

fn iso_timestamp(i: &str) -> IResult<&str, DateTime<Utc>> {
    map_res(token, |t: &str| DateTime::parse_from_rfc3339(t).map(|d| d.with_timezone(&Utc))).parse(i)
}

/// Resolves a year-less local time: the year of `received` in `tz`, or the year before when that
/// would put the event more than a week in the future (a December line read in January).
pub fn infer_year(month: u32, day: u32, time: NaiveTime, received: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let local_now = received.with_timezone(&tz);
    let at = |year: i32| {
        let date = NaiveDate::from_ymd_opt(year, month, day)?;
        let local = tz.from_local_datetime(&NaiveDateTime::new(date, time)).earliest()?;
        Some(local.with_timezone(&Utc))
    };
    let this_year = at(local_now.year());
    match this_year {
        Some(t) if t <= received + chrono::Duration::days(7) => Some(t),
        // Feb 29 of a leap year read in a common year falls back to the previous year too.
        _ => at(local_now.year() - 1).or(this_year),
    }
}

/// Parses an RFC 3164 line and its common variants: optional PRI, a BSD (`Mmm dd hh:mm:ss`)
/// or ISO 8601 timestamp, an optional hostname, and an optional `TAG[PID]:`.
pub fn rfc3164(line: &str, received: DateTime<Utc>, tz: Tz) -> Result<Header<'_>, ParseError> {
    let (rest, pri) = opt(pri).parse(line).map_err(|_| ParseError::BadHeader("rfc3164"))?;
    let mut stamp = |i| -> IResult<&str, Option<DateTime<Utc>>> {
        alt((bsd_timestamp.map(|(m, d, t)| infer_year(m, d, t, received, tz)), iso_timestamp.map(Some))).parse(i)
    };
    let (rest, time) = match (stamp.parse(rest), pri) {
        (Ok((rest, time)), _) => (rest, time),
        // A PRI and no timestamp: the rest is the message, read at receive time.
        (Err(_), Some(_)) => (rest, None),
        (Err(_), None) => return Err(ParseError::BadHeader("rfc3164")),
    };
    let rest = rest.trim_start_matches(' ');
    let mut header =
        Header { pri, time, host: None, app: None, pid: None, msgid: None, structured_data: Vec::new(), message: rest };
    // `HOST TAG[PID]: MSG`, or `TAG[PID]: MSG` when the sender leaves out its hostname.
    if let Some((app, pid, msg)) = program_tag(rest) {
        (header.app, header.pid, header.message) = (Some(app), pid, msg);
        return Ok(header);
    }
    if let Some((host, after)) = rest.split_once(' ') {
        header.host = Some(host);
        header.message = after;
        if let Some((app, pid, msg)) = program_tag(after) {
            (header.app, header.pid, header.message) = (Some(app), pid, msg);
        }
    }
    Ok(header)
}

/// `TAG[PID]: ` or `TAG: ` at the start of `i`.
fn program_tag(i: &str) -> Option<(&str, Option<&str>, &str)> {
    let end = i.find([' ', '[', ':'])?;
    let (app, rest) = i.split_at(end);
    if app.is_empty() || app.len() > 64 {
        return None;
    }
    let (pid, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let close = r.find(']')?;
            (Some(&r[..close]), &r[close + 1..])
        }
        None => (None, rest),
    };
    let msg = rest.strip_prefix(':')?;
    Some((app, pid, msg.strip_prefix(' ').unwrap_or(msg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn rfc5424_full() {
        let line = r#"<38>1 2026-11-23T10:00:00.123+07:00 web01 sshd 4242 ID47 [exampleSDID@32473 iut="3" eventSource="App\"x\]"][b@1 k="v"] BOMless message"#;
        let h = rfc5424(line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.pri, Some(38));
        assert_eq!(h.time, Some(utc("2026-11-23T03:00:00.123Z")));
        assert_eq!((h.host, h.app, h.pid, h.msgid), (Some("web01"), Some("sshd"), Some("4242"), Some("ID47")));
        assert_eq!(h.structured_data.len(), 2);
        assert_eq!(h.structured_data[0].params[1], ("eventSource".into(), "App\"x]".into()));
        assert_eq!(h.message, "BOMless message");
    }

    #[test]
    fn rfc5424_nil_values_and_bom() {
        let h = rfc5424("<13>1 - - - - - - \u{feff}hello").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.time, h.host, h.app), (None, None, None));
        assert_eq!(h.message, "hello");
    }

    #[test]
    fn rfc5424_rejects_bad_sd() {
        assert_eq!(rfc5424("<13>1 - - - - - [x a=\"b] msg"), Err(ParseError::BadStructuredData));
        assert!(matches!(rfc5424("<13>1 yesterday h a p m - x"), Err(ParseError::BadTimestamp(_))));
    }

    #[test]
    fn rfc3164_with_and_without_host_and_pri() {
        let received = utc("2026-11-23T12:00:00Z");
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let h = rfc3164("<34>Nov  3 08:15:02 gw01 sshd[99]: Failed password", received, tz)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.time, Some(utc("2026-11-03T01:15:02Z")));
        assert_eq!((h.host, h.app, h.pid), (Some("gw01"), Some("sshd"), Some("99")));
        assert_eq!(h.message, "Failed password");

        let h = rfc3164("Nov 23 18:00:00 sudo: alice : TTY=pts/0", received, tz).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.host, h.app, h.pid), (None, Some("sudo"), None));
        assert_eq!(h.message, "alice : TTY=pts/0");

        let h = rfc3164("2026-11-23T10:00:00+07:00 host cron[1]: job", received, tz).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.time, Some(utc("2026-11-23T03:00:00Z")));
        assert_eq!(h.app, Some("cron"));
    }

    #[test]
    fn year_is_inferred_across_new_year() {
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let received = Utc.with_ymd_and_hms(2027, 1, 1, 0, 5, 0).single().unwrap_or_default();
        let t = NaiveTime::from_hms_opt(23, 59, 0).unwrap_or_default();
        let got = infer_year(12, 31, t, received, tz);
        assert_eq!(got, Some(utc("2026-12-31T16:59:00Z")));
    }

    #[test]
    fn pri_out_of_range_is_rejected() {
        assert!(rfc5424("<192>1 - - - - - -").is_err());
        assert_eq!(pri_names(38), ("auth", "info"));
    }
}
