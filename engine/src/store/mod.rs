//! The alert store: a tantivy index under the data dir.
//!
//! Each alert is one document keyed by its id; the whole alert is stored as JSON, so what the
//! API returns is exactly what was raised. The fields, their analysis and the entities taken
//! from events are in [`schema`]; the query language, scope and cursors in [`query`]; facets
//! and the time histogram in [`aggs`]; Vietnamese-aware text analysis in [`text`].

pub mod aggs;
pub mod query;
pub mod schema;
pub mod text;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::aggregation::{AggContextParams, AggregationCollector, AggregationLimitsGuard};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value as _};
use tantivy::tokenizer::TokenizerManager;
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument, Term};
use thiserror::Error;

use crate::alert::Alert;
pub use aggs::{AggQuery, AggResult, Facet};
pub use query::{AlertQuery, Scope, SortOrder};
use schema::Fields;
pub use schema::TriageFields;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "the alert index at {path} is in use by another process (is another `vigil serve` running on this data dir?)"
    )]
    Locked { path: String },
    #[error("cannot open the alert index at {path}: {source}")]
    Open { path: String, source: tantivy::TantivyError },
    #[error(
        "the alert index at {path} has schema version {found}, and this vigil writes version {}: move that folder away (the vigil that wrote it can still read it) and start again",
        schema::VERSION
    )]
    Version { path: String, found: String },
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("alert index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("invalid query: {message}")]
    Query { message: String, position: Option<usize> },
    #[error("stored alert is unreadable: {0}")]
    Corrupt(String),
}

/// A rule's alerts in the index.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleHits {
    pub alerts: u64,
    /// Event time of its newest alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SearchResult {
    /// Alerts matching the query, time range and scope (all pages).
    pub total: usize,
    pub alerts: Vec<Alert>,
    /// The cursor of the next page; `None` on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

pub struct AlertStore {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Ids of the alerts added last: one added again replaces its document.
    recent: Mutex<Recent>,
    /// The triage state of alerts that have one: an alert indexed again keeps it.
    triage: Mutex<std::collections::HashMap<String, TriageFields>>,
    /// Documents changed outside the pipeline (triage) and not yet committed.
    uncommitted: std::sync::atomic::AtomicBool,
    fields: Fields,
}

impl std::fmt::Debug for AlertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertStore").finish_non_exhaustive()
    }
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

/// The file in the index folder that names its schema version.
const VERSION_FILE: &str = "vigil-schema-version";

/// Most alerts one search may return at once.
pub const MAX_PAGE: usize = 10_000;

impl AlertStore {
    /// Opens the index in `dir`, creating it if needed. Fails if another process holds it, or
    /// if it was written with another schema version.
    pub fn open(dir: &Path, writer_memory_bytes: usize) -> Result<AlertStore, StoreError> {
        let path = dir.display().to_string();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: path.clone(), source })?;
        check_version(dir)?;
        let (schema, fields) = schema::schema();
        let open = |e| StoreError::Open { path: path.clone(), source: e };
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|e| open(tantivy::TantivyError::from(e)))?;
        let mut index = Index::open_or_create(directory, schema).map_err(open)?;
        let fast = TokenizerManager::default();
        text::register(index.tokenizers(), &fast);
        index.set_fast_field_tokenizers(fast);
        let writer = index.writer_with_num_threads(1, writer_memory_bytes.max(15_000_000)).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => StoreError::Locked { path: path.clone() },
            e => open(e),
        })?;
        // Segments past MAX_MERGE_DOCS are not merged again: a merge never rewrites more than a
        // few million alerts at once (the big merges of an index growing by thousands of alerts
        // a second took seconds of CPU and gigabytes of memory, and stalled the pipeline).
        let mut policy = tantivy::merge_policy::LogMergePolicy::default();
        policy.set_max_docs_before_merge(MAX_MERGE_DOCS);
        writer.set_merge_policy(Box::new(policy));
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(open)?;
        std::fs::write(dir.join(VERSION_FILE), format!("{}\n", schema::VERSION))
            .map_err(|source| StoreError::Io { path: dir.join(VERSION_FILE).display().to_string(), source })?;
        Ok(AlertStore {
            index,
            reader,
            writer: Mutex::new(writer),
            recent: Mutex::new(Recent::default()),
            triage: Mutex::new(std::collections::HashMap::new()),
            uncommitted: std::sync::atomic::AtomicBool::new(false),
            fields,
        })
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
        let triage = self.triage.lock().unwrap_or_else(|p| p.into_inner());
        let mut added = 0;
        for alert in alerts {
            // The same id is the same rule on the same event (time, host, raw line): an alert
            // added moments ago is skipped, unless it comes back with a suppression count.
            let seen = recent.insert(&alert.id);
            if seen && alert.suppressed.is_none() {
                continue;
            }
            if seen || alert.suppressed.is_some() || may_exist(alert) {
                writer.delete_term(schema::id_term(&f, &alert.id));
            }
            added += 1;
            let json = serde_json::to_string(alert).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            writer.add_document(schema::document(&f, alert, json, triage.get(&alert.id)))?;
        }
        Ok(added)
    }

    /// Commits added alerts and makes them visible to searches.
    pub fn commit(&self) -> Result<(), StoreError> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        self.uncommitted.store(false, std::sync::atomic::Ordering::Release);
        writer.commit()?;
        drop(writer);
        self.reader.reload()?;
        Ok(())
    }

    /// [`AlertStore::commit`], recording with it (atomically, in the commit's payload) the
    /// write-ahead log position whose alerts are all added: see [`AlertStore::position`].
    pub fn commit_at(&self, position: u64) -> Result<(), StoreError> {
        {
            let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            self.uncommitted.store(false, std::sync::atomic::Ordering::Release);
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

    /// Whether documents were changed outside the pipeline since the last commit (the store
    /// thread then commits even without new alerts).
    pub fn has_uncommitted(&self) -> bool {
        self.uncommitted.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Takes the triage store's states (at startup): alerts indexed again keep them, and an
    /// alert whose document does not show its state (a triage change the index lost in a
    /// crash before its commit) is indexed again now.
    pub fn load_triage(&self, all: &[(String, crate::triage::Triage)]) -> Result<(), StoreError> {
        let f = self.fields;
        let states: Vec<(&str, TriageFields)> = all.iter().map(|(id, t)| (id.as_str(), TriageFields::of(t))).collect();
        self.triage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(states.iter().map(|(id, t)| ((*id).to_owned(), t.clone())));
        let searcher = self.reader.searcher();
        let mut stale = Vec::new();
        for (id, t) in &states {
            let mut clauses: Vec<Box<dyn Query>> =
                vec![Box::new(TermQuery::new(schema::id_term(&f, id), IndexRecordOption::Basic))];
            clauses
                .push(Box::new(TermQuery::new(Term::from_field_text(f.status, &t.status), IndexRecordOption::Basic)));
            if searcher.search(&*query::all_of(clauses), &Count)? == 0 {
                stale.push(*id);
            }
        }
        for alert in self.get(&stale, &Scope::All)? {
            if let Some(t) = states.iter().find(|(id, _)| *id == alert.id).map(|(_, t)| t.clone()) {
                self.retriage(&alert, t)?;
            }
        }
        Ok(())
    }

    /// Indexes `alert` again with its new triage state (searchable after the next commit).
    pub fn retriage(&self, alert: &Alert, triage: TriageFields) -> Result<(), StoreError> {
        let f = self.fields;
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let json = serde_json::to_string(alert).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        writer.delete_term(schema::id_term(&f, &alert.id));
        writer.add_document(schema::document(&f, alert, json, Some(&triage)))?;
        self.triage.lock().unwrap_or_else(|p| p.into_inner()).insert(alert.id.clone(), triage);
        self.uncommitted.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// The triage state an alert is indexed with, when it has one.
    pub fn triage_of(&self, id: &str) -> Option<TriageFields> {
        self.triage.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// The caller's query, time range and scope as one query (no cursor).
    fn filtered(&self, query: &AlertQuery) -> Result<Vec<Box<dyn Query>>, StoreError> {
        let f = &self.fields;
        let mut clauses = Vec::new();
        if let Some(q) = query::parse_user(&self.index, f, &query.q)? {
            clauses.push(q);
        }
        if query.from.is_some() || query.to.is_some() {
            clauses.push(query::time_range(f, query.from, query.to));
        }
        clauses.extend(query::scope_clause(f, &query.scope));
        Ok(clauses)
    }

    /// Searches alerts in `query.sort` order, a page at a time: pass the answer's `next` as the
    /// next query's `cursor`. Pages do not overlap or skip, however many alerts arrive between
    /// them (new alerts sort by their event time: a page already read does not change).
    pub fn search(&self, query: &AlertQuery) -> Result<SearchResult, StoreError> {
        let f = self.fields;
        let base = self.filtered(query)?;
        let cursor = query.cursor.as_deref().map(query::parse_cursor).transpose()?;
        let searcher = self.reader.searcher();
        let order = match query.sort {
            SortOrder::NewestFirst => Order::Desc,
            SortOrder::OldestFirst => Order::Asc,
        };
        let limit = query.limit.min(MAX_PAGE);
        let top_docs = TopDocs::with_limit(limit.max(1) + 1).order_by_u64_field("sort", order);
        // The total counts every page: with a cursor, it is a pass of its own.
        let (total, top) = match cursor {
            None => searcher.search(&*query::all_of(clone_all(&base)), &(Count, top_docs))?,
            Some(key) => {
                let total = searcher.search(&*query::all_of(clone_all(&base)), &Count)?;
                let mut clauses = clone_all(&base);
                clauses.push(query::after(&f, key, query.sort));
                (total, searcher.search(&*query::all_of(clauses), &top_docs)?)
            }
        };
        if limit == 0 {
            return Ok(SearchResult { total, alerts: Vec::new(), next: None });
        }
        let mut hits: Vec<(u64, DocAddress)> = top.into_iter().map(|(k, a)| (k.unwrap_or(0), a)).collect();
        let mut next = None;
        if hits.len() > limit {
            let last = hits[limit - 1].0;
            if hits[limit].0 == last {
                // Alerts of the same sort key are never split across pages: this page takes
                // them all (rare: the same millisecond and 22 bits of id).
                hits.truncate(limit);
                hits.retain(|(k, _)| *k != last);
                let mut same = clone_all(&base);
                same.push(query::at(&f, last));
                let tied = searcher.search(&*query::all_of(same), &TopDocs::with_limit(MAX_PAGE).order_by_score())?;
                let mut tied: Vec<(u64, DocAddress)> = tied.into_iter().map(|(_, a)| (last, a)).collect();
                tied.sort_by_key(|(_, a)| (a.segment_ord, a.doc_id));
                hits.extend(tied);
            } else {
                hits.truncate(limit);
            }
            next = Some(query::cursor_text(last));
        }
        let alerts = hits.iter().map(|(_, addr)| self.read(&searcher, *addr)).collect::<Result<_, _>>()?;
        Ok(SearchResult { total, alerts, next })
    }

    fn read(&self, searcher: &Searcher, addr: DocAddress) -> Result<Alert, StoreError> {
        let doc: TantivyDocument = searcher.doc(addr)?;
        let json = doc
            .get_first(self.fields.doc)
            .and_then(|v| v.as_str())
            .ok_or_else(|| StoreError::Corrupt("no document".into()))?;
        serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The alerts with these ids that `scope` may see, in the order of `ids` (missing ones
    /// left out).
    pub fn get(&self, ids: &[&str], scope: &Scope) -> Result<Vec<Alert>, StoreError> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let mut clauses: Vec<Box<dyn Query>> =
                vec![Box::new(TermQuery::new(schema::id_term(&f, id), IndexRecordOption::Basic))];
            clauses.extend(query::scope_clause(&f, scope));
            let top = searcher.search(&*query::all_of(clauses), &TopDocs::with_limit(1).order_by_score())?;
            if let Some((_, addr)) = top.first() {
                out.push(self.read(&searcher, *addr)?);
            }
        }
        Ok(out)
    }

    /// Counts alerts by facet, and over time when asked, for the same query, range and scope
    /// as [`AlertStore::search`].
    pub fn aggregate(&self, request: &AggQuery) -> Result<AggResult, StoreError> {
        let searcher = self.reader.searcher();
        let q = query::all_of(self.filtered(&request.search)?);
        let histogram = match request.histogram {
            false => None,
            true => self.span(&searcher, &*q, &request.search)?.map(|(min, max)| {
                let (ms, name) = aggs::interval_for((max - min).max(0) as u64);
                (ms, name, min, max)
            }),
        };
        let size = request.size.clamp(1, aggs::MAX_FACET_SIZE);
        let wanted = aggs::request(&request.facets, size, histogram.map(|(ms, _, min, max)| (ms, min, max)));
        let (total, result) = searcher.search(&*q, &(Count, self.collector(wanted)?))?;
        let value = aggregation_json(&result)?;
        let mut out = aggs::read(&request.facets, &value, histogram.map(|(ms, name, _, _)| (ms, name)));
        out.total = total as u64;
        Ok(out)
    }

    /// A collector for an Elasticsearch-style aggregation request, within memory and bucket
    /// limits (a request that would pass them is an error, not an out-of-memory).
    fn collector(&self, request: serde_json::Value) -> Result<AggregationCollector, StoreError> {
        let aggregations: Aggregations =
            serde_json::from_value(request).map_err(|e| StoreError::Corrupt(format!("aggregation request: {e}")))?;
        let limits = AggregationLimitsGuard::new(Some(512 << 20), Some(70_000));
        Ok(AggregationCollector::from_aggs(
            aggregations,
            AggContextParams::new(limits, self.index.tokenizers().clone()),
        ))
    }

    /// Per rule id: how many alerts `scope` may see, and the event time of the newest.
    pub fn rule_hits(&self, scope: &Scope) -> Result<std::collections::HashMap<String, RuleHits>, StoreError> {
        let searcher = self.reader.searcher();
        let q = query::all_of(query::scope_clause(&self.fields, scope).into_iter().collect());
        let request = serde_json::json!({
            "rules": { "terms": { "field": "rule_id", "size": 65_000 }, "aggs": { "last": { "max": { "field": "sort" } } } }
        });
        let value = aggregation_json(&searcher.search(&*q, &self.collector(request)?)?)?;
        let mut out = std::collections::HashMap::new();
        for b in value["rules"]["buckets"].as_array().into_iter().flatten() {
            let (Some(id), Some(count)) = (b["key"].as_str(), b["doc_count"].as_u64()) else { continue };
            // The sort key's top 42 bits are milliseconds; as an f64 it keeps them.
            let last = b["last"]["value"].as_f64().map(|k| (k / f64::from(1 << 22)) as i64);
            let last = last.and_then(chrono::DateTime::from_timestamp_millis);
            out.insert(id.to_owned(), RuleHits { alerts: count, last });
        }
        Ok(out)
    }

    /// The event-time span (ms) a histogram covers: the query's range, completed by the
    /// oldest and newest alert matched.
    fn span(&self, searcher: &Searcher, q: &dyn Query, query: &AlertQuery) -> Result<Option<(i64, i64)>, StoreError> {
        let edge = |order| -> Result<Option<i64>, StoreError> {
            let top = searcher.search(q, &TopDocs::with_limit(1).order_by_u64_field("sort", order))?;
            Ok(top.first().and_then(|(k, _)| *k).map(|k| (k >> 22) as i64))
        };
        let min = match query.from {
            Some(t) => Some(t.timestamp_millis()),
            None => edge(Order::Asc)?,
        };
        let max = match query.to {
            Some(t) => Some(t.timestamp_millis()),
            None => edge(Order::Desc)?,
        };
        Ok(min.zip(max).filter(|(a, b)| a <= b))
    }
}

/// The clauses again, without parsing the caller's query again.
fn clone_all(clauses: &[Box<dyn Query>]) -> Vec<Box<dyn Query>> {
    clauses.iter().map(|q| q.box_clone()).collect()
}

fn aggregation_json(
    result: &tantivy::aggregation::agg_result::AggregationResults,
) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(result).map_err(|e| StoreError::Corrupt(format!("aggregation: {e}")))
}

fn check_version(dir: &Path) -> Result<(), StoreError> {
    let file: PathBuf = dir.join(VERSION_FILE);
    let found = match std::fs::read_to_string(&file) {
        Ok(v) => v.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !dir.join("meta.json").exists() {
                return Ok(());
            }
            "1".to_owned()
        }
        Err(source) => return Err(StoreError::Io { path: file.display().to_string(), source }),
    };
    if found == schema::VERSION.to_string() {
        return Ok(());
    }
    Err(StoreError::Version { path: dir.display().to_string(), found })
}
