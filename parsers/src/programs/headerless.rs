//! Lines without a syslog header, of well-known formats of their own: see [`headerless`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::{auditd, web};
use crate::event::{Event, Format, LogSource};
use crate::syslog::{self, Stamp, clock, digits, infer_year, iso_datetime, local};
use crate::{ParseContext, base_event};

/// The [`Format`] of the events read here: they have no syslog header, but did get a time, a
/// message and fields (and `log_format` says which grammar read them).
pub const FORMAT: Format = Format::Plain;

/// Lines without a syslog header, of well-known formats of their own: raw auditd records, web
/// server error logs, vsftpd's log, and application logs that start with a timestamp.
///
/// A SOC wants every line as an event with the time it happened and its text, whatever wrote
/// it; so the common application log shapes are read for their timestamp (and the level, pid
/// and component when they are at a fixed place), and the rest is the message:
///
/// | `log_format` | shape | examples |
/// |---|---|---|
/// | `auditd` | `[node=H ]type=T msg=audit(EPOCH:SERIAL): ...` | `/var/log/audit/audit.log` |
/// | `apache_error` | `[Www Mmm dd hh:mm:ss[.us] yyyy] [[module:]level] [pid P[:tid T]] MSG` | Apache 2.2 and 2.4 `error.log` |
/// | `nginx_error` | `yyyy/mm/dd hh:mm:ss [level] PID#TID: MSG` | nginx `error.log` |
/// | `vsftpd` | `Www Mmm dd hh:mm:ss yyyy [pid N] [USER] MSG` | `vsftpd.log` |
/// | `logcat` | `MM-DD hh:mm:ss.mmm PID TID L TAG: MSG` | Android `logcat -v threadtime` |
/// | `hdfs` | `YYMMDD hhmmss PID LEVEL MSG` | Hadoop HDFS |
/// | `healthapp` | `yyyymmdd-hh:mm:ss:mmm\|COMPONENT\|PID\|MSG` | HealthApp |
/// | `proxifier` | `[MM.DD hh:mm:ss] PROGRAM - MSG` | Proxifier |
/// | `bgl`, `thunderbird` | `LABEL EPOCH yyyy.mm.dd NODE ...` | CFDR supercomputer logs (BGL's fields; Thunderbird's syslog line) |
/// | `hpc` | `ID NODE COMPONENT STATE EPOCH FLAG MSG` | LANL HPC |
/// | `timestamped` | `yyyy-mm-dd[T ]hh:mm:ss[.,frac][zone]`, `yyyy/mm/dd hh:mm:ss`, `yy/mm/dd hh:mm:ss`, `mm/dd/yyyy-hh:mm:ss[.frac]` (optionally after one word, a file name), then `[PID] [LEVEL]` | log4j (Hadoop, Spark, ZooKeeper), Python logging, OpenStack, Windows CBS, OpenVPN, Suricata `fast.log` |
///
/// Year-less timestamps get their year as RFC 3164's do; times without a zone are read in the
/// sender's time zone; epoch seconds are UTC.
///
/// Returns the event, or `None` when the line is none of these.
struct ProxmoxFirewall<'a> {
    vmid: &'a str,
    chain: &'a str,
    time: chrono::DateTime<chrono::Utc>,
    rest: &'a str,
    /// Where the netfilter fields (`IN=` or `OUT=`) start in `rest`.
    at: usize,
}

/// `0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: IN=vmbr0 ... SRC=... DST=...`
/// (the chain is also a guest's `tap101i0-IN` or a security group's `GROUP-web-IN`).
fn proxmox_firewall(line: &str) -> Option<ProxmoxFirewall<'_>> {
    let mut parts = line.splitn(4, ' ');
    let (vmid, level, chain, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(vmid) || !digits(level) || chain.is_empty() {
        return None;
    }
    // The time is the access log's `dd/Mon/yyyy:HH:MM:SS +zzzz`: 26 bytes.
    let time = web::access_time(rest.get(..26)?)?;
    let rest = rest.get(26..)?.trim_start();
    let at = [" IN=", " OUT="].iter().filter_map(|k| rest.find(k).map(|i| i + 1)).min()?;
    rest.contains(" SRC=").then_some(ProxmoxFirewall { vmid, chain, time, rest, at })
}

pub fn headerless(text: &str, ctx: &ParseContext) -> Option<Event> {
    let line = text.trim_start_matches('\u{feff}');
    let mut event = base_event(text.to_owned(), FORMAT, ctx);
    let mut message = line;
    if let Some(record) = auditd::raw(line) {
        event.set("log_format", "auditd");
        if let Some(node) = line.strip_prefix("node=").and_then(|r| r.split_once(' ')).map(|(n, _)| n) {
            event.host = Some(node.to_owned());
            event.set("host", node);
        }
        auditd::apply(record, &mut event);
        event.logsource = LogSource::new(Some("linux"), None, Some("auditd"));
    } else if let Some(e) = web::apache_error(line).filter(|e| e.time.is_some()) {
        event.set("log_format", "apache_error");
        event.time = e.time.and_then(|t| local(t, ctx.tz)).unwrap_or(ctx.received);
        web::apply_apache(&e, &mut event);
        message = e.message;
    } else if let Some(e) = web::nginx_error(line).filter(|e| e.time.is_some()) {
        event.set("log_format", "nginx_error");
        event.time = e.time.and_then(|t| local(t, ctx.tz)).unwrap_or(ctx.received);
        web::apply_nginx(&e, &mut event);
        message = e.message;
    } else if let Some((time, pid, rest)) = web::vsftpd_line(line) {
        event.set("log_format", "vsftpd");
        event.time = local(time, ctx.tz).unwrap_or(ctx.received);
        event.set("pid", pid);
        web::vsftpd_fields(rest, &mut event);
        event.logsource = LogSource::new(Some("linux"), None, Some("vsftpd"));
        message = rest;
    } else if let Some(fw) = proxmox_firewall(line) {
        // Proxmox VE's firewall log: `VMID LEVEL CHAIN TIME [policy ]ACTION: IN=... SRC=...`.
        event.set("log_format", "proxmox_firewall");
        event.time = fw.time;
        event.set("vmid", fw.vmid);
        event.set("chain", fw.chain);
        super::netfilter_fields(fw.rest, fw.at, &mut event);
        event.logsource = LogSource::new(Some("proxmox"), Some("firewall"), None);
        message = fw.rest;
    } else {
        let app = app_line(line, ctx)?;
        event.set("log_format", app.kind);
        event.time = app.time.unwrap_or(ctx.received);
        if let Some(host) = app.host {
            event.host = Some(host.to_owned());
            event.set("host", host);
        }
        let text = [
            ("level", app.level),
            ("pid", app.pid),
            ("tid", app.tid),
            ("component", app.component),
            ("app", app.app),
            ("alert", app.alert),
            ("log_file", app.log_file),
        ];
        for (name, value) in text {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                event.set(name, v);
            }
        }
        message = app.message;
    }
    event.set("message", message);
    Some(event)
}

/// An application log line read.
#[derive(Debug, Default, PartialEq)]
struct AppLine<'a> {
    kind: &'static str,
    time: Option<DateTime<Utc>>,
    host: Option<&'a str>,
    level: Option<&'a str>,
    pid: Option<&'a str>,
    tid: Option<&'a str>,
    component: Option<&'a str>,
    app: Option<&'a str>,
    alert: Option<&'a str>,
    log_file: Option<&'a str>,
    message: &'a str,
}

fn app_line<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    logcat(line, ctx)
        .or_else(|| hdfs(line, ctx))
        .or_else(|| healthapp(line, ctx))
        .or_else(|| proxifier(line, ctx))
        .or_else(|| cfdr(line, ctx))
        .or_else(|| hpc(line))
        .or_else(|| timestamped(line, ctx))
        .or_else(|| {
            // One word (a file name) before the timestamp: OpenStack's `nova-api.log.1... 2017-...`.
            let (word, rest) = line.split_once(' ')?;
            let mut app = timestamped(rest, ctx)?;
            app.log_file = Some(word);
            Some(app)
        })
}

/// The next space-separated word and what follows it (leading spaces skipped).
fn word(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches(' ');
    if s.is_empty() {
        return None;
    }
    Some(s.split_once(' ').unwrap_or((s, "")))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

const LEVELS: [&str; 15] = [
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "SEVERE", "CRIT", "CRITICAL", "FATAL",
    "ALERT", "EMERG", "VERBOSE",
];

fn is_level(w: &str) -> bool {
    LEVELS.iter().any(|l| l.eq_ignore_ascii_case(w))
}

/// `[PID] [LEVEL] MESSAGE` after a timestamp, with the separators log formats put between.
fn tail<'a>(rest: &'a str, kind: &'static str, time: Option<DateTime<Utc>>) -> AppLine<'a> {
    let mut r = rest.trim_start_matches([' ', ',', '-', '|']);
    let mut app = AppLine { kind, time, ..AppLine::default() };
    if let Some((w, after)) = word(r)
        && all_digits(w)
    {
        app.pid = Some(w);
        r = after;
    }
    if let Some((w, after)) = word(r) {
        let bare = w.trim_matches(|c| c == '[' || c == ']' || c == ':');
        if is_level(bare) {
            app.level = Some(bare);
            r = after.trim_start_matches([' ', '-']);
        }
    }
    app.message = r.trim_start_matches(' ');
    app
}

/// Android `logcat -v threadtime`: `03-17 16:13:38.811  1702  2395 D WindowManager: MSG`.
fn logcat<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    let b = line.as_bytes();
    let (month, day) = (digits(b, 2)?, digits(b.get(3..)?, 2)?);
    if b[2] != b'-' || b.get(5) != Some(&b' ') {
        return None;
    }
    let (time, rest) = clock(&line[6..])?;
    let (pid, rest) = word(rest).filter(|(w, _)| all_digits(w))?;
    let (tid, rest) = word(rest).filter(|(w, _)| all_digits(w))?;
    let (level, rest) = word(rest).filter(|(w, _)| w.len() == 1 && "VDIWEFAS".contains(*w))?;
    let time = infer_year(month, day, time, ctx.received, ctx.tz);
    let mut app = AppLine {
        kind: "logcat",
        time,
        pid: Some(pid),
        tid: Some(tid),
        level: Some(level),
        message: rest,
        ..AppLine::default()
    };
    if let Some((tag, msg)) = rest.split_once(": ")
        && !tag.is_empty()
        && tag.len() <= 64
    {
        app.component = Some(tag.trim());
        app.message = msg;
    } else if let Some(tag) = rest.strip_suffix(':') {
        app.component = Some(tag.trim());
        app.message = "";
    }
    Some(app)
}

/// HDFS: `081109 203615 148 INFO dfs.DataNode$PacketResponder: MSG`.
fn hdfs<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    let b = line.as_bytes();
    let (y, mo, d) = (digits(b, 2)?, digits(b.get(2..)?, 2)?, digits(b.get(4..)?, 2)?);
    let (h, mi, s) = (digits(b.get(7..)?, 2)?, digits(b.get(9..)?, 2)?, digits(b.get(11..)?, 2)?);
    if b[6] != b' ' || b.get(13) != Some(&b' ') {
        return None;
    }
    let at = NaiveDateTime::new(NaiveDate::from_ymd_opt(2000 + y as i32, mo, d)?, NaiveTime::from_hms_opt(h, mi, s)?);
    let app = tail(&line[14..], "hdfs", local(at, ctx.tz));
    app.level?;
    Some(app)
}

/// HealthApp: `20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579`; the time's
/// fields are not zero-padded (`22:16:0:119`).
fn healthapp<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    let b = line.as_bytes();
    let (y, mo, d) = (digits(b, 4)?, digits(b.get(4..)?, 2)?, digits(b.get(6..)?, 2)?);
    if b.get(8) != Some(&b'-') {
        return None;
    }
    let (stamp, rest) = line[9..].split_once('|')?;
    let mut parts = stamp
        .split(':')
        .map(|p| if p.is_empty() || p.len() > 3 || !all_digits(p) { None } else { p.parse::<u32>().ok() });
    let (h, mi, s, ms) = (parts.next()??, parts.next()??, parts.next()??, parts.next().unwrap_or(Some(0))?);
    if parts.next().is_some() || ms > 999 {
        return None;
    }
    let at =
        NaiveDateTime::new(NaiveDate::from_ymd_opt(y as i32, mo, d)?, NaiveTime::from_hms_milli_opt(h, mi, s, ms)?);
    let (component, rest) = rest.split_once('|')?;
    let (pid, message) = rest.split_once('|')?;
    Some(AppLine {
        kind: "healthapp",
        time: local(at, ctx.tz),
        component: Some(component),
        pid: Some(pid),
        message,
        ..AppLine::default()
    })
}

/// Proxifier: `[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy ...`.
fn proxifier<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    let r = line.strip_prefix('[')?;
    let b = r.as_bytes();
    let (month, day) = (digits(b, 2)?, digits(b.get(3..)?, 2)?);
    if b[2] != b'.' || b.get(5) != Some(&b' ') {
        return None;
    }
    let (time, rest) = clock(&r[6..])?;
    let message = rest.strip_prefix("] ")?;
    let component = message.split_once(" - ").map(|(p, _)| p).filter(|p| !p.contains(' '));
    Some(AppLine {
        kind: "proxifier",
        time: infer_year(month, day, time, ctx.received, ctx.tz),
        component,
        message,
        ..AppLine::default()
    })
}

/// Epoch seconds (10 digits).
fn epoch(w: &str) -> Option<DateTime<Utc>> {
    (w.len() == 10 && all_digits(w)).then(|| w.parse().ok().and_then(|s| DateTime::from_timestamp(s, 0)))?
}

/// The CFDR supercomputer logs: `LABEL EPOCH yyyy.mm.dd NODE REST`; BGL's REST is `TIME NODE
/// TYPE COMPONENT LEVEL MSG`, Thunderbird's a syslog line `Mmm d hh:mm:ss LOCATION TAG[PID]: MSG`.
fn cfdr<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    let (label, r) = word(line)?;
    let (secs, r) = word(r)?;
    let time = Some(epoch(secs)?);
    let (date, r) = word(r)?;
    let db = date.as_bytes();
    if date.len() != 10 || db[4] != b'.' || db[7] != b'.' || digits(db, 4).is_none() {
        return None;
    }
    let (node, rest) = word(r)?;
    let alert = (label != "-").then_some(label);
    let base = AppLine { time, host: Some(node), alert, ..AppLine::default() };
    // BGL: `2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO MSG`.
    if let Some((stamp, r)) = word(rest)
        && stamp.len() >= 19
        && stamp.as_bytes()[10] == b'-'
        && let Some((_node, r)) = word(r)
        && let Some((kind, r)) = word(r)
        && let Some((component, r)) = word(r)
        && let Some((level, message)) = word(r)
    {
        return Some(AppLine { kind: "bgl", component: Some(component), level: Some(level), message, ..base })
            .filter(|_| !kind.is_empty());
    }
    // Thunderbird: a syslog line (the location is in the host's place).
    let app = match syslog::rfc3164(rest, ctx.received, ctx.tz) {
        Ok(h) if h.app.is_some() => AppLine {
            kind: "thunderbird",
            app: h.app,
            pid: h.pid,
            component: h.tag.or(h.app),
            message: h.message,
            ..base
        },
        _ => AppLine { kind: "thunderbird", message: rest.trim_start(), ..base },
    };
    Some(app)
}

/// LANL HPC: `134681 node-246 unix.hw state_change.unavailable 1077804742 1 MSG`.
fn hpc(line: &str) -> Option<AppLine<'_>> {
    let (id, r) = word(line)?;
    let (node, r) = word(r)?;
    let (component, r) = word(r)?;
    let (_state, r) = word(r)?;
    let (secs, r) = word(r)?;
    let (flag, message) = word(r)?;
    if !all_digits(id) || !all_digits(flag.strip_prefix('-').unwrap_or(flag)) {
        return None;
    }
    Some(AppLine {
        kind: "hpc",
        time: Some(epoch(secs)?),
        host: Some(node),
        component: Some(component),
        message,
        ..AppLine::default()
    })
}

/// A date and time at the start of the line, in one of the generic shapes (see the module docs).
fn timestamped<'a>(line: &'a str, ctx: &ParseContext) -> Option<AppLine<'a>> {
    if let Some((stamp, rest)) = iso_datetime(line, true) {
        return Some(tail(rest, "timestamped", stamp.resolve_at(ctx.received, ctx.tz)));
    }
    let b = line.as_bytes();
    // `yyyy/mm/dd hh:mm:ss` and `yy/mm/dd hh:mm:ss`.
    for year_len in [4, 2] {
        if let Some(y) = digits(b, year_len)
            && b.get(year_len) == Some(&b'/')
            && let Some(mo) = digits(b.get(year_len + 1..).unwrap_or_default(), 2)
            && b.get(year_len + 3) == Some(&b'/')
            && let Some(d) = digits(b.get(year_len + 4..).unwrap_or_default(), 2)
            && b.get(year_len + 6) == Some(&b' ')
            && let Some((time, rest)) = clock(&line[year_len + 7..])
        {
            let year = if year_len == 2 { 2000 + y as i32 } else { y as i32 };
            let at = NaiveDateTime::new(NaiveDate::from_ymd_opt(year, mo, d)?, time);
            return Some(tail(rest, "timestamped", Stamp::Full { at, offset: None }.resolve_at(ctx.received, ctx.tz)));
        }
    }
    // `mm/dd/yyyy-hh:mm:ss[.frac]` (Suricata fast.log).
    let (mo, d, y) = (digits(b, 2)?, digits(b.get(3..)?, 2)?, digits(b.get(6..)?, 4)?);
    if b[2] != b'/' || b[5] != b'/' || b.get(10) != Some(&b'-') {
        return None;
    }
    let (time, rest) = clock(&line[11..])?;
    let at = NaiveDateTime::new(NaiveDate::from_ymd_opt(y as i32, mo, d)?, time);
    Some(tail(rest, "timestamped", local(at, ctx.tz)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ParseContext {
        let received =
            DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
        let mut ctx = ParseContext::new(received);
        ctx.tz = chrono_tz::UTC;
        ctx
    }

    fn read(line: &str) -> Event {
        headerless(line, &ctx()).unwrap_or_else(|| panic!("not read: {line}"))
    }

    fn f(e: &Event, name: &str) -> String {
        e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {name}>"))
    }

    fn summary(e: &Event) -> (String, String, String, String) {
        (f(e, "log_format"), e.time.to_rfc3339(), f(e, "level"), e.message().into_owned())
    }

    #[test]
    fn application_log_shapes() {
        let s = |a: &str, b: &str, c: &str, d: &str| (a.to_owned(), b.to_owned(), c.to_owned(), d.to_owned());
        let cases = [
            (
                "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
                s("logcat", "2026-03-17T16:13:38.811+00:00", "D", "printFreezingDisplayLogs"),
            ),
            (
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
                s(
                    "hdfs",
                    "2008-11-09T20:36:15+00:00",
                    "INFO",
                    "dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
                ),
            ),
            (
                "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.MRAppMaster: Created",
                s(
                    "timestamped",
                    "2015-10-18T18:01:47.978+00:00",
                    "INFO",
                    "[main] org.apache.hadoop.MRAppMaster: Created",
                ),
            ),
            (
                "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered",
                s(
                    "timestamped",
                    "2017-06-09T20:10:40+00:00",
                    "INFO",
                    "executor.CoarseGrainedExecutorBackend: Registered",
                ),
            ),
            (
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
                s(
                    "timestamped",
                    "2015-07-29T17:41:44.747+00:00",
                    "INFO",
                    "[QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
                ),
            ),
            (
                "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack",
                s("timestamped", "2016-09-28T04:30:30+00:00", "Info", "CBS    Loaded Servicing Stack"),
            ),
            (
                "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-1] GET",
                s("timestamped", "2017-05-16T00:00:00.008+00:00", "INFO", "nova.osapi_compute.wsgi.server [req-1] GET"),
            ),
            (
                "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
                s("healthapp", "2017-12-23T22:15:29.606+00:00", "<no level>", "onStandStepChanged 3579"),
            ),
            (
                "[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy",
                s(
                    "proxifier",
                    "2026-10-30T16:49:06+00:00",
                    "<no level>",
                    "chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy",
                ),
            ),
            (
                "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
                s("bgl", "2005-06-03T22:42:50+00:00", "INFO", "instruction cache parity error corrected"),
            ),
            (
                "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root",
                s("thunderbird", "2005-11-09T20:01:01+00:00", "<no level>", "session closed for user root"),
            ),
            (
                "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: Component \\042alt0\\042",
                s("hpc", "2004-02-26T14:12:22+00:00", "<no level>", "Component State Change: Component \\042alt0\\042"),
            ),
            (
                "2024-12-15 14:10:00 OpenVPN 2.6.3 x86_64-linux-gnu started",
                s("timestamped", "2024-12-15T14:10:00+00:00", "<no level>", "OpenVPN 2.6.3 x86_64-linux-gnu started"),
            ),
            (
                "07/11/2022-10:29:01.860293  [**] [1:2200074:2] SURICATA TCPv4 invalid checksum [**]",
                s(
                    "timestamped",
                    "2022-07-11T10:29:01.860293+00:00",
                    "<no level>",
                    "[**] [1:2200074:2] SURICATA TCPv4 invalid checksum [**]",
                ),
            ),
            (
                "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
                s("apache_error", "2005-12-04T04:47:44+00:00", "error", "mod_jk child workerEnv in error state 6"),
            ),
            (
                "2021/09/29 17:29:58 [error] 1234#1234: *1 open() failed, client: 127.0.0.1, server: localhost, request: \"GET /x HTTP/1.1\"",
                s(
                    "nginx_error",
                    "2021-09-29T17:29:58+00:00",
                    "error",
                    "*1 open() failed, client: 127.0.0.1, server: localhost, request: \"GET /x HTTP/1.1\"",
                ),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(summary(&read(line)), want, "{line}");
        }
        let e = read(
            "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root",
        );
        assert_eq!(
            (f(&e, "host"), f(&e, "app"), f(&e, "pid"), f(&e, "component")),
            ("dn228".into(), "crond".into(), "2915".into(), "crond(pam_unix)".into())
        );
        let e = read("03-17 16:13:38.811  1702  2395 D WindowManager: x");
        assert_eq!(
            (f(&e, "pid"), f(&e, "tid"), f(&e, "component")),
            ("1702".into(), "2395".into(), "WindowManager".into())
        );
        assert_eq!(e.logsource, LogSource::default());
        let e = read(
            "2021/09/29 17:29:58 [error] 1234#1234: *1 open() failed, client: 127.0.0.1, server: localhost, request: \"GET /x?y=1 HTTP/1.1\", host: \"localhost\"",
        );
        assert_eq!(
            (f(&e, "c-ip"), f(&e, "cs-uri-stem"), f(&e, "cs-uri-query"), f(&e, "cs-host")),
            ("127.0.0.1".into(), "/x".into(), "y=1".into(), "localhost".into())
        );
        assert_eq!(e.logsource.service.as_deref(), Some("nginx"));
    }

    #[test]
    fn raw_auditd_records() {
        let e = read(
            r#"type=SYSCALL msg=audit(1684329817.579:2995): arch=c000003e syscall=59 success=yes exit=0 a0=237f568 a1=237f368 items=2 ppid=26843 pid=27032 auid=1000 uid=1000 tty=pts2 ses=106985 comm="perl" exe="/usr/bin/perl" key=(null)"#,
        );
        assert_eq!(e.logsource, LogSource::new(Some("linux"), None, Some("auditd")));
        assert_eq!(e.time.to_rfc3339(), "2023-05-17T13:23:37.579+00:00");
        let got: Vec<String> = ["type", "syscall", "SYSCALL", "exe", "comm", "key", "a0", "auid", "audit_id"]
            .iter()
            .map(|n| f(&e, n))
            .collect();
        assert_eq!(
            got,
            ["SYSCALL", "59", "execve", "/usr/bin/perl", "perl", "(null)", "237f568", "1000", "1684329817.579:2995"]
        );
        let e = read(
            r#"node=web01 type=EXECVE msg=audit(1604996384.965:93777): argc=3 a0="bash" a1="-c" a2=6563686F20272F62696E2F736827"#,
        );
        assert_eq!((f(&e, "host"), f(&e, "a0"), f(&e, "a2")), ("web01".into(), "bash".into(), "echo '/bin/sh'".into()));
        let e = read("type=PROCTITLE msg=audit(1604996384.965:93777): proctitle=64640069663D2F6465762F7A65726F");
        assert_eq!(f(&e, "proctitle"), "dd if=/dev/zero");
        let e = read(
            r#"type=USER_AUTH msg=audit(1700000000.000:10): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd" hostname=1.2.3.4 addr=1.2.3.4 terminal=ssh res=failed'"#,
        );
        assert_eq!(
            (f(&e, "op"), f(&e, "acct"), f(&e, "res"), f(&e, "addr")),
            ("PAM:authentication".into(), "root".into(), "failed".into(), "1.2.3.4".into())
        );
        // The ENRICHED format keeps its own SYSCALL name.
        let e = read(
            "type=SYSCALL msg=audit(1700000000.000:11): arch=c000003e syscall=41 success=yes\u{1d}ARCH=x86_64 SYSCALL=socket AUID=\"alice\"",
        );
        assert_eq!(
            (f(&e, "SYSCALL"), f(&e, "AUID"), f(&e, "ARCH")),
            ("socket".into(), "alice".into(), "x86_64".into())
        );
    }

    #[test]
    fn vsftpd_log() {
        let e = read(r#"Mon Jun 8 12:08:53 2020 [pid 27244] [user] FAIL LOGIN: Client "::ffff:93.24.101.89""#);
        assert_eq!(e.logsource, LogSource::new(Some("linux"), None, Some("vsftpd")));
        assert_eq!(
            (f(&e, "event"), f(&e, "user"), f(&e, "src_ip"), f(&e, "pid")),
            ("fail_login".into(), "user".into(), "93.24.101.89".into(), "27244".into())
        );
    }

    #[test]
    fn proxmox_firewall_log() {
        let e = read(
            "0 3 PVEFW-HOST-IN 20/Jun/2022:13:09:14 +0200 policy DROP: IN=vmbr0.94 MAC=24:8a:07:9a:2a:f2:24:8a:07:50:2c:9e:08:00 SRC=10.3.94.11 DST=10.3.94.12 LEN=52 TOS=0x00 PREC=0xC0 TTL=255 ID=64317 DF PROTO=UDP SPT=49152 DPT=3784 LEN=32",
        );
        assert_eq!(e.time.to_rfc3339(), "2022-06-20T11:09:14+00:00");
        let got: Vec<String> = ["log_format", "vmid", "chain", "src_ip", "dst_ip", "dst_port", "action", "blocked"]
            .iter()
            .map(|n| f(&e, n))
            .collect();
        assert_eq!(got, ["proxmox_firewall", "0", "PVEFW-HOST-IN", "10.3.94.11", "10.3.94.12", "3784", "drop", "true"]);
        assert_eq!(
            (e.logsource.product.as_deref(), e.logsource.category.as_deref()),
            (Some("proxmox"), Some("firewall"))
        );
        let e = read(
            "100 6 PVEFW-FORWARD 20/Jun/2022:13:09:14 +0200 ACCEPT: IN=fwbr100i0 OUT=fwbr100i0 SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=1 DPT=22",
        );
        assert_eq!((f(&e, "action"), f(&e, "blocked"), f(&e, "vmid")), ("accept".into(), "false".into(), "100".into()));
    }

    #[test]
    fn other_text_is_not_read() {
        for line in [
            "not a log line",
            "12345",
            "- 12 2005.06.03 x",
            "[10.30 x] y",
            "2026-13-45 10:00:00 bad date",
            "03-17 16:13:38.811 x",
        ] {
            assert!(headerless(line, &ctx()).is_none(), "{line}");
        }
    }
}
