//! Field extractors for the message bodies of well-known programs, and the logsource each
//! program's events belong to.
//!
//! Field names, by program:
//!
//! | program | fields |
//! |---|---|
//! | sshd | `event` (`failed_password`, `accepted`, `invalid_user`), `user`, `src_ip`, `src_port`, `auth_method`, `invalid_user` |
//! | sudo | `user`, `tty`, `pwd`, `target_user`, `command` |
//! | useradd | `event` (`new_user`), `user`, `uid`, `gid`, `home`, `shell` |
//! | web access logs | `c-ip`, `cs-username`, `cs-method`, `cs-uri-stem`, `cs-uri-query`, `cs-version`, `sc-status`, `sc-bytes`, `cs-referer`, `cs-user-agent` |

use chrono::{DateTime, Utc};

use crate::event::{Event, LogSource, Value};

/// The Sigma logsource of a syslog event from `app`.
pub fn linux_logsource(app: Option<&str>) -> LogSource {
    let service = match app.map(str::to_ascii_lowercase).as_deref() {
        Some("sshd") => "sshd",
        Some("sudo") => "sudo",
        Some("cron" | "crond" | "anacron") => "cron",
        Some(
            "useradd" | "userdel" | "usermod" | "groupadd" | "groupdel" | "passwd" | "chpasswd" | "su" | "login"
            | "systemd-logind" | "chage" | "gpasswd",
        ) => "auth",
        Some("auditd" | "audispd") => "auditd",
        Some("vsftpd") => "vsftpd",
        Some("clamd" | "freshclam") => "clamav",
        _ => "syslog",
    };
    LogSource::new(Some("linux"), None, Some(service))
}

/// Adds the fields of the message body of `app`'s events.
pub fn extract(app: &str, event: &mut Event) {
    match app {
        "sshd" => sshd(event),
        "sudo" => sudo(event),
        "useradd" => useradd(event),
        _ => {}
    }
}

fn sshd(event: &mut Event) {
    let msg = event.message.clone();
    let (kind, rest) = if let Some(r) = msg.strip_prefix("Failed ") {
        ("failed_password", r)
    } else if let Some(r) = msg.strip_prefix("Accepted ") {
        ("accepted", r)
    } else if let Some(r) = msg.strip_prefix("Invalid user ") {
        event.set("event", "invalid_user");
        event.set("invalid_user", Value::Bool(true));
        if let Some((user, from)) = r.split_once(" from ") {
            event.set("user", user);
            set_addr(event, from);
        }
        return;
    } else {
        return;
    };
    // `METHOD for [invalid user ]USER from ADDR port PORT [ssh2]`
    let Some((method, r)) = rest.split_once(" for ") else { return };
    let (invalid, r) = match r.strip_prefix("invalid user ") {
        Some(r) => (true, r),
        None => (false, r),
    };
    let Some((user, from)) = r.rsplit_once(" from ") else { return };
    event.set("event", kind);
    event.set("auth_method", method);
    event.set("user", user);
    event.set("invalid_user", Value::Bool(invalid));
    set_addr(event, from);
}

fn set_addr(event: &mut Event, from: &str) {
    let mut words = from.split_whitespace();
    if let Some(ip) = words.next() {
        event.set("src_ip", ip);
    }
    if let (Some("port"), Some(port)) = (words.next(), words.next()) {
        event.set("src_port", port);
    }
}

/// `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`
fn sudo(event: &mut Event) {
    let msg = event.message.clone();
    let Some((user, rest)) = msg.split_once(" : ") else { return };
    if user.contains(' ') {
        return;
    }
    event.set("user", user.trim());
    for part in rest.split(" ; ") {
        let Some((key, value)) = part.split_once('=') else { continue };
        let name = match key.trim() {
            "TTY" => "tty",
            "PWD" => "pwd",
            "USER" => "target_user",
            "COMMAND" => "command",
            _ => continue,
        };
        event.set(name, value.trim());
    }
}

/// `new user: name=bob, UID=1001, GID=1001, home=/home/bob, shell=/bin/bash, from=/dev/pts/0`
fn useradd(event: &mut Event) {
    let msg = event.message.clone();
    let Some(rest) = msg.strip_prefix("new user: ") else { return };
    event.set("event", "new_user");
    for part in rest.split(", ") {
        let Some((key, value)) = part.split_once('=') else { continue };
        let name = match key {
            "name" => "user",
            "UID" => "uid",
            "GID" => "gid",
            "home" => "home",
            "shell" => "shell",
            _ => continue,
        };
        event.set(name, value);
    }
}

/// Fields of an access line, with Sigma's webserver names.
pub type AccessFields = Vec<(&'static str, String)>;

/// A web server access line in the common or combined log format:
/// `IP IDENT USER [TIME] "METHOD URI VERSION" STATUS BYTES ["REFERER" "USER-AGENT"]`.
/// Returns the event time and the fields, with Sigma's webserver field names.
pub fn access_log(line: &str) -> Option<(DateTime<Utc>, AccessFields)> {
    let (ip, rest) = line.split_once(' ')?;
    let (_ident, rest) = rest.split_once(' ')?;
    let (user, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix('[')?;
    let (time, rest) = rest.split_once("] ")?;
    let time = DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z").ok()?.with_timezone(&Utc);
    let rest = rest.strip_prefix('"')?;
    let (request, rest) = rest.split_once("\" ")?;
    let mut fields = vec![("c-ip", ip.to_owned())];
    if user != "-" {
        fields.push(("cs-username", user.to_owned()));
    }
    let mut parts = request.splitn(3, ' ');
    let method = parts.next()?;
    fields.push(("cs-method", method.to_owned()));
    if let Some(uri) = parts.next() {
        let (stem, query) = uri.split_once('?').unwrap_or((uri, ""));
        fields.push(("cs-uri-stem", stem.to_owned()));
        if !query.is_empty() {
            fields.push(("cs-uri-query", query.to_owned()));
        }
    }
    if let Some(version) = parts.next() {
        fields.push(("cs-version", version.to_owned()));
    }
    let mut words = rest.splitn(3, ' ');
    let status = words.next()?;
    if !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    fields.push(("sc-status", status.to_owned()));
    if let Some(bytes) = words.next() {
        fields.push(("sc-bytes", bytes.to_owned()));
    }
    if let Some(tail) = words.next() {
        let mut quoted = tail.split('"').skip(1).step_by(2);
        if let Some(referer) = quoted.next().filter(|r| *r != "-") {
            fields.push(("cs-referer", referer.to_owned()));
        }
        if let Some(agent) = quoted.next().filter(|a| *a != "-") {
            fields.push(("cs-user-agent", agent.to_owned()));
        }
    }
    Some((time, fields))
}
