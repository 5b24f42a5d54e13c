//! JSON events: flat objects, and evtx_dump's `{"Event": {"System": ..., "EventData": ...}}`,
//! flattened to the field names Sigma's Windows rules use.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::event::{Fields, LogSource, Value};

/// A JSON object flattened into fields, with its event time and logsource when it carries them.
pub struct JsonEvent {
    pub fields: Fields,
    pub time: Option<DateTime<Utc>>,
    pub host: Option<String>,
    pub logsource: LogSource,
}

fn scalar(v: &Json) -> Option<Value> {
    Some(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64()?),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(_) | Json::Object(_) => return None,
    })
}

/// Flattens nested objects as `a.b.c`; arrays of scalars become their text joined by `, `.
fn flatten(prefix: &str, v: &Json, out: &mut Fields) {
    match v {
        Json::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        Json::Array(items) => {
            let text: Vec<String> = items.iter().filter_map(scalar).map(|s| s.as_text().into_owned()).collect();
            out.insert(prefix.to_owned(), Value::Str(text.join(", ")));
        }
        other => {
            if let Some(s) = scalar(other) {
                out.insert(prefix.to_owned(), s);
            }
        }
    }
}

/// The value of an evtx_dump element: the element itself, or its `#text` when it has attributes.
fn element(v: &Json) -> &Json {
    v.get("#text").unwrap_or(v)
}

fn windows_logsource(channel: &str, event_id: Option<i64>) -> LogSource {
    let service = match channel {
        "Security" => Some("security"),
        "System" => Some("system"),
        "Application" => Some("application"),
        "Microsoft-Windows-Sysmon/Operational" => Some("sysmon"),
        "Windows PowerShell" => Some("powershell-classic"),
        "Microsoft-Windows-PowerShell/Operational" => Some("powershell"),
        _ => None,
    };
    let category = match (service, event_id) {
        (Some("sysmon"), Some(1)) | (Some("security"), Some(4688)) => Some("process_creation"),
        (Some("sysmon"), Some(3)) => Some("network_connection"),
        (Some("sysmon"), Some(7)) => Some("image_load"),
        (Some("sysmon"), Some(11)) => Some("file_event"),
        (Some("sysmon"), Some(22)) => Some("dns_query"),
        _ => None,
    };
    let mut ls = LogSource::new(Some("windows"), category, service);
    // Sysmon's categorised events are matched by category; the service stays for rules that
    // name it.
    if ls.service.is_none() {
        ls.service = Some(channel.to_ascii_lowercase());
    }
    ls
}

/// Reads a JSON object. Errors are serde_json's, with line and column.
pub fn parse(text: &str) -> Result<JsonEvent, serde_json::Error> {
    let root: Json = serde_json::from_str(text)?;
    let mut fields = Fields::new();
    if let Some(system) = root.get("Event").and_then(|e| e.get("System")) {
        let event = &root["Event"];
        for (k, v) in system.as_object().into_iter().flatten() {
            match k.as_str() {
                "Provider" => {
                    if let Some(Json::Object(attrs)) = v.get("#attributes") {
                        for (a, av) in attrs {
                            if let Some(s) = scalar(av) {
                                fields.insert(format!("Provider_{a}"), s);
                            }
                        }
                    }
                }
                "TimeCreated" | "Execution" | "Security" | "Correlation" => {
                    flatten(k, v, &mut fields);
                }
                _ => {
                    if let Some(s) = scalar(element(v)) {
                        fields.insert(k.clone(), s);
                    }
                }
            }
        }
        for data in ["EventData", "UserData"] {
            if let Some(Json::Object(map)) = event.get(data) {
                for (k, v) in map {
                    if k == "#attributes" {
                        continue;
                    }
                    flatten(k, v, &mut fields);
                }
            }
        }
        let time = system
            .pointer("/TimeCreated/#attributes/SystemTime")
            .and_then(Json::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        let host = fields.get("Computer").map(|c| c.as_text().into_owned());
        let channel = fields.get("Channel").map(|c| c.as_text().into_owned()).unwrap_or_default();
        let event_id = fields.get("EventID").and_then(Value::as_f64).map(|f| f as i64);
        let logsource = windows_logsource(&channel, event_id);
        return Ok(JsonEvent { fields, time, host, logsource });
    }
    if !root.is_object() {
        return Err(serde::de::Error::custom("expected a JSON object"));
    }
    flatten("", &root, &mut fields);
    let time = ["@timestamp", "timestamp", "time", "EventTime", "TimeCreated"]
        .iter()
        .filter_map(|k| fields.get(*k))
        .find_map(|t| DateTime::parse_from_rfc3339(&t.as_text()).ok())
        .map(|t| t.with_timezone(&Utc));
    let host = ["Computer", "Hostname", "host", "hostname"]
        .iter()
        .find_map(|k| fields.get(*k))
        .map(|h| h.as_text().into_owned());
    let logsource = match fields.get("Channel").map(|c| c.as_text().into_owned()) {
        Some(channel) if fields.contains_key("EventID") => {
            let event_id = fields.get("EventID").and_then(Value::as_f64).map(|f| f as i64);
            windows_logsource(&channel, event_id)
        }
        _ => LogSource::default(),
    };
    Ok(JsonEvent { fields, time, host, logsource })
}
