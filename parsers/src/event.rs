//! The [`Event`]: what every parser produces and every later stage consumes.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// A field value. Syslog fields are text; JSON payloads keep their numbers and booleans so that
/// Sigma's `EventID: 4688` compares as a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Text. Up to 24 bytes are kept inline, without a heap allocation: most field values
    /// (addresses, ports, users, programs, severities) are that short.
    Str(CompactString),
    /// Several values in one field: a Windows event's unnamed `<Data>` elements (evtx_dump's
    /// `"Data": {"#text": [...]}`), winlogbeat's `param1`..`paramN`, a JSON array. A Sigma
    /// comparison matches such a field when any element matches (`|all`: each value some
    /// element). Its elements are never lists themselves.
    List(Vec<Value>),
}

impl Value {
    /// The value as text, as Sigma string comparisons see it.
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Float(f) => Cow::Owned(f.to_string()),
            Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Null => Cow::Borrowed(""),
            // What keyword search and people see; comparisons look at each element instead.
            Value::List(items) => match items.as_slice() {
                [one] => one.as_text(),
                _ => Cow::Owned(items.iter().map(|v| v.as_text()).collect::<Vec<_>>().join(", ")),
            },
        }
    }

    /// The value as a number, when it is one or is text that reads as one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Bool(_) | Value::Null | Value::List(_) => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(CompactString::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(CompactString::from(s))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_text())
    }
}

/// A field name: borrowed for the names parsers know in advance (most of them), owned for
/// names read from the input (JSON keys, key=value pairs, structured data), so that the common
/// path allocates no field names.
pub type FieldName = Cow<'static, str>;

pub use crate::fields::Fields;

/// The Sigma logsource an event belongs to. Rules are only evaluated on events of their
/// logsource: a rule that names a product, category or service never matches an event whose
/// logsource lacks it or says otherwise. The names are short: they are kept inline, without a
/// heap allocation per event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSource {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<CompactString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<CompactString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<CompactString>,
}

impl LogSource {
    pub fn new(product: Option<&str>, category: Option<&str>, service: Option<&str>) -> Self {
        LogSource {
            product: product.map(CompactString::from),
            category: category.map(CompactString::from),
            service: service.map(CompactString::from),
        }
    }
}

/// The wire format an event was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Rfc5424,
    Rfc3164,
    /// A JSON object (NDJSON line, or JSON carried as a syslog message).
    Json,
    /// A Windows event as XML (`<Event xmlns=...>`), alone on its line.
    Xml,
    /// A web server access log line (combined/common log format).
    AccessLog,
    /// An ArcSight CEF line without a syslog header (`CEF:0|...`, optionally after a PRI).
    Cef,
    /// An IBM QRadar LEEF 1.0/2.0 line without a syslog header.
    Leef,
    /// A key=value line without a syslog header (FortiGate's `date=... time=... devname=...`).
    Kv,
    /// A line without a syslog header read by one of the well-known plain log grammars
    /// (Android logcat, HDFS, Hadoop/Spark/ZooKeeper, BGL, Apache error log, raw auditd...):
    /// the `log_format` field says which.
    Plain,
    /// A line no header grammar recognised: kept whole as the message.
    Unparsed,
}

/// One RFC 5424 structured-data element: `[id name="value" ...]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdElement {
    pub id: String,
    pub params: Vec<(String, String)>,
}

/// Who sent an event: the configured source it was attributed to, and that source's agency
/// and province. Shared by every event of the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The source's name in the configuration.
    pub source: String,
    pub agency: String,
    pub province: String,
}

/// A parsed log event.
///
/// `fields` is the single place matching looks: header values (`app`, `pid`, `msgid`,
/// `facility`, `severity`, `host`, `message`), structured data (`sd.ID.NAME`) and everything a
/// payload extractor found (for example sshd's `user` and `src_ip`, or a Windows event's
/// `EventID` and `CommandLine`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event time in UTC: the header's time, or the receive time when the header has none.
    pub time: DateTime<Utc>,
    /// When vigil received the line.
    pub received: DateTime<Utc>,
    pub host: Option<String>,
    pub structured_data: Vec<SdElement>,
    pub fields: Fields,
    pub logsource: LogSource,
    pub format: Format,
    /// The line as received, lossily decoded as UTF-8, without its framing.
    pub raw: String,
    /// The sender's source, agency and province, when the event came from a configured
    /// source (the engine always sets it; a bare parse has none).
    pub origin: Option<Arc<Origin>>,
}

impl Event {
    /// A field by name, as Sigma rules name it.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// The event's message: the syslog message, or a JSON event's `message`/`Message`; empty
    /// when it has none. Kept once, as the `message` field.
    pub fn message(&self) -> Cow<'_, str> {
        self.fields.get("message").or_else(|| self.fields.get("Message")).map_or(Cow::Borrowed(""), Value::as_text)
    }

    pub(crate) fn set(&mut self, name: impl Into<FieldName>, value: impl Into<Value>) {
        self.fields.insert(name.into(), value.into());
    }
}
