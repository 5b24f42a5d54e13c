//! Key=value and firewall payloads: FortiGate (`date=... devname="FGT" srcip=...`), MikroTik
//! firewall lines (`input: in:ether1 out:(unknown 0), ..., proto TCP (SYN), A:p->B:q, len 60`),
//! pfSense/OPNsense `filterlog` CSV, and a conservative generic `key=value` reader.
//!
//! Everything here borrows from the message; values are copied only when stored in an event.
//!
//! Fields and logsources (firewall traffic gets Sigma's `category: firewall`):
//!
//! | format | logsource | fields |
//! |---|---|---|
//! | FortiGate | `product: fortigate`, `service:` the log's `type` (`traffic`, `event`, `utm`...), `category: firewall` for `traffic` and `utm` logs | every key under its own name (`date`, `time`, `devname`, `devid`, `logid`, `type`, `subtype`, `level`, `vd`, `srcip`, `srcport`, `srcintf`, `dstip`, `dstport`, `dstintf`, `proto`, `service`, `action`, `policyid`, `user`, `msg`, `logdesc`, `cfgpath`, ...); `src_ip`, `src_port`, `dst_ip`, `dst_port` aliases of `srcip`, `srcport`, `dstip`, `dstport` |
//! | MikroTik firewall | `product: mikrotik`, `category: firewall` | `chain`, `log_prefix`, `in_interface`, `out_interface`, `connection_state`, `src_mac`, `proto`, `tcp_flags`, `src_ip`, `src_port`, `dst_ip`, `dst_port`, `nat`, `len` |
//! | MikroTik logins (`system,error,critical login failure for user U from IP via winbox`, `user U logged in/out from IP via S`) | `product: mikrotik` | `topics`, `event` (`login_failure`, `login`, `logout`), `user`, `src_ip`, `service` |
//! | filterlog | `product: pfsense`, or `opnsense` when the tracker is a 32-hex-digit hash or a UUID, `category: firewall` | `rule`, `sub_rule`, `anchor`, `tracker`, `interface`, `reason`, `action`, `direction`, `ip_version`, `proto` (lower case), `proto_id`, `ttl`, `length`, `src_ip`, `dst_ip`, `src_port`, `dst_port`, `data_length`, `tcp_flags`, `icmp_type` |
//! | generic | unchanged | every key under its own name, when the message is mostly `key=value` pairs; never replaces a field already set |

use std::borrow::Cow;

use crate::event::LogSource;

/// A `key=value` pair list read from a message: the pairs, and how many words were not pairs.
#[derive(Debug, Default, PartialEq)]
pub struct Pairs<'a> {
    pub pairs: Vec<(&'a str, Cow<'a, str>)>,
    pub stray_words: usize,
}

impl Pairs<'_> {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_ref())
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b':')
}

/// Reads `key=value key="quoted value" key='quoted'` pairs separated by whitespace. Quoted values
/// may hold `\"` and `\\`. Words that are not pairs are counted in `stray_words`.
pub fn pairs(s: &str) -> Pairs<'_> {
    let b = s.as_bytes();
    let mut out = Pairs::default();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_key_char(b[i]) {
            i += 1;
        }
        if i > start && i < b.len() && b[i] == b'=' {
            let key = &s[start..i];
            i += 1;
            match b.get(i) {
                Some(&q @ (b'"' | b'\'')) => {
                    let vstart = i + 1;
                    let mut j = vstart;
                    let mut escaped = false;
                    while j < b.len() {
                        match b[j] {
                            b'\\' if q == b'"' => {
                                escaped = true;
                                j += 2;
                            }
                            c if c == q => break,
                            _ => j += 1,
                        }
                    }
                    let vend = j.min(b.len());
                    let raw = &s[vstart..vend];
                    let value = if escaped { unescape_quoted(raw) } else { Cow::Borrowed(raw) };
                    out.pairs.push((key, value));
                    i = (vend + 1).min(b.len());
                }
                _ => {
                    let vstart = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    out.pairs.push((key, Cow::Borrowed(&s[vstart..i])));
                }
            }
        } else {
            // Not a pair: skip the word.
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            out.stray_words += 1;
        }
    }
    out
}

fn unescape_quoted(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, chars.clone().next()) {
            ('\\', Some(n @ ('"' | '\\'))) => {
                out.push(n);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether a message is mostly `key=value` pairs: at least two pairs, and at most one word in
/// five (and at most three words) that is not a pair. Ordinary sentences with an `a=b` in them
/// are left alone.
pub fn generic(s: &str) -> Option<Pairs<'_>> {
    if !s.contains('=') {
        return None;
    }
    let p = pairs(s);
    let n = p.pairs.len();
    (n >= 2 && p.stray_words * 4 <= n && p.stray_words <= 3).then_some(p)
}

/// Whether a message (or whole line) looks like a FortiGate/FortiOS log: its pairs include
/// `logid`, `type`, and `devid`, `devname` or `date` and `time`; and it is mostly pairs.
pub fn is_fortigate(p: &Pairs<'_>) -> bool {
    let has = |k: &str| p.pairs.iter().any(|(key, _)| *key == k);
    has("logid")
        && has("type")
        && (has("devid") || has("devname") || (has("date") && has("time")))
        && p.stray_words * 4 <= p.pairs.len()
}

/// A cheap test for a whole line being a FortiGate log (before any pair is read).
pub fn looks_like_fortigate(s: &str) -> bool {
    (s.starts_with("date=") || s.starts_with("logver=") || s.starts_with("eventtime=") || s.starts_with("devname="))
        && s.contains("logid=")
}

/// The logsource of a FortiGate log of `type` (`traffic`, `event`, `utm`, ...).
pub fn fortigate_logsource(kind: Option<&str>) -> LogSource {
    let firewall = matches!(kind, Some("traffic" | "utm"));
    LogSource::new(Some("fortigate"), firewall.then_some("firewall"), kind)
}

/// Sigma-style aliases of FortiGate keys.
pub fn fortigate_alias(key: &str) -> Option<&'static str> {
    Some(match key {
        "srcip" => "src_ip",
        "dstip" => "dst_ip",
        "srcport" => "src_port",
        "dstport" => "dst_port",
        _ => return None,
    })
}

/// Fields of a firewall line, with their names.
pub type FirewallFields<'a> = Vec<(&'static str, &'a str)>;

/// Splits on `sep` outside parentheses.
fn split_outside_parens<'a>(s: &'a str, sep: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut depth = 0i32;
    let mut start = 0;
    let mut pieces = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        if depth <= 0 && b[i..].starts_with(sep.as_bytes()) {
            pieces.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += 1;
    }
    pieces.push(&s[start..]);
    pieces.into_iter()
}

/// `1.2.3.4:80`, `[2001:db8::1]:80`, `1.2.3.4` or `fe80::1` (ICMP: no port).
fn endpoint(s: &str) -> (&str, Option<&str>) {
    if let Some(r) = s.strip_prefix('[')
        && let Some((ip, port)) = r.split_once(']')
    {
        return (ip, port.strip_prefix(':').filter(|p| !p.is_empty()));
    }
    match s.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            (ip, Some(port))
        }
        _ => (s, None),
    }
}

/// A RouterOS system message about a login: `system,error,critical login failure for user U
/// from IP via SERVICE`, `system,info,account user U logged in from IP via SERVICE` (and `logged
/// out`). Returns `topics`, `event` (`login_failure`, `login`, `logout`), `user`, `src_ip` and
/// `service`.
pub fn mikrotik_login(msg: &str) -> Option<FirewallFields<'_>> {
    let (topics, text) = msg.split_once(' ')?;
    let known = ["system", "info", "error", "critical", "warning", "account", "debug"];
    if !topics.contains(',') || !topics.split(',').all(|t| known.contains(&t)) {
        return None;
    }
    let (event, rest) = if let Some(r) = text.strip_prefix("login failure for user ") {
        ("login_failure", r)
    } else if let Some(r) = text.strip_prefix("user ") {
        let (user, tail) = r.split_once(' ')?;
        let event = if tail.starts_with("logged in ") {
            "login"
        } else if tail.starts_with("logged out ") {
            "logout"
        } else {
            return None;
        };
        let (_, from) = tail.split_once("from ")?;
        return Some(login_fields(topics, event, user, from));
    } else {
        return None;
    };
    let (user, from) = rest.split_once(" from ")?;
    Some(login_fields(topics, event, user, from))
}

fn login_fields<'a>(topics: &'a str, event: &'static str, user: &'a str, from: &'a str) -> FirewallFields<'a> {
    let mut fields = vec![("topics", topics), ("event", event), ("user", user)];
    let (ip, service) = from.split_once(" via ").unwrap_or((from, ""));
    if !ip.is_empty() {
        fields.push(("src_ip", ip.trim()));
    }
    if !service.is_empty() {
        fields.push(("service", service.trim()));
    }
    fields
}

/// A MikroTik RouterOS firewall log message:
/// `[TOPICS ][PREFIX ]CHAIN: in:IF out:IF, [connection-state:S ][src-mac MAC, ]proto P[ (FLAGS)], SRC->DST[, NAT ...], len N`.
pub fn mikrotik(msg: &str) -> Option<FirewallFields<'_>> {
    // `in:` starts the interesting part: at the start or after a space.
    let at = if msg.starts_with("in:") { 0 } else { msg.find(" in:")? + 1 };
    let (before, rest) = msg.split_at(at);
    let rest = rest.strip_prefix("in:")?;
    let (in_if, rest) = rest.split_once(" out:")?;
    let (out_if, rest) = rest.split_once(", ")?;
    let mut fields: FirewallFields<'_> = vec![("in_interface", in_if), ("out_interface", out_if)];
    // Before `in:`: `[topics ][prefix ]chain:`.
    let mut words: Vec<&str> = before.split_whitespace().collect();
    if let Some(chain) = words.last().and_then(|w| w.strip_suffix(':')) {
        fields.push(("chain", chain));
        words.pop();
    }
    if words.first().is_some_and(|w| w.contains(',') || *w == "firewall") {
        words.remove(0);
    }
    if let (Some(first), Some(last)) = (words.first(), words.last()) {
        let start = first.as_ptr() as usize - before.as_ptr() as usize;
        let end = last.as_ptr() as usize - before.as_ptr() as usize + last.len();
        if let Some(prefix) = before.get(start..end) {
            fields.push(("log_prefix", prefix));
        }
    }
    let mut have_addr = false;
    for part in split_outside_parens(rest, ", ") {
        let mut part = part.trim();
        // `connection-state:new proto TCP (SYN)`: the words before `proto` first.
        if let Some(at) = part.find(" proto ") {
            words_fields(&part[..at], &mut fields);
            part = &part[at + 1..];
        }
        if let Some(p) = part.strip_prefix("proto ") {
            let (proto, flags) = match p.split_once(' ') {
                Some((proto, flags)) => (proto, Some(flags)),
                None => (p, None),
            };
            fields.push(("proto", proto));
            if let Some(flags) = flags.and_then(|f| f.strip_prefix('(')).and_then(|f| f.strip_suffix(')')) {
                fields.push(("tcp_flags", flags));
            }
        } else if let Some(len) = part.strip_prefix("len ") {
            fields.push(("len", len));
        } else if let Some(nat) = part.strip_prefix("NAT ") {
            fields.push(("nat", nat));
        } else if !have_addr && let Some((src, dst)) = part.split_once("->") {
            let ((src_ip, src_port), (dst_ip, dst_port)) = (endpoint(src), endpoint(dst));
            fields.push(("src_ip", src_ip));
            fields.push(("dst_ip", dst_ip));
            if let Some(p) = src_port {
                fields.push(("src_port", p));
            }
            if let Some(p) = dst_port {
                fields.push(("dst_port", p));
            }
            have_addr = true;
        } else {
            words_fields(part, &mut fields);
        }
    }
    have_addr.then_some(fields)
}

/// `connection-state:new src-mac 00:11:22:33:44:55`.
fn words_fields<'a>(part: &'a str, fields: &mut FirewallFields<'a>) {
    let mut words = part.split_whitespace();
    while let Some(w) = words.next() {
        if let Some(state) = w.strip_prefix("connection-state:") {
            fields.push(("connection_state", state));
        } else if w == "src-mac"
            && let Some(mac) = words.next()
        {
            fields.push(("src_mac", mac));
        }
    }
}

/// pfSense/OPNsense `filterlog` CSV: rule, sub rule, anchor, tracker, interface, reason,
/// action, direction, IP version, then the IPv4 or IPv6 fields, then the protocol's fields.
pub fn filterlog(msg: &str) -> Option<FirewallFields<'_>> {
    let f: Vec<&str> = msg.trim().split(',').collect();
    if f.len() < 9 {
        return None;
    }
    let names = ["rule", "sub_rule", "anchor", "tracker", "interface", "reason", "action", "direction", "ip_version"];
    let mut out: FirewallFields<'_> =
        names.iter().zip(&f).filter(|(_, v)| !v.is_empty()).map(|(n, v)| (*n, *v)).collect();
    // (protocol text, protocol id, TTL or hop limit, length, src, dst, index of the protocol fields)
    let (proto, proto_id, ttl, length, src, dst, next) = match f[8] {
        "4" if f.len() >= 20 => (f[16], f[15], f[11], f[17], f[18], f[19], 20),
        "6" if f.len() >= 17 => (f[12], f[13], f[11], f[14], f[15], f[16], 17),
        _ => return None,
    };
    for (name, value) in [("proto_id", proto_id), ("ttl", ttl), ("length", length), ("src_ip", src), ("dst_ip", dst)] {
        if !value.is_empty() {
            out.push((name, value));
        }
    }
    out.push(("proto", proto));
    let extra = &f[next..];
    match proto.to_ascii_lowercase().as_str() {
        "tcp" => {
            for (name, value) in ["src_port", "dst_port", "data_length", "tcp_flags"].iter().zip(extra) {
                if !value.is_empty() {
                    out.push((name, value));
                }
            }
        }
        "udp" => {
            for (name, value) in ["src_port", "dst_port", "data_length"].iter().zip(extra) {
                if !value.is_empty() {
                    out.push((name, value));
                }
            }
        }
        "icmp" | "ipv6-icmp" | "icmpv6" => {
            if let Some(t) = extra.first().filter(|t| !t.is_empty()) {
                out.push(("icmp_type", t));
            }
        }
        _ => {}
    }
    Some(out)
}

/// pfSense's tracker is a number; OPNsense's is a 32-hex-digit hash or (newer) a UUID.
pub fn filterlog_product(tracker: Option<&str>) -> &'static str {
    let hex = |t: &str| t.bytes().all(|b| b.is_ascii_hexdigit());
    match tracker {
        Some(t) if t.len() == 32 && hex(t) => "opnsense",
        Some(t) if t.len() == 36 && t.split('-').map(str::len).eq([8, 4, 4, 4, 12]) && hex(&t.replace('-', "")) => {
            "opnsense"
        }
        _ => "pfsense",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(f: &'a FirewallFields<'_>, name: &str) -> Option<&'a str> {
        f.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn fortigate_pairs_with_quotes() {
        let line = r#"date=2026-11-23 time=10:00:01 devname="FGT-HN" devid="FG100F" logid="0000000013" type="traffic" subtype="forward" srcip=10.1.2.3 srcport=51234 dstip=203.0.113.5 dstport=443 action="deny" msg="a \"quoted\" word" empty="""#;
        let p = pairs(line);
        assert!(is_fortigate(&p));
        assert!(looks_like_fortigate(line));
        assert_eq!(p.stray_words, 0);
        assert_eq!(p.get("devname"), Some("FGT-HN"));
        assert_eq!(p.get("time"), Some("10:00:01"));
        assert_eq!(p.get("action"), Some("deny"));
        assert_eq!(p.get("msg"), Some(r#"a "quoted" word"#));
        assert_eq!(p.get("empty"), Some(""));
        assert_eq!(
            fortigate_logsource(p.get("type")),
            LogSource::new(Some("fortigate"), Some("firewall"), Some("traffic"))
        );
    }

    #[test]
    fn generic_is_conservative() {
        assert!(generic("user=bob action=login result=ok").is_some());
        assert!(generic("Connection closed by 1.2.3.4 port 22").is_none());
        assert!(generic("Started session for user bob with mode=fast").is_none());
        assert!(generic("alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash").is_none());
        assert!(generic("a=1").is_none());
        let p = generic(
            "[UFW BLOCK] IN=eth0 OUT= MAC=aa SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=1 PROTO=TCP SPT=1 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0",
        );
        assert_eq!(p.as_ref().and_then(|p| p.get("SRC")), Some("1.2.3.4"));
        assert_eq!(p.and_then(|p| p.get("OUT").map(str::to_owned)), Some(String::new()));
    }

    #[test]
    fn unterminated_quotes_and_odd_bytes_never_panic() {
        for s in ["a=\"", "a=\"\\", "a=\"x\\\"", "=", "==", "a= b=", "é=é a=\"é\\é\"", "k='v w' x='"] {
            let _ = pairs(s);
            let _ = generic(s);
        }
        assert_eq!(pairs("k='v w' x=1").get("k"), Some("v w"));
    }

    #[test]
    fn mikrotik_lines() {
        let f = mikrotik("firewall,info drop-in input: in:ether1-WAN out:(unknown 0), connection-state:new src-mac 00:17:10:88:bc:02, proto TCP (SYN), 36.97.161.219:59388->81.82.202.145:23, len 40")
            .unwrap_or_default();
        assert_eq!(get(&f, "chain"), Some("input"));
        assert_eq!(get(&f, "log_prefix"), Some("drop-in"));
        assert_eq!(get(&f, "in_interface"), Some("ether1-WAN"));
        assert_eq!(get(&f, "out_interface"), Some("(unknown 0)"));
        assert_eq!(get(&f, "connection_state"), Some("new"));
        assert_eq!(get(&f, "src_mac"), Some("00:17:10:88:bc:02"));
        assert_eq!((get(&f, "proto"), get(&f, "tcp_flags")), (Some("TCP"), Some("SYN")));
        assert_eq!((get(&f, "src_ip"), get(&f, "src_port")), (Some("36.97.161.219"), Some("59388")));
        assert_eq!((get(&f, "dst_ip"), get(&f, "dst_port")), (Some("81.82.202.145"), Some("23")));
        assert_eq!(get(&f, "len"), Some("40"));

        let f = mikrotik("forward: in:WAN out:LAN, connection-state:new src-mac e4:41:64:93:a8:0f, proto UDP, [2001:db8:1234::1]:17850->[2001:db8:1234::2]:51413, len 112").unwrap_or_default();
        assert_eq!((get(&f, "chain"), get(&f, "log_prefix")), (Some("forward"), None));
        assert_eq!((get(&f, "src_ip"), get(&f, "dst_port")), (Some("2001:db8:1234::1"), Some("51413")));

        let f = mikrotik("input: in:ether1 out:(unknown 0), src-mac 00:11:22:33:44:55, proto ICMP (type 3, code 3), 10.0.0.1->10.0.0.2, NAT (10.0.0.1:1->1.1.1.1:1)->2.2.2.2:2, len 56").unwrap_or_default();
        assert_eq!((get(&f, "proto"), get(&f, "tcp_flags")), (Some("ICMP"), Some("type 3, code 3")));
        assert_eq!(
            (get(&f, "src_ip"), get(&f, "src_port"), get(&f, "dst_ip")),
            (Some("10.0.0.1"), None, Some("10.0.0.2"))
        );
        assert_eq!(get(&f, "nat"), Some("(10.0.0.1:1->1.1.1.1:1)->2.2.2.2:2"));

        let f = mikrotik("input: in:WAN out:(unknown 0), connection-state:new proto TCP (SYN), 192.0.2.1:56282->192.0.2.2:36228, len 52").unwrap_or_default();
        assert_eq!(
            (get(&f, "connection_state"), get(&f, "proto"), get(&f, "dst_port")),
            (Some("new"), Some("TCP"), Some("36228"))
        );

        assert!(mikrotik("login failure for user admin from 10.10.0.35 via winbox").is_none());
        assert!(mikrotik("in:x out:y, nothing").is_none());
        assert!(mikrotik("in:").is_none());
    }

    #[test]
    fn filterlog_v4_v6_udp_and_bad() {
        let f = filterlog("53,,,1000000301,em0,match,block,in,4,0x0,,64,420,0,none,6,tcp,460,10.0.2.2,10.0.2.15,53742,22,420,PA,29633380:29633800,3617062173,65535,,").unwrap_or_default();
        assert_eq!(
            (get(&f, "interface"), get(&f, "action"), get(&f, "direction")),
            (Some("em0"), Some("block"), Some("in"))
        );
        assert_eq!(
            (get(&f, "proto"), get(&f, "src_ip"), get(&f, "dst_ip")),
            (Some("tcp"), Some("10.0.2.2"), Some("10.0.2.15"))
        );
        assert_eq!(
            (get(&f, "src_port"), get(&f, "dst_port"), get(&f, "tcp_flags")),
            (Some("53742"), Some("22"), Some("PA"))
        );
        assert_eq!(get(&f, "sub_rule"), None);
        assert_eq!(filterlog_product(get(&f, "tracker")), "pfsense");

        let f = filterlog("621,,,1644355515,vtnet0.10,match,block,in,6,0x00,0x07c63,64,TCP,6,44,fdfd:ace:ace:10:d8:cdbf:f6f8:6d69,fdfd:ace:ace:5::6,65382,443,0,S,1927530165,,0,,mss").unwrap_or_default();
        assert_eq!((get(&f, "proto"), get(&f, "src_ip")), (Some("TCP"), Some("fdfd:ace:ace:10:d8:cdbf:f6f8:6d69")));
        assert_eq!((get(&f, "src_port"), get(&f, "dst_port")), (Some("65382"), Some("443")));

        let f = filterlog("10,,,02f4bab031b57d1e30553ce08e0ec131,re0,match,block,in,4,0x0,,118,28579,0,none,17,udp,132,212.102.36.22,37.120.48.198,49838,52938,112").unwrap_or_default();
        assert_eq!(
            (get(&f, "proto"), get(&f, "dst_port"), get(&f, "data_length")),
            (Some("udp"), Some("52938"), Some("112"))
        );
        assert_eq!(filterlog_product(get(&f, "tracker")), "opnsense");
        assert_eq!(filterlog_product(Some("64d253df-ef65-4b56-9df4-c03fc11b8ce4")), "opnsense");
        assert_eq!(filterlog_product(Some("1000102631")), "pfsense");

        assert!(filterlog("1,2,3").is_none());
        assert!(filterlog("53,,,1,em0,match,block,in,4,0x0").is_none());
        assert!(filterlog("53,,,1,em0,match,block,in,5,a,b,c,d,e,f,g,h,i,j,k,l").is_none());
        assert!(filterlog("").is_none());
    }

    #[test]
    fn mikrotik_logins() {
        let f = mikrotik_login("system,error,critical login failure for user admin from 10.10.0.35 via winbox")
            .unwrap_or_default();
        assert_eq!(
            (get(&f, "event"), get(&f, "user"), get(&f, "src_ip"), get(&f, "service"), get(&f, "topics")),
            (Some("login_failure"), Some("admin"), Some("10.10.0.35"), Some("winbox"), Some("system,error,critical"))
        );
        let f = mikrotik_login("system,info,account user alice logged in from 10.0.0.7 via ssh").unwrap_or_default();
        assert_eq!(
            (get(&f, "event"), get(&f, "user"), get(&f, "src_ip")),
            (Some("login"), Some("alice"), Some("10.0.0.7"))
        );
        let f = mikrotik_login("system,info,account user alice logged out from 10.0.0.7 via web").unwrap_or_default();
        assert_eq!(get(&f, "event"), Some("logout"));
        for msg in [
            "login failure for user a from b",
            "firewall,info login failure for user a from b",
            "system,info changed config",
        ] {
            assert_eq!(mikrotik_login(msg), None, "{msg}");
        }
    }
}
