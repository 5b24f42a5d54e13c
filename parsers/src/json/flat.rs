//! JSON objects flattened into fields: nested objects as `a.b.c`, an array as a
//! [`Value::List`] of its scalars. Two readers give the same fields: [`flatten`] (and
//! [`flatten_winlogbeat`]) walk a parsed [`Doc`] (evtx_dump's shape, which looks up its
//! `System` part first), and [`stream`] flattens while serde_json reads, building no tree: the
//! flat objects most senders write (NXLog's Windows events among them) and winlogbeat's need
//! nothing else, and the tree's allocations, copies of escaped strings and frees were a third
//! of their parse (BENCHMARKS.md).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::event::{FieldName, Fields, Value};
use crate::jsondoc::Doc;
use crate::names::{field_name, identity};

/// Fields as flattened, in document order. They become [`Fields`] at once ([`fields`]): a sort
/// and a bulk build, faster than inserting each, and a name given twice keeps its last value,
/// as inserting did.
pub(super) type Flat = Vec<(FieldName, Value)>;

/// A scalar as a field value; `None` for an array or object.
pub(super) fn scalar(v: &Doc<'_>) -> Option<Value> {
    Some(match v {
        Doc::Null => Value::Null,
        Doc::Bool(b) => Value::Bool(*b),
        Doc::Int(i) => Value::Int(*i),
        Doc::Float(f) => Value::Float(*f),
        Doc::Str(s) => Value::from(s.as_ref()),
        Doc::Arr(_) | Doc::Obj(_) => return None,
    })
}

/// The last shape of event a thread read: its field names as interned (their addresses and
/// lengths), and the order that sorts them. A sender's events mostly have one shape (the
/// same thirty names in the same order), so the sort is done once per shape, not per event.
#[derive(Default)]
struct Shape {
    names: Vec<(usize, usize)>,
    order: Vec<u32>,
}

thread_local! {
    static SHAPE: std::cell::RefCell<Shape> = std::cell::RefCell::new(Shape::default());
}

/// The map of flattened fields; of a name given twice, the last value.
pub(super) fn fields(flat: Flat) -> Fields {
    // Sorted stably, the last of equal names kept ([`Fields::from_sorted`]).
    let identity = |(name, _): &(FieldName, Value)| identity(name);
    if flat.len() < 2 || flat.iter().any(|f| identity(f).is_none()) {
        return flat.into_iter().collect();
    }
    SHAPE.with_borrow_mut(|shape| {
        let same =
            shape.names.len() == flat.len() && flat.iter().zip(&shape.names).all(|(f, n)| identity(f) == Some(*n));
        if !same {
            // The same identities are the same names ([`identity`]): the order found for
            // these holds for the next event of the same shape.
            shape.names.clear();
            shape.names.extend(flat.iter().filter_map(identity));
            shape.order.clear();
            shape.order.extend(0..flat.len() as u32);
            shape.order.sort_by(|&a, &b| flat[a as usize].0.cmp(&flat[b as usize].0));
        }
        let mut slots: Vec<Option<(FieldName, Value)>> = flat.into_iter().map(Some).collect();
        Fields::from_sorted(shape.order.iter().filter_map(|&i| slots.get_mut(i as usize)?.take()).collect())
    })
}

/// Flattens nested objects as `a.b.c`; an array becomes a [`Value::List`] of its scalars
/// (nested arrays flattened into it, objects left out), so that a comparison matches when any
/// element does. Names are interned ([`field_name`]).
pub(super) fn flatten(prefix: &str, v: &Doc<'_>, out: &mut Flat) {
    match v {
        Doc::Obj(map) => {
            for (k, v) in map {
                if prefix.is_empty() {
                    flatten(k, v, out);
                } else {
                    flatten(&format!("{prefix}.{k}"), v, out);
                }
            }
        }
        Doc::Arr(items) => {
            let mut list = Vec::with_capacity(items.len());
            list_elements(items, &mut list);
            out.push((field_name(prefix), Value::List(list)));
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push((field_name(prefix), s));
            }
        }
    }
}

/// The scalars of a JSON array, in order: nested arrays flattened, an evtx_dump element
/// (`{"#attributes": ..., "#text": ...}`) as its text, other objects left out.
fn list_elements(items: &[Doc<'_>], out: &mut Vec<Value>) {
    for item in items {
        match element(item) {
            Doc::Arr(inner) => list_elements(inner, out),
            other => out.extend(scalar(other)),
        }
    }
}

/// The value of an evtx_dump element: the element itself, or its `#text` when it has attributes
/// (or is only text: unnamed `<Data>` elements are `"Data": {"#text": [...]}`).
pub(super) fn element<'d, 'a>(v: &'d Doc<'a>) -> &'d Doc<'a> {
    v.get("#text").unwrap_or(v)
}

/// What [`stream`] read.
#[derive(Debug, PartialEq)]
pub(super) enum Streamed {
    /// An object, flattened.
    Flat,
    /// winlogbeat's shape: an object with a `winlog` object, flattened as [`flatten_winlogbeat`]
    /// flattens its document.
    Winlogbeat,
    /// An object with a top-level `Event` (evtx_dump's shape) or a second `winlog`, read up to
    /// that key: read it again as a document.
    Diverted,
}

/// Reads a JSON object and flattens it as [`flatten`] (or, with a `winlog` object,
/// [`flatten_winlogbeat`]) flattens its [`Doc`], without building the document. The text should
/// hold an object: another value is flattened under the empty name. Errors are serde_json's,
/// with position.
pub(super) fn stream(text: &str, out: &mut Flat) -> Result<Streamed, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut prefix = String::with_capacity(64);
    let mut top = Top { diverted: false, winlog_seen: false, winlog: None };
    let read =
        Field { prefix: &mut prefix, out: &mut *out, top: Some(&mut top) }.deserialize(&mut de).and_then(|()| de.end());
    match (read, top) {
        (_, Top { diverted: true, .. }) => Ok(Streamed::Diverted),
        (Err(e), _) => Err(e),
        (Ok(()), Top { winlog: Some(winlog), .. }) => {
            // After the other fields, as the document reader gives them.
            out.extend(winlog);
            Ok(Streamed::Winlogbeat)
        }
        (Ok(()), Top { winlog: None, .. }) => Ok(Streamed::Flat),
    }
}

/// winlogbeat's document flattened: the top-level fields but `winlog` as [`flatten`] gives
/// them; then `winlog`'s, `event_data`'s and `user_data`'s entries under their own names, the
/// others under `winlog.` and theirs.
pub(super) fn flatten_winlogbeat(root: &[(Cow<'_, str>, Doc<'_>)], winlog: &[(Cow<'_, str>, Doc<'_>)], out: &mut Flat) {
    for (k, v) in root {
        if k != "winlog" {
            flatten(k, v, out);
        }
    }
    for (k, v) in winlog {
        match (k.as_ref(), v) {
            ("event_data" | "user_data", Doc::Obj(data)) => {
                for (dk, dv) in data {
                    flatten(dk, dv, out);
                }
            }
            _ => flatten(&format!("winlog.{k}"), v, out),
        }
    }
}

/// What the top level of a streamed object found.
struct Top {
    /// A key sent the object to the document reader.
    diverted: bool,
    /// A `winlog` key was read (a second one sends the object to the document reader, which
    /// keeps the last).
    winlog_seen: bool,
    /// The fields of its `winlog` object, when it has one.
    winlog: Option<Flat>,
}

/// The value at `prefix`: its fields appended to `out`. `top` is the top level's.
struct Field<'p> {
    prefix: &'p mut String,
    out: &'p mut Flat,
    top: Option<&'p mut Top>,
}

impl Field<'_> {
    fn put(self, value: Value) {
        self.out.push((field_name(self.prefix), value));
    }
}

/// A value read by `deserialize_any` into `Self` ([`Field`], [`Element`], [`Winlog`],
/// [`EventData`]).
macro_rules! any_seed {
    ($seed:ident, $value:ty) => {
        impl<'de> DeserializeSeed<'de> for $seed<'_> {
            type Value = $value;

            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.deserialize_any(self)
            }
        }
    };
}

/// The visits of a scalar: its [`Value`] handed to `Self::put`, then `$result`.
macro_rules! scalars {
    ($value:ty, $result:expr) => {
        fn visit_bool<E>(self, v: bool) -> Result<$value, E> {
            self.put(Value::Bool(v));
            Ok($result)
        }

        fn visit_i64<E>(self, v: i64) -> Result<$value, E> {
            self.put(Value::Int(v));
            Ok($result)
        }

        fn visit_u64<E>(self, v: u64) -> Result<$value, E> {
            self.put(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int));
            Ok($result)
        }

        fn visit_f64<E>(self, v: f64) -> Result<$value, E> {
            self.put(Value::Float(v));
            Ok($result)
        }

        fn visit_str<E>(self, v: &str) -> Result<$value, E> {
            self.put(Value::from(v));
            Ok($result)
        }

        fn visit_unit<E>(self) -> Result<$value, E> {
            self.put(Value::Null);
            Ok($result)
        }

        fn visit_none<E>(self) -> Result<$value, E> {
            self.put(Value::Null);
            Ok($result)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
            d.deserialize_any(self)
        }
    };
}

any_seed!(Field, ());

impl<'de> Visitor<'de> for Field<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!((), ());

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while seq.next_element_seed(Element { list: &mut list, unwrap: true })?.is_some() {}
        self.put(Value::List(list));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Field { prefix, out, mut top } = self;
        let at = prefix.len();
        while let Some(key) = map.next_key_seed(Key { prefix: &mut *prefix, at, top: top.as_deref_mut() })? {
            match (key, top.as_deref_mut()) {
                (KeyKind::Winlog, Some(top)) => {
                    let mut winlog = Flat::with_capacity(32);
                    let object =
                        map.next_value_seed(Winlog { prefix: &mut *prefix, out: &mut *out, winlog: &mut winlog })?;
                    if object {
                        top.winlog = Some(winlog);
                    }
                }
                _ => map.next_value_seed(Field { prefix: &mut *prefix, out: &mut *out, top: None })?,
            }
            prefix.truncate(at);
        }
        Ok(())
    }
}

/// What a key is to the object that has it.
enum KeyKind {
    Plain,
    /// The top level's `winlog`.
    Winlog,
}

/// A key of the object at `prefix[..at]`: appended to the prefix (after a dot, unless the
/// prefix is empty), without copying it elsewhere. At the top level (`top` given), `Event` or a
/// second `winlog` ends the read (the document reader takes the object), and `winlog` is told.
struct Key<'p> {
    prefix: &'p mut String,
    at: usize,
    top: Option<&'p mut Top>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = KeyKind;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyKind, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = KeyKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyKind, E> {
        let mut kind = KeyKind::Plain;
        if let Some(top) = self.top {
            if v == "Event" || (v == "winlog" && top.winlog_seen) {
                top.diverted = true;
                return Err(E::custom("diverted"));
            }
            if v == "winlog" {
                top.winlog_seen = true;
                kind = KeyKind::Winlog;
            }
        }
        if self.at > 0 {
            self.prefix.push('.');
        }
        self.prefix.push_str(v);
        Ok(kind)
    }
}

/// The top level's `winlog` (at `prefix`): an object's entries to `winlog` as
/// [`flatten_winlogbeat`] names them; another value, a field of `out` like any other. Says
/// whether it was an object.
struct Winlog<'p> {
    prefix: &'p mut String,
    out: &'p mut Flat,
    winlog: &'p mut Flat,
}

impl<'p> Winlog<'p> {
    fn field(self) -> Field<'p> {
        Field { prefix: self.prefix, out: self.out, top: None }
    }

    fn put(self, value: Value) {
        self.field().put(value);
    }
}

any_seed!(Winlog, bool);

impl<'de> Visitor<'de> for Winlog<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!(bool, false);

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<bool, A::Error> {
        self.field().visit_seq(seq).map(|()| false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Winlog { prefix, winlog, .. } = self;
        let at = prefix.len();
        while map.next_key_seed(Key { prefix: &mut *prefix, at, top: None })?.is_some() {
            let name = prefix.get(at + 1..).unwrap_or_default();
            if name == "event_data" || name == "user_data" {
                map.next_value_seed(EventData { prefix: &mut *prefix, out: &mut *winlog })?;
            } else {
                map.next_value_seed(Field { prefix: &mut *prefix, out: &mut *winlog, top: None })?;
            }
            prefix.truncate(at);
        }
        Ok(true)
    }
}

/// `winlog.event_data` or `winlog.user_data` (at `prefix`): an object's entries under their
/// own names, another value as the field `prefix`.
struct EventData<'p> {
    prefix: &'p mut String,
    out: &'p mut Flat,
}

impl<'p> EventData<'p> {
    fn field(self) -> Field<'p> {
        Field { prefix: self.prefix, out: self.out, top: None }
    }

    fn put(self, value: Value) {
        self.field().put(value);
    }
}

any_seed!(EventData, ());

impl<'de> Visitor<'de> for EventData<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!((), ());

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.field().visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        // The entries named from the top, as if they were the top level's.
        let mut own = String::with_capacity(32);
        Field { prefix: &mut own, out: self.out, top: None }.visit_map(map)
    }
}
/// One element of an array: its scalars appended to the list ([`list_elements`]).
struct Element<'l> {
    list: &'l mut Vec<Value>,
    /// Whether an object is read as its `#text`: an element's is, an object that is itself
    /// an element's `#text` is left out.
    unwrap: bool,
}

impl Element<'_> {
    fn put(self, value: Value) {
        self.list.push(value);
    }
}

any_seed!(Element, ());

impl<'de> Visitor<'de> for Element<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    scalars!((), ());

    /// A nested array: its elements flattened into this list.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Element { list: &mut *self.list, unwrap: true })?.is_some() {}
        Ok(())
    }

    /// An object: its `#text` (the last, when written twice) as an element, else nothing.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut text: Option<Vec<Value>> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "#text" && self.unwrap {
                let mut found = Vec::new();
                map.next_value_seed(Element { list: &mut found, unwrap: false })?;
                text = Some(found);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        self.list.extend(text.unwrap_or_default());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> (Flat, Flat) {
        let doc = Doc::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let mut from_doc = Flat::new();
        flatten("", &doc, &mut from_doc);
        let mut streamed = Flat::new();
        let read = stream(text, &mut streamed).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(read, Streamed::Flat);
        (from_doc, streamed)
    }

    #[test]
    fn streamed_as_the_document_is_flattened() {
        for text in [
            r##"{"a":1,"b":"x","c":{"d":[1,"two",[3,[4]],{"e":5},{"#text":"six"},{"#text":[7,8]}],"f":{"g":null}}}"##,
            r#"{"EventID":4688,"Channel":"Security","CommandLine":"C:\\Windows\\cmd.exe /c \"dir\"","n":-2,"u":18446744073709551615,"x":1.5,"t":true}"#,
            r#"{"":{"a":1},"b":{"":2},"a":1,"a":{"b":3},"e":[],"o":{},"s":"\u00e9\ud83d\ude00","k\"q":1}"#,
            r##"{"Data":{"#text":["a","b"]},"l":[{"#text":1,"#text":2},{"x":{"#text":3}},null,[]]}"##,
            r##"{"l":[{"#text":{"#text":1}},{"#text":[{"#text":2},[{"#text":3}]]},{"#text":"4","#attributes":{"a":5}}]}"##,
            r#"  {"spaced" : [ 1 , 2 ] , "nested":{"deeper":{"deepest":"v"}}}  "#,
        ] {
            let (from_doc, streamed) = both(text);
            assert_eq!(streamed, from_doc, "{text}");
            assert_eq!(fields(streamed), fields(from_doc), "{text}");
        }
    }

    #[test]
    fn streamed_errors_are_serde_jsons() {
        let mut out = Flat::new();
        let err = stream("{\"a\": [1, 2}", &mut out).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("line 1 column"), "{err}");
        assert!(stream("{\"a\":1} x", &mut Flat::new()).is_err(), "trailing characters");
        let deep = format!("{{\"a\":{}", "[".repeat(10_000));
        assert!(stream(&deep, &mut Flat::new()).is_err(), "nesting is limited, never a stack overflow");
    }

    #[test]
    fn top_level_keys_divert() {
        let read = |text: &str| stream(text, &mut Flat::new()).map_err(|e| e.to_string());
        assert_eq!(read(r#"{"a":1,"Event":{"System":{}}}"#), Ok(Streamed::Diverted));
        assert_eq!(read(r#"{"\u0045vent":1}"#), Ok(Streamed::Diverted), "the key as read, not as written");
        assert_eq!(read(r#"{"winlog":{},"x":{"y":[}"#).map_err(|_| ()), Err(()), "a bad object is an error");
        assert_eq!(read(r#"{"winlog":1,"winlog":{}}"#), Ok(Streamed::Diverted), "the last winlog is the document's");
        assert_eq!(read(r#"{"a":{"Event":1,"winlog":2}}"#), Ok(Streamed::Flat), "top-level keys only");
        assert_eq!(read(r#"{"winlog":"x"}"#), Ok(Streamed::Flat), "a winlog that is not an object");
        assert_eq!(read(r#"{"a":{"b":1}, "Event"}"#).map_err(|_| ()), Ok(Streamed::Diverted));
    }

    /// winlogbeat's shape, streamed, as its document is flattened.
    #[test]
    fn winlogbeat_streamed_as_its_document_is_flattened() {
        for text in [
            r#"{"@timestamp":"t","event":{"code":"1"},"message":"m","winlog":{"channel":"c","event_data":{"Image":"C:\\x.exe","a":{"b":1}},"user":{"identifier":"S-1"}}}"#,
            r#"{"winlog":{"event_data":{"message":"inner"},"user_data":{"x":[1,2]}},"message":"outer","event_data":3}"#,
            r##"{"winlog":{"event_data":"text","user_data":[1,{"#text":2}],"":{"":1}},"host":{"name":"h"}}"##,
            r#"{"a":1,"winlog":{},"a":2}"#,
            r#"{"winlog":{"event_data":{"":{"x":1},"y":null},"record_id":18446744073709551615}}"#,
        ] {
            let doc = Doc::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let (Some(root), Some(winlog)) = (doc.as_object(), doc.get("winlog").and_then(Doc::as_object)) else {
                panic!("{text}: not winlogbeat")
            };
            let mut from_doc = Flat::new();
            flatten_winlogbeat(root, winlog, &mut from_doc);
            let mut streamed = Flat::new();
            assert_eq!(stream(text, &mut streamed).map_err(|e| e.to_string()), Ok(Streamed::Winlogbeat), "{text}");
            assert_eq!(streamed, from_doc, "{text}");
        }
    }
}
