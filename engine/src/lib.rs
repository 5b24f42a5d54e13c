//! vigil's runtime: configuration, the syslog listeners, the detection pipeline, the alert
//! store and offline replay.
//!
//! Data flow: listeners (tokio) -> [`pipeline::Detector`] (parsers + rules, rayon batches) ->
//! [`store::AlertStore`] (tantivy). `replay` runs the same [`pipeline::Detector`] over files
//! (lines, or Windows event logs read natively by `evtx`).
//! This crate speaks syslog but never HTTP: only `vigil-ui-api` does.

pub mod alert;
pub mod config;
pub mod correlate;
pub mod evtx;
pub mod health;
pub mod pipeline;
pub mod relp;
pub mod replay;
pub mod serve;
pub mod sources;
pub mod stats;
pub mod store;
pub mod summary;
pub mod tls;
pub mod triage;
pub mod wal;

pub use alert::{Alert, AlertRule, AlertSource};
pub use config::{Config, ConfigError};
pub use correlate::Correlator;
pub use pipeline::{Detected, Detector, Input, Mark, Workers};
pub use serve::{Engine, EngineError};
pub use stats::{Stats, StatsSnapshot};
pub use store::{
    AggQuery, AggResult, AlertQuery, AlertStore, Facet, RuleHits, Scope, SearchResult, SortOrder, StoreError,
};
