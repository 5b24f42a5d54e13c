//! Triage: what analysts decide about alerts (status, assignee, notes), kept durably with its
//! whole history in `<data-dir>/triage.redb`.
//!
//! Why redb: triage is small, precious, written by people one change at a time and read by
//! alert id, so it wants a crash-safe transactional key-value store, not a search index (the
//! index holds a copy of status and assignee, for searching and counting, rebuilt from here).
//! redb is pure Rust (no C toolchain), ACID with copy-on-write B-trees and checksums, lets
//! readers run beside the writer, keeps one file, and has a stable file format; sled is still
//! beta, RocksDB and SQLite bring C/C++ builds and more than key-value history needs.
//!
//! Tables: `triage` (alert id -> current state, JSON) and `history` ((alert id, sequence) ->
//! one change, JSON). A change and the state it makes are written in one transaction.

use std::path::Path;

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use thiserror::Error;

const TRIAGE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("triage");
const HISTORY: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("history");

/// Longest note, in characters.
pub const MAX_NOTE: usize = 10_000;
/// Longest assignee name, in characters.
pub const MAX_ASSIGNEE: usize = 200;

#[derive(Debug, Error)]
pub enum TriageError {
    #[error("triage store {path}: {source}")]
    Store { path: String, source: Box<redb::Error> },
    #[error("{0}")]
    Invalid(String),
    #[error("triage record unreadable: {0}")]
    Corrupt(String),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    New,
    InProgress,
    ClosedTruePositive,
    ClosedFalsePositive,
}

impl Status {
    pub const ALL: &[Status] =
        &[Status::New, Status::InProgress, Status::ClosedTruePositive, Status::ClosedFalsePositive];

    pub fn name(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::InProgress => "in_progress",
            Status::ClosedTruePositive => "closed_true_positive",
            Status::ClosedFalsePositive => "closed_false_positive",
        }
    }

    pub fn from_name(name: &str) -> Option<Status> {
        Status::ALL.iter().copied().find(|s| s.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub author: String,
    pub time: DateTime<Utc>,
    pub text: String,
}

/// An alert's triage now.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

/// A change asked for: each part optional; `assignee: Some(None)` unassigns.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default, deserialize_with = "some")]
    pub assignee: Option<Option<String>>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `"assignee": null` is `Some(None)` (unassign); absent is `None` (unchanged).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// One change made, in the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub time: DateTime<Utc>,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<[Status; 2]>,
    /// Before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<[Option<String>; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub struct TriageStore {
    path: String,
    db: Database,
}

impl std::fmt::Debug for TriageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriageStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl TriageStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path) -> Result<TriageStore, TriageError> {
        let name = path.display().to_string();
        let err = |e: redb::Error| TriageError::Store { path: name.clone(), source: Box::new(e) };
        let db = Database::create(path).map_err(|e| err(e.into()))?;
        let txn = db.begin_write().map_err(|e| err(e.into()))?;
        txn.open_table(TRIAGE).map_err(|e| err(e.into()))?;
        txn.open_table(HISTORY).map_err(|e| err(e.into()))?;
        txn.commit().map_err(|e| err(e.into()))?;
        Ok(TriageStore { path: name, db })
    }

    fn err(&self, e: impl Into<redb::Error>) -> TriageError {
        TriageError::Store { path: self.path.clone(), source: Box::new(e.into()) }
    }

    /// The alert's triage (the default, `new`, when nobody touched it).
    pub fn get(&self, id: &str) -> Result<Triage, TriageError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(TRIAGE).map_err(|e| self.err(e))?;
        match table.get(id).map_err(|e| self.err(e))? {
            Some(v) => serde_json::from_slice(v.value()).map_err(|e| TriageError::Corrupt(e.to_string())),
            None => Ok(Triage::default()),
        }
    }

    /// Every change made to the alert's triage, oldest first.
    pub fn history(&self, id: &str) -> Result<Vec<Entry>, TriageError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(HISTORY).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in table.range((id, 0)..=(id, u64::MAX)).map_err(|e| self.err(e))? {
            let (_, v) = item.map_err(|e| self.err(e))?;
            out.push(serde_json::from_slice(v.value()).map_err(|e| TriageError::Corrupt(e.to_string()))?);
        }
        Ok(out)
    }

    /// Every alert with a triage state, and that state.
    pub fn all(&self) -> Result<Vec<(String, Triage)>, TriageError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(TRIAGE).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in table.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let t = serde_json::from_slice(v.value()).map_err(|e| TriageError::Corrupt(e.to_string()))?;
            out.push((k.value().to_owned(), t));
        }
        Ok(out)
    }

    /// Applies `change` to the alert's triage on behalf of `by`; returns the new state. The
    /// state and its history entry are committed (durably) together.
    pub fn update(&self, id: &str, change: &Change, by: &str) -> Result<Triage, TriageError> {
        let note = change.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        if change.status.is_none() && change.assignee.is_none() && note.is_none() {
            return Err(TriageError::Invalid("nothing to change: give a status, an assignee or a note".into()));
        }
        if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
            return Err(TriageError::Invalid(format!("a note is at most {MAX_NOTE} characters")));
        }
        let assignee = change.assignee.clone().map(|a| a.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()));
        if let Some(Some(a)) = &assignee
            && (a.chars().count() > MAX_ASSIGNEE || a.chars().any(char::is_control))
        {
            return Err(TriageError::Invalid(format!("an assignee is a name of at most {MAX_ASSIGNEE} characters")));
        }
        let now = Utc::now();
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let state = {
            let mut triage = txn.open_table(TRIAGE).map_err(|e| self.err(e))?;
            let mut history = txn.open_table(HISTORY).map_err(|e| self.err(e))?;
            let mut state: Triage = match triage.get(id).map_err(|e| self.err(e))? {
                Some(v) => serde_json::from_slice(v.value()).map_err(|e| TriageError::Corrupt(e.to_string()))?,
                None => Triage::default(),
            };
            let seq = match history.range((id, 0)..=(id, u64::MAX)).map_err(|e| self.err(e))?.next_back() {
                Some(item) => item.map_err(|e| self.err(e))?.0.value().1 + 1,
                None => 1,
            };
            let mut entry = Entry { seq, time: now, by: by.to_owned(), status: None, assignee: None, note: None };
            if let Some(s) = change.status
                && s != state.status
            {
                entry.status = Some([state.status, s]);
                state.status = s;
            }
            if let Some(a) = assignee
                && a != state.assignee
            {
                entry.assignee = Some([state.assignee.clone(), a.clone()]);
                state.assignee = a;
            }
            if let Some(n) = note {
                entry.note = Some(n.to_owned());
                state.notes.push(Note { author: by.to_owned(), time: now, text: n.to_owned() });
            }
            if entry.status.is_none() && entry.assignee.is_none() && entry.note.is_none() {
                // Already so: nothing written.
                return Ok(state);
            }
            state.updated = Some(now);
            state.updated_by = Some(by.to_owned());
            let state_json = serde_json::to_vec(&state).map_err(|e| TriageError::Corrupt(e.to_string()))?;
            let entry_json = serde_json::to_vec(&entry).map_err(|e| TriageError::Corrupt(e.to_string()))?;
            triage.insert(id, state_json.as_slice()).map_err(|e| self.err(e))?;
            history.insert((id, seq), entry_json.as_slice()).map_err(|e| self.err(e))?;
            state
        };
        txn.commit().map_err(|e| self.err(e))?;
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_kept_with_their_history_across_a_reopen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("triage.redb");
        {
            let store = TriageStore::open(&path).expect("open");
            assert_eq!(store.get("a").expect("get"), Triage::default());
            let change = Change { status: Some(Status::InProgress), assignee: Some(Some("lan".into())), note: None };
            let t = store.update("a", &change, "hn-analyst").expect("update");
            assert_eq!((t.status, t.assignee.as_deref()), (Status::InProgress, Some("lan")));
            let note = Change { note: Some("  checked the host  ".into()), ..Default::default() };
            store.update("a", &note, "hn-lead").expect("note");
            // The same status again changes nothing and writes nothing.
            store.update("a", &Change { status: Some(Status::InProgress), ..Default::default() }, "x").expect("same");
            let close = Change { status: Some(Status::ClosedFalsePositive), assignee: Some(None), note: None };
            store.update("a", &close, "hn-lead").expect("close");
            assert!(matches!(store.update("a", &Change::default(), "x"), Err(TriageError::Invalid(_))));
            let long = Change { note: Some("x".repeat(MAX_NOTE + 1)), ..Default::default() };
            assert!(matches!(store.update("a", &long, "x"), Err(TriageError::Invalid(_))));
        }
        let store = TriageStore::open(&path).expect("reopen");
        let t = store.get("a").expect("get");
        assert_eq!(t.status, Status::ClosedFalsePositive);
        assert_eq!(t.assignee, None);
        assert_eq!(t.notes.len(), 1);
        assert_eq!(t.notes[0].text, "checked the host");
        assert_eq!(t.notes[0].author, "hn-lead");
        let h = store.history("a").expect("history");
        assert_eq!(h.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(h[0].status, Some([Status::New, Status::InProgress]));
        assert_eq!(h[0].assignee, Some([None, Some("lan".into())]));
        assert_eq!(h[1].note.as_deref(), Some("checked the host"));
        assert_eq!(h[2].status, Some([Status::InProgress, Status::ClosedFalsePositive]));
        assert_eq!(h[2].assignee, Some([Some("lan".into()), None]));
        assert!(store.history("b").expect("history").is_empty());
        assert_eq!(store.all().expect("all").len(), 1);
    }

    #[test]
    fn a_change_reads_from_json_with_null_meaning_unassign() {
        let c: Change = serde_json::from_str(r#"{"status":"closed_true_positive","assignee":null}"#).expect("json");
        assert_eq!(c.status, Some(Status::ClosedTruePositive));
        assert_eq!(c.assignee, Some(None));
        let c: Change = serde_json::from_str(r#"{"note":"x"}"#).expect("json");
        assert_eq!(c.assignee, None);
        assert!(serde_json::from_str::<Change>(r#"{"status":"closed"}"#).is_err());
    }
}
