//! Field extractors for the messages of well-known programs, and the Sigma logsource each
//! event belongs to.
//!
//! A syslog event gets its fields in two steps: [`apply_header`] copies what the header says
//! (and picks the logsource from the program), then [`extract`] reads the message body of the
//! programs below. Lines without a syslog header of a well-known format of their own (raw
//! auditd records, web server access and error logs, application logs that start with a
//! timestamp) are read by [`headerless()`].
//!
//! # Header fields
//!
//! Every syslog event has `message`, and where the header has them `host`, `app` (the program:
//! RFC 5424 APP-NAME, or the RFC 3164 tag without what is not its name, so `sshd(pam_unix)` is
//! `sshd`), `tag` (the RFC 3164 tag as written, only when it differs from `app`:
//! `sshd(pam_unix)`, `syslogd 1.4.1`), `pid`, `msgid`, `facility` and `severity` (from the PRI,
//! by name), `sd.ID.NAME` (RFC 5424 structured data), `repeat_count` (N of rsyslog's
//! `message repeated N times: [ MSG]`, whose MSG is then the message) and, for Cisco's
//! `%FACILITY-SEVERITY-MNEMONIC:` messages, `cisco.facility`, `cisco.severity` and
//! `cisco.mnemonic` (the message keeps the `%...:` tag, which Sigma's Cisco keyword rules search).
//!
//! A tag written without its colon (`host sshd Failed password ...`: rsyslog's traditional
//! templates relaying an RFC 5424 message without a PROCID) gives `app` as a tag with one does,
//! when the word names a program below ([`untagged_program`]): a program with an extractor or a
//! logsource of its own, `systemd`, `kernel`, `named`, `dovecot`, `postfix/*` or `filterlog`;
//! and for the names that are also words (`su`, `passwd`, `login`, `cron`, `apache`) only when
//! the extractor recognises the message.
//!
//! # Logsources
//!
//! | events | logsource |
//! |---|---|
//! | `sshd`, `sshd-session`, `sshd-auth` | `product: linux`, `service: sshd` |
//! | `sudo` | `product: linux`, `service: sudo` |
//! | `cron`, `crond`, `CRON`, `anacron` | `product: linux`, `service: cron` |
//! | `su`, `login`, `useradd`, `userdel`, `usermod`, `groupadd`, `groupdel`, `groupmod`, `passwd`, `chpasswd`, `chage`, `gpasswd`, `newusers`, `adduser`, `deluser`, `systemd-logind`, `pkexec`, `polkitd`, `unix_chkpwd` | `product: linux`, `service: auth` |
//! | auditd records (raw `type=... msg=audit(...)` lines, or carried in syslog by any program: `audispd`, `audisp-syslog`, `auditd`, `kernel: audit: type=1400 ...`) | `product: linux`, `service: auditd` |
//! | `vsftpd` (syslog or its own `vsftpd.log` lines) | `product: linux`, `service: vsftpd` |
//! | `clamd`, `freshclam`, `clamav` | `product: linux`, `service: clamav` |
//! | `guacd`, `guacamole` | `product: linux`, `service: guacamole` |
//! | iptables / ufw / nftables `LOG` lines (`IN=... OUT=... SRC=...`, any program, usually `kernel`) | `product: linux`, `category: firewall` |
//! | Proxmox VE firewall log lines (`VMID LEVEL CHAIN dd/Mon/yyyy:HH:MM:SS +zzzz ACTION: IN=...`, headerless) | `product: proxmox`, `category: firewall`, with the iptables fields and `vmid`, `chain` |
//! | web access lines (common, combined, vhost_combined), alone or carried in syslog | `category: webserver`, and `product: nginx` or `product: apache` when the syslog program says which |
//! | Apache `error.log` lines (2.2 and 2.4), alone or from `apache2`/`httpd` in syslog | `service: apache` (`product: modsecurity` too for ModSecurity's) |
//! | nginx `error.log` lines | `service: nginx` |
//! | Cisco `%FAC-SEV-MNEMONIC:` messages | `product: cisco`, `service: syslog` (`aaa` for `%PARSER-5-CFGLOG_LOGGEDCMD`, `bgp` for `BADAUTH` on port 179, `ldp` for LDP MD5 failures); `category: firewall` too for the ASA/FTD connection, deny and access-list messages and IOS `%SEC-6-IPACCESSLOGP` |
//! | any other syslog program | `product: linux`, `service: syslog` |
//! | application logs read by [`headerless()`] (HDFS, Hadoop, Spark, Android, ...) | none: only rules without a logsource constraint see them |
//!
//! These are the service names SigmaHQ's `rules/linux` use (`auth`, `sshd`, `sudo`, `cron`,
//! `auditd`, `syslog`, `clamav`, `vsftpd`, `guacamole`), the `webserver` and `firewall`
//! categories, and `service: apache`/`nginx` of `rules/web/product`.
//!
//! # Fields, by program
//!
//! `event` names what happened, so rules and searches need not parse the message again.
//!
//! | program | `event` values | fields |
//! |---|---|---|
//! | sshd | `failed_password`, `failed_auth` (a method other than password), `accepted`, `invalid_user`, `connection_closed`, `connection_reset`, `disconnected`, `received_disconnect`, `max_auth_attempts`, `too_many_auth_failures`, `no_identification`, `auth_failures` (`PAM N more ...`), `auth_failure`, `reverse_mapping_failed`, `negotiation_failed`, `timeout`, `bad_banner`, `bad_protocol`, `refused_connect`, `user_not_allowed`, `session_closed`, `connection` | `user`, `invalid_user` (true/false), `src_ip`, `src_port`, `src_host`, `dst_ip`, `dst_port`, `auth_method`, `count` |
//! | PAM, any program (`pam_unix(sshd:auth): ...`, or the module in the tag: `sshd(pam_unix)[1]: ...`) | `auth_failure`, `auth_failures`, `user_unknown`, `session_opened`, `session_closed`, `password_changed` | `pam.module`, `pam.service`, `pam.type`, `logname`, `uid`, `euid`, `tty`, `ruser`, `rhost`, `user` (the account authenticated, or whose session it is), `by_user`, `by_uid` (`session opened for user root by alice(uid=1000)`), `src_ip`/`src_host` (from `rhost`), `count` |
//! | sudo | `command`, `incorrect_password`, `not_in_sudoers`, `command_not_allowed`, `auth_required` | `user` (who ran sudo), `tty`, `pwd`, `target_user`, `command`, `attempts`, and Sigma's names as sudo writes them: `TTY`, `PWD`, `USER`, `COMMAND` (`GROUP`, `ENV` when present) |
//! | su | `su`, `su_failed` | `user` (who ran su), `target_user`, `tty` |
//! | useradd, userdel, usermod, groupadd, groupdel, passwd, chpasswd, gpasswd, chage | `new_user`, `new_group`, `delete_user`, `delete_group`, `add_to_group`, `remove_from_group`, `password_changed`, `user_modified`, `user_locked`, `user_unlocked` | `user`, `group`, `uid`, `gid`, `home`, `shell`, `by_user`, `attribute`, `old_value`, `new_value` |
//! | cron | `cmd`, or the action in lower case (`replace`, `begin_edit`, `end_edit`, `list`, `delete`, `reload`, `info`, ...) | `user`, `command` (CMD), `target` (others) |
//! | auditd | — | every `key=value` of the record under its own name, as Sigma's auditd rules use them: `type`, `syscall`, `SYSCALL` (the name, from the x86_64 table, when the record has only the number), `success`, `exit`, `a0`..`aN`, `items`, `ppid`, `pid`, `auid`, `uid`, `gid`, `euid`, `tty`, `ses`, `comm`, `exe`, `key`, `name`, `nametype`, `cwd`, `proctitle`, `unit`, `acct`, `op`, `res`, ...; `audit_id` (`EPOCH.MS:SERIAL`, shared by the records of one event). Quotes are removed; EXECVE arguments and `proctitle` written in hex are decoded; the keys of a `msg='...'` part (USER_AUTH, SERVICE_STOP, ...) are fields too; the uppercase keys of the ENRICHED log format are kept |
//! | iptables / ufw | — | `src_ip`, `dst_ip`, `src_port`, `dst_port`, `proto`, `action` (`block`, `allow`, `drop`, `reject`, `accept`, `deny`, `audit`, from the log prefix), `blocked` (`true`/`false`), `log_prefix`, `in_interface`, `out_interface`, `mac`, `tcp_flags` |
//! | Cisco ASA / FTD (by message id: 302013-302016 connections built and torn down, 106001/106006/106007/106010/106014/106015/106023 denies, 106100 access lists, 113004/113005/113015 AAA, 605004/605005 logins, 111008/111010 commands, 611103 logout) and IOS (`%SEC-6-IPACCESSLOGP`, `%SEC_LOGIN-4-LOGIN_FAILED`/`-5-LOGIN_SUCCESS`, `%PARSER-5-CFGLOG_LOGGEDCMD`) | `connection_built`, `connection_teardown`, `deny`, `acl_denied`, `acl_permitted`, `auth_success`, `auth_failure`, `login_permitted`, `login_denied`, `login_success`, `login_failed`, `command`, `logout` | `src_ip`, `src_port`, `dst_ip`, `dst_port`, `src_interface`, `dst_interface`, `proto`, `action` (`accept`/`deny`), `blocked`, `direction`, `connection_id`, `duration`, `bytes`, `reason`, `acl`, `user`, `server`, `service`, `command` |
//! | web access logs | — | `c-ip`, `cs-username`, `cs-method`, `cs-uri`, `cs-uri-stem`, `cs-uri-query`, `cs-version`, `sc-status`, `sc-bytes`, `cs-referer`, `cs-user-agent`, `cs-host` (vhost_combined) |
//! | Apache error log | — | `level`, `module`, `pid`, `tid`, `c-ip` |
//! | nginx error log | — | `level`, `pid`, `tid`, `c-ip`, `cs-host`, `cs-method`, `cs-uri`, `cs-uri-stem`, `cs-uri-query` |
//! | vsftpd log | `fail_login`, `ok_login`, `connect` | `pid`, `user`, `src_ip` |
//! | application logs ([`headerless()`]) | — | `log_format` (which grammar read it), `host` (BGL, Thunderbird, HPC node), `level`, `pid`, `tid`, `component`, `app` (Thunderbird), `alert` (BGL/Thunderbird alert label), `log_file` (the file name before an OpenStack line) |

mod auditd;
mod cisco;
mod headerless;
mod web;

use std::net::IpAddr;

use chrono::DateTime;

use crate::ParseContext;
use crate::event::{Event, Fields, Format, LogSource, Value};
use crate::syslog::Header;

pub use headerless::headerless;
pub use web::{AccessFields, access_log};

/// The Sigma logsource of a syslog event from `app`.
pub fn linux_logsource(app: Option<&str>) -> LogSource {
    LogSource::new(Some("linux"), None, Some(linux_service(app.unwrap_or_default())))
}

fn linux_service(app: &str) -> &'static str {
    // Program names are short: lower-case them on the stack, not the heap.
    let mut buf = [0u8; 32];
    let lower = match buf.get_mut(..app.len()) {
        Some(dst) => {
            dst.copy_from_slice(app.as_bytes());
            dst.make_ascii_lowercase();
            std::str::from_utf8(dst).unwrap_or_default()
        }
        None => return "syslog",
    };
    match lower {
        "sshd" | "sshd-session" | "sshd-auth" => "sshd",
        "sudo" => "sudo",
        "cron" | "crond" | "anacron" => "cron",
        "useradd" | "userdel" | "usermod" | "groupadd" | "groupdel" | "groupmod" | "passwd" | "chpasswd" | "su"
        | "su-l" | "login" | "systemd-logind" | "chage" | "gpasswd" | "newusers" | "adduser" | "deluser" | "pkexec"
        | "polkitd" | "unix_chkpwd" => "auth",
        "auditd" | "audispd" | "audisp-syslog" => "auditd",
        "vsftpd" => "vsftpd",
        "clamd" | "freshclam" | "clamav" => "clamav",
        "guacd" | "guacamole" => "guacamole",
        _ => "syslog",
    }
}

/// How sure the name of a program makes a tag written without a colon (see
/// [`untagged_program`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Untagged {
    /// The name alone: a message that starts with it is hardly anything but its own.
    Name,
    /// Only when the program's extractor recognises the message: the name is also a word a
    /// message may start with (`login failed`, `cron job done`).
    Word,
}

/// The programs whose name, as the first word of a message with no tag, is taken as the tag:
/// those with an extractor or a logsource of their own, as their tags are written (`CRON` is
/// Debian's cron, `cron` also an English word), and a few whose messages rules search.
fn untagged_kind(name: &str) -> Option<Untagged> {
    Some(match name {
        "sshd" | "sshd-session" | "sshd-auth" | "sudo" | "su-l" | "useradd" | "userdel" | "usermod" | "groupadd"
        | "groupdel" | "groupmod" | "chpasswd" | "gpasswd" | "chage" | "newusers" | "adduser" | "deluser" | "CRON"
        | "crond" | "anacron" | "systemd" | "systemd-logind" | "pkexec" | "polkitd" | "unix_chkpwd" | "auditd"
        | "audispd" | "audisp-syslog" | "kernel" | "vsftpd" | "clamd" | "freshclam" | "guacd" | "nginx" | "httpd"
        | "apache2" | "named" | "dovecot" | "filterlog" => Untagged::Name,
        "su" | "passwd" | "login" | "cron" | "apache" => Untagged::Word,
        _ if name.strip_prefix("postfix/").is_some_and(|d| !d.is_empty() && !d.contains('/')) => Untagged::Name,
        _ => return None,
    })
}

/// Whether `candidate`, a header read with the first word of its message as a tag without a
/// colon ([`Header::untagged`]), names a program: a known program's name (the table in
/// `untagged_kind`), and for names that are also words, a message its extractor recognises.
/// rsyslog relays an RFC 5424 message in its traditional templates as `HOST APP MSG`, so
/// `host sshd Failed password for ...` is sshd's; `h Out of memory: Kill process 1234` stays
/// a message without a program.
pub fn untagged_program(candidate: &Header<'_>) -> bool {
    let Some(name) = candidate.tag.or(candidate.app) else { return false };
    match untagged_kind(name) {
        Some(Untagged::Name) => true,
        Some(Untagged::Word) => {
            let mut scratch = Event {
                time: DateTime::default(),
                received: DateTime::default(),
                host: None,
                structured_data: Vec::new(),
                fields: Fields::new(),
                logsource: LogSource::default(),
                format: Format::Rfc3164,
                raw: String::new(),
                origin: None,
            };
            extract(candidate, &mut scratch);
            !scratch.fields.is_empty()
        }
        None => false,
    }
}

/// Copies a syslog header into the event: time, host, header fields, structured data, message,
/// and the logsource of its program (see the module docs).
pub fn apply_header(header: &Header<'_>, event: &mut Event, ctx: &ParseContext) {
    event.time = header.time.unwrap_or(ctx.received);
    event.host = header.host.map(str::to_owned);
    if let Some(pri) = header.pri {
        let (facility, severity) = crate::syslog::pri_names(pri);
        event.set("facility", facility);
        event.set("severity", severity);
    }
    let text =
        [("host", header.host), ("app", header.app), ("tag", header.tag), ("pid", header.pid), ("msgid", header.msgid)];
    for (name, value) in text {
        if let Some(v) = value {
            event.set(name, v);
        }
    }
    for element in header.structured_data.elements() {
        for (name, value) in element.params() {
            event.set(format!("sd.{}.{name}", element.id), value.into_owned());
        }
    }
    if !header.structured_data.is_empty() {
        event.structured_data = header.structured_data.to_owned_elements();
    }
    if let Some(n) = header.repeat_count {
        event.set("repeat_count", n.to_string());
    }
    event.set("message", header.message);
    event.logsource = match header.cisco {
        Some(c) => {
            event.set("cisco.facility", c.facility);
            event.set("cisco.severity", c.severity);
            event.set("cisco.mnemonic", c.mnemonic);
            LogSource::new(Some("cisco"), None, Some(cisco_service(c.facility, c.mnemonic, c.text)))
        }
        None => linux_logsource(header.app),
    };
}

/// The Sigma service of a Cisco message: `aaa` for logged CLI commands, `bgp`/`ldp` for their
/// MD5 authentication failures, `syslog` otherwise.
fn cisco_service(facility: &str, mnemonic: &str, text: &str) -> &'static str {
    if facility == "PARSER" && mnemonic.starts_with("CFGLOG") {
        "aaa"
    } else if mnemonic == "BADAUTH" && text.contains(":179") || facility.starts_with("BGP") {
        "bgp"
    } else if facility.contains("LDP") || mnemonic.contains("MD5_AUTHEN_FAIL") {
        "ldp"
    } else {
        "syslog"
    }
}

/// Adds the fields of a syslog message body, by what the body is (an auditd record, a netfilter
/// log line, a web access or error line) or by its program, and refines the logsource.
pub fn extract(header: &Header<'_>, event: &mut Event) {
    if let Some(c) = header.cisco {
        cisco::extract(c.facility, c.mnemonic, c.text, event);
        return;
    }
    let body = header.message.trim_start();
    let app = header.app.unwrap_or_default();
    let lower = app.to_ascii_lowercase();
    if let Some(record) = auditd::in_syslog(body).or_else(|| auditd::journald(&lower, body)) {
        auditd::apply(record, event);
        event.logsource = LogSource::new(Some("linux"), None, Some("auditd"));
        return;
    }
    if netfilter(body, event) {
        event.logsource = LogSource::new(Some("linux"), Some("firewall"), None);
        return;
    }
    if let Some((_, fields)) = web::access_log(body) {
        let product = match lower.as_str() {
            "nginx" => Some("nginx"),
            "apache" | "apache2" | "httpd" => Some("apache"),
            _ => None,
        };
        event.logsource = LogSource::new(product, Some("webserver"), None);
        for (k, v) in fields {
            event.set(k, v);
        }
        return;
    }
    let web_error = match lower.as_str() {
        "apache" | "apache2" | "httpd" if body.starts_with('[') => {
            web::apply_apache_error(body, event);
            true
        }
        "nginx" => web::apply_nginx_error(body, event),
        _ => false,
    };
    if web_error {
        return;
    }
    if pam(header.tag, body, event) {
        return;
    }
    match lower.as_str() {
        "sshd" | "sshd-session" | "sshd-auth" => sshd(body, event),
        "sudo" => sudo(body, event),
        "su" | "su-l" => su(body, event),
        "useradd" | "userdel" | "usermod" | "groupadd" | "groupdel" | "groupmod" | "passwd" | "chpasswd"
        | "gpasswd" | "chage" => accounts(body, event),
        "cron" | "crond" => cron(body, event),
        "vsftpd" => web::vsftpd_fields(body, event),
        _ => {}
    }
}

fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Sets `src_ip` when `host` is an address, `src_host` otherwise.
fn set_remote(event: &mut Event, host: &str) {
    if host.is_empty() {
        return;
    }
    if is_ip(host) {
        event.set("src_ip", host);
    } else {
        event.set("src_host", host);
    }
}

/// The leading digits of `s`.
fn leading_digits(s: &str) -> &str {
    &s[..s.bytes().take_while(u8::is_ascii_digit).count()]
}

/// `IP[:] [port N[:...]] ...`: sets `src_ip` and `src_port`.
fn set_addr(event: &mut Event, from: &str) {
    let mut words = from.split_whitespace();
    if let Some(ip) = words.next() {
        let ip = ip.trim_end_matches([':', ',']);
        if !ip.is_empty() {
            set_remote(event, ip);
        }
    }
    if let (Some("port"), Some(port)) = (words.next(), words.next()) {
        let port = leading_digits(port);
        if !port.is_empty() {
            event.set("src_port", port);
        }
    }
}

/// `[authenticating user USER |invalid user USER |user USER ]IP port N`: sets `user`,
/// `invalid_user` and the address.
fn set_user_addr(event: &mut Event, s: &str) {
    let (user, invalid, addr) = if let Some(r) = s.strip_prefix("authenticating user ") {
        let (u, a) = r.split_once(' ').unwrap_or((r, ""));
        (Some(u), false, a)
    } else if let Some(r) = s.strip_prefix("invalid user ") {
        let (u, a) = r.split_once(' ').unwrap_or((r, ""));
        (Some(u), true, a)
    } else if let Some(r) = s.strip_prefix("user ") {
        let (u, a) = r.split_once(' ').unwrap_or((r, ""));
        (Some(u), false, a)
    } else {
        (None, false, s)
    };
    if let Some(u) = user {
        event.set("user", u);
        event.set("invalid_user", Value::Bool(invalid));
    }
    set_addr(event, addr);
}

/// `[invalid user ]USER from ADDR`: sets `user`, `invalid_user` and the address.
fn set_user_from(event: &mut Event, s: &str) -> bool {
    let (invalid, r) = match s.strip_prefix("invalid user ").or_else(|| s.strip_prefix("illegal user ")) {
        Some(r) => (true, r),
        None => (false, s),
    };
    let Some((user, from)) = r.rsplit_once(" from ") else { return false };
    event.set("user", user);
    event.set("invalid_user", Value::Bool(invalid));
    set_addr(event, from);
    true
}

fn set_kind(event: &mut Event, kind: &'static str) {
    event.set("event", kind);
}

fn sshd(msg: &str, event: &mut Event) {
    let msg = msg.strip_prefix("error: ").or_else(|| msg.strip_prefix("fatal: ")).unwrap_or(msg);
    if let Some(r) = msg.strip_prefix("Failed ").or_else(|| msg.strip_prefix("Accepted ")) {
        // `METHOD for [invalid user ]USER from ADDR port PORT [ssh2]`
        let Some((method, r)) = r.split_once(" for ") else { return };
        if !set_user_from(event, r) {
            return;
        }
        let kind = match (msg.starts_with("Accepted"), method) {
            (true, _) => "accepted",
            (false, "password" | "keyboard-interactive/pam") => "failed_password",
            (false, _) => "failed_auth",
        };
        set_kind(event, kind);
        event.set("auth_method", method);
    } else if let Some(r) = msg.strip_prefix("Invalid user ").or_else(|| msg.strip_prefix("Illegal user ")) {
        set_kind(event, "invalid_user");
        event.set("invalid_user", Value::Bool(true));
        match r.rsplit_once(" from ") {
            Some((user, from)) => {
                event.set("user", user);
                set_addr(event, from);
            }
            None => event.set("user", r),
        }
    } else if let Some(r) = msg.strip_prefix("input_userauth_request: invalid user ") {
        event.set("user", r.trim_end_matches(" [preauth]"));
        event.set("invalid_user", Value::Bool(true));
    } else if let Some(r) = msg.strip_prefix("Connection closed by ") {
        set_kind(event, "connection_closed");
        set_user_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("Connection reset by ") {
        set_kind(event, "connection_reset");
        set_user_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("Disconnected from ") {
        set_kind(event, "disconnected");
        set_user_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("Received disconnect from ") {
        set_kind(event, "received_disconnect");
        set_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("maximum authentication attempts exceeded for ") {
        set_kind(event, "max_auth_attempts");
        set_user_from(event, r);
    } else if let Some(r) = msg.strip_prefix("Disconnecting: Too many authentication failures") {
        set_kind(event, "too_many_auth_failures");
        if let Some(user) = r.strip_prefix(" for ") {
            let user = user.trim_end_matches(" [preauth]");
            let user = user.strip_prefix("invalid user ").unwrap_or(user);
            event.set("user", user);
        }
    } else if let Some(r) = msg.strip_prefix("Disconnecting ")
        && let Some((who, why)) = r.split_once(": ")
        && why.starts_with("Too many authentication failures")
    {
        set_kind(event, "too_many_auth_failures");
        set_user_addr(event, who);
    } else if let Some(r) = msg.strip_prefix("Did not receive identification string from ") {
        set_kind(event, "no_identification");
        set_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("PAM ") {
        // `PAM N more authentication failure[s]; logname= uid=0 ... rhost=IP  user=root`
        let Some((count, rest)) = r.split_once(" more authentication failure") else { return };
        set_kind(event, "auth_failures");
        event.set("count", count);
        if let Some((_, pairs)) = rest.split_once("; ") {
            pam_pairs(pairs, event);
        }
    } else if let Some(r) = msg.strip_prefix("PAM: Authentication failure for ") {
        set_kind(event, "auth_failure");
        set_user_from(event, r);
    } else if let Some(r) = msg.strip_prefix("reverse mapping checking getaddrinfo for ") {
        // `HOST [IP] failed - POSSIBLE BREAK-IN ATTEMPT!`
        set_kind(event, "reverse_mapping_failed");
        if let Some((host, rest)) = r.split_once(" [")
            && let Some((ip, _)) = rest.split_once(']')
        {
            event.set("src_host", host);
            set_remote(event, ip);
        }
    } else if let Some(r) = msg.strip_prefix("Address ")
        && r.contains("POSSIBLE BREAK-IN ATTEMPT")
    {
        // `Address IP maps to HOST, but this does not map back to the address - POSSIBLE ...`
        set_kind(event, "reverse_mapping_failed");
        if let Some((ip, rest)) = r.split_once(" maps to ") {
            set_remote(event, ip);
            if let Some((host, _)) = rest.split_once(',') {
                event.set("src_host", host);
            }
        }
    } else if let Some(r) = msg.strip_prefix("Unable to negotiate with ") {
        set_kind(event, "negotiation_failed");
        set_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("Timeout before authentication for ") {
        set_kind(event, "timeout");
        set_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("banner exchange: Connection from ") {
        set_kind(event, "bad_banner");
        set_addr(event, r);
    } else if let Some(r) = msg.strip_prefix("Bad protocol version identification ") {
        set_kind(event, "bad_protocol");
        if let Some((_, from)) = r.rsplit_once(" from ") {
            set_addr(event, from);
        }
    } else if let Some(r) = msg.strip_prefix("refused connect from ") {
        // `HOST (IP)`
        set_kind(event, "refused_connect");
        match r.split_once(" (") {
            Some((host, ip)) => {
                event.set("src_host", host);
                set_remote(event, ip.trim_end_matches(')'));
            }
            None => set_remote(event, r.trim()),
        }
    } else if let Some(r) = msg.strip_prefix("User ")
        && let Some((user, rest)) = r.split_once(" from ")
        && let Some((host, _)) = rest.split_once(" not allowed because ")
    {
        set_kind(event, "user_not_allowed");
        event.set("user", user);
        set_remote(event, host);
    } else if let Some(r) = msg.strip_prefix("Close session: user ") {
        set_kind(event, "session_closed");
        set_user_from(event, r);
    } else if let Some(r) = msg.strip_prefix("Connection from ") {
        // `IP port N on IP port N[ rdomain ""]`
        set_kind(event, "connection");
        let (from, to) = r.split_once(" on ").unwrap_or((r, ""));
        set_addr(event, from);
        let mut words = to.split_whitespace();
        if let (Some(ip), Some("port"), Some(port)) = (words.next(), words.next(), words.next()) {
            event.set("dst_ip", ip);
            event.set("dst_port", leading_digits(port));
        }
    }
}

/// PAM's `key=value` words (`logname= uid=0 euid=0 tty=ssh ruser= rhost=IP  user=root`); empty
/// values are left out, `rhost` also gives `src_ip` or `src_host`.
fn pam_pairs(s: &str, event: &mut Event) {
    for (key, value) in s.split_whitespace().filter_map(|w| w.split_once('=')) {
        if value.is_empty() || key.is_empty() {
            continue;
        }
        let known = ["logname", "uid", "euid", "tty", "ruser", "rhost", "user"];
        if let Some(name) = known.into_iter().find(|k| *k == key) {
            event.set(name, value);
        }
        if key == "rhost" {
            set_remote(event, value);
        }
    }
}

/// `pam_MODULE(SERVICE:TYPE): TEXT`, or TEXT when the tag names the module (`sshd(pam_unix)`).
fn pam(tag: Option<&str>, body: &str, event: &mut Event) -> bool {
    let text = if let Some(r) = body.strip_prefix("pam_")
        && let Some((head, text)) = r.split_once("): ")
        && let Some((module, scope)) = head.split_once('(')
        && !module.contains(' ')
    {
        event.set("pam.module", format!("pam_{module}"));
        let (service, kind) = scope.split_once(':').unwrap_or((scope, ""));
        event.set("pam.service", service);
        if !kind.is_empty() {
            event.set("pam.type", kind);
        }
        text
    } else if let Some(tag) = tag
        && let Some((program, module)) = tag.split_once('(')
        && module.starts_with("pam_")
    {
        event.set("pam.module", module.trim_end_matches(')'));
        event.set("pam.service", program);
        body
    } else {
        return false;
    };
    if let Some(pairs) = text.strip_prefix("authentication failure; ") {
        event.set("event", "auth_failure");
        pam_pairs(pairs, event);
    } else if let Some((count, rest)) = text.split_once(" more authentication failure")
        && count.bytes().all(|b| b.is_ascii_digit())
    {
        event.set("event", "auth_failures");
        event.set("count", count);
        if let Some((_, pairs)) = rest.split_once("; ") {
            pam_pairs(pairs, event);
        }
    } else if text.starts_with("check pass; user unknown") {
        event.set("event", "user_unknown");
    } else if let Some(r) = text.strip_prefix("session opened for user ") {
        // `USER[(uid=N)] by [BY](uid=M)`
        event.set("event", "session_opened");
        let (user, by) = r.split_once(" by ").unwrap_or((r, ""));
        let (user, uid) = split_uid(user);
        event.set("user", user);
        if let Some(uid) = uid {
            event.set("uid", uid);
        }
        let (by_user, by_uid) = split_uid(by);
        if !by_user.is_empty() {
            event.set("by_user", by_user);
        }
        if let Some(uid) = by_uid {
            event.set("by_uid", uid);
        }
    } else if let Some(r) = text.strip_prefix("session closed for user ") {
        event.set("event", "session_closed");
        event.set("user", r.trim());
    } else if let Some(r) = text.strip_prefix("password changed for ") {
        event.set("event", "password_changed");
        event.set("user", r.trim());
    }
    true
}

/// `name(uid=N)` -> (`name`, `N`).
fn split_uid(s: &str) -> (&str, Option<&str>) {
    let s = s.trim();
    match s.split_once("(uid=") {
        Some((name, rest)) => (name, Some(rest.trim_end_matches(')'))),
        None => (s, None),
    }
}

/// `alice : [REASON ; ]TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`
fn sudo(msg: &str, event: &mut Event) {
    let Some((user, rest)) = msg.split_once(" : ") else { return };
    let user = user.trim();
    if user.is_empty() || user.contains(' ') {
        return;
    }
    event.set("user", user);
    let mut kind = None;
    for part in rest.split(" ; ") {
        let part = part.trim();
        let Some((key, value)) = part.split_once('=') else {
            // The reason sudo logs before the pairs.
            if let Some(n) = part
                .strip_suffix(" incorrect password attempts")
                .or_else(|| part.strip_suffix(" incorrect password attempt"))
            {
                kind = Some("incorrect_password");
                event.set("attempts", n);
            } else if part == "user NOT in sudoers" || part == "user NOT authorized on host" {
                kind = Some("not_in_sudoers");
            } else if part == "command not allowed" {
                kind = Some("command_not_allowed");
            } else if part == "a password is required" {
                kind = Some("auth_required");
            }
            continue;
        };
        let name = match key {
            "TTY" => "tty",
            "PWD" => "pwd",
            "USER" => "target_user",
            "COMMAND" => "command",
            "GROUP" | "ENV" => "",
            _ => continue,
        };
        if !name.is_empty() {
            event.set(name, value);
        }
        // Sigma's sudo rules use sudo's own names (`USER`).
        event.set(key.to_owned(), value);
        if key == "COMMAND" && kind.is_none() {
            kind = Some("command");
        }
    }
    if let Some(kind) = kind {
        event.set("event", kind);
    }
}

/// util-linux `(to root) alice on pts/0`, `FAILED SU (to root) alice on pts/0`; shadow-utils
/// `Successful su for root by alice`, `FAILED su for root by alice`, `+ pts/0 alice:root`.
fn su(msg: &str, event: &mut Event) {
    let (failed, rest) = match msg.strip_prefix("FAILED SU ") {
        Some(r) => (true, r),
        None => (false, msg),
    };
    if let Some(r) = rest.strip_prefix("(to ")
        && let Some((target, r)) = r.split_once(") ")
    {
        let (user, tty) = r.split_once(" on ").unwrap_or((r, ""));
        set_su(event, failed, user, target, tty);
    } else if let Some(r) = msg.strip_prefix("Successful su for ").or_else(|| msg.strip_prefix("FAILED su for "))
        && let Some((target, user)) = r.split_once(" by ")
    {
        set_su(event, msg.starts_with("FAILED"), user, target, "");
    } else if let Some(r) = msg.strip_prefix("+ ").or_else(|| msg.strip_prefix("- "))
        && let Some((tty, users)) = r.split_once(' ')
        && let Some((user, target)) = users.split_once(':')
    {
        set_su(event, msg.starts_with('-'), user, target, tty);
    }
}

fn set_su(event: &mut Event, failed: bool, user: &str, target: &str, tty: &str) {
    event.set("event", if failed { "su_failed" } else { "su" });
    event.set("user", user.trim());
    event.set("target_user", target.trim());
    if !tty.trim().is_empty() {
        event.set("tty", tty.trim());
    }
}

/// The text between the first pair of single quotes, and what follows it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let (_, r) = s.split_once('\'')?;
    r.split_once('\'')
}

/// shadow-utils' account management messages (useradd, userdel, usermod, groupadd, groupdel,
/// passwd, chpasswd, gpasswd, chage).
fn accounts(msg: &str, event: &mut Event) {
    let set_pairs = |event: &mut Event, pairs: &str, group: bool| {
        for part in pairs.split(", ") {
            let Some((key, value)) = part.split_once('=') else { continue };
            let name = match key.trim() {
                "name" if group => "group",
                "name" => "user",
                "UID" => "uid",
                "GID" => "gid",
                "home" => "home",
                "shell" => "shell",
                _ => continue,
            };
            event.set(name, value);
        }
    };
    if let Some(r) = msg.strip_prefix("new user: ") {
        event.set("event", "new_user");
        set_pairs(event, r, false);
    } else if let Some(r) = msg.strip_prefix("new group: ") {
        event.set("event", "new_group");
        set_pairs(event, r, true);
    } else if let Some(r) = msg.strip_prefix("group added to ")
        && let Some((_, pairs)) = r.split_once(": ")
    {
        event.set("event", "new_group");
        set_pairs(event, pairs, true);
    } else if msg.starts_with("add '")
        && let Some((user, r)) = quoted(msg)
        && let Some((group, _)) = quoted(r)
    {
        event.set("event", "add_to_group");
        event.set("user", user);
        event.set("group", group);
    } else if msg.starts_with("delete '")
        && let Some((user, r)) = quoted(msg)
        && let Some((group, _)) = quoted(r)
    {
        event.set("event", "remove_from_group");
        event.set("user", user);
        event.set("group", group);
    } else if let Some(r) = msg.strip_prefix("delete user ")
        && let Some((user, _)) = quoted(r)
    {
        event.set("event", "delete_user");
        event.set("user", user);
    } else if (msg.starts_with("removed group '") || msg.starts_with("removed shadow group '"))
        && let Some((group, _)) = quoted(msg)
    {
        event.set("event", "delete_group");
        event.set("group", group);
    } else if msg.starts_with("group '")
        && msg.contains("' removed")
        && let Some((group, _)) = quoted(msg)
    {
        event.set("event", "delete_group");
        event.set("group", group);
    } else if let Some(r) = msg.strip_prefix("password for ")
        && let Some((user, r)) = quoted(r)
    {
        // passwd: `password for 'bob' changed by 'root'`
        event.set("event", "password_changed");
        event.set("user", user);
        if let Some((by, _)) = quoted(r) {
            event.set("by_user", by);
        }
    } else if let Some(r) = msg.strip_prefix("change user '")
        && let Some((user, r)) = r.split_once('\'')
    {
        // usermod: `change user 'bob' password`, `change user 'bob' UID from '1001' to '0'`
        event.set("user", user);
        let r = r.trim();
        if r == "password" {
            event.set("event", "password_changed");
        } else {
            event.set("event", "user_modified");
            if let Some((attribute, r)) = r.split_once(" from ") {
                event.set("attribute", attribute);
                if let Some((old, r)) = quoted(r) {
                    event.set("old_value", old);
                    if let Some((new, _)) = quoted(r) {
                        event.set("new_value", new);
                    }
                }
            }
        }
    } else if let Some(r) = msg.strip_prefix("change user name '")
        && let Some((old, r)) = r.split_once('\'')
    {
        event.set("event", "user_modified");
        event.set("user", old);
        event.set("attribute", "name");
        event.set("old_value", old);
        if let Some((new, _)) = quoted(r) {
            event.set("new_value", new);
        }
    } else if let Some(r) = msg.strip_prefix("lock user '").or_else(|| msg.strip_prefix("unlock user '"))
        && let Some((user, _)) = r.split_once('\'')
    {
        event.set("event", if msg.starts_with("lock") { "user_locked" } else { "user_unlocked" });
        event.set("user", user);
    } else if let Some(r) = msg.strip_prefix("user ")
        && let Some((user, r)) = r.split_once(' ')
        && let Some((kind, r)) = r
            .strip_prefix("added by ")
            .map(|r| ("add_to_group", r))
            .or_else(|| r.strip_prefix("removed by ").map(|r| ("remove_from_group", r)))
    {
        // gpasswd: `user bob added by root to group sudo`
        event.set("event", kind);
        event.set("user", user);
        let (by, group) = r.split_once(" to group ").or_else(|| r.split_once(" from group ")).unwrap_or((r, ""));
        event.set("by_user", by);
        if !group.is_empty() {
            event.set("group", group);
        }
    } else if let Some(user) = msg.strip_prefix("changed password expiry for ") {
        event.set("event", "user_modified");
        event.set("user", user.trim());
        event.set("attribute", "password expiry");
    }
}

/// `(USER) ACTION (ARG)`: `(root) CMD (run-parts /etc/cron.hourly)`, `(root) REPLACE (root)`.
fn cron(msg: &str, event: &mut Event) {
    let Some(r) = msg.strip_prefix('(') else { return };
    let Some((user, r)) = r.split_once(") ") else { return };
    let (action, arg) = match r.split_once(" (") {
        Some((action, arg)) => (action, arg.strip_suffix(')').unwrap_or(arg)),
        None => (r, ""),
    };
    if action.is_empty() || !action.bytes().all(|b| b.is_ascii_uppercase() || b == b' ' || b == b'_') {
        return;
    }
    event.set("user", user);
    let kind = action.trim().to_ascii_lowercase().replace(' ', "_");
    if kind == "cmd" {
        event.set("command", arg.trim());
    } else if !arg.is_empty() {
        event.set("target", arg);
    }
    event.set("event", kind);
}

/// An iptables/ufw/nftables `LOG` line: `[12.34] PREFIX IN=eth0 OUT= MAC=... SRC=... DST=...
/// ... PROTO=TCP SPT=1 DPT=2 ... SYN URGP=0`.
fn netfilter(body: &str, event: &mut Event) -> bool {
    let Some(at) = body.find("IN=") else { return false };
    if at > 0 && !body[..at].ends_with(' ') || !body.contains(" SRC=") || !body.contains(" OUT=") {
        return false;
    }
    netfilter_fields(body, at, event);
    true
}

/// The fields of a netfilter `LOG` line whose `IN=` is at `at` (the log prefix before it).
fn netfilter_fields(body: &str, at: usize, event: &mut Event) {
    let mut prefix = body[..at].trim();
    // The kernel's `[ 1234.5678]` uptime stamp.
    if let Some(r) = prefix.strip_prefix('[')
        && let Some((stamp, rest)) = r.split_once(']')
        && stamp.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        prefix = rest.trim();
    }
    if !prefix.is_empty() {
        event.set("log_prefix", prefix);
        let upper = prefix.to_ascii_uppercase();
        let action = [
            ("BLOCK", "block"),
            ("DROP", "drop"),
            ("REJECT", "reject"),
            ("DENY", "deny"),
            ("ALLOW", "allow"),
            ("ACCEPT", "accept"),
            ("AUDIT", "audit"),
        ]
        .into_iter()
        .find(|(word, _)| upper.contains(word));
        if let Some((_, action)) = action {
            event.set("action", action);
            if action != "audit" {
                event.set("blocked", if matches!(action, "allow" | "accept") { "false" } else { "true" });
            }
        }
    }
    let mut flags = Vec::new();
    let mut after_proto = false;
    for word in body[at..].split_whitespace() {
        match word.split_once('=') {
            Some((key, value)) => {
                let name = match key {
                    "IN" => "in_interface",
                    "OUT" => "out_interface",
                    "MAC" => "mac",
                    "SRC" => "src_ip",
                    "DST" => "dst_ip",
                    "SPT" => "src_port",
                    "DPT" => "dst_port",
                    "PROTO" => {
                        after_proto = true;
                        event.set("proto", value.to_ascii_lowercase());
                        continue;
                    }
                    _ => continue,
                };
                if !value.is_empty() {
                    event.set(name, value);
                }
            }
            None if after_proto && word.bytes().all(|b| b.is_ascii_uppercase()) => flags.push(word),
            None => {}
        }
    }
    if !flags.is_empty() {
        event.set("tcp_flags", flags.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InputFormat, parse};
    use chrono::{DateTime, Utc};

    fn ctx() -> ParseContext {
        let received =
            DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").map(|d| d.with_timezone(&Utc)).unwrap_or_default();
        ParseContext::new(received)
    }

    fn ev(line: &str) -> Event {
        parse(line.as_bytes(), &ctx(), InputFormat::Auto).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn f(e: &Event, name: &str) -> String {
        e.field(name).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {name}>"))
    }

    fn fields(e: &Event, names: &[&str]) -> Vec<String> {
        names.iter().map(|n| f(e, n)).collect()
    }

    #[test]
    fn sshd_events() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "Failed password for root from 1.2.3.4 port 22 ssh2",
                &[
                    ("event", "failed_password"),
                    ("user", "root"),
                    ("src_ip", "1.2.3.4"),
                    ("src_port", "22"),
                    ("invalid_user", "false"),
                ],
            ),
            (
                "Failed none for invalid user admin from 1.2.3.4 port 22 ssh2",
                &[("event", "failed_auth"), ("auth_method", "none"), ("user", "admin"), ("invalid_user", "true")],
            ),
            (
                "Accepted publickey for vagrant from 192.168.121.1 port 56296 ssh2: RSA SHA256:1M4R",
                &[("event", "accepted"), ("user", "vagrant"), ("src_port", "56296")],
            ),
            (
                "Invalid user pascal from 35.188.49.176 port 53502",
                &[("event", "invalid_user"), ("user", "pascal"), ("src_ip", "35.188.49.176"), ("src_port", "53502")],
            ),
            ("Invalid user webmaster from 173.234.31.186", &[("user", "webmaster"), ("src_ip", "173.234.31.186")]),
            (
                "Connection closed by 1.2.3.4 port 5 [preauth]",
                &[("event", "connection_closed"), ("src_ip", "1.2.3.4"), ("src_port", "5")],
            ),
            (
                "Connection closed by authenticating user root 1.2.3.4 port 5 [preauth]",
                &[("event", "connection_closed"), ("user", "root"), ("src_ip", "1.2.3.4")],
            ),
            (
                "Connection reset by invalid user admin 1.2.3.4 port 5 [preauth]",
                &[("event", "connection_reset"), ("user", "admin"), ("invalid_user", "true")],
            ),
            (
                "Disconnected from authenticating user root 179.43.183.98 port 59402 [preauth]",
                &[("event", "disconnected"), ("user", "root"), ("src_ip", "179.43.183.98"), ("src_port", "59402")],
            ),
            ("Disconnected from user alice 10.0.0.1 port 40000", &[("user", "alice"), ("src_ip", "10.0.0.1")]),
            (
                "Received disconnect from 1.2.3.4 port 41242:11: Bye Bye [preauth]",
                &[("event", "received_disconnect"), ("src_ip", "1.2.3.4"), ("src_port", "41242")],
            ),
            ("Received disconnect from 103.99.0.122: 11: Bye Bye [preauth]", &[("src_ip", "103.99.0.122")]),
            (
                "error: maximum authentication attempts exceeded for invalid user admin from 1.2.3.4 port 22 ssh2 [preauth]",
                &[("event", "max_auth_attempts"), ("user", "admin"), ("src_ip", "1.2.3.4")],
            ),
            (
                "Disconnecting: Too many authentication failures for root [preauth]",
                &[("event", "too_many_auth_failures"), ("user", "root")],
            ),
            (
                "Disconnecting authenticating user root 1.2.3.4 port 5: Too many authentication failures [preauth]",
                &[("event", "too_many_auth_failures"), ("src_ip", "1.2.3.4")],
            ),
            (
                "Did not receive identification string from 1.2.3.4 port 5",
                &[("event", "no_identification"), ("src_ip", "1.2.3.4"), ("src_port", "5")],
            ),
            ("Did not receive identification string from 1.2.3.4", &[("src_ip", "1.2.3.4")]),
            (
                "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root",
                &[("event", "auth_failures"), ("count", "5"), ("src_ip", "1.2.3.4"), ("user", "root")],
            ),
            (
                "reverse mapping checking getaddrinfo for ns.example.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
                &[("event", "reverse_mapping_failed"), ("src_ip", "173.234.31.186"), ("src_host", "ns.example.com")],
            ),
            (
                "Unable to negotiate with 123.57.135.134 port 45626: no matching key exchange method found.",
                &[("event", "negotiation_failed"), ("src_port", "45626")],
            ),
            (
                "fatal: Timeout before authentication for 192.168.9.212 port 47056",
                &[("event", "timeout"), ("src_ip", "192.168.9.212")],
            ),
            (
                "banner exchange: Connection from 59.91.122.57 port 34388: invalid format",
                &[("event", "bad_banner"), ("src_port", "34388")],
            ),
            (
                "refused connect from example.com (192.168.1.1)",
                &[("event", "refused_connect"), ("src_ip", "192.168.1.1"), ("src_host", "example.com")],
            ),
            (
                "User root from 1.2.3.4 not allowed because not listed in AllowUsers",
                &[("event", "user_not_allowed"), ("user", "root")],
            ),
            (
                "Connection from 1.2.3.4 port 5 on 10.0.0.1 port 22 rdomain \"\"",
                &[("event", "connection"), ("dst_ip", "10.0.0.1"), ("dst_port", "22")],
            ),
            (
                "input_userauth_request: invalid user webmaster [preauth]",
                &[("user", "webmaster"), ("invalid_user", "true")],
            ),
        ];
        for (msg, want) in cases {
            let e = ev(&format!("Nov 23 10:00:00 h sshd[1]: {msg}"));
            assert_eq!(e.logsource, LogSource::new(Some("linux"), None, Some("sshd")), "{msg}");
            for (name, value) in *want {
                assert_eq!(f(&e, name), *value, "{msg}: {name}");
            }
        }
        // OpenSSH 9.8+ splits the per-connection part into sshd-session.
        let e = ev("Jun 12 16:20:12 leto sshd-session[406147]: Invalid user test from 127.0.0.1 port 49916");
        assert_eq!((f(&e, "event"), e.logsource.service.as_deref()), ("invalid_user".into(), Some("sshd")));
    }

    #[test]
    fn tags_without_colon_are_known_programs_only() {
        // (line, app, event): the program's name alone, or with a message its extractor knows.
        let cases = [
            ("Dec  4 21:36:40 h sshd Invalid user admin from 203.0.113.9 port 4242", "sshd", "invalid_user"),
            ("Dec  4 21:36:40 h sshd some message sshd has no extractor for", "sshd", "<no event>"),
            (
                "Dec  4 21:36:40 h sudo alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
                "sudo",
                "command",
            ),
            ("Dec  4 21:36:40 h su (to root) alice on pts/0", "su", "su"),
            ("Dec  4 21:36:40 h useradd new user: name=bob, UID=0, GID=0, home=/home/bob", "useradd", "new_user"),
            (
                "Dec  4 21:36:40 h CRON pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                "CRON",
                "session_opened",
            ),
            ("Dec  4 21:36:40 h cron (root) CMD (run-parts /etc/cron.hourly)", "cron", "cmd"),
            (
                "Dec  4 21:36:40 h login pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=tty1 ruser= rhost=  user=root",
                "login",
                "auth_failure",
            ),
            ("Dec  4 21:36:40 h systemd Started Session 5 of user alice.", "systemd", "<no event>"),
        ];
        for (line, app, event) in cases {
            let e = ev(line);
            assert_eq!((f(&e, "app"), f(&e, "event")), (app.to_owned(), event.to_owned()), "{line}");
            assert!(!e.message().starts_with(app), "{line}");
        }
        let e = ev(
            "Dec  4 21:36:40 h kernel [UFW BLOCK] IN=eth0 OUT= MAC=00 SRC=203.0.113.9 DST=10.0.0.5 PROTO=TCP SPT=5000 DPT=22",
        );
        assert_eq!((f(&e, "app"), f(&e, "log_prefix")), ("kernel".into(), "[UFW BLOCK]".into()));
        assert_eq!(e.logsource, LogSource::new(Some("linux"), Some("firewall"), None));
        // A word that names a program but starts a message no extractor knows; unknown names;
        // names as other programs write them (case).
        for line in [
            "Dec  4 21:36:40 h login failed for alice",
            "Dec  4 21:36:40 h cron job finished",
            "Dec  4 21:36:40 h su is not a program here",
            "Dec  4 21:36:40 h Out of memory: Kill process 1234",
            "Dec  4 21:36:40 h last message repeated 3 times",
            "Dec  4 21:36:40 h SSHD Failed password for root from 203.0.113.9 port 22 ssh2",
            "Dec  4 21:36:40 h a-very-long-application-name-tha hello",
        ] {
            let e = ev(line);
            assert_eq!(e.field("app"), None, "{line}");
            assert_eq!(e.logsource, LogSource::new(Some("linux"), None, Some("syslog")), "{line}");
        }
    }

    #[test]
    fn pam_lines() {
        let e = ev(
            "Nov 2 15:40:14 workshop sshd[28179]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.160 user=workshop",
        );
        assert_eq!(
            fields(
                &e,
                &["event", "pam.module", "pam.service", "pam.type", "rhost", "src_ip", "user", "uid", "logname"]
            ),
            ["auth_failure", "pam_unix", "sshd", "auth", "5.33.63.160", "5.33.63.160", "workshop", "0", "<no logname>"]
        );
        assert_eq!(e.logsource.service.as_deref(), Some("sshd"));
        // The module in the tag (old Linux-PAM).
        let e = ev(
            "Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
        );
        assert_eq!(
            fields(&e, &["app", "tag", "pam.module", "event", "src_host", "user"]),
            ["sshd", "sshd(pam_unix)", "pam_unix", "auth_failure", "220-135-151-1.hinet-ip.hinet.net", "root"]
        );
        let e = ev("Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)");
        assert_eq!(
            fields(&e, &["event", "user", "by_uid", "by_user"]),
            ["session_opened", "cyrus", "0", "<no by_user>"]
        );
        assert_eq!(e.logsource.service.as_deref(), Some("auth"));
        let e =
            ev("Nov 23 10:00:00 h su: pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)");
        assert_eq!(
            fields(&e, &["event", "user", "uid", "by_user", "by_uid", "pam.type"]),
            ["session_opened", "root", "0", "alice", "1000", "session"]
        );
        let e = ev("Nov 23 10:00:00 h passwd[9]: pam_unix(passwd:chauthtok): password changed for bob");
        assert_eq!(fields(&e, &["event", "user"]), ["password_changed", "bob"]);
        let e = ev(
            "Dec  7 14:52:59 vskub1master01p sudo: pam_unix(sudo:auth): authentication failure; logname=zbadguy uid=4001 euid=0 tty=/dev/pts/12 ruser=zbadguy rhost=  user=zbadguy",
        );
        assert_eq!(
            fields(&e, &["event", "logname", "ruser", "user", "tty"]),
            ["auth_failure", "zbadguy", "zbadguy", "zbadguy", "/dev/pts/12"]
        );
        assert_eq!(e.logsource.service.as_deref(), Some("sudo"));
        let e = ev("Nov 23 10:00:00 h sshd[1]: pam_unix(sshd:auth): check pass; user unknown");
        assert_eq!(f(&e, "event"), "user_unknown");
    }

    #[test]
    fn sudo_su_and_accounts() {
        let e = ev(
            "Nov 23 10:00:00 h sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash",
        );
        assert_eq!(
            fields(&e, &["event", "attempts", "user", "USER", "target_user", "COMMAND"]),
            ["incorrect_password", "3", "alice", "root", "root", "/bin/bash"]
        );
        let e = ev(
            "Nov 23 10:00:00 h sudo: mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/id",
        );
        assert_eq!(fields(&e, &["event", "user", "tty"]), ["not_in_sudoers", "mallory", "pts/1"]);
        let e = ev("Nov 23 10:00:00 h sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=#-1 ; COMMAND=/bin/id");
        assert_eq!(fields(&e, &["event", "USER"]), ["command", "#-1"]);

        let e = ev("Nov 23 10:00:00 h su[5]: (to root) alice on pts/0");
        assert_eq!(fields(&e, &["event", "user", "target_user", "tty"]), ["su", "alice", "root", "pts/0"]);
        assert_eq!(e.logsource.service.as_deref(), Some("auth"));
        let e = ev("Nov 23 10:00:00 h su[5]: FAILED SU (to root) alice on pts/0");
        assert_eq!(fields(&e, &["event", "user", "target_user"]), ["su_failed", "alice", "root"]);
        let e = ev("Nov 23 10:00:00 h su[5]: FAILED su for root by alice");
        assert_eq!(fields(&e, &["event", "user", "target_user"]), ["su_failed", "alice", "root"]);

        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "useradd[7]: new user: name=bob, UID=0, GID=0, home=/home/bob, shell=/bin/bash, from=/dev/pts/0",
                &[("event", "new_user"), ("user", "bob"), ("uid", "0"), ("shell", "/bin/bash")],
            ),
            ("useradd[7]: new group: name=bob, GID=1001", &[("event", "new_group"), ("group", "bob"), ("gid", "1001")]),
            (
                "groupadd[8]: group added to /etc/group: name=devs, GID=1002",
                &[("event", "new_group"), ("group", "devs")],
            ),
            ("usermod[9]: add 'bob' to group 'sudo'", &[("event", "add_to_group"), ("user", "bob"), ("group", "sudo")]),
            ("usermod[9]: add 'bob' to shadow group 'sudo'", &[("event", "add_to_group"), ("group", "sudo")]),
            (
                "usermod[9]: change user 'bob' UID from '1001' to '0'",
                &[("event", "user_modified"), ("attribute", "UID"), ("old_value", "1001"), ("new_value", "0")],
            ),
            ("usermod[9]: lock user 'bob' password", &[("event", "user_locked"), ("user", "bob")]),
            ("userdel[10]: delete user 'bob'", &[("event", "delete_user"), ("user", "bob")]),
            ("userdel[10]: removed group 'bob' owned by 'bob'", &[("event", "delete_group"), ("group", "bob")]),
            ("userdel[10]: delete 'bob' from group 'sudo'", &[("event", "remove_from_group"), ("group", "sudo")]),
            ("groupdel[11]: group 'devs' removed", &[("event", "delete_group"), ("group", "devs")]),
            (
                "passwd[12]: password for 'bob' changed by 'root'",
                &[("event", "password_changed"), ("user", "bob"), ("by_user", "root")],
            ),
            (
                "chpasswd[13]: pam_unix(chpasswd:chauthtok): password changed for bob",
                &[("event", "password_changed"), ("user", "bob")],
            ),
            (
                "gpasswd[14]: user bob added by root to group sudo",
                &[("event", "add_to_group"), ("user", "bob"), ("by_user", "root"), ("group", "sudo")],
            ),
        ];
        for (msg, want) in cases {
            let e = ev(&format!("Nov 23 10:00:00 h {msg}"));
            assert_eq!(e.logsource.service.as_deref(), Some("auth"), "{msg}");
            for (name, value) in *want {
                assert_eq!(f(&e, name), *value, "{msg}: {name}");
            }
        }
    }

    #[test]
    fn cron_lines() {
        let e = ev("Nov 23 10:00:00 h CRON[1234]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)");
        assert_eq!(
            fields(&e, &["event", "user", "command"]),
            ["cmd", "root", "cd / && run-parts --report /etc/cron.hourly"]
        );
        assert_eq!(e.logsource.service.as_deref(), Some("cron"));
        let e = ev("Nov 23 10:00:00 h crontab[77]: (root) REPLACE (root)");
        assert_eq!(e.logsource.service.as_deref(), Some("syslog"));
        let e = ev("Nov 23 10:00:00 h cron[77]: (alice) BEGIN EDIT (alice)");
        assert_eq!(fields(&e, &["event", "user", "target"]), ["begin_edit", "alice", "alice"]);
    }

    #[test]
    fn firewall_lines() {
        let e = ev(
            "Nov 23 10:00:00 h kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=1.2.3.4 DST=10.0.0.5 LEN=40 TOS=0x00 PREC=0x00 TTL=245 ID=1 PROTO=TCP SPT=4444 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0",
        );
        assert_eq!(e.logsource, LogSource::new(Some("linux"), Some("firewall"), None));
        assert_eq!(
            fields(
                &e,
                &[
                    "src_ip",
                    "dst_ip",
                    "src_port",
                    "dst_port",
                    "proto",
                    "action",
                    "blocked",
                    "log_prefix",
                    "in_interface",
                    "tcp_flags"
                ]
            ),
            ["1.2.3.4", "10.0.0.5", "4444", "22", "tcp", "block", "true", "[UFW BLOCK]", "eth0", "SYN"]
        );
        let e = ev(
            "Sep 27 20:56:38 ubuntu-focal kernel: [  203.842973] IPTABLES-DROP: IN=lo OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 DST=127.0.0.53 LEN=76 TOS=0x00 PREC=0x00 TTL=64 ID=25029 DF PROTO=UDP SPT=49007 DPT=53 LEN=56",
        );
        assert_eq!(fields(&e, &["action", "proto", "dst_port", "tcp_flags"]), ["drop", "udp", "53", "<no tcp_flags>"]);
        let e = ev(
            "Jun  8 14:34:33 sd-126005 kernel: [50028442.088484] IN=enp1s0 OUT= MAC=00:08 SRC=195.54.160.107 DST=51.15.166.67 LEN=40 PROTO=TCP SPT=8080 DPT=8123",
        );
        assert_eq!(
            fields(&e, &["action", "src_ip", "log_prefix"]),
            ["<no action>", "195.54.160.107", "<no log_prefix>"]
        );
    }

    #[test]
    fn cisco_logsources() {
        let e = ev("<166>Jan 05 2026 10:00:00 asa01 : %ASA-6-302013: Built inbound TCP connection 1");
        assert_eq!(e.logsource, LogSource::new(Some("cisco"), None, Some("syslog")));
        assert_eq!(
            fields(&e, &["cisco.facility", "cisco.severity", "cisco.mnemonic", "host"]),
            ["ASA", "6", "302013", "asa01"]
        );
        assert_eq!(e.message(), "%ASA-6-302013: Built inbound TCP connection 1");
        let e = ev(
            "<189>12: *Mar  1 00:00:00.123 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin logged command:clear logging",
        );
        assert_eq!(e.logsource.service.as_deref(), Some("aaa"));
        let e = ev("<187>Nov 23 10:00:00 r1 %TCP-6-BADAUTH: Invalid MD5 digest from 10.0.0.1(179) to 10.0.0.2(12345)");
        assert_eq!(e.logsource.service.as_deref(), Some("syslog"));
        let e = ev("<187>Nov 23 10:00:00 r1 %TCP-6-BADAUTH: Invalid MD5 digest from 10.0.0.1:179 to 10.0.0.2:12345");
        assert_eq!(e.logsource.service.as_deref(), Some("bgp"));
    }

    #[test]
    fn header_fields_reach_the_event() {
        let e = ev(
            r#"<38>1 2026-11-23T10:00:00Z h sshd 7 ID1 [origin@1 ip="10.0.0.1" sw="a\"b"] message repeated 2 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]"#,
        );
        assert_eq!(
            fields(&e, &["sd.origin@1.ip", "sd.origin@1.sw", "repeat_count", "event", "msgid", "pid"]),
            ["10.0.0.1", "a\"b", "2", "failed_password", "ID1", "7"]
        );
        assert_eq!(e.structured_data.len(), 1);
        assert_eq!(e.message(), "Failed password for root from 1.2.3.4 port 22 ssh2");
    }
}
