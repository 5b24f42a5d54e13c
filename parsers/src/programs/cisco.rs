//! Fields of Cisco ASA / FTD and IOS messages (`%ASA-6-302013: Built inbound TCP ...`), by
//! message id. The header parser has already split off the `%FACILITY-SEVERITY-MNEMONIC:` tag
//! (see [`crate::syslog::cisco_tag`]); this reads the text after it.
//!
//! Field names follow the firewall conventions of SigmaHQ's `category: firewall` rules and of
//! vigil's other firewall parsers: `src_ip`, `src_port`, `dst_ip`, `dst_port`, `proto`, `action`
//! (`accept` or `deny`) and `blocked` (`true`/`false`), plus `src_interface`, `dst_interface`,
//! `acl`, `connection_id`, `direction`, `duration`, `bytes`, `user`, `command` and `event`.

use crate::event::Event;

/// Whether a message id is one of the ASA/FTD traffic messages: their events are tagged
/// `category: firewall`.
fn is_traffic(facility: &str, mnemonic: &str) -> bool {
    matches!(facility, "ASA" | "FTD" | "PIX" | "FWSM")
        && matches!(
            mnemonic,
            "302013"
                | "302014"
                | "302015"
                | "302016"
                | "106001"
                | "106006"
                | "106007"
                | "106010"
                | "106014"
                | "106015"
                | "106023"
                | "106100"
                | "710003"
                | "733100"
        )
        || facility == "SEC" && mnemonic.starts_with("IPACCESSLOG")
}

/// Reads the message of a Cisco tag into fields; refines the logsource of traffic messages to
/// `category: firewall`.
pub(super) fn extract(facility: &str, mnemonic: &str, text: &str, event: &mut Event) {
    let read = match (facility, mnemonic) {
        ("ASA" | "FTD" | "PIX" | "FWSM", id) => asa(id, text, event),
        ("SEC", m) if m.starts_with("IPACCESSLOG") => ios_acl(text, event),
        ("SEC_LOGIN", "LOGIN_FAILED" | "LOGIN_SUCCESS") => ios_login(mnemonic, text, event),
        ("PARSER", "CFGLOG_LOGGEDCMD") => ios_command(text, event),
        _ => false,
    };
    if read && is_traffic(facility, mnemonic) {
        // The service (`syslog`) stays: Sigma's Cisco rules select on it.
        event.logsource.category = Some("firewall".into());
    }
}

fn set_action(event: &mut Event, accepted: bool) {
    event.set("action", if accepted { "accept" } else { "deny" });
    event.set("blocked", if accepted { "false" } else { "true" });
}

/// `IFC:IP/PORT`, optionally followed by ` (MAPPED_IP/MAPPED_PORT)` or `(USER)` which are
/// ignored by the caller. Returns (interface, ip, port).
fn ifc_addr(s: &str) -> Option<(&str, &str, Option<&str>)> {
    let s = s.trim();
    // The interface name cannot hold ':'; an IPv6 address can, so split at the first one.
    let (ifc, addr) = s.split_once(':')?;
    let (ip, port) = ip_port(addr)?;
    Some((ifc, ip, port))
}

/// `IP/PORT` or `IP`.
fn ip_port(s: &str) -> Option<(&str, Option<&str>)> {
    let (ip, port) = match s.rsplit_once('/') {
        Some((ip, port)) => (ip, Some(port)),
        None => (s, None),
    };
    ip.parse::<std::net::IpAddr>().ok()?;
    Some((ip, port.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))))
}

fn set_side(event: &mut Event, side: &str, ifc: Option<&str>, ip: &str, port: Option<&str>) {
    let (i, a, p) = match side {
        "src" => ("src_interface", "src_ip", "src_port"),
        _ => ("dst_interface", "dst_ip", "dst_port"),
    };
    if let Some(ifc) = ifc.filter(|s| !s.is_empty()) {
        event.set(i, ifc);
    }
    event.set(a, ip);
    if let Some(port) = port {
        event.set(p, port);
    }
}

/// The first word of `s` after `key`.
fn word_after<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let (_, rest) = s.split_once(key)?;
    rest.split_whitespace().next()
}

fn asa(id: &str, text: &str, event: &mut Event) -> bool {
    match id {
        // Built {inbound|outbound} TCP connection 1 for outside:1.2.3.4/5555 (1.2.3.4/5555) to
        // inside:10.0.0.1/80 (10.0.0.1/80) [(user)]
        "302013" | "302015" => {
            let Some(rest) = text.strip_prefix("Built ") else { return false };
            let (direction, rest) = rest.split_once(' ').unwrap_or(("", rest));
            let Some((proto, rest)) = rest.split_once(" connection ") else { return false };
            let Some((conn, rest)) = rest.split_once(" for ") else { return false };
            let Some((from, to)) = rest.split_once(" to ") else { return false };
            let (Some(src), Some(dst)) = (ifc_addr(first_token(from)), ifc_addr(first_token(to))) else {
                return false;
            };
            // "inbound" means the connection was initiated from the lower-security side, the
            // first address; "outbound" from the second, which the message writes second.
            let (src, dst) = if direction == "outbound" { (dst, src) } else { (src, dst) };
            event.set("event", "connection_built");
            if matches!(direction, "inbound" | "outbound") {
                event.set("direction", direction);
            }
            event.set("proto", proto);
            event.set("connection_id", conn);
            set_side(event, "src", Some(src.0), src.1, src.2);
            set_side(event, "dst", Some(dst.0), dst.1, dst.2);
            set_action(event, true);
            true
        }
        // Teardown TCP connection 1 for outside:1.2.3.4/5555 to inside:10.0.0.1/80 duration
        // 0:00:30 bytes 1234 TCP FINs [from outside] [(user)]
        "302014" | "302016" => {
            let Some(rest) = text.strip_prefix("Teardown ") else { return false };
            let Some((proto, rest)) = rest.split_once(" connection ") else { return false };
            let Some((conn, rest)) = rest.split_once(" for ") else { return false };
            let Some((from, to)) = rest.split_once(" to ") else { return false };
            let (Some(src), Some(dst)) = (ifc_addr(first_token(from)), ifc_addr(first_token(to))) else {
                return false;
            };
            event.set("event", "connection_teardown");
            event.set("proto", proto);
            event.set("connection_id", conn);
            set_side(event, "src", Some(src.0), src.1, src.2);
            set_side(event, "dst", Some(dst.0), dst.1, dst.2);
            if let Some(d) = word_after(to, " duration ") {
                event.set("duration", d);
            }
            if let Some(b) = word_after(to, " bytes ") {
                event.set("bytes", b);
            }
            if let Some((_, reason)) = to.split_once(" bytes ").and_then(|(_, r)| r.split_once(' ')) {
                let reason = reason.split(" from ").next().unwrap_or(reason).split(" (").next().unwrap_or(reason);
                if !reason.trim().is_empty() {
                    event.set("reason", reason.trim());
                }
            }
            set_action(event, true);
            true
        }
        // Deny tcp src outside:1.2.3.4/5555 dst inside:10.0.0.1/22 by access-group "ACL" [..]
        "106023" => {
            let Some(rest) = text.strip_prefix("Deny ") else { return false };
            let Some((proto, rest)) = rest.split_once(" src ") else { return false };
            let Some((src, rest)) = rest.split_once(" dst ") else { return false };
            let (Some(src), Some(dst)) = (ifc_addr(src), ifc_addr(first_token(rest))) else { return false };
            event.set("event", "deny");
            event.set("proto", proto);
            set_side(event, "src", Some(src.0), src.1, src.2);
            set_side(event, "dst", Some(dst.0), dst.1, dst.2);
            if let Some(acl) = quoted_after(rest, "access-group ") {
                event.set("acl", acl);
            }
            set_action(event, false);
            true
        }
        // access-list ACL {permitted|denied|est-allowed} tcp inside/10.0.0.1(1234) ->
        // outside/1.2.3.4(80) hit-cnt 1 first hit [0x..., 0x...]
        "106100" => {
            let Some(rest) = text.strip_prefix("access-list ") else { return false };
            let mut words = rest.split_whitespace();
            let (Some(acl), Some(verdict), Some(proto), Some(src), Some("->"), Some(dst)) =
                (words.next(), words.next(), words.next(), words.next(), words.next(), words.next())
            else {
                return false;
            };
            let (Some(src), Some(dst)) = (acl_addr(src), acl_addr(dst)) else { return false };
            event.set("event", if verdict == "denied" { "acl_denied" } else { "acl_permitted" });
            event.set("acl", acl);
            event.set("proto", proto);
            set_side(event, "src", Some(src.0), src.1, src.2);
            set_side(event, "dst", Some(dst.0), dst.1, dst.2);
            set_action(event, verdict != "denied");
            true
        }
        // Inbound TCP connection denied from 1.2.3.4/5555 to 10.0.0.1/22 flags SYN on interface outside
        // Deny inbound UDP from 1.2.3.4/53 to 10.0.0.1/53 on interface outside
        // Deny TCP (no connection) from 1.2.3.4/5555 to 10.0.0.1/80 flags RST on interface inside
        "106001" | "106006" | "106007" | "106010" | "106014" | "106015" => {
            let Some((head, rest)) = text.split_once(" from ") else { return false };
            let Some((src, rest)) = rest.split_once(" to ") else { return false };
            let (Some(src), Some(dst)) = (ip_port(src.trim()), ip_port(first_token(rest))) else { return false };
            let proto = head
                .split_whitespace()
                .find(|w| matches!(w.to_ascii_lowercase().as_str(), "tcp" | "udp" | "icmp" | "icmp6" | "gre" | "esp"));
            event.set("event", "deny");
            if let Some(proto) = proto {
                event.set("proto", proto);
            }
            let ifc = word_after(rest, " on interface ");
            set_side(event, "src", ifc, src.0, src.1);
            set_side(event, "dst", None, dst.0, dst.1);
            set_action(event, false);
            true
        }
        // AAA user authentication Successful : server = 10.0.0.5 : user = alice
        // AAA user authentication Rejected : reason = ... : server = 10.0.0.5 : user = alice : user IP = 1.2.3.4
        "113004" | "113005" | "113015" => {
            let ok = id == "113004";
            event.set("event", if ok { "auth_success" } else { "auth_failure" });
            for part in text.split(" : ") {
                let Some((k, v)) = part.split_once(" = ") else { continue };
                match k.trim() {
                    "user" => event.set("user", v.trim()),
                    "user IP" => event.set("src_ip", v.trim()),
                    "server" => event.set("server", v.trim()),
                    "reason" => event.set("reason", v.trim()),
                    _ => {}
                }
            }
            true
        }
        // Login {permitted|denied} from 1.2.3.4/5555 to outside:10.0.0.1/ssh for user "alice"
        "605004" | "605005" => {
            let Some((_, rest)) = text.split_once(" from ") else { return false };
            let Some((src, rest)) = rest.split_once(" to ") else { return false };
            let Some((src_ip, src_port)) = ip_port(src.trim()) else { return false };
            event.set("event", if id == "605005" { "login_permitted" } else { "login_denied" });
            set_side(event, "src", None, src_ip, src_port);
            let target = first_token(rest);
            if let Some((ifc, service)) = target.split_once(':') {
                event.set("dst_interface", ifc);
                if let Some((ip, service)) = service.rsplit_once('/') {
                    event.set("dst_ip", ip);
                    event.set("service", service);
                }
            }
            if let Some(user) = quoted_after(rest, "for user ") {
                event.set("user", user);
            }
            true
        }
        // User 'alice' executed the 'show run' command.
        "111008" => {
            let Some(user) = quoted_after(text, "User ") else { return false };
            event.set("event", "command");
            event.set("user", user);
            if let Some(cmd) = quoted_after(text, "executed the ") {
                event.set("command", cmd);
            }
            true
        }
        // User 'alice', running 'CLI' from IP 1.2.3.4, executed 'write memory'
        "111010" => {
            let Some(user) = quoted_after(text, "User ") else { return false };
            event.set("event", "command");
            event.set("user", user);
            if let Some(ip) = word_after(text, " from IP ") {
                event.set("src_ip", ip.trim_end_matches(','));
            }
            if let Some(cmd) = quoted_after(text, "executed ") {
                event.set("command", cmd);
            }
            true
        }
        // User logged out: Uname: alice
        "611103" => {
            let Some(user) = word_after(text, "Uname: ") else { return false };
            event.set("event", "logout");
            event.set("user", user);
            true
        }
        _ => false,
    }
}

/// `IFC/IP(PORT)` of an access-list line.
fn acl_addr(s: &str) -> Option<(&str, &str, Option<&str>)> {
    let (ifc, rest) = s.split_once('/')?;
    let (ip, port) = match rest.split_once('(') {
        Some((ip, port)) => (ip, port.strip_suffix(')')),
        None => (rest, None),
    };
    ip.parse::<std::net::IpAddr>().ok()?;
    Some((ifc, ip, port.filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))))
}

fn first_token(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or_default()
}

/// The text between quotes (`'` or `"`) right after `key`.
fn quoted_after<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let (_, rest) = s.split_once(key)?;
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &rest[1..];
    rest.split_once(quote).map(|(v, _)| v)
}

/// IOS `list 101 denied tcp 10.0.0.1(1234) -> 10.0.0.2(22), 1 packet`.
fn ios_acl(text: &str, event: &mut Event) -> bool {
    let Some(rest) = text.strip_prefix("list ") else { return false };
    let mut words = rest.split_whitespace();
    let (Some(acl), Some(verdict), Some(proto), Some(src), Some("->"), Some(dst)) =
        (words.next(), words.next(), words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    let addr = |s: &str| -> Option<(String, Option<String>)> {
        let s = s.trim_end_matches(',');
        let (ip, port) = match s.split_once('(') {
            Some((ip, p)) => (ip, p.strip_suffix(')').map(str::to_owned)),
            None => (s, None),
        };
        ip.parse::<std::net::IpAddr>().ok()?;
        Some((ip.to_owned(), port))
    };
    let (Some(src), Some(dst)) = (addr(src), addr(dst)) else { return false };
    event.set("event", if verdict == "denied" { "acl_denied" } else { "acl_permitted" });
    event.set("acl", acl);
    event.set("proto", proto);
    set_side(event, "src", None, &src.0, src.1.as_deref());
    set_side(event, "dst", None, &dst.0, dst.1.as_deref());
    set_action(event, verdict != "denied");
    true
}

/// IOS `Login failed [user: admin] [Source: 10.0.0.5] [localport: 22] [Reason: ...] at ...`.
fn ios_login(mnemonic: &str, text: &str, event: &mut Event) -> bool {
    event.set("event", if mnemonic == "LOGIN_SUCCESS" { "login_success" } else { "login_failed" });
    for part in text.split('[').skip(1) {
        let Some((kv, _)) = part.split_once(']') else { continue };
        let Some((k, v)) = kv.split_once(": ") else { continue };
        match k {
            "user" => event.set("user", v),
            "Source" => event.set("src_ip", v),
            "localport" => event.set("dst_port", v),
            "Reason" => event.set("reason", v),
            _ => {}
        }
    }
    true
}

/// IOS `User:alice  logged command:interface Gi0/1` (`archive log config`).
fn ios_command(text: &str, event: &mut Event) -> bool {
    let Some(rest) = text.strip_prefix("User:") else { return false };
    let Some((user, rest)) = rest.split_once(char::is_whitespace) else { return false };
    event.set("event", "command");
    event.set("user", user);
    if let Some((_, cmd)) = rest.split_once("logged command:") {
        event.set("command", cmd.trim());
    }
    true
}

#[cfg(test)]
mod tests {
    use crate::test_util::{f, parse};

    fn fields(e: &crate::Event, names: &[&str]) -> Vec<String> {
        names.iter().map(|n| f(e, n)).collect()
    }

    const ADDR: [&str; 4] = ["src_ip", "src_port", "dst_ip", "dst_port"];

    #[test]
    fn asa_connections() {
        let e = parse(
            "<166>Nov 23 2026 10:00:00 asa01 : %ASA-6-302013: Built inbound TCP connection 4711 for outside:203.0.113.9/52044 (203.0.113.9/52044) to inside:10.0.0.5/443 (198.51.100.5/443)",
        );
        assert_eq!(fields(&e, &ADDR), ["203.0.113.9", "52044", "10.0.0.5", "443"]);
        assert_eq!(
            fields(
                &e,
                &[
                    "event",
                    "direction",
                    "proto",
                    "connection_id",
                    "src_interface",
                    "dst_interface",
                    "action",
                    "blocked"
                ]
            ),
            ["connection_built", "inbound", "TCP", "4711", "outside", "inside", "accept", "false"]
        );
        let ls = &e.logsource;
        assert_eq!(
            (ls.product.as_deref(), ls.category.as_deref(), ls.service.as_deref()),
            (Some("cisco"), Some("firewall"), Some("syslog"))
        );

        // Outbound: the connection came from the second address.
        let e = parse(
            "<166>%ASA-6-302015: Built outbound UDP connection 9 for outside:8.8.8.8/53 (8.8.8.8/53) to inside:10.0.0.5/50000 (198.51.100.5/50000)",
        );
        assert_eq!(fields(&e, &ADDR), ["10.0.0.5", "50000", "8.8.8.8", "53"]);

        let e = parse(
            "<166>%ASA-6-302014: Teardown TCP connection 4711 for outside:203.0.113.9/52044 to inside:10.0.0.5/443 duration 0:00:30 bytes 1234 TCP FINs from outside",
        );
        assert_eq!(
            fields(&e, &["event", "duration", "bytes", "reason"]),
            ["connection_teardown", "0:00:30", "1234", "TCP FINs"]
        );
        assert_eq!(fields(&e, &ADDR), ["203.0.113.9", "52044", "10.0.0.5", "443"]);
    }

    #[test]
    fn asa_denies() {
        let e = parse(
            r#"<164>%ASA-4-106023: Deny tcp src outside:203.0.113.9/52044 dst inside:10.0.0.5/22 by access-group "OUTSIDE_IN" [0x0, 0x0]"#,
        );
        assert_eq!(fields(&e, &ADDR), ["203.0.113.9", "52044", "10.0.0.5", "22"]);
        assert_eq!(
            fields(&e, &["event", "acl", "proto", "action", "blocked"]),
            ["deny", "OUTSIDE_IN", "tcp", "deny", "true"]
        );

        let e = parse(
            "<166>%ASA-6-106100: access-list INSIDE_OUT permitted tcp inside/10.0.0.5(50000) -> outside/203.0.113.9(443) hit-cnt 1 first hit [0x1, 0x0]",
        );
        assert_eq!(fields(&e, &ADDR), ["10.0.0.5", "50000", "203.0.113.9", "443"]);
        assert_eq!(
            fields(&e, &["event", "acl", "action", "src_interface"]),
            ["acl_permitted", "INSIDE_OUT", "accept", "inside"]
        );

        let e = parse(
            "<162>%ASA-2-106001: Inbound TCP connection denied from 203.0.113.9/52044 to 10.0.0.5/23 flags SYN  on interface outside",
        );
        assert_eq!(fields(&e, &ADDR), ["203.0.113.9", "52044", "10.0.0.5", "23"]);
        assert_eq!(fields(&e, &["proto", "src_interface", "blocked"]), ["TCP", "outside", "true"]);

        let e = parse("<166>%ASA-2-106006: Deny inbound UDP from 203.0.113.9/137 to 10.0.0.5/137 on interface outside");
        assert_eq!(fields(&e, &ADDR), ["203.0.113.9", "137", "10.0.0.5", "137"]);
    }

    #[test]
    fn asa_users_and_commands() {
        let e = parse(
            "<166>%ASA-6-113005: AAA user authentication Rejected : reason = AAA failure : server = 10.0.0.9 : user = alice : user IP = 203.0.113.9",
        );
        assert_eq!(
            fields(&e, &["event", "user", "src_ip", "server", "reason"]),
            ["auth_failure", "alice", "203.0.113.9", "10.0.0.9", "AAA failure"]
        );
        // Not a traffic message: the logsource stays the Cisco syslog one.
        assert_eq!(e.logsource.category, None);

        let e = parse(
            r#"<166>%ASA-6-605004: Login denied from 203.0.113.9/52044 to outside:10.0.0.1/ssh for user "admin""#,
        );
        assert_eq!(
            fields(&e, &["event", "src_ip", "src_port", "dst_ip", "service", "user"]),
            ["login_denied", "203.0.113.9", "52044", "10.0.0.1", "ssh", "admin"]
        );

        let e = parse("<165>%ASA-5-111008: User 'alice' executed the 'write memory' command.");
        assert_eq!(fields(&e, &["event", "user", "command"]), ["command", "alice", "write memory"]);

        let e = parse(
            "<165>%ASA-5-111010: User 'alice', running 'CLI' from IP 10.0.0.7, executed 'clear configure access-list'",
        );
        assert_eq!(fields(&e, &["user", "src_ip", "command"]), ["alice", "10.0.0.7", "clear configure access-list"]);
    }

    #[test]
    fn ios_messages() {
        let e = parse(
            "<189>123: *Mar  1 00:00:00.123 UTC: %SEC-6-IPACCESSLOGP: list 101 denied tcp 10.0.0.1(1234) -> 10.0.0.2(22), 1 packet",
        );
        assert_eq!(fields(&e, &ADDR), ["10.0.0.1", "1234", "10.0.0.2", "22"]);
        assert_eq!(fields(&e, &["event", "acl", "blocked"]), ["acl_denied", "101", "true"]);
        assert_eq!(e.logsource.category.as_deref(), Some("firewall"));

        let e = parse(
            "<188>45: sw1: Nov 23 10:00:00: %SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] [Source: 203.0.113.9] [localport: 22] [Reason: Login Authentication Failed] at 10:00:00 UTC Mon Nov 23 2026",
        );
        assert_eq!(
            fields(&e, &["event", "user", "src_ip", "dst_port", "reason"]),
            ["login_failed", "admin", "203.0.113.9", "22", "Login Authentication Failed"]
        );

        let e = parse(
            "<189>46: sw1: Nov 23 10:00:01: %PARSER-5-CFGLOG_LOGGEDCMD: User:alice  logged command:no logging host 10.0.0.9",
        );
        assert_eq!(fields(&e, &["event", "user", "command"]), ["command", "alice", "no logging host 10.0.0.9"]);
        assert_eq!(e.logsource.service.as_deref(), Some("aaa"));
    }

    #[test]
    fn unknown_or_odd_messages_add_nothing() {
        for line in [
            "<166>%ASA-6-302013: Built inbound TCP connection",
            "<166>%ASA-6-302013: Built inbound TCP connection 1 for outside:nothere/1 to inside:10.0.0.1/2",
            "<166>%ASA-4-106023: Deny tcp src outside:1.2.3.4/5",
            "<166>%ASA-6-106100: access-list A permitted tcp x -> y",
            "<166>%ASA-6-999999: something else",
        ] {
            let e = parse(line);
            assert!(e.field("src_ip").is_none() && e.field("event").is_none(), "{line}");
            assert_eq!(e.logsource.category, None, "{line}");
        }
    }
}
