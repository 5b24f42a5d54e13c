//! A JSON document read without copying what it need not: strings and keys are borrowed from
//! the line where they hold no escapes, objects are lists of pairs in document order (no
//! hashing: an event's objects have a few dozen keys, each read once). serde_json's own
//! `Value` copied every key and string and hashed every key into an `IndexMap` (another crate
//! turns on its `preserve_order`): half of the JSON parser's time on Windows events
//! (BENCHMARKS.md). serde_json still does the reading, with its errors, positions and
//! nesting limit.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value. Numbers are read as serde_json reads them without `arbitrary_precision`: an
/// integer that fits an `i64` is one, any other number an `f64`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Doc<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Arr(Vec<Doc<'a>>),
    /// Pairs in document order. A key written twice keeps both; lookups see the last, as
    /// serde_json's maps keep the last.
    Obj(Vec<(Cow<'a, str>, Doc<'a>)>),
}

impl<'a> Doc<'a> {
    /// Reads a JSON document; serde_json's errors, with line and column.
    pub(crate) fn parse(text: &'a str) -> Result<Doc<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The value of `key`, when this is an object that has it (the last, when written twice).
    pub(crate) fn get(&self, key: &str) -> Option<&Doc<'a>> {
        match self {
            Doc::Obj(pairs) => pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a path of keys (`["#attributes", "UserID"]`).
    pub(crate) fn path(&self, keys: &[&str]) -> Option<&Doc<'a>> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Doc::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The pairs of an object.
    pub(crate) fn as_object(&self) -> Option<&[(Cow<'a, str>, Doc<'a>)]> {
        match self {
            Doc::Obj(pairs) => Some(pairs),
            _ => None,
        }
    }

    /// A serde_json value as a document (the XML reader builds those; it is not the hot path).
    pub(crate) fn of_json(v: &serde_json::Value) -> Doc<'_> {
        use serde_json::Value as Json;
        match v {
            Json::Null => Doc::Null,
            Json::Bool(b) => Doc::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Doc::Int(i),
                None => n.as_f64().map_or(Doc::Null, Doc::Float),
            },
            Json::String(s) => Doc::Str(Cow::Borrowed(s)),
            Json::Array(items) => Doc::Arr(items.iter().map(Doc::of_json).collect()),
            Json::Object(map) => {
                Doc::Obj(map.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), Doc::of_json(v))).collect())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Doc<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocVisitor)
    }
}

struct DocVisitor;

impl<'de> Visitor<'de> for DocVisitor {
    type Value = Doc<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Doc<'de>, E> {
        Ok(Doc::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Doc<'de>, E> {
        Ok(Doc::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Doc<'de>, E> {
        Ok(i64::try_from(v).map_or(Doc::Float(v as f64), Doc::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Doc<'de>, E> {
        Ok(Doc::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Doc<'de>, E> {
        Ok(Doc::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Doc<'de>, E> {
        Ok(Doc::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Doc<'de>, E> {
        Ok(Doc::Str(Cow::Owned(v)))
    }

    fn visit_unit<E>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Null)
    }

    fn visit_none<E>(self) -> Result<Doc<'de>, E> {
        Ok(Doc::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Doc<'de>, D::Error> {
        Doc::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Doc::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Doc<'de>, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            pairs.push((key, map.next_value()?));
        }
        Ok(Doc::Obj(pairs))
    }
}

/// A key, borrowed when it has no escapes (serde's own `Cow<str>` always copies).
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_serde_json_does() {
        let text = r#"{"a":1,"b":-2,"c":18446744073709551615,"d":1.5,"e":"x\"y","f":[true,null,{"g":"h"}],"a":3}"#;
        let doc = Doc::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let json: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        // The last of a repeated key, as serde_json keeps it.
        assert_eq!(doc.get("a"), Some(&Doc::Int(3)));
        assert_eq!(doc.get("b"), Some(&Doc::Int(-2)));
        assert_eq!(doc.get("c"), Some(&Doc::Float(u64::MAX as f64)));
        assert_eq!(doc.get("d"), Some(&Doc::Float(1.5)));
        assert_eq!(doc.get("e").and_then(Doc::as_str), Some("x\"y"));
        assert_eq!(doc.path(&["f"]).map(|f| matches!(f, Doc::Arr(v) if v.len() == 3)), Some(true));
        for key in ["a", "b", "c", "d", "e", "f"] {
            let from_json = json.get(key).map(Doc::of_json);
            assert_eq!(doc.get(key), from_json.as_ref(), "{key}");
        }
        // Keys without escapes are borrowed from the text.
        assert!(matches!(&doc, Doc::Obj(pairs) if pairs.iter().all(|(k, _)| matches!(k, Cow::Borrowed(_)))));
    }

    #[test]
    fn errors_and_nesting_are_serde_jsons() {
        let err = Doc::parse("{\"a\": [1, 2}").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("line 1 column"), "{err}");
        let deep = "[".repeat(10_000);
        assert!(Doc::parse(&deep).is_err(), "nesting is limited, never a stack overflow");
    }
}
