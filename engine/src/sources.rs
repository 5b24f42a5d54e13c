//! Sources: which agency and province sent a message.
//!
//! A sender is matched, most specific first, by its TLS client certificate (`cert:` subject
//! or CN), its address (`10.1.2.3`, `10.1.0.0/16`: longest prefix wins), or the hostname in
//! the syslog header (`host:portal.hanoi.gov.vn`). Senders that match nothing are assigned to
//! the default source ("unassigned") or refused, as configured, and counted either way.

use std::net::IpAddr;
use std::sync::Arc;

use chrono_tz::Tz;
use ipnet::IpNet;
use serde::Deserialize;
use thiserror::Error;
use vigil_parsers::{InputFormat, Origin};

/// One configured source (`[[sources]]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    pub agency: String,
    pub province: String,
    /// `IP`, `CIDR`, `cert:SUBJECT-OR-CN`, `host:HOSTNAME`.
    #[serde(rename = "match")]
    pub matches: Vec<String>,
    /// Time zone of this sender's timestamps without an offset; default `syslog.timezone`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Parser hint: how this sender's lines are read (`auto`, `syslog`, `json`).
    #[serde(default)]
    pub format: Option<FormatHint>,
    /// How long it may be quiet before it is reported silent (`30m`); default: learned from
    /// its traffic (see `[health]`).
    #[serde(default)]
    pub expect_every: Option<String>,
}

/// How a source's lines are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatHint {
    Auto,
    Syslog,
    Json,
}

impl From<FormatHint> for InputFormat {
    fn from(h: FormatHint) -> InputFormat {
        match h {
            FormatHint::Auto => InputFormat::Auto,
            FormatHint::Syslog => InputFormat::Syslog,
            FormatHint::Json => InputFormat::Json,
        }
    }
}

/// What to do with senders no source matches (`[unknown_sources]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnknownSourcesConfig {
    pub action: UnknownAction,
    pub agency: String,
    pub province: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownAction {
    Assign,
    Refuse,
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("source `{name}`: invalid match `{pattern}`: {reason}")]
    BadMatch { name: String, pattern: String, reason: String },
    #[error("source `{0}`: unknown time zone")]
    BadTimezone(String),
    #[error("source name `{0}` is used twice")]
    Duplicate(String),
    #[error("source `{0}`: invalid expect_every {1:?}: a number then s, m, h or d (`30m`)")]
    BadExpect(String, String),
}

/// A resolved source: its origin (copied into events) and its time zone.
#[derive(Debug)]
pub struct Source {
    pub origin: Arc<Origin>,
    pub tz: Tz,
    /// The parser hint, when the source gives one.
    pub format: Option<InputFormat>,
    /// True for the default source of unknown senders.
    pub unknown: bool,
}

#[derive(Debug)]
pub struct SourceMap {
    sources: Vec<Arc<Source>>,
    nets: Vec<(IpNet, usize)>,
    certs: Vec<(String, usize)>,
    hosts: Vec<(String, usize)>,
    unknown: Arc<Source>,
    action: UnknownAction,
    default_tz: Tz,
}

/// How a sender was resolved.
#[derive(Clone, Debug)]
pub enum Resolution {
    /// A configured source (or the default one, when unknown senders are assigned).
    Source(Arc<Source>),
    /// No source matched and unknown senders are refused.
    Refused,
}

impl SourceMap {
    pub fn new(
        configs: &[SourceConfig],
        unknown: &UnknownSourcesConfig,
        default_tz: Tz,
    ) -> Result<SourceMap, SourceError> {
        let mut map = SourceMap {
            sources: Vec::new(),
            nets: Vec::new(),
            certs: Vec::new(),
            hosts: Vec::new(),
            unknown: Arc::new(Source {
                origin: Arc::new(Origin {
                    source: "unassigned".to_owned(),
                    agency: unknown.agency.clone(),
                    province: unknown.province.clone(),
                }),
                tz: default_tz,
                format: None,
                unknown: true,
            }),
            action: unknown.action,
            default_tz,
        };
        for (i, c) in configs.iter().enumerate() {
            if configs[..i].iter().any(|o| o.name == c.name) {
                return Err(SourceError::Duplicate(c.name.clone()));
            }
            let tz = match &c.timezone {
                None => default_tz,
                Some(t) => t.parse().map_err(|_| SourceError::BadTimezone(c.name.clone()))?,
            };
            let bad = |pattern: &str, reason: &str| SourceError::BadMatch {
                name: c.name.clone(),
                pattern: pattern.to_owned(),
                reason: reason.to_owned(),
            };
            for pattern in &c.matches {
                if let Some(subject) = pattern.strip_prefix("cert:") {
                    if subject.trim().is_empty() {
                        return Err(bad(pattern, "empty certificate subject"));
                    }
                    map.certs.push((normalize_dn(subject), i));
                } else if let Some(host) = pattern.strip_prefix("host:") {
                    if host.trim().is_empty() {
                        return Err(bad(pattern, "empty hostname"));
                    }
                    map.hosts.push((host.trim().to_ascii_lowercase(), i));
                } else if let Ok(net) = pattern.parse::<IpNet>() {
                    map.nets.push((net.trunc(), i));
                } else if let Ok(ip) = pattern.parse::<IpAddr>() {
                    map.nets.push((IpNet::from(ip), i));
                } else {
                    return Err(bad(pattern, "expected an IP address, a CIDR, `cert:SUBJECT` or `host:NAME`"));
                }
            }
            map.sources.push(Arc::new(Source {
                origin: Arc::new(Origin {
                    source: c.name.clone(),
                    agency: c.agency.clone(),
                    province: c.province.clone(),
                }),
                tz,
                format: c.format.map(InputFormat::from),
                unknown: false,
            }));
        }
        // Longest prefix first.
        map.nets.sort_by_key(|n| std::cmp::Reverse(n.0.prefix_len()));
        Ok(map)
    }

    /// No sources: every sender is assigned to "unassigned" (replay, parse).
    pub fn unassigned(default_tz: Tz) -> SourceMap {
        let unknown = UnknownSourcesConfig {
            action: UnknownAction::Assign,
            agency: "unassigned".to_owned(),
            province: "unassigned".to_owned(),
        };
        // No configured sources: nothing can fail.
        SourceMap::new(&[], &unknown, default_tz).unwrap_or_else(|_| unreachable!("no sources, no errors"))
    }

    /// The time zone of senders no source names one for.
    pub fn default_tz(&self) -> Tz {
        self.default_tz
    }

    /// The origins of the configured sources, then that of unknown senders.
    pub fn origins(&self) -> impl Iterator<Item = &Arc<Origin>> {
        self.sources.iter().map(|s| &s.origin).chain(std::iter::once(&self.unknown.origin))
    }

    /// The origin given to unknown senders.
    pub fn unknown_origin(&self) -> &Arc<Origin> {
        &self.unknown.origin
    }

    /// A configured source by name.
    pub fn by_name(&self, name: &str) -> Option<Arc<Source>> {
        self.sources.iter().find(|s| s.origin.source == name).cloned()
    }

    /// Resolves a sender by certificate subject, then address. `None` when neither matches:
    /// the hostname in its messages may still match (see [`SourceMap::by_host`]).
    pub fn by_peer(&self, ip: IpAddr, cert_subject: Option<&str>) -> Option<Arc<Source>> {
        if let Some(subject) = cert_subject {
            let dn = normalize_dn(subject);
            let cn = common_name(&dn);
            let hit = |want: &str| {
                want == dn || cn.as_deref().is_some_and(|cn| want == cn || want.strip_prefix("cn=") == Some(cn))
            };
            if let Some((_, i)) = self.certs.iter().find(|(want, _)| hit(want)) {
                return self.sources.get(*i).cloned();
            }
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.nets.iter().find(|(net, _)| net.contains(&ip)).and_then(|(_, i)| self.sources.get(*i).cloned())
    }

    /// Resolves by the hostname a message carries.
    pub fn by_host(&self, host: &str) -> Option<Arc<Source>> {
        let host = host.to_ascii_lowercase();
        self.hosts.iter().find(|(h, _)| *h == host).and_then(|(_, i)| self.sources.get(*i).cloned())
    }

    /// Whether any source is matched by hostname (then unknown peers cannot be refused at
    /// connection time: their messages may name a known host).
    pub fn has_host_matches(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// The default source for unknown senders, or `Refused`.
    pub fn unknown(&self) -> Resolution {
        match self.action {
            UnknownAction::Assign => Resolution::Source(self.unknown.clone()),
            UnknownAction::Refuse => Resolution::Refused,
        }
    }

    pub fn len(&self) -> usize {
        self.sources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// `CN = a, O=b` -> `cn=a,o=b`: certificate subjects compare without case or spaces.
fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| match rdn.split_once('=') {
            Some((k, v)) => format!("{}={}", k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase()),
            None => rdn.trim().to_ascii_lowercase(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn common_name(normalized: &str) -> Option<String> {
    normalized.split(',').find_map(|rdn| rdn.strip_prefix("cn=")).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(action: UnknownAction) -> SourceMap {
        let configs = vec![
            SourceConfig {
                name: "hanoi-net".into(),
                agency: "So TTTT Ha Noi".into(),
                province: "Ha Noi".into(),
                matches: vec!["10.1.0.0/16".into(), "192.0.2.10".into()],
                timezone: None,
                format: None,
                expect_every: None,
            },
            SourceConfig {
                name: "hanoi-portal".into(),
                agency: "Cong DVC Ha Noi".into(),
                province: "Ha Noi".into(),
                matches: vec!["10.1.2.0/24".into(), "cert:CN=portal.hanoi.gov.vn".into(), "host:portal-dvc".into()],
                timezone: Some("Asia/Bangkok".into()),
                format: Some(FormatHint::Syslog),
                expect_every: None,
            },
        ];
        let unknown = UnknownSourcesConfig { action, agency: "unassigned".into(), province: "unassigned".into() };
        SourceMap::new(&configs, &unknown, vigil_parsers::DEFAULT_TZ).expect("valid sources")
    }

    fn name(s: Option<Arc<Source>>) -> Option<String> {
        s.map(|s| s.origin.source.clone())
    }

    #[test]
    fn most_specific_match_wins() {
        let m = map(UnknownAction::Assign);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(name(m.by_peer(ip("10.1.2.3"), None)).as_deref(), Some("hanoi-portal"));
        assert_eq!(name(m.by_peer(ip("10.1.9.3"), None)).as_deref(), Some("hanoi-net"));
        assert_eq!(name(m.by_peer(ip("::ffff:192.0.2.10"), None)).as_deref(), Some("hanoi-net"));
        assert_eq!(name(m.by_peer(ip("10.9.9.9"), None)), None);
        let by_cert = m.by_peer(ip("10.9.9.9"), Some("CN=portal.hanoi.gov.vn, O=UBND Ha Noi"));
        assert_eq!(name(by_cert.clone()).as_deref(), Some("hanoi-portal"));
        assert_eq!(by_cert.map(|s| s.tz), Some(chrono_tz::Asia::Bangkok));
        assert_eq!(name(m.by_host("PORTAL-DVC")).as_deref(), Some("hanoi-portal"));
        assert!(matches!(m.unknown(), Resolution::Source(s) if s.unknown && s.origin.agency == "unassigned"));
        assert!(matches!(map(UnknownAction::Refuse).unknown(), Resolution::Refused));
    }

    #[test]
    fn bad_patterns_are_errors() {
        let c = SourceConfig {
            name: "x".into(),
            agency: "a".into(),
            province: "p".into(),
            matches: vec!["10.1.0.0/33".into()],
            timezone: None,
            format: None,
            expect_every: None,
        };
        let u = UnknownSourcesConfig { action: UnknownAction::Assign, agency: "u".into(), province: "u".into() };
        let e = SourceMap::new(&[c], &u, vigil_parsers::DEFAULT_TZ).map(|_| ()).map_err(|e| e.to_string());
        assert!(e.is_err_and(|m| m.contains("10.1.0.0/33")));
    }
}
