//! Web servers' logs: access lines (common, combined, vhost_combined), Apache's and nginx's
//! error logs; and vsftpd's own log, whose timestamp is the same ctime shape as Apache's.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::event::{Event, LogSource};
use crate::syslog::{clock, digits, month};

/// Fields of an access line, with Sigma's webserver names; the values borrow from the line.
pub type AccessFields<'a> = Vec<(&'static str, &'a str)>;

/// A web server access line in the common or combined log format, or Apache's vhost_combined
/// (`HOST:PORT ` before it, giving `cs-host`):
/// `IP IDENT USER [TIME] "METHOD URI VERSION" STATUS BYTES ["REFERER" "USER-AGENT"]`.
/// Returns the event time and the fields, with Sigma's webserver field names.
pub fn access_log(line: &str) -> Option<(DateTime<Utc>, AccessFields<'_>)> {
    combined(line).or_else(|| {
        let (vhost, rest) = line.split_once(' ')?;
        let (host, port) = vhost.rsplit_once(':')?;
        if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (time, mut fields) = combined(rest)?;
        fields.push(("cs-host", host));
        Some((time, fields))
    })
}

fn combined(line: &str) -> Option<(DateTime<Utc>, AccessFields<'_>)> {
    let (ip, rest) = line.split_once(' ')?;
    let (_ident, rest) = rest.split_once(' ')?;
    let (user, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    let (time, rest) = rest.split_once("] ")?;
    let time = access_time(time)?;
    let rest = rest.strip_prefix('"')?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut fields = Vec::with_capacity(10);
    fields.push(("c-ip", ip));
    if user != "-" {
        fields.push(("cs-username", user));
    }
    request_fields(request, &mut fields);
    let mut words = rest.splitn(3, ' ');
    let status = words.next()?;
    if status.is_empty() || !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    fields.push(("sc-status", status));
    if let Some(bytes) = words.next() {
        fields.push(("sc-bytes", bytes));
    }
    if let Some(tail) = words.next() {
        let mut quoted = tail.split('"').skip(1).step_by(2);
        if let Some(referer) = quoted.next().filter(|r| *r != "-") {
            fields.push(("cs-referer", referer));
        }
        if let Some(agent) = quoted.next().filter(|a| *a != "-") {
            fields.push(("cs-user-agent", agent));
        }
    }
    Some((time, fields))
}

/// The access log's `dd/Mmm/yyyy:HH:MM:SS[.frac] +zzzz`. The usual shape is read directly
/// (chrono's format-string parser costs more than the rest of the line); anything else goes
/// to chrono's `%d/%b/%Y:%H:%M:%S %z`, which also takes one-digit days and `+hh:mm`.
pub(super) fn access_time(s: &str) -> Option<DateTime<Utc>> {
    fast_access_time(s).or_else(|| DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z").ok().map(|t| t.to_utc()))
}

fn fast_access_time(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.get(2) != Some(&b'/') || b.get(6) != Some(&b'/') || b.get(11) != Some(&b':') {
        return None;
    }
    let day = digits(b, 2)?;
    let mon = month(s.get(3..6)?)?;
    let year = digits(b.get(7..)?, 4)?;
    let (time, rest) = clock(s.get(12..)?)?;
    let zone = rest.strip_prefix(' ')?.as_bytes();
    let sign = match zone.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    if zone.len() != 5 {
        return None;
    }
    let (hh, mm) = (digits(&zone[1..], 2)?, digits(&zone[3..], 2)?);
    let offset = chrono::FixedOffset::east_opt(sign * (hh * 3600 + mm * 60) as i32)?;
    let local = NaiveDateTime::new(NaiveDate::from_ymd_opt(year as i32, mon, day)?, time);
    local.and_local_timezone(offset).single().map(|t| t.to_utc())
}

/// `METHOD URI VERSION` -> `cs-method`, `cs-uri` (the whole request target, as some SigmaHQ
/// web rules name it), `cs-uri-stem`, `cs-uri-query`, `cs-version`.
fn request_fields<'a>(request: &'a str, fields: &mut AccessFields<'a>) {
    let mut parts = request.splitn(3, ' ');
    if let Some(method) = parts.next().filter(|m| !m.is_empty()) {
        fields.push(("cs-method", method));
    }
    if let Some(uri) = parts.next() {
        let (stem, query) = uri.split_once('?').unwrap_or((uri, ""));
        fields.push(("cs-uri", uri));
        fields.push(("cs-uri-stem", stem));
        if !query.is_empty() {
            fields.push(("cs-uri-query", query));
        }
    }
    if let Some(version) = parts.next() {
        fields.push(("cs-version", version));
    }
}

/// ctime's `Www Mmm dd hh:mm:ss[.frac] yyyy` (day space-padded or not) at the start of `s`.
pub(super) fn ctime(s: &str) -> Option<(NaiveDateTime, &str)> {
    let wd = s.get(..3)?;
    if !wd.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let r = s[3..].strip_prefix(' ')?;
    let mon = month(r)?;
    let r = r[3..].strip_prefix(' ')?.trim_start_matches(' ');
    let day_len = r.bytes().take(3).take_while(u8::is_ascii_digit).count();
    let day = digits(r.as_bytes(), day_len).filter(|_| (1..=2).contains(&day_len))?;
    let r = r[day_len..].strip_prefix(' ')?;
    let (time, r): (NaiveTime, &str) = clock(r)?;
    let r = r.strip_prefix(' ')?;
    let year = digits(r.as_bytes(), 4)?;
    let date = NaiveDate::from_ymd_opt(year as i32, mon, day)?;
    Some((NaiveDateTime::new(date, time), &r[4..]))
}

/// An Apache error line read: `[TIME] [MODULE:LEVEL] [pid P:tid T] MESSAGE`.
#[derive(Debug, PartialEq)]
pub(super) struct ApacheError<'a> {
    pub time: Option<NaiveDateTime>,
    pub level: &'a str,
    pub module: &'a str,
    pub pid: Option<&'a str>,
    pub tid: Option<&'a str>,
    pub message: &'a str,
}

/// Apache 2.2 `[Sun Dec 04 04:47:44 2005] [error] MSG` and 2.4 `[Thu Sep 30 13:27:06.009964
/// 2021] [core:error] [pid 2560:tid 1404] [client 1.2.3.4:5678] MSG`; from syslog (`ErrorLog
/// syslog`) the time part is left out. The message keeps `[client ...]`, as Apache counts it
/// part of the message.
pub(super) fn apache_error(line: &str) -> Option<ApacheError<'_>> {
    let (time, rest) = match line.strip_prefix('[').and_then(ctime) {
        Some((time, r)) => (Some(time), r.strip_prefix("] ")?),
        None => (None, line),
    };
    let r = rest.strip_prefix('[')?;
    let (level_part, mut rest) = r.split_once("] ")?;
    let (module, level) = level_part.rsplit_once(':').unwrap_or(("", level_part));
    if level.is_empty() || !level.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (mut pid, mut tid) = (None, None);
    if let Some(r) = rest.strip_prefix("[pid ")
        && let Some((ids, after)) = r.split_once("] ")
    {
        let (p, t) = ids.split_once(":tid ").map_or((ids, None), |(p, t)| (p, Some(t)));
        (pid, tid) = (Some(p), t);
        rest = after;
    }
    Some(ApacheError { time, level, module, pid, tid, message: rest })
}

/// The address in Apache's `[client IP[:PORT]]`.
fn apache_client(message: &str) -> Option<&str> {
    let r = message.strip_prefix("[client ")?;
    let addr = &r[..r.find(']')?];
    // 2.4 writes IP:PORT; 2.2 the IP alone.
    if addr.parse::<std::net::IpAddr>().is_ok() {
        return Some(addr);
    }
    let (ip, port) = addr.rsplit_once(':')?;
    (port.bytes().all(|b| b.is_ascii_digit()) && ip.parse::<std::net::IpAddr>().is_ok()).then_some(ip)
}

/// Sets an Apache error line's fields on the event (the message is `e.message`).
pub(super) fn apply_apache(e: &ApacheError<'_>, event: &mut Event) {
    event.set("level", e.level);
    if !e.module.is_empty() {
        event.set("module", e.module);
    }
    if let Some(pid) = e.pid {
        event.set("pid", pid);
    }
    if let Some(tid) = e.tid {
        event.set("tid", tid);
    }
    if let Some(ip) = apache_client(e.message) {
        event.set("c-ip", ip);
    }
    let product = e.message.contains("ModSecurity:").then_some("modsecurity");
    event.logsource = LogSource::new(product, None, Some("apache"));
}

/// An Apache error line from syslog (`apache2`/`httpd`): its fields, and `service: apache`.
pub(super) fn apply_apache_error(body: &str, event: &mut Event) {
    if let Some(e) = apache_error(body) {
        apply_apache(&e, event);
    } else {
        event.logsource = LogSource::new(None, None, Some("apache"));
    }
}

/// An nginx error line read: `YYYY/MM/DD hh:mm:ss [LEVEL] PID#TID: [*CID ]MESSAGE`.
#[derive(Debug, PartialEq)]
pub(super) struct NginxError<'a> {
    pub time: Option<NaiveDateTime>,
    pub level: &'a str,
    pub pid: &'a str,
    pub tid: &'a str,
    pub message: &'a str,
}

/// `2021/09/29 17:29:58 [error] 1234#1234: *1 open() ... failed, client: 1.2.3.4, server: x,
/// request: "GET /x HTTP/1.1", host: "h"`; from syslog the time part is left out.
pub(super) fn nginx_error(line: &str) -> Option<NginxError<'_>> {
    let b = line.as_bytes();
    let (time, rest) = match (digits(b, 4), b.get(4), digits(b.get(5..).unwrap_or_default(), 2)) {
        (Some(y), Some(b'/'), Some(mo)) => {
            let d = digits(b.get(8..)?, 2)?;
            if b.get(7) != Some(&b'/') || b.get(10) != Some(&b' ') {
                return None;
            }
            let (t, rest) = clock(&line[11..])?;
            (Some(NaiveDateTime::new(NaiveDate::from_ymd_opt(y as i32, mo, d)?, t)), rest.strip_prefix(' ')?)
        }
        _ => (None, line),
    };
    let r = rest.strip_prefix('[')?;
    let (level, r) = r.split_once("] ")?;
    if level.is_empty() || !level.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    let (ids, message) = r.split_once(": ")?;
    let (pid, tid) = ids.split_once('#')?;
    if !pid.bytes().all(|b| b.is_ascii_digit()) || !tid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(NginxError { time, level, pid, tid, message })
}

/// Sets an nginx error line's fields: level, pid, tid, and from its `, client: IP, server: S,
/// request: "M URI V", host: "H"` tail `c-ip`, `cs-method`, `cs-uri`, `cs-uri-stem`, `cs-uri-query`,
/// `cs-host`.
pub(super) fn apply_nginx(e: &NginxError<'_>, event: &mut Event) {
    event.set("level", e.level);
    event.set("pid", e.pid);
    event.set("tid", e.tid);
    if let Some((_, tail)) = e.message.split_once(", client: ") {
        let client = tail.split(", ").next().unwrap_or_default();
        event.set("c-ip", client);
        let mut fields = AccessFields::new();
        if let Some((_, r)) = tail.split_once("request: \"")
            && let Some((request, _)) = r.split_once('"')
        {
            request_fields(request, &mut fields);
        }
        if let Some((_, r)) = tail.split_once("host: \"")
            && let Some((host, _)) = r.split_once('"')
        {
            fields.push(("cs-host", host));
        }
        for (k, v) in fields {
            event.set(k, v);
        }
    }
    event.logsource = LogSource::new(None, None, Some("nginx"));
}

/// An nginx error line from syslog: its fields and `service: nginx`. False when it is not one.
pub(super) fn apply_nginx_error(body: &str, event: &mut Event) -> bool {
    match nginx_error(body) {
        Some(e) => {
            apply_nginx(&e, event);
            true
        }
        None => false,
    }
}

/// vsftpd's own log: `Www Mmm dd hh:mm:ss yyyy [pid N] [USER] MESSAGE`; the time and the rest.
pub(super) fn vsftpd_line(line: &str) -> Option<(NaiveDateTime, &str, &str)> {
    let (time, rest) = ctime(line)?;
    let rest = rest.strip_prefix(" [pid ")?;
    let (pid, rest) = rest.split_once("] ")?;
    pid.bytes().all(|b| b.is_ascii_digit()).then_some((time, pid, rest))
}

/// vsftpd's `[USER] FAIL LOGIN: Client "::ffff:1.2.3.4"`, `CONNECT: Client "1.2.3.4"`.
pub(super) fn vsftpd_fields(msg: &str, event: &mut Event) {
    let mut msg = msg;
    if let Some(r) = msg.strip_prefix('[')
        && let Some((user, rest)) = r.split_once("] ")
    {
        event.set("user", user);
        msg = rest;
    }
    let kind = if msg.starts_with("FAIL LOGIN") {
        "fail_login"
    } else if msg.starts_with("OK LOGIN") {
        "ok_login"
    } else if msg.starts_with("CONNECT") {
        "connect"
    } else {
        ""
    };
    if !kind.is_empty() {
        event.set("event", kind);
    }
    if let Some((_, r)) = msg.split_once("Client \"")
        && let Some((client, _)) = r.split_once('"')
    {
        let ip = client.strip_prefix("::ffff:").filter(|ip| ip.contains('.')).unwrap_or(client);
        event.set("src_ip", ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_error_lines() {
        let e =
            apache_error("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties");
        let e = e.unwrap_or_else(|| panic!("not read"));
        assert_eq!((e.level, e.module, e.pid), ("notice", "", None));
        assert_eq!(e.time.map(|t| t.to_string()).as_deref(), Some("2005-12-04 04:47:44"));
        assert_eq!(e.message, "workerEnv.init() ok /etc/httpd/conf/workers2.properties");
        let line = "[Thu Sep 30 13:27:06.009964 2021] [:error] [pid 2560:tid 140496349419264] [client ::1:37752] [client ::1] ModSecurity: Warning.";
        let e = apache_error(line).unwrap_or_else(|| panic!("not read"));
        assert_eq!((e.level, e.module, e.pid, e.tid), ("error", "", Some("2560"), Some("140496349419264")));
        assert_eq!(apache_client(e.message), Some("::1"));
        assert_eq!(apache_client("[client 222.166.160.184] Directory index forbidden"), Some("222.166.160.184"));
        assert_eq!(apache_client("[client 1.2.3.4:5678] x"), Some("1.2.3.4"));
        assert!(apache_error("[Sun Dec 04 04:47:44 2005] notice").is_none());
        assert!(apache_error("[notice] no time, from syslog").is_some());
    }

    #[test]
    fn nginx_error_lines() {
        let line = r#"2021/09/29 17:29:58 [error] 1234#1234: *1 open() "/usr/share/nginx/html/x" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: "GET /x?a=1 HTTP/1.1", host: "localhost""#;
        let e = nginx_error(line).unwrap_or_else(|| panic!("not read"));
        assert_eq!((e.level, e.pid, e.tid), ("error", "1234", "1234"));
        assert_eq!(e.time.map(|t| t.to_string()).as_deref(), Some("2021-09-29 17:29:58"));
        assert!(nginx_error("2021/09/29 17:29:58 nope").is_none());
    }

    #[test]
    fn access_lines() {
        let (_, f) = access_log(r#"www.example.com:443 10.0.0.1 - bob [23/Nov/2026:10:00:00 +0700] "POST /login HTTP/2.0" 302 0 "-" "Mozilla/5.0""#)
            .unwrap_or_else(|| panic!("not read"));
        let get = |n: &str| f.iter().find(|(k, _)| *k == n).map(|(_, v)| *v);
        assert_eq!(
            (get("cs-host"), get("c-ip"), get("cs-username"), get("cs-method")),
            (Some("www.example.com"), Some("10.0.0.1"), Some("bob"), Some("POST"))
        );
        assert!(access_log("1.2.3.4 - - [bad] \"GET / HTTP/1.1\" 200 1").is_none());
        assert!(access_log("1.2.3.4 - - [23/Nov/2026:10:00:00 +0700] \"GET / HTTP/1.1\" OK 1").is_none());
    }

    #[test]
    fn access_time_agrees_with_chrono() {
        let chrono = |s: &str| DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z").ok().map(|t| t.to_utc());
        for s in [
            "23/Nov/2026:10:00:00 +0700",
            "01/Jan/2027:00:00:59 -0000",
            "31/Dec/2026:23:59:59 -0530",
            "29/Feb/2024:12:00:00 +1400",
            "10/oct/2000:13:55:36 -0700",
        ] {
            assert_eq!(fast_access_time(s), chrono(s), "{s}");
            assert!(fast_access_time(s).is_some(), "{s}");
        }
        // Not the usual shape: left to chrono, which reads the first two and rejects the rest.
        for s in ["1/Nov/2026:10:00:00 +0700", "23/Nov/2026:10:00:00 +07:00", "30/Feb/2026:10:00:00 +0700", "x"] {
            assert_eq!(fast_access_time(s), None, "{s}");
            assert_eq!(access_time(s), chrono(s), "{s}");
        }
        assert!(access_time("1/Nov/2026:10:00:00 +0700").is_some());
    }

    #[test]
    fn vsftpd_and_ctime() {
        let (t, pid, rest) =
            vsftpd_line(r#"Mon Jun  9 12:08:53 2020 [pid 27244] [user] FAIL LOGIN: Client "::ffff:93.24.101.90""#)
                .unwrap_or_else(|| panic!("not read"));
        assert_eq!((t.to_string().as_str(), pid), ("2020-06-09 12:08:53", "27244"));
        assert_eq!(rest, r#"[user] FAIL LOGIN: Client "::ffff:93.24.101.90""#);
        assert!(ctime("Mon Jun 31 12:08:53 2020").is_none());
    }
}
