//! Windows events as XML, one `<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">`
//! per line: what Windows Event Forwarding, `wevtutil qe /f:xml`, NXLog's `to_xml()` and many
//! relays send. The XML is read with quick-xml into the shape evtx_dump gives, then flattened
//! exactly like evtx_dump's JSON ([`crate::json`]): `EventID`, `Channel`, `Provider_Name`,
//! `Computer`, `EventRecordID`, `Security_UserID`, the `EventData` `<Data Name="...">` values
//! under their names, `UserData`'s children, and the logsource of the channel and event id.
//! `RenderingInfo`'s `Message` (present when the sender rendered the event) is the `Message`
//! field.
//!
//! An Event Viewer copy, with `- ` before each element, is read too.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event as Xml};
use serde_json::{Map, Value as Json};

use crate::event::Value;
use crate::json::JsonEvent;

/// Deeper than any Windows event; a guard against hostile input.
const MAX_DEPTH: usize = 32;

/// Whether a line (or a syslog message) is a Windows XML event.
pub fn looks_like(text: &str) -> bool {
    let t = text.trim_start();
    let t = t.strip_prefix("- ").unwrap_or(t);
    t.starts_with("<Event ") || t.starts_with("<Event>")
}

struct Node {
    name: String,
    attrs: Map<String, Json>,
    children: Map<String, Json>,
    text: String,
}

impl Node {
    fn new(e: &BytesStart<'_>) -> Result<Node, String> {
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let mut attrs = Map::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            if key == "xmlns" || a.key.as_ref().starts_with(b"xmlns:") {
                continue;
            }
            let value = a.unescape_value().map_err(|e| e.to_string())?;
            attrs.insert(key, Json::String(value.into_owned()));
        }
        Ok(Node { name, attrs, children: Map::new(), text: String::new() })
    }

    /// The node as evtx_dump writes it, and the key its parent keeps it under.
    fn finish(self) -> (String, Json) {
        let text = self.text.trim().to_owned();
        // `<Data Name="SubjectUserName">alice</Data>`: a value named by its attribute.
        if self.name == "Data"
            && let Some(Json::String(name)) = self.attrs.get("Name")
        {
            return (name.clone(), Json::String(text));
        }
        let value = if self.children.is_empty() && self.attrs.is_empty() {
            Json::String(text)
        } else {
            let mut map = self.children;
            if !self.attrs.is_empty() {
                map.insert("#attributes".into(), Json::Object(self.attrs));
            }
            if !text.is_empty() {
                map.insert("#text".into(), Json::String(text));
            }
            Json::Object(map)
        };
        (self.name, value)
    }

    fn add(&mut self, key: String, value: Json) {
        match self.children.get_mut(&key) {
            // A repeated element (unnamed `<Data>` values): a list, as evtx_dump writes it.
            Some(Json::Array(items)) => items.push(value),
            Some(existing) => {
                let first = std::mem::take(existing);
                *existing = Json::Array(vec![first, value]);
            }
            None => {
                self.children.insert(key, value);
            }
        }
    }
}

/// Reads a Windows XML event. Errors are quick-xml's, or say what is missing.
pub fn parse(text: &str) -> Result<JsonEvent, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<(String, Json)> = None;
    loop {
        let event = reader.read_event().map_err(|e| format!("at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Xml::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(Node::new(&e)?);
            }
            Xml::Empty(e) => {
                let (key, value) = Node::new(&e)?.finish();
                match stack.last_mut() {
                    Some(parent) => parent.add(key, value),
                    None => root = Some((key, value)),
                }
            }
            Xml::Text(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&t.unescape().map_err(|e| e.to_string())?);
                }
            }
            Xml::CData(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Xml::End(_) => {
                let Some(node) = stack.pop() else { return Err("unbalanced end tag".into()) };
                let (key, value) = node.finish();
                match stack.last_mut() {
                    Some(parent) => parent.add(key, value),
                    None => {
                        root = Some((key, value));
                        break;
                    }
                }
            }
            Xml::Eof => break,
            _ => {}
        }
        if root.is_some() && stack.is_empty() {
            break;
        }
    }
    if !stack.is_empty() {
        return Err("the event ends before its closing tags".into());
    }
    let Some((name, event)) = root else { return Err("no element".into()) };
    if name != "Event" {
        return Err(format!("the root element is <{name}>, not <Event>"));
    }
    let event_doc = crate::jsondoc::Doc::of_json(&event);
    let Some(system) = event_doc.get("System").and_then(crate::jsondoc::Doc::as_object) else {
        return Err("no <System> element".into());
    };
    let mut parsed = crate::json::evtx(&event_doc, system);
    if let Some(message) = event.pointer("/RenderingInfo/Message").and_then(Json::as_str)
        && !message.is_empty()
    {
        parsed.fields.entry("Message".into()).or_insert_with(|| Value::from(message));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGON_FAILURE: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing" Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}" /><EventID>4625</EventID><Version>0</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords><TimeCreated SystemTime="2026-11-23T03:00:01.9027913Z" /><EventRecordID>2559</EventRecordID><Correlation ActivityID="{31491fb2-5b07-0001-4d20-4931075bd801}" /><Execution ProcessID="712" ThreadID="20372" /><Channel>Security</Channel><Computer>dc01.tinh.gov.vn</Computer><Security /></System><EventData><Data Name="SubjectUserSid">S-1-0-0</Data><Data Name="TargetUserName">administrator</Data><Data Name="TargetDomainName">TINH</Data><Data Name="Status">0xc000006d</Data><Data Name="LogonType">3</Data><Data Name="IpAddress">203.0.113.9</Data><Data Name="IpPort">52044</Data><Data Name="WorkstationName">-</Data><Data Name="ProcessName">C:\Windows\System32\lsass.exe &amp; more</Data></EventData><RenderingInfo Culture="en-US"><Message>An account failed to log on.</Message></RenderingInfo></Event>"#;

    fn s(e: &JsonEvent, k: &str) -> String {
        e.fields.get(k).map(|v| v.as_text().into_owned()).unwrap_or_else(|| format!("<no {k}>"))
    }

    #[test]
    fn security_logon_failure() {
        let e = parse(LOGON_FAILURE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.fields.get("EventID"), Some(&Value::Int(4625)));
        for (k, v) in [
            ("Channel", "Security"),
            ("Provider_Name", "Microsoft-Windows-Security-Auditing"),
            ("Computer", "dc01.tinh.gov.vn"),
            ("EventRecordID", "2559"),
            ("TargetUserName", "administrator"),
            ("IpAddress", "203.0.113.9"),
            ("LogonType", "3"),
            ("ProcessName", r"C:\Windows\System32\lsass.exe & more"),
            ("Message", "An account failed to log on."),
        ] {
            assert_eq!(s(&e, k), v, "{k}");
        }
        assert_eq!(e.time.map(|t| t.to_rfc3339()), Some("2026-11-23T03:00:01.902791300+00:00".into()));
        assert_eq!(e.host.as_deref(), Some("dc01.tinh.gov.vn"));
        assert_eq!(
            (e.logsource.product.as_deref(), e.logsource.service.as_deref()),
            (Some("windows"), Some("security"))
        );
    }

    #[test]
    fn sysmon_user_data_and_viewer_copies() {
        let sysmon = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"/><EventID>1</EventID><TimeCreated SystemTime="2026-11-23T03:00:02.000Z"/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws01</Computer><Security UserID="S-1-5-18"/></System><EventData><Data Name="Image">C:\Windows\System32\cmd.exe</Data><Data Name="CommandLine">cmd /c "whoami"</Data></EventData></Event>"#;
        let e = parse(sysmon).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (s(&e, "Image"), s(&e, "CommandLine")),
            (r"C:\Windows\System32\cmd.exe".into(), r#"cmd /c "whoami""#.into())
        );
        assert_eq!(s(&e, "Security_UserID"), "S-1-5-18");
        assert_eq!(e.logsource.category.as_deref(), Some("process_creation"));

        let cleared = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Eventlog"/><EventID>1102</EventID><Channel>Security</Channel><Computer>dc01</Computer></System><UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog"><SubjectUserName>mallory</SubjectUserName></LogFileCleared></UserData></Event>"#;
        let e = parse(cleared).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s(&e, "EventID"), s(&e, "SubjectUserName")), ("1102".into(), "mallory".into()));

        let viewer = "- <Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">- <System>  <Provider Name=\"Microsoft-Windows-Security-Auditing\" />   <EventID>4625</EventID> <Channel>Security</Channel>  </System>- <EventData>  <Data Name=\"TargetUserName\">bob</Data>  </EventData>  </Event>";
        assert!(looks_like(viewer));
        let e = parse(viewer.trim_start_matches("- ")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s(&e, "TargetUserName"), "bob");
    }

    #[test]
    fn unnamed_data_elements_are_one_list_field() {
        let xml = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="PowerShell"/><EventID Qualifiers="0">400</EventID><Channel>Windows PowerShell</Channel><Computer>ws01</Computer></System><EventData><Data>Available</Data><Data>None</Data><Data>NewEngineState=Available HostVersion=5.1 EngineVersion=2.0</Data></EventData></Event>"#;
        let e = parse(xml).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            e.fields.get("Data"),
            Some(&Value::List(vec![
                "Available".into(),
                "None".into(),
                "NewEngineState=Available HostVersion=5.1 EngineVersion=2.0".into()
            ]))
        );
        assert_eq!(e.logsource.category.as_deref(), Some("ps_classic_start"));
    }

    #[test]
    fn malformed_xml_is_an_error_never_a_panic() {
        for bad in [
            "<Event>",
            "<Event><System></Event>",
            "<Event></Event>",
            "<Other><System/></Other>",
            "<Event><System><EventID>1</EventID></System>",
            "<Event a='1' a='2'><System/></Event>",
            "<Event><System><EventID>&bogus;</EventID></System></Event>",
            &"<a>".repeat(100),
            "",
            "<",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
