//! The audit log: one JSON line per API call, in `<data-dir>/audit.log` (mode 0600, appended).
//!
//! Each line says who called (token id, name and role, or nobody for a refused token), when,
//! what (method, path, query string), the answer's status, how many results it gave (alerts,
//! buckets, rows exported) and how long it took. A handler tells the count by adding
//! [`Results`] to its response's extensions.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{SecondsFormat, Utc};
use serde_json::json;

use crate::access::Caller;

pub const AUDIT_FILE: &str = "audit.log";

/// How many results an answer gave, for the audit log.
#[derive(Clone, Copy, Debug)]
pub struct Results(pub u64);

pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    /// Failed writes (a full disk fails them all): logged every 10 s.
    errors: Mutex<vigil_engine::stats::LogThrottle>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog").field("path", &self.path).finish_non_exhaustive()
    }
}

/// One API call.
#[derive(Debug)]
pub struct Entry<'a> {
    pub caller: Option<&'a Caller>,
    pub method: &'a str,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub status: u16,
    pub results: Option<u64>,
    pub millis: f64,
    pub peer: Option<std::net::SocketAddr>,
}

impl AuditLog {
    pub fn open(data_dir: &Path) -> std::io::Result<AuditLog> {
        let path = data_dir.join(AUDIT_FILE);
        let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&path)?;
        let errors = Mutex::new(vigil_engine::stats::LogThrottle::new(std::time::Duration::from_secs(10)));
        Ok(AuditLog { path, file: Mutex::new(file), errors })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line. A failure to write is logged, never the caller's problem.
    pub fn record(&self, e: &Entry<'_>) {
        let line = json!({
            "time": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            "token": e.caller.map(|c| c.token.as_str()),
            "name": e.caller.map(|c| c.name.as_str()),
            "role": e.caller.map(|c| c.role.name()),
            "peer": e.peer.map(|p| p.to_string()),
            "method": e.method,
            "path": e.path,
            "query": e.query,
            "status": e.status,
            "results": e.results,
            "ms": (e.millis * 10.0).round() / 10.0,
        });
        let mut text = line.to_string();
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = file.write_all(text.as_bytes())
            && let Some(repeats) = self.errors.lock().unwrap_or_else(|p| p.into_inner()).admit()
        {
            tracing::error!(%error, repeats, path = %self.path.display(), "cannot write the audit log");
        }
    }
}
