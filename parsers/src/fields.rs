//! [`Fields`]: an event's fields, name to value, kept in name order (so that output is stable).
//!
//! An event has a few dozen fields, built at once by its parser, looked up by the rules and
//! copied into each alert. A vector sorted by name does each of these with less than the
//! `BTreeMap` it replaces: it is built from the parser's sorted list without a node per field,
//! copied and freed as one allocation, and a lookup is a binary search over one slice
//! (BENCHMARKS.md, 2026-12-05). Inserting a field the parser did not give (an alias) moves the
//! names after it: a few dozen entries, a short copy.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::{FieldName, Value};

/// Field name to value, in name order; a name at most once.
#[derive(Clone, Default, PartialEq)]
pub struct Fields {
    entries: Vec<(FieldName, Value)>,
    /// Per entry, the first eight bytes of its name as a number ([`prefix`]): a lookup's
    /// binary search compares these, and names only where two prefixes are equal. Comparing
    /// names (a call to `memcmp` each) made lookups a sixth of a Windows replay's time.
    prefixes: Vec<u64>,
}

/// The first eight bytes of a name, big-endian, zero-padded: for two names whose prefixes
/// differ, the prefixes are in the names' order (a name shorter than eight bytes is padded with
/// zeros, which sort first, as its end does; equal prefixes say nothing, and the names are
/// compared).
#[inline]
fn prefix(name: &[u8]) -> u64 {
    match name.first_chunk::<8>() {
        Some(first) => u64::from_be_bytes(*first),
        None => name.iter().enumerate().fold(0, |p, (i, &b)| p | (u64::from(b) << (56 - 8 * i))),
    }
}

/// The entries of [`Fields`] as `(name, value)` references, in name order.
pub type Iter<'a> =
    std::iter::Map<std::slice::Iter<'a, (FieldName, Value)>, fn(&(FieldName, Value)) -> (&FieldName, &Value)>;

fn pair((name, value): &(FieldName, Value)) -> (&FieldName, &Value) {
    (name, value)
}

impl Fields {
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Fields from entries sorted by name (stably: of a name given twice, the last is kept, as
    /// inserting them one after the other keeps it).
    pub(crate) fn from_sorted(mut entries: Vec<(FieldName, Value)>) -> Fields {
        debug_assert!(entries.windows(2).all(|w| w[0].0 <= w[1].0));
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            // Keep the last of each run of equal names.
            entries.reverse();
            entries.dedup_by(|later, kept| later.0 == kept.0);
            entries.reverse();
        }
        let prefixes = entries.iter().map(|(k, _)| prefix(k.as_bytes())).collect();
        Fields { entries, prefixes }
    }

    /// The index of `name`, or where it would be inserted.
    fn find(&self, name: &str) -> Result<usize, usize> {
        let (name, key) = (name.as_bytes(), prefix(name.as_bytes()));
        let (mut low, mut high) = (0, self.prefixes.len());
        while low < high {
            let mid = low + (high - low) / 2;
            let order = match self.prefixes[mid].cmp(&key) {
                std::cmp::Ordering::Equal => self.entries[mid].0.as_bytes().cmp(name),
                unequal => unequal,
            };
            match order {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    fn insert_at(&mut self, i: usize, name: FieldName, value: Value) {
        self.prefixes.insert(i, prefix(name.as_bytes()));
        self.entries.insert(i, (name, value));
    }

    /// The value of the field `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.find(name).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        self.find(name).ok().map(|i| &mut self.entries[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets the field `name`; its value before, if it had one.
    pub fn insert(&mut self, name: FieldName, value: Value) -> Option<Value> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.insert_at(i, name, value);
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.find(name).ok()?;
        self.prefixes.remove(i);
        Some(self.entries.remove(i).1)
    }

    /// The field `name`, to be set when it is not.
    pub fn entry(&mut self, name: FieldName) -> Entry<'_> {
        Entry { fields: self, name }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> Iter<'_> {
        self.entries.iter().map(pair as fn(&(FieldName, Value)) -> (&FieldName, &Value))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &FieldName> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator + Clone {
        self.entries.iter().map(|(_, v)| v)
    }
}

/// A field of [`Fields::entry`].
pub struct Entry<'a> {
    fields: &'a mut Fields,
    name: FieldName,
}

impl<'a> Entry<'a> {
    /// The field's value, set to `value` first when it has none.
    pub fn or_insert(self, value: Value) -> &'a mut Value {
        self.or_insert_with(|| value)
    }

    /// The field's value, set to `value()` first when it has none.
    pub fn or_insert_with(self, value: impl FnOnce() -> Value) -> &'a mut Value {
        let i = match self.fields.find(&self.name) {
            Ok(i) => i,
            Err(i) => {
                self.fields.insert_at(i, self.name, value());
                i
            }
        };
        &mut self.fields.entries[i].1
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(FieldName, Value)> for Fields {
    /// Of a name given twice, the last value.
    fn from_iter<I: IntoIterator<Item = (FieldName, Value)>>(iter: I) -> Fields {
        let mut entries: Vec<(FieldName, Value)> = iter.into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Fields::from_sorted(entries)
    }
}

impl Extend<(FieldName, Value)> for Fields {
    /// Each set in turn: a later value of a name replaces an earlier one.
    fn extend<I: IntoIterator<Item = (FieldName, Value)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

impl IntoIterator for Fields {
    type Item = (FieldName, Value);
    type IntoIter = std::vec::IntoIter<(FieldName, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a FieldName, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (name, value) in self {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(256));
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    entries.push((FieldName::Owned(name), value));
                }
                Ok(entries.into_iter().collect())
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn name(s: &str) -> FieldName {
        FieldName::Owned(s.to_owned())
    }

    #[test]
    fn prefixes_order_as_names_do() {
        let names =
            ["", "\0", "a", "a\0", "a\0b", "ab", "abcdefgh", "abcdefgh\0", "abcdefghi", "abcdefgi", "b", "é", "\u{ff}"];
        for a in names {
            for b in names {
                let (pa, pb) = (prefix(a.as_bytes()), prefix(b.as_bytes()));
                if pa != pb {
                    assert_eq!(pa.cmp(&pb), a.cmp(b), "{a:?} {b:?}");
                }
            }
        }
    }

    /// Every operation as the `BTreeMap` it replaces does it.
    #[test]
    fn behaves_as_the_ordered_map() {
        let ops: Vec<(&str, i64)> = vec![
            ("b", 1),
            ("a", 2),
            ("c", 3),
            ("b", 4),
            ("", 5),
            ("aa", 6),
            ("a", 7),
            ("é", 8),
            ("A", 9),
            ("Provider_Name", 10),
            ("Provider_Guid", 11),
            ("Provider", 12),
            ("Provider_Name", 13),
            ("a\0", 14),
        ];
        let mut fields = Fields::new();
        let mut map: BTreeMap<FieldName, Value> = BTreeMap::new();
        for &(k, v) in &ops {
            assert_eq!(fields.insert(name(k), Value::Int(v)), map.insert(name(k), Value::Int(v)), "{k}");
            assert_eq!(fields.iter().collect::<Vec<_>>(), map.iter().collect::<Vec<_>>());
        }
        let pairs = || ops.iter().map(|&(k, v)| (name(k), Value::Int(v)));
        assert_eq!(pairs().collect::<Fields>().iter().collect::<Vec<_>>(), map.iter().collect::<Vec<_>>());
        for k in
            ["a", "b", "zz", "", "A", "é", "Provider", "Provider_", "Provider_Name", "Provider_Guid", "a\0", "a\0\0"]
        {
            assert_eq!(fields.get(k), map.get(k), "{k}");
            assert_eq!(fields.contains_key(k), map.contains_key(k), "{k}");
        }
        assert_eq!(*fields.entry(name("a")).or_insert(Value::Int(0)), Value::Int(7));
        assert_eq!(*fields.entry(name("d")).or_insert_with(|| Value::Int(10)), Value::Int(10));
        map.insert(name("d"), Value::Int(10));
        assert_eq!(fields.remove("b"), map.remove("b"));
        assert_eq!(fields.remove("b"), None);
        map.remove("b");
        fields.extend([(name("c"), Value::Int(30)), (name("e"), Value::Int(1)), (name("e"), Value::Int(2))]);
        map.extend([(name("c"), Value::Int(30)), (name("e"), Value::Int(1)), (name("e"), Value::Int(2))]);
        assert_eq!(fields.keys().collect::<Vec<_>>(), map.keys().collect::<Vec<_>>());
        assert_eq!(fields.values().collect::<Vec<_>>(), map.values().collect::<Vec<_>>());
        assert_eq!(fields.len(), map.len());
        assert_eq!(format!("{fields:?}"), format!("{map:?}"));
        let json = serde_json::to_string(&fields).unwrap_or_default();
        assert_eq!(json, serde_json::to_string(&map).unwrap_or_default());
        let back: Fields = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, fields);
        let dup: Fields = serde_json::from_str(r#"{"x":1,"a":2,"x":3}"#).unwrap_or_default();
        assert_eq!(dup.iter().collect::<Vec<_>>(), vec![(&name("a"), &Value::Int(2)), (&name("x"), &Value::Int(3))]);
    }
}
