//! The alert store: a tantivy index under the data dir.
//!
//! Each alert is one document keyed by its id (re-adding an alert replaces it). The whole
//! alert is stored as JSON, so what the API returns is exactly what was raised. Searchable:
//! - `text` (default): the message, raw line and every field value;
//! - `rule_title` (default), `rule_id`, `level`, `host`, `agency`, `province`, `tags`: exact terms
//!   (`level:high`, `host:bastion`);
//! - `time`: event time, for ranges and newest-first order.

use std::ops::Bound;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery};
use tantivy::schema::{DateOptions, DateTimePrecision, Field, STORED, STRING, Schema, TEXT, Value as _};
use tantivy::{Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};
use thiserror::Error;

use crate::alert::Alert;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "the alert index at {path} is in use by another process (is another `vigil serve` running on this data dir?)"
    )]
    Locked { path: String },
    #[error("cannot open the alert index at {path}: {source}")]
    Open { path: String, source: tantivy::TantivyError },
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("alert index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("invalid query: {0}")]
    Query(String),
    #[error("stored alert is unreadable: {0}")]
    Corrupt(String),
}

/// A search over alerts.
#[derive(Clone, Debug, Default)]
pub struct AlertQuery {
    /// tantivy query syntax; empty means every alert.
    pub q: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchResult {
    pub total: usize,
    pub alerts: Vec<Alert>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    time: Field,
    rule_id: Field,
    rule_title: Field,
    level: Field,
    host: Field,
    agency: Field,
    province: Field,
    tags: Field,
    text: Field,
    doc: Field,
}

pub struct AlertStore {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Ids of the alerts added last: one added again replaces its document.
    recent: Mutex<Recent>,
    fields: Fields,
}

impl std::fmt::Debug for AlertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertStore").finish_non_exhaustive()
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let date = DateOptions::default().set_indexed().set_fast().set_precision(DateTimePrecision::Microseconds);
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        time: b.add_date_field("time", date),
        rule_id: b.add_text_field("rule_id", STRING),
        rule_title: b.add_text_field("rule_title", TEXT),
        level: b.add_text_field("level", STRING),
        host: b.add_text_field("host", STRING),
        agency: b.add_text_field("agency", STRING),
        province: b.add_text_field("province", STRING),
        tags: b.add_text_field("tags", STRING),
        text: b.add_text_field("text", TEXT),
        doc: b.add_text_field("doc", STORED),
    };
    (b.build(), fields)
}

/// How many of the last alert ids the store remembers, to replace an alert added again.
pub const RECENT_IDS: usize = 1_000_000;

/// The last [`RECENT_IDS`] alert ids, as 128-bit numbers (ids are 32 hex digits; another id is
/// hashed).
#[derive(Default)]
struct Recent {
    set: std::collections::HashSet<u128>,
    order: std::collections::VecDeque<u128>,
}

impl Recent {
    /// Remembers `id`; whether it was remembered already.
    fn insert(&mut self, id: &str) -> bool {
        let key = u128::from_str_radix(id, 16).unwrap_or_else(|_| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut h);
            u128::from(h.finish())
        });
        if !self.set.insert(key) {
            return true;
        }
        self.order.push_back(key);
        if self.order.len() > RECENT_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        false
    }
}

/// Segments with more alerts than this are left out of merges.
const MAX_MERGE_DOCS: usize = 300_000;

fn tantivy_time(t: DateTime<Utc>) -> tantivy::DateTime {
    tantivy::DateTime::from_timestamp_micros(t.timestamp_micros())
}

impl AlertStore {
    /// Opens the index in `dir`, creating it if needed. Fails if another process holds it.
    pub fn open(dir: &Path, writer_memory_bytes: usize) -> Result<AlertStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.display().to_string(), source })?;
        let (schema, fields) = schema();
        let open = |e| StoreError::Open { path: dir.display().to_string(), source: e };
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| open(tantivy::TantivyError::from(e)))?;
        let index = Index::open_or_create(directory, schema).map_err(open)?;
        let writer = index.writer_with_num_threads(1, writer_memory_bytes.max(15_000_000)).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => StoreError::Locked { path: dir.display().to_string() },
            e => open(e),
        })?;
        // Segments past MAX_MERGE_DOCS are not merged again: a merge never rewrites more than a
        // few million alerts at once (the big merges of an index growing by thousands of alerts
        // a second took seconds of CPU and gigabytes of memory, and stalled the pipeline).
        let mut policy = tantivy::merge_policy::LogMergePolicy::default();
        policy.set_max_docs_before_merge(MAX_MERGE_DOCS);
        writer.set_merge_policy(Box::new(policy));
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(open)?;
        Ok(AlertStore { index, reader, writer: Mutex::new(writer), recent: Mutex::new(Recent::default()), fields })
    }

    /// Adds alerts; they become searchable at the next [`AlertStore::commit`]. An alert whose
    /// id is among the last [`RECENT_IDS`] added is not added twice (a line sent again, a
    /// message a RELP sender sent again after a restart); a suppressed alert raised again with
    /// its count replaces the first.
    pub fn add(&self, alerts: &[Alert]) -> Result<(), StoreError> {
        self.add_with(alerts, |_| false).map(|_| ())
    }

    /// [`AlertStore::add`], also replacing the alerts `may_exist` says the index may hold
    /// already (those of events matched again after a restart). Returns how many documents
    /// were added (an alert added moments ago is the same document, and skipped).
    ///
    /// Replacing is a delete by id: tantivy resolves each against every segment at the next
    /// commit and carries it through merges, which at thousands of alerts a second stalled the
    /// pipeline and took gigabytes (BENCHMARKS.md). So it is done only where a duplicate can be.
    pub fn add_with(&self, alerts: &[Alert], may_exist: impl Fn(&Alert) -> bool) -> Result<usize, StoreError> {
        let f = self.fields;
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let mut added = 0;
        for alert in alerts {
            // The same id is the same rule on the same event (time, host, raw line): an alert
            // added moments ago is skipped, unless it comes back with a suppression count.
            let seen = recent.insert(&alert.id);
            if seen && alert.suppressed.is_none() {
                continue;
            }
            if seen || alert.suppressed.is_some() || may_exist(alert) {
                writer.delete_term(Term::from_field_text(f.id, &alert.id));
            }
            added += 1;
            let json = serde_json::to_string(alert).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut doc = TantivyDocument::default();
            doc.add_text(f.id, &alert.id);
            doc.add_date(f.time, tantivy_time(alert.time));
            doc.add_text(f.rule_id, &alert.rule.id);
            doc.add_text(f.rule_title, &alert.rule.title);
            doc.add_text(f.level, &alert.rule.level);
            if let Some(host) = &alert.host {
                doc.add_text(f.host, host);
            }
            if let Some(agency) = &alert.agency {
                doc.add_text(f.agency, agency);
            }
            if let Some(province) = &alert.province {
                doc.add_text(f.province, province);
            }
            for tag in &alert.rule.tags {
                doc.add_text(f.tags, tag);
            }
            doc.add_text(f.text, &alert.raw);
            // A value that is part of the raw line adds no term the raw line has not; most are.
            // Values that differ from the raw text (JSON strings with escapes, decoded values)
            // are indexed too.
            for value in alert.fields.values() {
                let value = value.as_text();
                if !alert.raw.contains(&*value) {
                    doc.add_text(f.text, value);
                }
            }
            doc.add_text(f.doc, &json);
            writer.add_document(doc)?;
        }
        Ok(added)
    }

    /// Commits added alerts and makes them visible to searches.
    pub fn commit(&self) -> Result<(), StoreError> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// [`AlertStore::commit`], recording with it (atomically, in the commit's payload) the
    /// write-ahead log position whose alerts are all added: see [`AlertStore::position`].
    pub fn commit_at(&self, position: u64) -> Result<(), StoreError> {
        {
            let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&format!("{{\"wal\":{position}}}"));
            prepared.commit()?;
        }
        self.reader.reload()?;
        Ok(())
    }

    /// The write-ahead log position of the last commit (0 when none was recorded).
    pub fn position(&self) -> Result<u64, StoreError> {
        let metas = self.index.load_metas()?;
        let Some(payload) = metas.payload else { return Ok(0) };
        let value: serde_json::Value =
            serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(format!("commit payload: {e}")))?;
        value["wal"]
            .as_u64()
            .ok_or_else(|| StoreError::Corrupt(format!("commit payload without a position: {payload}")))
    }

    /// Searches alerts, newest first.
    pub fn search(&self, query: &AlertQuery) -> Result<SearchResult, StoreError> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !query.q.trim().is_empty() {
            let mut parser = QueryParser::for_index(&self.index, vec![f.text, f.rule_title]);
            parser.set_conjunction_by_default();
            let q = parser.parse_query(&query.q).map_err(|e| StoreError::Query(e.to_string()))?;
            clauses.push((Occur::Must, q));
        }
        if query.from.is_some() || query.to.is_some() {
            let bound = |t: Option<DateTime<Utc>>, inclusive: bool| match t {
                None => Bound::Unbounded,
                Some(t) if inclusive => Bound::Included(Term::from_field_date(f.time, tantivy_time(t))),
                Some(t) => Bound::Excluded(Term::from_field_date(f.time, tantivy_time(t))),
            };
            clauses.push((Occur::Must, Box::new(RangeQuery::new(bound(query.from, true), bound(query.to, true)))));
        }
        let q: Box<dyn Query> =
            if clauses.is_empty() { Box::new(AllQuery) } else { Box::new(BooleanQuery::new(clauses)) };
        let searcher = self.reader.searcher();
        let limit = query.limit.max(1);
        let (top, total) = searcher.search(
            &q,
            &(TopDocs::with_limit(limit).order_by_fast_field::<tantivy::DateTime>("time", Order::Desc), Count),
        )?;
        let mut alerts = Vec::with_capacity(top.len());
        for (_, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let json = doc
                .get_first(f.doc)
                .and_then(|v| v.as_str())
                .ok_or_else(|| StoreError::Corrupt("no document".into()))?;
            alerts.push(serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        if query.limit == 0 {
            alerts.clear();
        }
        Ok(SearchResult { total, alerts })
    }
}
