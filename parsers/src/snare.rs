//! Snare's `MSWinEventLog` records: Windows events as one line of tab-separated values, as the
//! Snare agents write them and NXLog's `to_syslog_snare()` does, carried in syslog.
//!
//! `MSWinEventLog<TAB>CRITICALITY<TAB>CHANNEL<TAB>COUNTER<TAB>DATETIME<TAB>EVENTID<TAB>SOURCE<TAB>
//! USER<TAB>SIDTYPE<TAB>EVENTTYPE<TAB>COMPUTER<TAB>CATEGORY<TAB>DATA<TAB>MESSAGE[<TAB>...]`, for
//! example (tabs written `\t`) `MSWinEventLog\t1\tSecurity\t123\tFri Dec 04 21:36:40 2026\t4625\t
//! Microsoft-Windows-Security-Auditing\tN/A\tN/A\tFailure Audit\tDC01\tLogon\t\tAn account failed
//! to log on. ...\t51234`. What follows MESSAGE (the event log's record number, a checksum,
//! optional fields) differs between writers and is not read.
//!
//! The record gives, under Sigma's names where a Windows event has one: `EventID` (a number),
//! `Channel`, `Provider_Name` (SOURCE), `Computer`; under NXLog's: `Category` and `Message`; and
//! `snare.criticality`, `snare.counter`, `snare.time` (DATETIME as written, in the Windows host's
//! time; the syslog header's time is the event's), `snare.user` (`DOMAIN\user`, or `N/A`),
//! `snare.sid_type`, `snare.event_type` (`Success Audit`, `Failure Audit`, `Information`, ...)
//! and `snare.data`, each when not empty. The Windows event's own fields (`TargetUserName`,
//! `Image`, ...) are only in MESSAGE's text, which is not taken apart.

use crate::event::{Event, LogSource, Value};
use crate::json;

/// The prefix of every record.
pub const PREFIX: &str = "MSWinEventLog\t";

/// A record, borrowed from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snare<'a> {
    pub criticality: &'a str,
    pub channel: &'a str,
    pub counter: &'a str,
    pub time: &'a str,
    pub event_id: i64,
    pub source: &'a str,
    pub user: &'a str,
    pub sid_type: &'a str,
    pub event_type: &'a str,
    pub computer: &'a str,
    pub category: &'a str,
    pub data: &'a str,
    pub message: &'a str,
}

/// Reads a record; `None` when `body` does not start with [`PREFIX`], has fewer than the
/// fields up to COMPUTER, or its EVENTID is not a number.
pub fn parse(body: &str) -> Option<Snare<'_>> {
    let mut values = body.strip_prefix(PREFIX)?.split('\t');
    let mut next = || values.next();
    let (criticality, channel, counter, time) = (next()?, next()?, next()?, next()?);
    let event_id = next()?.trim().parse().ok()?;
    let (source, user, sid_type, event_type, computer) = (next()?, next()?, next()?, next()?, next()?);
    let (category, data, message) = (next().unwrap_or(""), next().unwrap_or(""), next().unwrap_or(""));
    Some(Snare {
        criticality,
        channel,
        counter,
        time,
        event_id,
        source,
        user,
        sid_type,
        event_type,
        computer,
        category,
        data,
        message,
    })
}

/// Adds the record's fields to `event` and gives it the Windows logsource of its channel and
/// event id; the host is COMPUTER.
pub fn apply(s: &Snare<'_>, event: &mut Event) {
    event.set("EventID", Value::Int(s.event_id));
    let text = [
        ("Channel", s.channel),
        ("Provider_Name", s.source),
        ("Computer", s.computer),
        ("Category", s.category),
        ("Message", s.message),
        ("snare.criticality", s.criticality),
        ("snare.counter", s.counter),
        ("snare.time", s.time),
        ("snare.user", s.user),
        ("snare.sid_type", s.sid_type),
        ("snare.event_type", s.event_type),
        ("snare.data", s.data),
    ];
    for (name, value) in text {
        let value = value.trim();
        if !value.is_empty() {
            event.set(name, value);
        }
    }
    event.logsource = match s.channel.trim() {
        "" => LogSource::new(Some("windows"), None, None),
        channel => json::windows_logsource(channel, Some(s.event_id), None),
    };
    if !s.computer.trim().is_empty() {
        event.host = Some(s.computer.trim().to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = "MSWinEventLog\t1\tSecurity\t123\tFri Dec 04 21:36:40 2026\t4625\tMicrosoft-Windows-Security-Auditing\tN/A\tN/A\tFailure Audit\tDC01\tLogon\t\tAn account failed to log on.\t51234";

    #[test]
    fn record_fields() {
        let s = parse(RECORD).unwrap_or_else(|| panic!("not a record"));
        assert_eq!((s.criticality, s.channel, s.counter, s.event_id), ("1", "Security", "123", 4625));
        assert_eq!((s.time, s.source), ("Fri Dec 04 21:36:40 2026", "Microsoft-Windows-Security-Auditing"));
        assert_eq!((s.user, s.sid_type, s.event_type, s.computer), ("N/A", "N/A", "Failure Audit", "DC01"));
        assert_eq!((s.category, s.data, s.message), ("Logon", "", "An account failed to log on."));
        // Up to COMPUTER is enough.
        let short = RECORD.split('\t').take(11).collect::<Vec<_>>().join("\t");
        assert_eq!(parse(&short).map(|s| (s.computer, s.message)), Some(("DC01", "")));
    }

    #[test]
    fn not_records() {
        let short = RECORD.split('\t').take(10).collect::<Vec<_>>().join("\t");
        for bad in [
            "",
            "MSWinEventLog",
            "MSWinEventLog 1 Security",
            &short,
            &RECORD.replace("\t4625\t", "\tx\t"),
            &RECORD.replace("MSWinEventLog", "mswineventlog"),
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
