//! The alert index's schema, and how an [`Alert`] becomes a document.
//!
//! | field | kind | what |
//! |---|---|---|
//! | `id` | exact | the alert's deterministic id (indexed as its 16 bytes; a query's hex id is turned into them) |
//! | `time` | date, fast | event time |
//! | `kind` | exact, fast | `rule`, `correlation`, `building_block`, `health` |
//! | `rule_id` | exact, fast | |
//! | `rule_title` (fast: whole value), `author` | words | folded (see [`super::text`]) |
//! | `level`, `rule_status`, `tags`, `tactic`, `technique` | keyword, fast | ATT&CK tags split out: `attack.t1059.001` gives `technique:t1059.001` and `technique:t1059` |
//! | `agency`, `province`, `source` | exact, fast | where the event came from: tenancy |
//! | `host`, `user`, `process`, `url`, `hash` | keyword, fast | entities, from the event's fields (see [`ENTITIES`]) |
//! | `src_ip`, `dst_ip` | IP, fast | ranges and CIDR-like ranges (`src_ip:[10.0.0.0 TO 10.0.255.255]`) |
//! | `command_line` | words, fast (whole value) | |
//! | `message` | words | the message, then every field value the message does not contain |
//! | `member` | exact | a correlation alert's member alert ids (as `id`) |
//! | `status`, `assignee` | keyword, fast | triage |
//! | `doc` | stored | the alert as JSON, as it was raised |
//!
//! "exact" fields match their whole value as given; "keyword" fields their whole value
//! lowercased; "words" fields any of their folded words, phrases with positions.

use std::net::{IpAddr, Ipv6Addr};

use tantivy::TantivyDocument;
use tantivy::schema::{
    BytesOptions, DateOptions, DateTimePrecision, FAST, Field, IndexRecordOption, IpAddrOptions, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};

use super::text::{FOLDED, KEYWORD};
use crate::alert::Alert;

/// The schema's version, recorded in the index directory: an index of another version is not
/// opened (see [`super::AlertStore::open`]).
pub const VERSION: u32 = 2;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    pub id: Field,
    pub time: Field,
    pub sort: Field,
    pub kind: Field,
    pub rule_id: Field,
    pub rule_title: Field,
    pub author: Field,
    pub level: Field,
    pub rule_status: Field,
    pub tags: Field,
    pub tactic: Field,
    pub technique: Field,
    pub agency: Field,
    pub province: Field,
    pub source: Field,
    pub host: Field,
    pub user: Field,
    pub src_ip: Field,
    pub dst_ip: Field,
    pub process: Field,
    pub command_line: Field,
    pub url: Field,
    pub hash: Field,
    pub message: Field,
    pub member: Field,
    pub status: Field,
    pub assignee: Field,
    pub doc: Field,
}

/// The fields a search may name, with how they match (for the API's documentation and for
/// wildcards, which are folded like the field).
pub const SEARCHABLE: &[(&str, Analysis)] = &[
    ("id", Analysis::Exact),
    ("time", Analysis::Date),
    ("kind", Analysis::Exact),
    ("rule_id", Analysis::Exact),
    ("rule_title", Analysis::Words),
    ("author", Analysis::Words),
    ("level", Analysis::Keyword),
    ("rule_status", Analysis::Keyword),
    ("tags", Analysis::Keyword),
    ("tactic", Analysis::Keyword),
    ("technique", Analysis::Keyword),
    ("agency", Analysis::Exact),
    ("province", Analysis::Exact),
    ("source", Analysis::Exact),
    ("host", Analysis::Keyword),
    ("user", Analysis::Keyword),
    ("src_ip", Analysis::Ip),
    ("dst_ip", Analysis::Ip),
    ("process", Analysis::Keyword),
    ("command_line", Analysis::Words),
    ("url", Analysis::Keyword),
    ("hash", Analysis::Keyword),
    ("message", Analysis::Words),
    ("member", Analysis::Exact),
    ("status", Analysis::Keyword),
    ("assignee", Analysis::Keyword),
];

/// How a field's values are matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Analysis {
    /// The whole value, exactly.
    Exact,
    /// The whole value, lowercased.
    Keyword,
    /// Folded words.
    Words,
    Date,
    Ip,
}

pub(crate) fn analysis(field: &str) -> Option<Analysis> {
    SEARCHABLE.iter().find(|(name, _)| *name == field).map(|(_, a)| *a)
}

pub(crate) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let keyword = || {
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default().set_tokenizer(KEYWORD).set_index_option(IndexRecordOption::Basic),
            )
            .set_fast(KEYWORD)
    };
    let exact = || STRING | FAST;
    let words = || {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(FOLDED)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let ip = IpAddrOptions::default().set_indexed().set_fast();
    let fields = Fields {
        id: b.add_bytes_field("id", BytesOptions::default().set_indexed()),
        time: b
            .add_date_field("time", DateOptions::default().set_fast().set_precision(DateTimePrecision::Milliseconds)),
        sort: b.add_u64_field("sort", FAST),
        kind: b.add_text_field("kind", exact()),
        rule_id: b.add_text_field("rule_id", exact()),
        rule_title: b.add_text_field("rule_title", words().set_fast("raw")),
        author: b.add_text_field("author", words()),
        level: b.add_text_field("level", keyword()),
        rule_status: b.add_text_field("rule_status", keyword()),
        tags: b.add_text_field("tags", keyword()),
        tactic: b.add_text_field("tactic", keyword()),
        technique: b.add_text_field("technique", keyword()),
        agency: b.add_text_field("agency", exact()),
        province: b.add_text_field("province", exact()),
        source: b.add_text_field("source", exact()),
        host: b.add_text_field("host", keyword()),
        user: b.add_text_field("user", keyword()),
        src_ip: b.add_ip_addr_field("src_ip", ip.clone()),
        dst_ip: b.add_ip_addr_field("dst_ip", ip),
        process: b.add_text_field("process", keyword()),
        command_line: b.add_text_field("command_line", words().set_fast("raw")),
        url: b.add_text_field("url", keyword()),
        hash: b.add_text_field("hash", keyword()),
        message: b.add_text_field("message", words()),
        member: b.add_bytes_field("member", BytesOptions::default().set_indexed()),
        status: b.add_text_field("status", keyword()),
        assignee: b.add_text_field("assignee", keyword()),
        doc: b.add_text_field("doc", STORED),
    };
    (b.build(), fields)
}

/// An alert id as indexed: its 16 bytes (ids are 32 hex digits), or the text's bytes for an id
/// of another form. Half the size of the text in the term dictionary, which every alert adds
/// a unique term to.
pub fn id_bytes(id: &str) -> Vec<u8> {
    if id.len() == 32
        && let Ok(bytes) = hex::decode(id)
    {
        return bytes;
    }
    id.as_bytes().to_vec()
}

/// The term of an alert id.
pub(crate) fn id_term(f: &Fields, id: &str) -> tantivy::Term {
    tantivy::Term::from_field_bytes(f.id, &id_bytes(id))
}

/// The key alerts are sorted and paged by: event time in milliseconds (42 bits, to the year
/// 2109), then 22 bits of the id, so alerts of the same millisecond have a stable order.
pub fn sort_key(alert: &Alert) -> u64 {
    let ms = alert.time.timestamp_millis().clamp(0, (1 << 42) - 1) as u64;
    (ms << 22) | (id_bits(&alert.id) & ((1 << 22) - 1))
}

fn id_bits(id: &str) -> u64 {
    let tail = &id[id.len().saturating_sub(16)..];
    u64::from_str_radix(tail, 16).unwrap_or_else(|_| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    })
}

/// An entity an alert is about, from one of its event's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    User,
    SrcIp,
    DstIp,
    Process,
    CommandLine,
    Url,
    Hash,
}

/// Event field names (compared ignoring ASCII case) that give each entity, best first: the
/// names vigil's parsers give (`user`, `src_ip`...), Windows' and Sysmon's, CEF's and LEEF's,
/// FortiGate's, IIS's.
pub const ENTITIES: &[(Entity, &[&str])] = &[
    (
        Entity::User,
        &[
            "user",
            "TargetUserName",
            "User",
            "src_user",
            "suser",
            "usrName",
            "sourceUserName",
            "SubjectUserName",
            "AccountName",
            "cs-username",
            "duser",
            "dst_user",
        ],
    ),
    (
        Entity::SrcIp,
        &["src_ip", "IpAddress", "SourceIp", "SourceAddress", "src", "srcip", "c-ip", "client_ip", "remote_addr"],
    ),
    (Entity::DstIp, &["dst_ip", "DestinationIp", "DestAddress", "dst", "dstip", "s-ip", "server_ip"]),
    (Entity::Process, &["Image", "NewProcessName", "process", "exe", "ProcessName", "sproc", "dproc"]),
    (Entity::CommandLine, &["CommandLine", "ProcessCommandLine", "command", "cmd"]),
    (Entity::Url, &["url", "request", "cs-uri", "cs-uri-stem", "c-uri", "uri", "RequestUrl", "requestURL"]),
    (Entity::Hash, &["Hashes", "hash", "Hash", "md5", "sha1", "sha256", "fileHash", "FileHash", "Imphash"]),
];

/// Keyword values are cut to this many bytes (a term has a size limit).
const MAX_KEYWORD: usize = 1024;

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Values that say "none" (Windows writes `-`).
fn is_empty(v: &str) -> bool {
    matches!(v.trim(), "" | "-" | "N/A" | "n/a" | "null")
}

/// The entities of an alert: for each, the value of its best field present.
pub fn entities(alert: &Alert) -> Vec<(Entity, String)> {
    let mut best: [Option<(usize, String)>; 7] = Default::default();
    for (name, value) in &alert.fields {
        for (slot, (_, names)) in ENTITIES.iter().enumerate() {
            let Some(rank) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) else { continue };
            // A list-valued field (a JSON array): its first element that says something.
            let value = match value {
                vigil_parsers::Value::List(items) => {
                    items.iter().map(|v| v.as_text()).find(|v| !is_empty(v)).unwrap_or_default()
                }
                value => value.as_text(),
            };
            if is_empty(&value) || best[slot].as_ref().is_some_and(|(r, _)| *r <= rank) {
                continue;
            }
            best[slot] = Some((rank, value.into_owned()));
        }
    }
    ENTITIES.iter().zip(best).filter_map(|((e, _), v)| v.map(|(_, v)| (*e, v))).collect()
}

/// ATT&CK tactics, as Sigma tags name them (`attack.initial-access`; older rules write
/// `attack.initial_access`).
pub const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// A tag's ATT&CK tactic or techniques: `attack.execution` -> tactic `execution`;
/// `attack.t1059.001` -> techniques `t1059.001` and `t1059`.
pub fn attack(tag: &str) -> (Option<String>, Vec<String>) {
    let Some(rest) = tag.get(..7).filter(|p| p.eq_ignore_ascii_case("attack.")).map(|_| &tag[7..]) else {
        return (None, Vec::new());
    };
    let rest = rest.to_ascii_lowercase();
    let is_technique = |s: &str| s.len() == 5 && s.starts_with('t') && s[1..].bytes().all(|b| b.is_ascii_digit());
    if let Some((main, sub)) = rest.split_once('.') {
        if is_technique(main) && sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit()) {
            return (None, vec![rest.clone(), main.to_owned()]);
        }
        return (None, Vec::new());
    }
    if is_technique(&rest) {
        return (None, vec![rest]);
    }
    let tactic = rest.replace('_', "-");
    (TACTICS.contains(&tactic.as_str()).then_some(tactic), Vec::new())
}

fn kind(alert: &Alert) -> &'static str {
    if alert.correlation.is_some() {
        "correlation"
    } else if alert.building_block {
        "building_block"
    } else if alert.rule.id == crate::health::SILENT_RULE_ID {
        "health"
    } else {
        "rule"
    }
}

fn ip(v: &str) -> Option<Ipv6Addr> {
    let v = v.trim();
    let v = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(v);
    match v.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => Some(a.to_ipv6_mapped()),
        IpAddr::V6(a) => Some(a),
    }
}

/// Triage state an alert is indexed with.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TriageFields {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
}

impl TriageFields {
    pub fn of(t: &crate::triage::Triage) -> TriageFields {
        TriageFields { status: t.status.name().to_owned(), assignee: t.assignee.clone() }
    }
}

/// The document of an alert; `json` is the alert serialized.
pub(crate) fn document(f: &Fields, alert: &Alert, json: String, triage: Option<&TriageFields>) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_bytes(f.id, &id_bytes(&alert.id));
    doc.add_date(f.time, tantivy::DateTime::from_timestamp_micros(alert.time.timestamp_micros()));
    doc.add_u64(f.sort, sort_key(alert));
    doc.add_text(f.kind, kind(alert));
    doc.add_text(f.rule_id, &alert.rule.id);
    doc.add_text(f.rule_title, &alert.rule.title);
    if let Some(author) = &alert.rule.author {
        doc.add_text(f.author, author);
    }
    doc.add_text(f.level, &alert.rule.level);
    if let Some(status) = &alert.rule.status {
        doc.add_text(f.rule_status, status);
    }
    for tag in &alert.rule.tags {
        doc.add_text(f.tags, cut(tag, MAX_KEYWORD));
        let (tactic, techniques) = attack(tag);
        if let Some(t) = tactic {
            doc.add_text(f.tactic, t);
        }
        for t in techniques {
            doc.add_text(f.technique, t);
        }
    }
    if let Some(agency) = &alert.agency {
        doc.add_text(f.agency, agency);
    }
    if let Some(province) = &alert.province {
        doc.add_text(f.province, province);
    }
    if let Some(source) = &alert.source.name {
        doc.add_text(f.source, source);
    }
    if let Some(host) = &alert.host {
        doc.add_text(f.host, cut(host, MAX_KEYWORD));
    }
    for (entity, value) in entities(alert) {
        match entity {
            Entity::User => doc.add_text(f.user, cut(&value, MAX_KEYWORD)),
            Entity::SrcIp => {
                if let Some(a) = ip(&value) {
                    doc.add_ip_addr(f.src_ip, a)
                }
            }
            Entity::DstIp => {
                if let Some(a) = ip(&value) {
                    doc.add_ip_addr(f.dst_ip, a)
                }
            }
            Entity::Process => doc.add_text(f.process, cut(&value, MAX_KEYWORD)),
            Entity::CommandLine => doc.add_text(f.command_line, &value),
            Entity::Url => doc.add_text(f.url, cut(&value, MAX_KEYWORD)),
            Entity::Hash => {
                // Sysmon: `SHA1=...,MD5=...,SHA256=...,IMPHASH=...`.
                for part in value.split(',') {
                    let h = part.rsplit('=').next().unwrap_or(part).trim();
                    if h.len() >= 32 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                        doc.add_text(f.hash, h);
                    }
                }
            }
        }
    }
    // The message (the line itself when the event has no `message` field and is not JSON or
    // XML), then every field value it does not contain: most values of a syslog line are in
    // it; a JSON event's values are all there is to search.
    let structured = matches!(alert.raw.trim_start().as_bytes().first(), Some(b'{' | b'<'));
    let message = match alert.fields.get("message").map(|m| m.as_text()).filter(|m| !m.is_empty()) {
        Some(m) => Some(m),
        None if !structured => Some(std::borrow::Cow::Borrowed(alert.raw.as_str())),
        None => None,
    };
    if let Some(m) = &message {
        doc.add_text(f.message, &**m);
    }
    for (name, value) in &alert.fields {
        let value = value.as_text();
        if name != "message" && !value.is_empty() && !message.as_ref().is_some_and(|m| m.contains(&*value)) {
            doc.add_text(f.message, value);
        }
    }
    if let Some(c) = &alert.correlation {
        for m in &c.members {
            doc.add_bytes(f.member, &id_bytes(m));
        }
    }
    match triage {
        Some(t) => {
            doc.add_text(f.status, &t.status);
            if let Some(a) = &t.assignee {
                doc.add_text(f.assignee, a);
            }
        }
        None => doc.add_text(f.status, "new"),
    }
    doc.add_text(f.doc, json);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tags_split_into_tactics_and_techniques() {
        assert_eq!(attack("attack.execution"), (Some("execution".into()), vec![]));
        assert_eq!(attack("attack.initial_access"), (Some("initial-access".into()), vec![]));
        assert_eq!(attack("attack.T1059.001"), (None, vec!["t1059.001".into(), "t1059".into()]));
        assert_eq!(attack("attack.t1110"), (None, vec!["t1110".into()]));
        assert_eq!(attack("attack.g0016"), (None, vec![]));
        assert_eq!(attack("attack.s0002"), (None, vec![]));
        assert_eq!(attack("cve.2021-44228"), (None, vec![]));
        assert_eq!(attack("attack.t1059.1"), (None, vec![]));
    }

    #[test]
    fn entities_take_the_best_field_present() {
        let mut a = Alert::of_fields("00".into(), "r", chrono::Utc::now(), Default::default());
        for (k, v) in [
            ("SubjectUserName", "SYSTEM"),
            ("TargetUserName", "admin"),
            ("IpAddress", "-"),
            ("src", "10.1.2.3"),
            ("Image", "C:\\Windows\\System32\\cmd.exe"),
            ("CommandLine", "cmd /c whoami"),
        ] {
            a.fields.insert(k.into(), v.into());
        }
        let e = entities(&a);
        assert_eq!(
            e,
            vec![
                (Entity::User, "admin".into()),
                (Entity::SrcIp, "10.1.2.3".into()),
                (Entity::Process, "C:\\Windows\\System32\\cmd.exe".into()),
                (Entity::CommandLine, "cmd /c whoami".into()),
            ]
        );
        assert_eq!(ip("::ffff:10.0.0.1"), ip("10.0.0.1"));
        assert_eq!(ip("[2001:db8::1]"), "2001:db8::1".parse().ok());
        assert_eq!(ip("host.example"), None);
    }

    #[test]
    fn sort_keys_follow_time_then_id() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-30T01:02:03.004Z").map(|t| t.to_utc()).ok();
        let t = t.unwrap_or_default();
        let a = Alert::of_fields("0000000000000000000000000000ffff".into(), "r", t, Default::default());
        let b = Alert::of_fields("00000000000000000000000000000001".into(), "r", t, Default::default());
        let later = Alert::of_fields(a.id.clone(), "r", t + chrono::Duration::milliseconds(1), Default::default());
        assert!(sort_key(&b) < sort_key(&a));
        assert!(sort_key(&a) < sort_key(&later));
        assert_eq!(sort_key(&a) >> 22, t.timestamp_millis() as u64);
    }
}
