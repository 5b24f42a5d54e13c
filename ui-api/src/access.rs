//! Who may call what: roles, API tokens and the scope each caller sees.
//!
//! | role | may | sees |
//! |---|---|---|
//! | `national_analyst` | search, aggregate, read, export, triage; sources; rules (read); stats and metrics | every province |
//! | `provincial_analyst` | search, aggregate, read, export, triage; sources; rules (read) | its province |
//! | `agency_viewer` | search, aggregate, read, export; sources | its agency |
//! | `rule_author` | rules: read and reload | no alerts |
//! | `admin` | everything; tokens | every province |
//!
//! Tokens are `vigil_<id>_<secret>`: a public 8-hex-digit id and a random 256-bit secret, shown
//! once by `vigil token create`. The token file (`<data-dir>/tokens.json`, mode 0600) keeps the
//! secret's SHA-256 only; a presented secret's hash is compared in constant time. The server
//! reads the file again when it changes, so a `vigil token revoke` takes effect at the next
//! request. The bootstrap admin token (`admin.token` or `VIGIL_ADMIN_TOKEN`, see
//! [`crate::token`]) is an `admin` caller.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use vigil_engine::Scope;

pub const TOKENS_FILE: &str = "tokens.json";
const PREFIX: &str = "vigil_";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    NationalAnalyst,
    ProvincialAnalyst,
    AgencyViewer,
    RuleAuthor,
    Admin,
}

impl Role {
    pub const ALL: &[Role] =
        &[Role::NationalAnalyst, Role::ProvincialAnalyst, Role::AgencyViewer, Role::RuleAuthor, Role::Admin];

    pub fn name(self) -> &'static str {
        match self {
            Role::NationalAnalyst => "national_analyst",
            Role::ProvincialAnalyst => "provincial_analyst",
            Role::AgencyViewer => "agency_viewer",
            Role::RuleAuthor => "rule_author",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.name() == name)
    }

    /// Whether the role may do `action` (scope aside).
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => true,
            Role::NationalAnalyst => matches!(action, ReadAlerts | Triage | Sources | ReadRules | Stats),
            Role::ProvincialAnalyst => matches!(action, ReadAlerts | Triage | Sources | ReadRules),
            Role::AgencyViewer => matches!(action, ReadAlerts | Sources),
            Role::RuleAuthor => matches!(action, ReadRules | ReloadRules),
        }
    }
}

/// What an endpoint does, for the role check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Search, aggregate, read one alert, export.
    ReadAlerts,
    /// Change an alert's triage state.
    Triage,
    /// Source health.
    Sources,
    ReadRules,
    ReloadRules,
    /// Pipeline counters and metrics (every province's).
    Stats,
}

/// The authenticated caller of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Caller {
    /// The token's id (`admin` for the bootstrap token).
    pub token: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub scope: Scope,
}

impl Caller {
    pub fn admin() -> Caller {
        Caller { token: "admin".into(), name: "bootstrap admin token".into(), role: Role::Admin, scope: Scope::All }
    }
}

/// One token in the token file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    pub created: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<DateTime<Utc>>,
}

impl TokenRecord {
    /// What the token sees; `None` for a scoped role whose scope is missing (a hand-edited
    /// file): such a token authenticates as nobody, never as national.
    pub fn scope(&self) -> Option<Scope> {
        match (self.role, &self.province, &self.agency) {
            (Role::ProvincialAnalyst, Some(p), _) => Some(Scope::Province(p.clone())),
            (Role::AgencyViewer, _, Some(a)) => Some(Scope::Agency(a.clone())),
            (Role::ProvincialAnalyst | Role::AgencyViewer, _, _) => None,
            _ => Some(Scope::All),
        }
    }

    fn caller(&self) -> Option<Caller> {
        let scope = self.scope()?;
        Some(Caller { token: self.id.clone(), name: self.name.clone(), role: self.role, scope })
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

#[derive(Debug, Error)]
pub enum AccessError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a token file: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("no random source for a new token: {0}")]
    Random(String),
    #[error("{0}")]
    Invalid(String),
    #[error("no token with id {0}")]
    Unknown(String),
}

/// A new token's scope and name.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub role: Role,
    pub province: Option<String>,
    pub agency: Option<String>,
    pub name: Option<String>,
}

fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A file's modification time and length: when either changes, it is read again.
type FileStamp = (SystemTime, u64);

/// The token file: created, listed and revoked by the CLI, read by the server.
pub struct TokenStore {
    path: PathBuf,
    /// The records as last read, and the file's modification time and length then.
    cache: RwLock<(Option<FileStamp>, Arc<Vec<TokenRecord>>)>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl TokenStore {
    pub fn new(data_dir: &Path) -> TokenStore {
        TokenStore { path: data_dir.join(TOKENS_FILE), cache: RwLock::new((None, Arc::new(Vec::new()))) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> AccessError {
        AccessError::Io { path: self.path.clone(), source }
    }

    fn read_file(&self) -> Result<TokenFile, AccessError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| AccessError::Corrupt { path: self.path.clone(), reason: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Changes the file under an exclusive lock, writing it whole and renaming it into place.
    fn update<T>(&self, change: impl FnOnce(&mut TokenFile) -> Result<T, AccessError>) -> Result<T, AccessError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| self.io(e))?;
        lock.lock().map_err(|e| self.io(e))?;
        let mut file = self.read_file()?;
        let out = change(&mut file)?;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| AccessError::Corrupt { path: self.path.clone(), reason: e.to_string() })?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.io(e))?;
        f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| self.io(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.io(e))?;
        Ok(out)
    }

    /// Creates a token; returns its record and the token itself (shown once, never stored).
    pub fn create(&self, new: NewToken) -> Result<(TokenRecord, String), AccessError> {
        let non_empty = |v: &Option<String>| v.as_ref().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let (province, agency) = (non_empty(&new.province), non_empty(&new.agency));
        match new.role {
            Role::ProvincialAnalyst if province.is_none() => {
                return Err(AccessError::Invalid("a provincial_analyst token needs --province".into()));
            }
            Role::AgencyViewer if agency.is_none() => {
                return Err(AccessError::Invalid("an agency_viewer token needs --agency".into()));
            }
            Role::ProvincialAnalyst if agency.is_some() => {
                return Err(AccessError::Invalid("a provincial_analyst token takes --province, not --agency".into()));
            }
            Role::AgencyViewer if province.is_some() => {
                return Err(AccessError::Invalid("an agency_viewer token takes --agency, not --province".into()));
            }
            Role::NationalAnalyst | Role::RuleAuthor | Role::Admin if province.is_some() || agency.is_some() => {
                return Err(AccessError::Invalid(format!(
                    "a {} token sees every province: it takes no --province or --agency",
                    new.role.name()
                )));
            }
            _ => {}
        }
        let mut id_bytes = [0u8; 4];
        let mut secret_bytes = [0u8; 32];
        getrandom::fill(&mut id_bytes).map_err(|e| AccessError::Random(e.to_string()))?;
        getrandom::fill(&mut secret_bytes).map_err(|e| AccessError::Random(e.to_string()))?;
        let id = hex::encode(id_bytes);
        let secret = hex::encode(secret_bytes);
        let name = new.name.unwrap_or_else(|| {
            let scope = province.as_deref().or(agency.as_deref()).map(|s| format!("-{s}")).unwrap_or_default();
            format!("{}{scope}", new.role.name())
        });
        let record = TokenRecord {
            id: id.clone(),
            name,
            role: new.role,
            province,
            agency,
            hash: sha256_hex(&secret),
            created: Utc::now(),
            revoked: None,
        };
        let stored = record.clone();
        self.update(move |file| {
            if file.tokens.iter().any(|t| t.id == stored.id) {
                return Err(AccessError::Invalid("token id collision; try again".into()));
            }
            file.tokens.push(stored);
            Ok(())
        })?;
        Ok((record, format!("{PREFIX}{id}_{secret}")))
    }

    /// Every token, revoked ones included.
    pub fn list(&self) -> Result<Vec<TokenRecord>, AccessError> {
        Ok(self.read_file()?.tokens)
    }

    /// Revokes a token by id; false when it was revoked already.
    pub fn revoke(&self, id: &str) -> Result<bool, AccessError> {
        self.update(|file| {
            let token = file.tokens.iter_mut().find(|t| t.id == id).ok_or_else(|| AccessError::Unknown(id.into()))?;
            if token.revoked.is_some() {
                return Ok(false);
            }
            token.revoked = Some(Utc::now());
            Ok(true)
        })
    }

    /// The records, read again when the file changed since the last call.
    fn records(&self) -> Result<Arc<Vec<TokenRecord>>, AccessError> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(m) => Some((m.modified().map_err(|e| self.io(e))?, m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io(e)),
        };
        {
            let cache = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if cache.0 == stamp {
                return Ok(cache.1.clone());
            }
        }
        let records = Arc::new(self.read_file()?.tokens);
        *self.cache.write().unwrap_or_else(|p| p.into_inner()) = (stamp, records.clone());
        Ok(records)
    }

    /// The caller a presented `vigil_<id>_<secret>` token belongs to; `None` for anything
    /// else, a revoked token included.
    pub fn authenticate(&self, presented: &str) -> Result<Option<Caller>, AccessError> {
        let Some((id, secret)) = presented.strip_prefix(PREFIX).and_then(|rest| rest.split_once('_')) else {
            return Ok(None);
        };
        let records = self.records()?;
        let Some(record) = records.iter().find(|t| t.id == id && t.revoked.is_none()) else {
            return Ok(None);
        };
        let hash = sha256_hex(secret);
        Ok(bool::from(hash.as_bytes().ct_eq(record.hash.as_bytes())).then(|| record.caller()).flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(role: Role, province: Option<&str>, agency: Option<&str>) -> NewToken {
        NewToken { role, province: province.map(Into::into), agency: agency.map(Into::into), name: None }
    }

    #[test]
    fn tokens_are_created_stored_hashed_and_revoked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TokenStore::new(dir.path());
        let (record, token) = store.create(new(Role::ProvincialAnalyst, Some("HN"), None)).expect("create");
        assert!(token.starts_with("vigil_") && token.len() == 6 + 8 + 1 + 64, "{token}");
        let file = std::fs::read_to_string(store.path()).expect("read");
        assert!(!file.contains(&token[15..]), "the secret is not stored");
        assert!(file.contains(&record.hash));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path()).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let caller = store.authenticate(&token).expect("auth").expect("valid");
        assert_eq!((caller.role, caller.scope), (Role::ProvincialAnalyst, Scope::Province("HN".into())));
        let mut wrong = token.clone();
        wrong.pop();
        wrong.push(if token.ends_with('0') { '1' } else { '0' });
        for bad in [wrong.as_str(), "vigil_", "vigil_x_y", "", &token[..20], "Bearer x"] {
            assert_eq!(store.authenticate(bad).expect("auth"), None, "{bad}");
        }
        // Another process revokes it: the next check sees it.
        let other = TokenStore::new(dir.path());
        assert!(other.revoke(&record.id).expect("revoke"));
        assert!(!other.revoke(&record.id).expect("revoke again"));
        assert_eq!(store.authenticate(&token).expect("auth"), None);
        assert!(matches!(other.revoke("nope"), Err(AccessError::Unknown(_))));
        assert_eq!(other.list().expect("list").len(), 1);
    }

    #[test]
    fn a_scope_fits_its_role() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = TokenStore::new(dir.path());
        for bad in [
            new(Role::ProvincialAnalyst, None, None),
            new(Role::ProvincialAnalyst, Some("HN"), Some("x")),
            new(Role::AgencyViewer, None, None),
            new(Role::AgencyViewer, Some("HN"), Some("x")),
            new(Role::NationalAnalyst, Some("HN"), None),
            new(Role::Admin, None, Some("x")),
            new(Role::ProvincialAnalyst, Some("  "), None),
        ] {
            assert!(matches!(store.create(bad.clone()), Err(AccessError::Invalid(_))), "{bad:?}");
        }
        let (r, _) = store.create(new(Role::AgencyViewer, None, Some("so-tttt-hn"))).expect("create");
        assert_eq!(r.scope(), Some(Scope::Agency("so-tttt-hn".into())));
        assert_eq!(r.name, "agency_viewer-so-tttt-hn");
        let (r, _) = store.create(new(Role::RuleAuthor, None, None)).expect("create");
        assert_eq!(r.scope(), Some(Scope::All));
        // A provincial token whose province was edited out of the file is nobody, not national.
        let (_, token) = store.create(new(Role::ProvincialAnalyst, Some("HN"), None)).expect("create");
        let text = std::fs::read_to_string(store.path()).expect("read").replace("\"province\": \"HN\",", "");
        std::fs::write(store.path(), text).expect("write");
        assert_eq!(store.authenticate(&token).expect("auth"), None);
        assert!(!Role::RuleAuthor.may(Action::ReadAlerts));
        assert!(!Role::AgencyViewer.may(Action::Triage));
        assert!(Role::ProvincialAnalyst.may(Action::Triage));
        assert!(!Role::ProvincialAnalyst.may(Action::Stats));
    }
}
