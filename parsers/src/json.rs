//! JSON events: flat objects, evtx_dump's `{"Event": {"System": ..., "EventData": ...}}`,
//! winlogbeat's ECS documents and NXLog's flat Windows events, the Windows ones flattened to the
//! field names Sigma's Windows rules use.
//!
//! | shape | recognised by | Sigma fields from |
//! |---|---|---|
//! | evtx_dump | `Event.System` | `System.*` as `EventID`, `Channel`, `Computer`, `Provider_Name`, `Provider_Guid`, `EventRecordID`, `Security_UserID`, ...; `EventData` entries and the children of `UserData`'s element under their own names (names with spaces, like Defender's `Threat Name`, also without them: `ThreatName`) |
//! | winlogbeat (ECS) | a `winlog` object | `winlog.event_id` (or `event.code`) as `EventID`, `winlog.channel` as `Channel`, `winlog.provider_name` as `Provider_Name`, `winlog.provider_guid` as `Provider_Guid`, `winlog.computer_name` (or `host.name`) as `Computer`, `winlog.record_id` as `EventRecordID`, `winlog.user.identifier` as `Security_UserID`; `winlog.event_data.*` and `winlog.user_data.*` under their own names (`Image`, `CommandLine`, ...); every other key flattened with dots (`@timestamp`, `event.code`, `host.name`, `message`, `winlog.task`, ...) |
//! | NXLog (and the OTRF datasets; its `to_syslog_ietf()` structured data is read the same way, see `payload`) | top-level `EventID` with `Channel` or `SourceName` | `EventID`, `Channel` as they are, `SourceName` as `Provider_Name`, `ProviderGuid` as `Provider_Guid`, `Hostname` as `Computer`, `UserID` as `Security_UserID`, `RecordNumber` as `EventRecordID`; the EventData keys are already top-level |
//! | flat | any other object | every key, nested objects flattened with dots, arrays of scalars joined by `, ` |
//!
//! For every Windows event `EventID` is an integer, and Security 4688 (process creation) also
//! gets Sysmon's names: `Image` (from `NewProcessName`) and `ParentImage` (from
//! `ParentProcessName`), so that Sigma's `process_creation` rules see it.
//!
//! The event time is the first of: evtx_dump's `TimeCreated.SystemTime`; an RFC 3339
//! `@timestamp`, `timestamp`, `time`, `EventTime`, `TimeCreated` or `event.created`; Sysmon's
//! `UtcTime` (UTC); a zone-less `EventTime`/`TimeCreated` (`2020-07-22 00:18:48`), read in the
//! sender's time zone ([`JsonEvent::local_time`]).
//!
//! Windows logsources: `product: windows`, the `service` of the channel (Sigma's names, as
//! pySigma's Windows pipeline maps them: `security`, `system`, `application`, `sysmon`,
//! `powershell`, `powershell-classic`, `taskscheduler`, `wmi`, `windefend`, `bits-client`,
//! `codeintegrity-operational`, `dns-server`, `driver-framework`, `firewall-as`, `applocker`,
//! `msexchange-management`, `ntlm`, `openssh`, `printservice-admin`, `printservice-operational`,
//! `security-mitigations`, `shell-core`, `smbclient-security`,
//! `terminalservices-localsessionmanager`, `appxdeployment-server`, ...; an unknown channel is
//! its lower-cased name), and a `category` from the channel and event id (see
//! [`windows_category`]).

use chrono::format::{Item, Parsed};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::borrow::Cow;

use crate::jsondoc::Doc;

use crate::event::{Fields, LogSource, Value};
use crate::names::field_name;

mod flat;
use flat::{Flat, Streamed, element, fields, flatten, flatten_winlogbeat, scalar};

/// A JSON object flattened into fields, with its event time and logsource when it carries them.
pub struct JsonEvent {
    pub fields: Fields,
    pub time: Option<DateTime<Utc>>,
    /// An event time without an offset (NXLog's `EventTime`), to be read in the sender's zone;
    /// only set when `time` is `None`.
    pub local_time: Option<NaiveDateTime>,
    pub host: Option<String>,
    pub logsource: LogSource,
}

/// An object's pairs, in document order.
type Pairs<'a> = [(Cow<'a, str>, Doc<'a>)];

/// The Windows tables (`parsers/data/windows.toml`): channels to services, (service, event
/// id) to categories, field renames and implied categories. Data, not code.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowsTables {
    channels: Vec<ChannelRow>,
    categories: Vec<CategoryRow>,
    renames: Vec<RenameRow>,
    implied: Vec<ImpliedRow>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelRow {
    channel: String,
    service: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryRow {
    service: String,
    event_ids: Vec<i64>,
    category: String,
    /// The row fits only events whose `EventType`, lowercased, starts with this.
    event_type_prefix: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameRow {
    service: String,
    event_ids: Vec<i64>,
    from: String,
    to: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImpliedRow {
    categories: Vec<String>,
    implies: Vec<String>,
}

const WINDOWS_TABLES: &str = include_str!("../data/windows.toml");

fn windows_tables() -> Result<WindowsTables, toml::de::Error> {
    toml::from_str(WINDOWS_TABLES)
}

/// The tables, read once. The file is compiled in and a unit test reads it, so it parses; were
/// it not to, no event would be given a Windows service or category (never a panic).
static TABLES: std::sync::LazyLock<WindowsTables> = std::sync::LazyLock::new(|| windows_tables().unwrap_or_default());

/// The Sigma service of a Windows event log channel (compared case-insensitively).
pub fn windows_service(channel: &str) -> Option<&'static str> {
    TABLES.channels.iter().find(|r| r.channel.eq_ignore_ascii_case(channel)).map(|r| r.service.as_str())
}

/// The Sigma category of a Windows event of `service` (Sysmon's event ids, Security 4688,
/// the PowerShell module/script/classic events...; `registry_*` for Sysmon 12 by its
/// `EventType`): the first row of the categories table that fits.
///
/// The `registry_*` categories also belong to `registry_event`: see [`implied_categories`].
pub fn windows_category(
    service: Option<&str>,
    event_id: Option<i64>,
    event_type: Option<&str>,
) -> Option<&'static str> {
    let (service, id) = (service?, event_id?);
    let event_type = event_type.map(str::to_ascii_lowercase);
    TABLES
        .categories
        .iter()
        .find(|r| {
            r.service == service
                && r.event_ids.contains(&id)
                && r.event_type_prefix
                    .as_deref()
                    .is_none_or(|p| event_type.as_deref().is_some_and(|t| t.starts_with(p)))
        })
        .map(|r| r.category.as_str())
}

/// The other Sigma categories an event of `category` belongs to: Sigma's `registry_event` is
/// the union of `registry_add`, `registry_delete`, `registry_set` and `registry_rename`, so a
/// rule for `registry_event` applies to events of any of these.
pub fn implied_categories(category: &str) -> &'static [String] {
    TABLES.implied.iter().find(|r| r.categories.iter().any(|c| c == category)).map_or(&[], |r| r.implies.as_slice())
}

/// The field renames for an event of (service, event id): `(from, to)` pairs.
fn windows_renames(service: &str, event_id: i64) -> impl Iterator<Item = (&'static str, &'static str)> {
    TABLES
        .renames
        .iter()
        .filter(move |r| r.service == service && r.event_ids.contains(&event_id))
        .map(|r| (r.from.as_str(), r.to.as_str()))
}

/// The logsource of a Windows event from its channel (or provider), event id and `EventType`.
pub fn windows_logsource(channel: &str, event_id: Option<i64>, event_type: Option<&str>) -> LogSource {
    let service = windows_service(channel);
    let category = windows_category(service, event_id, event_type);
    let mut ls = LogSource::new(Some("windows"), category, service);
    if ls.service.is_none() && !channel.is_empty() {
        ls.service = Some(channel.to_ascii_lowercase().into());
    }
    ls
}

fn text(fields: &Fields, key: &str) -> Option<String> {
    fields.get(key).map(|v| v.as_text().into_owned())
}

/// Copies `from` to `to` when `to` is not set.
fn alias(fields: &mut Fields, from: &str, to: &'static str) {
    if !fields.contains_key(to)
        && let Some(v) = fields.get(from).cloned()
    {
        fields.insert(Cow::Borrowed(to), v);
    }
}

/// Sigma names and the logsource for a flattened Windows event; `None` when the fields are not
/// a Windows event (no `EventID`, or neither `Channel` nor `Provider_Name`).
fn windows(fields: &mut Fields) -> Option<LogSource> {
    let event_id = match fields.get("EventID")? {
        Value::Int(i) => Some(*i),
        Value::Str(s) => s.trim().parse::<i64>().ok(),
        Value::Float(f) => Some(*f as i64),
        _ => None,
    };
    if !fields.contains_key("Channel") && !fields.contains_key("Provider_Name") {
        return None;
    }
    if let Some(id) = event_id {
        fields.insert("EventID".into(), Value::Int(id));
    }
    // fluentd's windows_eventlog2 (without `parse_description`) and other shippers give the
    // event data's values as one array `EventData`: Sigma's rules name it `Data`.
    if !fields.contains_key("Data")
        && let Some(list @ Value::List(_)) = fields.get("EventData")
    {
        let list = list.clone();
        fields.insert("Data".into(), list);
    }
    // Some providers (Windows Defender) name their data with spaces (`Threat Name`); Sigma's
    // rules name them without (`ThreatName`): add that name too.
    let spaced: Vec<(String, Value)> = fields
        .iter()
        .filter(|(k, _)| k.contains(' '))
        .map(|(k, v)| (k.replace(' ', ""), v.clone()))
        .filter(|(k, _)| !fields.contains_key(k.as_str()))
        .collect();
    for (k, v) in spaced {
        fields.insert(k.into(), v);
    }
    let channel = match text(fields, "Channel") {
        Some(c) => c,
        // No channel: Sysmon's provider still says where the event is from.
        None if text(fields, "Provider_Name").as_deref() == Some("Microsoft-Windows-Sysmon") => {
            "Microsoft-Windows-Sysmon/Operational".to_owned()
        }
        None => String::new(),
    };
    let logsource = windows_logsource(&channel, event_id, fields.get("EventType").map(|t| t.as_text()).as_deref());
    if let (Some(service), Some(id)) = (logsource.service.as_deref(), event_id) {
        for (from, to) in windows_renames(service, id) {
            alias(fields, from, to);
        }
    }
    Some(logsource)
}

fn rfc3339(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v.as_text().trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// `%Y-%m-%d %H:%M:%S%.f` (Sysmon's `UtcTime`, NXLog's `EventTime`) as chrono's items, so
/// that the format string is not read again for every event.
const SPACED: &[Item<'static>] = &stamp_items(Item::Space(" "));
/// `%Y-%m-%dT%H:%M:%S%.f`.
const T_SEPARATED: &[Item<'static>] = &stamp_items(Item::Literal("T"));

const fn stamp_items(separator: Item<'static>) -> [Item<'static>; 12] {
    use chrono::format::{Fixed, Numeric, Pad};
    [
        Item::Numeric(Numeric::Year, Pad::Zero),
        Item::Literal("-"),
        Item::Numeric(Numeric::Month, Pad::Zero),
        Item::Literal("-"),
        Item::Numeric(Numeric::Day, Pad::Zero),
        separator,
        Item::Numeric(Numeric::Hour, Pad::Zero),
        Item::Literal(":"),
        Item::Numeric(Numeric::Minute, Pad::Zero),
        Item::Literal(":"),
        Item::Numeric(Numeric::Second, Pad::Zero),
        Item::Fixed(Fixed::Nanosecond),
    ]
}

/// A zone-less stamp, as `NaiveDateTime::parse_from_str` with either format reads it.
fn naive_stamp(t: &str) -> Option<NaiveDateTime> {
    [SPACED, T_SEPARATED].into_iter().find_map(|items| {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, t, items.iter()).ok()?;
        parsed.to_naive_datetime_with_offset(0).ok()
    })
}

fn naive(v: &Value) -> Option<NaiveDateTime> {
    naive_stamp(v.as_text().trim())
}

/// The event time: RFC 3339 stamps, then Sysmon's `UtcTime`, then a zone-less local stamp.
fn times(fields: &Fields) -> (Option<DateTime<Utc>>, Option<NaiveDateTime>) {
    let time = ["@timestamp", "timestamp", "time", "EventTime", "TimeCreated", "event.created"]
        .iter()
        .filter_map(|k| fields.get(k))
        .find_map(rfc3339)
        .or_else(|| fields.get("UtcTime").and_then(naive).map(|t| t.and_utc()));
    if time.is_some() {
        return (time, None);
    }
    (None, ["EventTime", "TimeCreated"].iter().filter_map(|k| fields.get(k)).find_map(naive))
}

fn host(fields: &Fields) -> Option<String> {
    ["Computer", "Hostname", "host.name", "host.hostname", "host", "hostname"]
        .iter()
        .filter_map(|k| fields.get(k))
        .find(|v| matches!(v, Value::Str(s) if !s.is_empty()))
        .map(|h| h.as_text().into_owned())
}

/// evtx_dump's `{"Event": {"System": ..., "EventData": ...}}`.
pub(crate) fn evtx(event: &Doc<'_>, system: &Pairs<'_>) -> JsonEvent {
    let mut flat = Flat::with_capacity(48);
    for (k, v) in system {
        match k.as_ref() {
            "Provider" => {
                if let Some(Doc::Obj(attrs)) = v.get("#attributes") {
                    for (a, av) in attrs {
                        if let Some(s) = scalar(av) {
                            flat.push((format!("Provider_{a}").into(), s));
                        }
                    }
                }
            }
            "Security" => {
                if let Some(user) = v.path(&["#attributes", "UserID"]).and_then(scalar) {
                    flat.push(("Security_UserID".into(), user));
                }
                flatten(k, v, &mut flat);
            }
            "TimeCreated" | "Execution" | "Correlation" => flatten(k, v, &mut flat),
            _ => {
                if let Some(s) = scalar(element(v)) {
                    flat.push((field_name(k), s));
                }
            }
        }
    }
    if let Some(Doc::Obj(map)) = event.get("EventData") {
        for (k, v) in map {
            if k != "#attributes" {
                // Unnamed `<Data>` elements: `"Data": {"#text": "a"}` or `{"#text": ["a", "b"]}`,
                // a field `Data` (a list when there are several), as Sigma's rules name it.
                flatten(k, element(v), &mut flat);
            }
        }
    }
    // UserData holds one element named by the provider (`Operation_ClientFailure`,
    // `LogFileCleared`, ...) whose children are the event's fields, as Sigma names them.
    if let Some(Doc::Obj(map)) = event.get("UserData") {
        for (k, v) in map {
            match v {
                _ if k == "#attributes" => {}
                Doc::Obj(inner) => {
                    for (ik, iv) in inner {
                        if ik != "#attributes" {
                            flatten(ik, iv, &mut flat);
                        }
                    }
                }
                v => flatten(k, v, &mut flat),
            }
        }
    }
    let time = system
        .iter()
        .rev()
        .find(|(k, _)| k == "TimeCreated")
        .and_then(|(_, t)| t.path(&["#attributes", "SystemTime"]))
        .and_then(Doc::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut fields = fields(flat);
    let logsource = windows(&mut fields).unwrap_or_else(|| LogSource::new(Some("windows"), None, None));
    let host = fields.get("Computer").map(|c| c.as_text().into_owned());
    JsonEvent { fields, time, local_time: None, host, logsource }
}

/// winlogbeat: `winlog.event_data` and `winlog.user_data` go to the top level under their own
/// names; everything else is flattened with dots, then aliased to Sigma's names.
fn winlogbeat(root: &Pairs<'_>, winlog: &Pairs<'_>) -> Fields {
    let mut flat = Flat::with_capacity(64);
    flatten_winlogbeat(root, winlog, &mut flat);
    winlogbeat_names(fields(flat))
}

/// winlogbeat's flattened fields given Sigma's Windows names.
fn winlogbeat_names(mut fields: Fields) -> Fields {
    unnamed_data(&mut fields);
    alias(&mut fields, "winlog.event_id", "EventID");
    alias(&mut fields, "event.code", "EventID");
    alias(&mut fields, "winlog.channel", "Channel");
    alias(&mut fields, "winlog.provider_name", "Provider_Name");
    alias(&mut fields, "event.provider", "Provider_Name");
    alias(&mut fields, "winlog.provider_guid", "Provider_Guid");
    alias(&mut fields, "winlog.computer_name", "Computer");
    alias(&mut fields, "host.name", "Computer");
    alias(&mut fields, "winlog.record_id", "EventRecordID");
    alias(&mut fields, "winlog.user.identifier", "Security_UserID");
    fields
}

/// winlogbeat names a Windows event's unnamed `<Data>` elements `param1`, `param2`, ...;
/// Sigma's rules (and evtx_dump) see them as one field `Data`, a list in their order.
fn unnamed_data(fields: &mut Fields) {
    if fields.contains_key("Data") || !fields.contains_key("param1") {
        return;
    }
    let params: Vec<Value> = (1..).map_while(|n| fields.get(format!("param{n}").as_str()).cloned()).collect();
    let value = match <[Value; 1]>::try_from(params) {
        Ok([one]) => one,
        Err(params) => Value::List(params),
    };
    fields.insert("Data".into(), value);
}

/// NXLog's names for the System values, aliased to Sigma's.
fn nxlog(fields: &mut Fields) {
    if !fields.contains_key("EventID") {
        return;
    }
    alias(fields, "SourceName", "Provider_Name");
    alias(fields, "ProviderGuid", "Provider_Guid");
    alias(fields, "Hostname", "Computer");
    alias(fields, "UserID", "Security_UserID");
    alias(fields, "RecordNumber", "EventRecordID");
}

/// NXLog's fields of a Windows event (its JSON keys, or its `to_syslog_ietf()` structured
/// data), given Sigma's names; the Windows logsource, or `None` when they are not a Windows
/// event.
pub(crate) fn nxlog_windows(fields: &mut Fields) -> Option<LogSource> {
    nxlog(fields);
    windows(fields)
}

/// Reads a JSON object. Errors are serde_json's, with line and column.
pub fn parse(text: &str) -> Result<JsonEvent, serde_json::Error> {
    // Most objects (flat ones, NXLog's, winlogbeat's) are read without a document; evtx_dump's
    // shape is read from its document.
    let mut flat = Flat::with_capacity(64);
    if !text.trim_start().starts_with('{') {
        return document(text);
    }
    match flat::stream(text, &mut flat)? {
        Streamed::Flat => {
            let mut fields = fields(flat);
            nxlog(&mut fields);
            Ok(event(fields))
        }
        Streamed::Winlogbeat => Ok(event(winlogbeat_names(fields(flat)))),
        Streamed::Diverted => document(text),
    }
}

/// A JSON object read as a document: evtx_dump's and winlogbeat's shapes, or any object,
/// flattened.
fn document(text: &str) -> Result<JsonEvent, serde_json::Error> {
    let root = Doc::parse(text)?;
    let Doc::Obj(map) = &root else {
        return Err(serde::de::Error::custom("expected a JSON object"));
    };
    if let Some(event) = root.get("Event")
        && let Some(Doc::Obj(system)) = event.get("System")
    {
        return Ok(evtx(event, system));
    }
    let fields = match root.get("winlog") {
        Some(Doc::Obj(winlog)) => winlogbeat(map, winlog),
        _ => {
            let mut flat = Flat::with_capacity(map.len());
            flatten("", &root, &mut flat);
            let mut fields = fields(flat);
            nxlog(&mut fields);
            fields
        }
    };
    Ok(event(fields))
}

/// The event of fields read from a JSON object: their Windows names and logsource, time and
/// host.
fn event(mut fields: Fields) -> JsonEvent {
    let logsource = windows(&mut fields).unwrap_or_default();
    let (time, local_time) = times(&fields);
    let host = host(&fields);
    JsonEvent { fields, time, local_time, host, logsource }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> JsonEvent {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn s(e: &JsonEvent, k: &str) -> String {
        e.fields.get(k).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {k}>"))
    }

    #[test]
    fn winlogbeat_sysmon_process_creation() {
        let line = r#"{"@timestamp":"2026-11-23T03:00:01.123Z","event":{"code":"1","kind":"event","provider":"Microsoft-Windows-Sysmon"},"host":{"name":"ws01.corp"},"message":"Process Create:","winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WS01.corp.local","event_id":"1","provider_name":"Microsoft-Windows-Sysmon","provider_guid":"{5770385f}","record_id":42,"user":{"identifier":"S-1-5-18"},"event_data":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c whoami","ParentImage":"C:\\Windows\\explorer.exe","ProcessId":"4242"}}}"#;
        let e = ok(line);
        assert_eq!(e.fields.get("EventID"), Some(&Value::Int(1)));
        assert_eq!(s(&e, "Channel"), "Microsoft-Windows-Sysmon/Operational");
        assert_eq!(s(&e, "Provider_Name"), "Microsoft-Windows-Sysmon");
        assert_eq!(s(&e, "Provider_Guid"), "{5770385f}");
        assert_eq!(s(&e, "Computer"), "WS01.corp.local");
        assert_eq!(s(&e, "Security_UserID"), "S-1-5-18");
        assert_eq!(s(&e, "EventRecordID"), "42");
        assert_eq!(s(&e, "Image"), r"C:\Windows\System32\cmd.exe");
        assert_eq!(s(&e, "CommandLine"), "cmd /c whoami");
        assert_eq!(s(&e, "ParentImage"), r"C:\Windows\explorer.exe");
        assert_eq!(s(&e, "message"), "Process Create:");
        assert_eq!(s(&e, "host.name"), "ws01.corp");
        assert!(!e.fields.contains_key("winlog.event_data.Image"));
        assert_eq!(e.logsource, LogSource::new(Some("windows"), Some("process_creation"), Some("sysmon")));
        assert_eq!(e.host.as_deref(), Some("WS01.corp.local"));
        assert_eq!(e.time.map(|t| t.to_rfc3339()), Some("2026-11-23T03:00:01.123+00:00".into()));
    }

    #[test]
    fn winlogbeat_event_code_fallback_and_registry() {
        let e = ok(
            r#"{"event":{"code":13},"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_data":{"EventType":"SetValue","TargetObject":"HKLM\\x"}}}"#,
        );
        assert_eq!(e.fields.get("EventID"), Some(&Value::Int(13)));
        assert_eq!(e.logsource.category.as_deref(), Some("registry_set"));
        assert_eq!(implied_categories("registry_set"), &["registry_event"]);
    }

    #[test]
    fn nxlog_security_4688() {
        let line = r#"{"EventTime":"2026-11-23 10:00:01","Hostname":"DC01.corp.local","Keywords":-9214364837600034816,"EventType":"AUDIT_SUCCESS","SeverityValue":2,"Severity":"INFO","EventID":4688,"SourceName":"Microsoft-Windows-Security-Auditing","ProviderGuid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","Version":2,"Task":13312,"RecordNumber":99,"Channel":"Security","NewProcessName":"C:\\Windows\\System32\\whoami.exe","ParentProcessName":"C:\\Windows\\System32\\cmd.exe","CommandLine":"whoami /all","SubjectUserName":"alice"}"#;
        let e = ok(line);
        assert_eq!(e.fields.get("EventID"), Some(&Value::Int(4688)));
        assert_eq!(s(&e, "Provider_Name"), "Microsoft-Windows-Security-Auditing");
        assert_eq!(s(&e, "Provider_Guid"), "{54849625-5478-4994-A5BA-3E3B0328C30D}");
        assert_eq!(s(&e, "Computer"), "DC01.corp.local");
        assert_eq!(s(&e, "Image"), r"C:\Windows\System32\whoami.exe");
        assert_eq!(s(&e, "ParentImage"), r"C:\Windows\System32\cmd.exe");
        assert_eq!(s(&e, "CommandLine"), "whoami /all");
        assert_eq!(e.logsource, LogSource::new(Some("windows"), Some("process_creation"), Some("security")));
        assert_eq!(e.time, None);
        assert_eq!(e.local_time.map(|t| t.to_string()), Some("2026-11-23 10:00:01".into()));
        assert_eq!(e.host.as_deref(), Some("DC01.corp.local"));
    }

    #[test]
    fn event_id_as_text_and_lower_case_channel() {
        let e = ok(r#"{"EventID":"4624","Channel":"security","Hostname":"h"}"#);
        assert_eq!(e.fields.get("EventID"), Some(&Value::Int(4624)));
        assert_eq!(e.logsource, LogSource::new(Some("windows"), None, Some("security")));
        let e = ok(r#"{"EventID":1,"SourceName":"Microsoft-Windows-Sysmon","UtcTime":"2020-10-19 04:29:00.004"}"#);
        assert_eq!(e.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(e.time.map(|t| t.to_rfc3339()), Some("2020-10-19T04:29:00.004+00:00".into()));
    }

    #[test]
    fn categories_and_services() {
        let cat = |ch: &str, id: i64, t: Option<&str>| windows_logsource(ch, Some(id), t).category;
        let sysmon = "Microsoft-Windows-Sysmon/Operational";
        for (id, want) in [
            (2, "file_change"),
            (5, "process_termination"),
            (6, "driver_load"),
            (8, "create_remote_thread"),
            (9, "raw_access_thread"),
            (10, "process_access"),
            (14, "registry_rename"),
            (15, "create_stream_hash"),
            (17, "pipe_created"),
            (18, "pipe_created"),
            (19, "wmi_event"),
            (21, "wmi_event"),
            (23, "file_delete"),
            (26, "file_delete"),
            (25, "process_tampering"),
        ] {
            assert_eq!(cat(sysmon, id, None).as_deref(), Some(want), "{id}");
        }
        assert_eq!(cat(sysmon, 12, Some("CreateKey")).as_deref(), Some("registry_add"));
        assert_eq!(cat(sysmon, 12, Some("DeleteValue")).as_deref(), Some("registry_delete"));
        assert_eq!(cat(sysmon, 12, None).as_deref(), Some("registry_event"));
        assert_eq!(cat("Microsoft-Windows-PowerShell/Operational", 4104, None).as_deref(), Some("ps_script"));
        assert_eq!(cat("Windows PowerShell", 400, None).as_deref(), Some("ps_classic_start"));
        assert_eq!(cat("Security", 4624, None), None);
        for (channel, service) in [
            ("Microsoft-Windows-TaskScheduler/Operational", "taskscheduler"),
            ("Microsoft-Windows-WMI-Activity/Operational", "wmi"),
            ("Microsoft-Windows-Windows Defender/Operational", "windefend"),
            ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall", "firewall-as"),
            ("Microsoft-Windows-AppLocker/EXE and DLL", "applocker"),
            ("MSExchange Management", "msexchange-management"),
            ("Microsoft-Windows-NTLM/Operational", "ntlm"),
            ("OpenSSH/Operational", "openssh"),
            ("Microsoft-Windows-Bits-Client/Operational", "bits-client"),
            ("Microsoft-Windows-CodeIntegrity/Operational", "codeintegrity-operational"),
            ("DNS Server", "dns-server"),
            ("Microsoft-Windows-DriverFrameworks-UserMode/Operational", "driver-framework"),
            ("Microsoft-Windows-PrintService/Operational", "printservice-operational"),
            ("Microsoft-Windows-Security-Mitigations/Kernel Mode", "security-mitigations"),
            ("Microsoft-Windows-Shell-Core/Operational", "shell-core"),
            ("Microsoft-Windows-SmbClient/Security", "smbclient-security"),
            (
                "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
                "terminalservices-localsessionmanager",
            ),
            ("Microsoft-Windows-AppXDeploymentServer/Operational", "appxdeployment-server"),
            ("Microsoft-Windows-Sysmon/Operational", "sysmon"),
            ("PowerShellCore/Operational", "powershell"),
            ("Windows PowerShell", "powershell-classic"),
            ("Some-Vendor/Admin", "some-vendor/admin"),
        ] {
            assert_eq!(windows_logsource(channel, Some(1), None).service.as_deref(), Some(service), "{channel}");
        }
    }

    #[test]
    fn windows_tables_parse() {
        let tables = windows_tables().unwrap_or_else(|e| panic!("parsers/data/windows.toml: {e}"));
        assert!(tables.channels.len() >= 40);
        assert!(tables.categories.iter().any(|r| r.category == "process_creation"));
        assert_eq!(windows_service("microsoft-windows-sysmon/operational"), Some("sysmon"));
        assert_eq!(windows_category(Some("sysmon"), Some(12), Some("DeleteValue")), Some("registry_delete"));
        assert_eq!(windows_category(Some("sysmon"), Some(12), Some("CreateKey")), Some("registry_add"));
        assert_eq!(windows_category(Some("sysmon"), Some(12), None), Some("registry_event"));
        assert_eq!(windows_category(Some("security"), Some(4624), None), None);
    }

    #[test]
    fn fields_of_one_shape_are_sorted_as_the_map_sorts_them() {
        // The same shape three times (the order reused), with a name given twice, then
        // another shape, then a name that is not interned: each as inserting one by one gives.
        let flats: Vec<Flat> = vec![
            vec![("b".into(), Value::Int(1)), ("a".into(), Value::Int(2)), ("b".into(), Value::Int(3))],
            vec![("b".into(), Value::Int(4)), ("a".into(), Value::Int(5)), ("b".into(), Value::Int(6))],
            vec![("b".into(), Value::Int(7)), ("a".into(), Value::Int(8)), ("b".into(), Value::Int(9))],
            vec![("c".into(), Value::Int(1)), ("a".into(), Value::Int(2))],
            vec![(Cow::Owned("z".into()), Value::Int(1)), ("a".into(), Value::Int(2))],
        ];
        for flat in flats {
            let mut inserted = Fields::new();
            for (k, v) in flat.clone() {
                inserted.insert(k, v);
            }
            assert_eq!(fields(flat), inserted);
        }
        // Through the parser: two events of one shape, values kept apart.
        let a = ok(r#"{"EventID":1,"Channel":"x","Image":"a","CommandLine":"b"}"#);
        let b = ok(r#"{"EventID":1,"Channel":"x","Image":"c","CommandLine":"d"}"#);
        assert_eq!((s(&a, "Image"), s(&b, "Image"), s(&b, "CommandLine")), ("a".into(), "c".into(), "d".into()));
    }

    #[test]
    fn stamps_read_as_the_format_strings_read_them() {
        let cases = [
            "2026-12-04 08:00:00.000",
            "2026-12-04T08:00:00.123456789",
            "2026-12-04 08:00:00",
            "2026-12-04T08:00:00",
            "2026-12-04  08:00:00.5",
            "2026-12-04t08:00:00",
            "2026-02-30 08:00:00",
            "2026-12-04 24:00:00",
            "2026-12-04 23:59:60.250",
            "2026-12-04 08:00",
            "2026-12-04 08:00:00.000Z",
            "2026-12-04 08:00:00.",
            "26-12-04 08:00:00",
            "+2026-12-04 08:00:00",
            "2026-1-4 8:0:0",
            "",
        ];
        for t in cases {
            let by_format = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
                .ok();
            assert_eq!(naive_stamp(t), by_format, "{t:?}");
        }
        assert!(naive_stamp("2026-12-04 08:00:00.000").is_some());
    }

    #[test]
    fn unnamed_data_elements_are_one_list_field() {
        // evtx_dump: several unnamed `<Data>` elements, then one.
        let e = ok(
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"MSSQLSERVER"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":15457},"Channel":"Application","Computer":"db01"},"EventData":{"Data":{"#text":["xp_cmdshell","0","1"]},"Binary":"6143"}}}"##,
        );
        assert_eq!(e.fields.get("Data"), Some(&Value::List(vec!["xp_cmdshell".into(), "0".into(), "1".into()])));
        assert_eq!(e.fields.get("EventID"), Some(&Value::Int(15457)));
        assert_eq!(s(&e, "Binary"), "6143");
        let e = ok(
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"ESENT"}},"EventID":216,"Channel":"Application"},"EventData":{"Data":{"#text":"C:\ntds.dit"}}}}"##,
        );
        assert_eq!(e.fields.get("Data"), Some(&Value::from("C:\ntds.dit")));
        // winlogbeat: `param1`..`paramN`, in order.
        let e = ok(
            r#"{"winlog":{"channel":"Application","provider_name":"MSSQLSERVER","event_id":15457,"event_data":{"param1":"xp_cmdshell","param2":"0","param3":"1"}}}"#,
        );
        assert_eq!(e.fields.get("Data"), Some(&Value::List(vec!["xp_cmdshell".into(), "0".into(), "1".into()])));
        // fluentd's `EventData` array of values.
        let e = ok(
            r#"{"EventID":15457,"Channel":"Application","ProviderName":"MSSQLSERVER","EventData":["xp_cmdshell","0","1"]}"#,
        );
        assert_eq!(e.fields.get("Data"), Some(&Value::List(vec!["xp_cmdshell".into(), "0".into(), "1".into()])));
        // A JSON array anywhere is a list, nested arrays flattened into it.
        let e = ok(r#"{"tags":["a",["b",3]],"empty":[]}"#);
        assert_eq!(e.fields.get("tags"), Some(&Value::List(vec!["a".into(), "b".into(), Value::Int(3)])));
        assert_eq!(e.fields.get("empty"), Some(&Value::List(Vec::new())));
    }

    #[test]
    fn flat_json_is_not_windows() {
        let e = ok(r#"{"time":"2026-11-23T10:00:00+07:00","host":"x","EventID":5,"a":{"b":[1,"two"]}}"#);
        assert_eq!(e.logsource, LogSource::default());
        assert_eq!(s(&e, "a.b"), "1, two");
        assert_eq!(e.host.as_deref(), Some("x"));
        assert_eq!(e.time.map(|t| t.to_rfc3339()), Some("2026-11-23T03:00:00+00:00".into()));
        assert!(parse("[1,2]").is_err());
        assert!(parse("{").is_err());
    }
}
