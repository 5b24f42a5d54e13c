//! Configuration: an embedded default TOML document, deep-merged with an optional user file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;
use thiserror::Error;

use crate::sources::{SourceConfig, UnknownSourcesConfig};
use crate::tls::TlsConfig;

/// The embedded default configuration, as TOML.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config{}: {message}", origin.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Invalid { origin: Option<PathBuf>, message: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub sources: Vec<SourceConfig>,
    pub syslog: SyslogConfig,
    pub tls: TlsConfig,
    pub unknown_sources: UnknownSourcesConfig,
    pub http: HttpConfig,
    pub rules: RulesConfig,
    pub pipeline: PipelineConfig,
    pub store: StoreConfig,
    pub correlation: CorrelationConfig,
    pub wal: WalConfig,
    pub health: HealthConfig,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    #[serde(deserialize_with = "duration")]
    pub min_silence: std::time::Duration,
    pub learn_factor: f64,
    pub learn_after: u64,
    pub check_interval_secs: u64,
}

impl HealthConfig {
    pub fn settings(&self) -> crate::health::HealthSettings {
        crate::health::HealthSettings {
            min_silence: self.min_silence,
            learn_factor: if self.learn_factor.is_finite() { self.learn_factor.max(1.0) } else { 10.0 },
            learn_after: self.learn_after,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalConfig {
    pub fsync: FsyncMode,
    pub fsync_interval_ms: u64,
    pub segment_mb: u64,
    pub max_mb: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncMode {
    Interval,
    Always,
    Never,
}

impl WalConfig {
    pub fn options(&self) -> crate::wal::WalOptions {
        let segment_bytes = self.segment_mb.clamp(1, 1024) << 20;
        crate::wal::WalOptions {
            segment_bytes,
            // At least a few segments: a cap below one would stop everything.
            max_bytes: (self.max_mb << 20).max(4 * segment_bytes),
            fsync: match self.fsync {
                FsyncMode::Interval => crate::wal::FsyncPolicy::Interval(std::time::Duration::from_millis(
                    self.fsync_interval_ms.clamp(1, 10_000),
                )),
                FsyncMode::Always => crate::wal::FsyncPolicy::Always,
                FsyncMode::Never => crate::wal::FsyncPolicy::Never,
            },
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationConfig {
    #[serde(deserialize_with = "duration")]
    pub allowed_lateness: std::time::Duration,
    #[serde(deserialize_with = "duration")]
    pub max_source_lag: std::time::Duration,
    pub max_keys: usize,
    pub max_hits_per_key: usize,
    pub max_members: usize,
    pub keep_building_blocks: bool,
    pub snapshot_interval_secs: u64,
}

impl CorrelationConfig {
    pub fn settings(&self) -> crate::correlate::Settings {
        crate::correlate::Settings {
            allowed_lateness: self.allowed_lateness,
            max_source_lag: self.max_source_lag,
            max_keys: self.max_keys.max(1),
            max_hits_per_key: self.max_hits_per_key.max(1),
            max_members: self.max_members,
            keep_building_blocks: self.keep_building_blocks,
        }
    }
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
    let s = String::deserialize(d)?;
    crate::correlate::parse_duration(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("invalid duration {s:?}: a number then s, m, h or d (`5m`)")))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    #[serde(deserialize_with = "optional_addr")]
    pub udp: Option<SocketAddr>,
    #[serde(deserialize_with = "optional_addr")]
    pub tcp: Option<SocketAddr>,
    #[serde(deserialize_with = "optional_addr")]
    pub tls: Option<SocketAddr>,
    #[serde(deserialize_with = "optional_addr")]
    pub relp: Option<SocketAddr>,
    pub max_message_bytes: usize,
    pub udp_recv_buffer_bytes: usize,
    pub tcp_idle_timeout_secs: u64,
    pub max_connections: usize,
    #[serde(deserialize_with = "time_zone")]
    pub timezone: Tz,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesConfig {
    pub bundled: bool,
    pub dirs: Vec<PathBuf>,
    /// Values of the `%name%` placeholders of rules with `|expand`.
    #[serde(default)]
    pub placeholders: vigil_rules::Placeholders,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    pub batch_size: usize,
    pub queue_capacity: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub commit_interval_ms: u64,
    pub writer_memory_mb: usize,
    pub nice: i32,
}

fn optional_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Ok(None);
    }
    s.parse().map(Some).map_err(|e| serde::de::Error::custom(format!("invalid address {s:?}: {e}")))
}

fn time_zone<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(|_| serde::de::Error::custom(format!("unknown time zone {s:?}")))
}

impl Config {
    /// The embedded default configuration.
    pub fn default_config() -> Result<Config, ConfigError> {
        Config::from_overrides(None, "")
    }

    /// The default configuration overridden by the TOML in `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_overrides(Some(path), &text)
    }

    /// The default configuration overridden by `text` (TOML). Tables merge key by key; any
    /// other value replaces the default.
    pub fn from_overrides(origin: Option<&Path>, text: &str) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { origin: origin.map(Path::to_owned), message };
        let mut base: toml::Table = toml::from_str(DEFAULT_CONFIG)
            .map_err(|e| ConfigError::Invalid { origin: None, message: format!("embedded default: {e}") })?;
        let user: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        check_known(&base, &user, "").map_err(invalid)?;
        merge(&mut base, user);
        toml::Value::Table(base).try_into().map_err(|e: toml::de::Error| invalid(e.to_string()))
    }
}

/// Tables whose keys are the user's own names, not settings.
const FREE_FORM: &[&str] = &["rules.placeholders"];

/// Rejects keys the default configuration does not have, naming the full key.
fn check_known(base: &toml::Table, user: &toml::Table, prefix: &str) -> Result<(), String> {
    for (key, value) in user {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match (base.get(key), value) {
            (Some(toml::Value::Table(_)), toml::Value::Table(_)) if FREE_FORM.contains(&path.as_str()) => {}
            (None, _) => return Err(format!("unknown key `{path}`")),
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => check_known(b, u, &path)?,
            (Some(toml::Value::Table(_)), _) => return Err(format!("`{path}` must be a table")),
            _ => {}
        }
    }
    Ok(())
}

fn merge(base: &mut toml::Table, user: toml::Table) {
    for (key, value) in user {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge(b, u),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        let c = Config::default_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8514");
        assert_eq!(c.syslog.udp.map(|a| a.port()), Some(5514));
        assert_eq!(c.syslog.timezone, chrono_tz::Asia::Ho_Chi_Minh);
        assert_eq!(c.syslog.tls.map(|a| a.port()), Some(6514));
        assert!(c.sources.is_empty());
        assert_eq!(c.correlation.allowed_lateness, std::time::Duration::from_secs(300));
        let c = Config::from_overrides(None, "[correlation]\nallowed_lateness = \"0s\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.correlation.allowed_lateness, std::time::Duration::ZERO);
        let e = Config::from_overrides(None, "[correlation]\nallowed_lateness = \"soon\"\n").map(|_| ());
        assert!(e.is_err_and(|e| e.to_string().contains("soon")));
    }

    #[test]
    fn sources_are_read_and_their_unknown_keys_rejected() {
        let c = Config::from_overrides(
            None,
            "[[sources]]\nname = \"hn\"\nagency = \"A\"\nprovince = \"Ha Noi\"\nmatch = [\"10.0.0.0/8\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.sources[0].province, "Ha Noi");
        let e = Config::from_overrides(
            None,
            "[[sources]]\nname = \"hn\"\nagency = \"A\"\nprovince = \"P\"\nmatch = []\nzone = 1\n",
        );
        assert!(e.is_err_and(|e| e.to_string().contains("zone")));
    }

    #[test]
    fn overrides_merge_and_unknown_keys_are_named() {
        let c = Config::from_overrides(None, "[syslog]\nudp = \"\"\n[http]\nlisten = \"127.0.0.1:0\"\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.syslog.udp, None);
        assert_eq!(c.syslog.tcp.map(|a| a.port()), Some(5514));
        assert_eq!(c.http.listen.port(), 0);
        let c = Config::from_overrides(None, "[rules.placeholders]\nAdmins = [\"alice\"]\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.rules.placeholders.get("Admins"), Some(&vec!["alice".to_owned()]));
        let e = Config::from_overrides(None, "[rules.placeholders]\nAdmins = 1\n");
        assert!(e.is_err(), "placeholder values are lists of strings");
        let e = Config::from_overrides(None, "[syslog]\nudpp = \"x\"\n").map(|_| ()).map_err(|e| e.to_string());
        assert!(e.as_ref().is_err_and(|m| m.contains("`syslog.udpp`")), "{e:?}");
        let e = Config::from_overrides(None, "[syslog]\ntimezone = \"Mars/Base\"\n").map(|_| ());
        assert!(e.is_err_and(|e| e.to_string().contains("Mars/Base")));
    }
}
