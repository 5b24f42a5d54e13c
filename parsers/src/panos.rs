//! Palo Alto Networks PAN-OS syslog in its default CSV format, as the message of a syslog line:
//!
//! ```text
//! 1,2026/11/23 10:00:00,SERIAL,TRAFFIC,end,2561,2026/11/23 10:00:00,SRC,DST,NATSRC,NATDST,RULE,...
//! ```
//!
//! The columns are PAN-OS's, in the order of its syslog field reference (8.x to 11.x add
//! columns at the end only). Fields, for every log type:
//!
//! | field | column |
//! |---|---|
//! | `panos.type`, `panos.subtype`, `panos.serial`, `panos.receive_time`, `panos.generated_time`, `panos.vsys`, `panos.log_action`, `panos.flags` | the header columns |
//! | `src_ip`, `dst_ip`, `nat_src_ip`, `nat_dst_ip`, `src_port`, `dst_port`, `nat_src_port`, `nat_dst_port`, `proto`, `action`, `rule`, `src_user`, `dst_user`, `application`, `src_zone`, `dst_zone`, `in_interface`, `out_interface`, `session_id`, `repeat_count` | TRAFFIC, THREAT, URL and the other traffic-shaped types |
//! | `bytes`, `bytes_sent`, `bytes_received`, `packets`, `elapsed`, `category`, `src_location`, `dst_location`, `packets_sent`, `packets_received`, `session_end_reason` | TRAFFIC |
//! | `misc` (the URL or file name), `url` (for the `url` subtype), `threat` (name), `threat_id`, `category`, `threat_severity`, `direction`, `src_location`, `dst_location` | THREAT |
//!
//! `blocked` is `true` for the actions that stop traffic (`deny`, `drop`, `reset-*`, `block-*`,
//! `sinkhole`), `false` for `allow` and `alert`. TRAFFIC and THREAT events have `product:
//! paloalto, category: firewall`; other types `product: paloalto`.

use crate::event::{Event, LogSource};

/// The log types whose columns 7 to 30 are the traffic columns.
const TRAFFIC_SHAPED: [&str; 6] = ["TRAFFIC", "THREAT", "URL", "DATA", "WILDFIRE", "DECRYPTION"];
const TYPES: [&str; 15] = [
    "TRAFFIC",
    "THREAT",
    "URL",
    "DATA",
    "WILDFIRE",
    "DECRYPTION",
    "SYSTEM",
    "CONFIG",
    "HIPMATCH",
    "GLOBALPROTECT",
    "USERID",
    "AUTHENTICATION",
    "TUNNEL",
    "CORRELATION",
    "IPTAG",
];

const COMMON: [(usize, &str); 24] = [
    (7, "src_ip"),
    (8, "dst_ip"),
    (9, "nat_src_ip"),
    (10, "nat_dst_ip"),
    (11, "rule"),
    (12, "src_user"),
    (13, "dst_user"),
    (14, "application"),
    (15, "panos.vsys"),
    (16, "src_zone"),
    (17, "dst_zone"),
    (18, "in_interface"),
    (19, "out_interface"),
    (20, "panos.log_action"),
    (22, "session_id"),
    (23, "repeat_count"),
    (24, "src_port"),
    (25, "dst_port"),
    (26, "nat_src_port"),
    (27, "nat_dst_port"),
    (28, "panos.flags"),
    (29, "proto"),
    (30, "action"),
    (6, "panos.generated_time"),
];

const TRAFFIC: [(usize, &str); 11] = [
    (31, "bytes"),
    (32, "bytes_sent"),
    (33, "bytes_received"),
    (34, "packets"),
    (36, "elapsed"),
    (37, "category"),
    (41, "src_location"),
    (42, "dst_location"),
    (44, "packets_sent"),
    (45, "packets_received"),
    (46, "session_end_reason"),
];

const THREAT: [(usize, &str); 7] = [
    (31, "misc"),
    (33, "category"),
    (34, "threat_severity"),
    (35, "direction"),
    (38, "src_location"),
    (39, "dst_location"),
    (32, "panos.threat"),
];

/// A cheap test: `FUTURE_USE,YYYY/MM/DD HH:MM:SS,SERIAL,TYPE,` at the start of the message.
pub fn looks_like(msg: &str) -> bool {
    let mut cols = msg.splitn(5, ',');
    let (Some(first), Some(time), Some(serial), Some(kind)) = (cols.next(), cols.next(), cols.next(), cols.next())
    else {
        return false;
    };
    first.len() <= 4
        && first.bytes().all(|b| b.is_ascii_digit())
        && time.len() == 19
        && time.as_bytes().get(4) == Some(&b'/')
        && !serial.is_empty()
        && serial.bytes().all(|b| b.is_ascii_alphanumeric())
        && TYPES.contains(&kind)
}

/// Reads a PAN-OS CSV message into `event`; false when it is not one.
pub fn apply(msg: &str, event: &mut Event) -> bool {
    if !looks_like(msg) {
        return false;
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(msg.trim().as_bytes());
    let mut record = csv::StringRecord::new();
    if !matches!(reader.read_record(&mut record), Ok(true)) {
        return false;
    }
    let col = |i: usize| record.get(i).map(str::trim).filter(|v| !v.is_empty());
    let kind = col(3).unwrap_or_default().to_owned();
    for (i, name) in [(1, "panos.receive_time"), (2, "panos.serial"), (3, "panos.type"), (4, "panos.subtype")] {
        if let Some(v) = col(i) {
            event.set(name, v);
        }
    }
    let traffic = TRAFFIC_SHAPED.contains(&kind.as_str());
    if traffic {
        for (i, name) in COMMON {
            if let Some(v) = col(i) {
                event.set(name, v);
            }
        }
        let extra: &[(usize, &str)] = match kind.as_str() {
            "TRAFFIC" => &TRAFFIC,
            "THREAT" => &THREAT,
            _ => &[],
        };
        for &(i, name) in extra {
            if let Some(v) = col(i) {
                event.set(name, v);
            }
        }
        if kind == "THREAT" {
            // `NAME(ID)`: the threat's name and its id.
            if let Some(t) = col(32) {
                match t.rsplit_once('(').and_then(|(name, id)| Some((name.trim(), id.strip_suffix(')')?))) {
                    Some((name, id)) => {
                        event.set("threat", name);
                        event.set("threat_id", id);
                    }
                    None => event.set("threat", t),
                }
            }
            if col(4) == Some("url")
                && let Some(url) = col(31)
            {
                event.set("url", url);
            }
        }
        if let Some(action) = col(30) {
            let blocked = !matches!(action, "allow" | "alert");
            event.set("blocked", if blocked { "true" } else { "false" });
        }
    }
    let category = matches!(kind.as_str(), "TRAFFIC" | "THREAT").then_some("firewall");
    event.logsource = LogSource::new(Some("paloalto"), category, None);
    true
}

#[cfg(test)]
mod tests {
    use crate::test_util::{f, parse};

    #[test]
    fn threat_log() {
        let e = parse(
            r#"<14>Nov 23 10:00:00 pa-01 1,2026/11/23 10:00:00,016401002737,THREAT,vulnerability,2561,2026/11/23 10:00:00,203.0.113.9,10.0.0.5,203.0.113.9,198.51.100.5,Inbound SSH,,,ssh,vsys1,Untrust,DMZ,ethernet1/1,ethernet1/2,to-siem,2026/11/23 10:00:00,238810,23,47094,22,47094,22,0x402400,tcp,reset-both,"",SSH User Authentication Brute Force Attempt(40015),any,high,client-to-server,7204134051344758260,0x8000000000000000,Viet Nam,Viet Nam,,,0,,,0,,,,,,,,0,163,0,0,0,,FW-PA-111"#,
        );
        let want = [
            ("src_ip", "203.0.113.9"),
            ("dst_ip", "10.0.0.5"),
            ("src_port", "47094"),
            ("dst_port", "22"),
            ("proto", "tcp"),
            ("action", "reset-both"),
            ("blocked", "true"),
            ("rule", "Inbound SSH"),
            ("application", "ssh"),
            ("src_zone", "Untrust"),
            ("threat", "SSH User Authentication Brute Force Attempt"),
            ("threat_id", "40015"),
            ("threat_severity", "high"),
            ("direction", "client-to-server"),
            ("src_location", "Viet Nam"),
            ("panos.type", "THREAT"),
            ("panos.subtype", "vulnerability"),
        ];
        for (name, value) in want {
            assert_eq!(f(&e, name), value, "{name}");
        }
        // The syslog header's own fields are untouched.
        assert_eq!((f(&e, "host"), f(&e, "severity")), ("pa-01".to_owned(), "info".to_owned()));
        let ls = &e.logsource;
        assert_eq!((ls.product.as_deref(), ls.category.as_deref()), (Some("paloalto"), Some("firewall")));
    }

    #[test]
    fn traffic_log() {
        let e = parse(
            "<14>1 2026-11-23T10:00:00+07:00 pa-01 - - - - 1,2026/11/23 10:00:00,016401002737,TRAFFIC,end,2561,2026/11/23 10:00:00,10.0.0.5,8.8.8.8,198.51.100.5,8.8.8.8,Allow DNS,,,dns,vsys1,Trust,Untrust,ethernet1/2,ethernet1/1,to-siem,2026/11/23 10:00:00,4711,1,50000,53,40000,53,0x19,udp,allow,180,80,100,2,2026/11/23 09:59:59,0,any,0,12345,0x0,10.0.0.0-10.255.255.255,United States,0,1,1,aged-out",
        );
        let want = [
            ("src_ip", "10.0.0.5"),
            ("dst_port", "53"),
            ("nat_src_ip", "198.51.100.5"),
            ("action", "allow"),
            ("blocked", "false"),
            ("bytes", "180"),
            ("bytes_sent", "80"),
            ("bytes_received", "100"),
            ("session_end_reason", "aged-out"),
            ("dst_location", "United States"),
        ];
        for (name, value) in want {
            assert_eq!(f(&e, name), value, "{name}");
        }
    }

    #[test]
    fn other_types_and_lookalikes() {
        let e = parse(
            "<14>Nov 23 10:00:00 pa-01 1,2026/11/23 10:00:00,016401002737,SYSTEM,auth,0,2026/11/23 10:00:00,,auth-fail,admin,0,0,general,medium,\"failed authentication for user 'admin'\"",
        );
        assert_eq!(f(&e, "panos.type"), "SYSTEM");
        assert_eq!(e.field("src_ip"), None);
        assert_eq!((e.logsource.product.as_deref(), e.logsource.category.as_deref()), (Some("paloalto"), None));

        for msg in ["1,2,3,4", "1,2026/11/23 10:00:00,serial,NOTATYPE,x", "12345,2026/11/23 10:00:00,s,TRAFFIC,end"] {
            assert!(!super::looks_like(msg), "{msg}");
        }
    }
}
