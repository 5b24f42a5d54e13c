//! Syslog over TLS (RFC 5425) with rustls: the server certificate from the configuration, or
//! a development certificate generated into the data dir; optional client certificates, whose
//! subject identifies the source.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;
use thiserror::Error;

/// `[tls]` in the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain; empty: a development certificate in `<data-dir>/tls/`.
    pub cert: PathBuf,
    /// PEM private key (with `cert`).
    pub key: PathBuf,
    /// PEM bundle of CAs that sign client certificates; empty: no client certificates.
    pub client_ca: PathBuf,
    /// Refuse clients without a valid certificate (only with `client_ca`).
    pub require_client_cert: bool,
    /// Seconds a client may take to finish the handshake.
    pub handshake_timeout_secs: u64,
}

#[derive(Debug, Error)]
pub enum TlsError {
    #[error("TLS: cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("TLS: {path} holds no certificate")]
    NoCert { path: PathBuf },
    #[error("TLS: cannot generate a development certificate: {0}")]
    Generate(String),
    #[error("TLS: cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("TLS: invalid configuration: {0}")]
    Config(String),
}

/// The server's TLS setup, and whether its certificate was generated for development.
pub struct TlsSetup {
    pub config: Arc<rustls::ServerConfig>,
    /// Set when a development certificate was generated (or reused) in the data dir.
    pub dev_cert: Option<PathBuf>,
}

fn provider() -> Arc<CryptoProvider> {
    // Only ring is compiled in; name it explicitly all the same.
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |e: rustls::pki_types::pem::Error| TlsError::Read { path: path.to_owned(), reason: e.to_string() };
    let certs = CertificateDer::pem_file_iter(path).map_err(read)?.collect::<Result<Vec<_>, _>>().map_err(read)?;
    if certs.is_empty() {
        return Err(TlsError::NoCert { path: path.to_owned() });
    }
    Ok(certs)
}

/// Writes a self-signed certificate for `localhost`/`127.0.0.1` into `dir` unless one is there.
fn dev_certificate(dir: &Path) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join("dev-cert.pem");
    let key = dir.join("dev-key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let write = |path: &Path, data: &str, mode: u32| -> Result<(), TlsError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |source| TlsError::Write { path: path.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path).map_err(err)?;
        f.write_all(data.as_bytes()).map_err(err)
    };
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write(&key, &generated.signing_key.serialize_pem(), 0o600)?;
    write(&cert, &generated.cert.pem(), 0o644)?;
    Ok((cert, key))
}

/// Builds the rustls server configuration.
pub fn server_config(tls: &TlsConfig, data_dir: &Path) -> Result<TlsSetup, TlsError> {
    let (cert, key, dev_cert) = if tls.cert.as_os_str().is_empty() {
        let (c, k) = dev_certificate(&data_dir.join("tls"))?;
        (c.clone(), k, Some(c))
    } else {
        if tls.key.as_os_str().is_empty() {
            return Err(TlsError::Config("`tls.cert` is set but `tls.key` is not".to_owned()));
        }
        (tls.cert.clone(), tls.key.clone(), None)
    };
    let certs = read_certs(&cert)?;
    let key =
        PrivateKeyDer::from_pem_file(&key).map_err(|e| TlsError::Read { path: key.clone(), reason: e.to_string() })?;
    let provider = provider();
    let verifier = if tls.client_ca.as_os_str().is_empty() {
        if tls.require_client_cert {
            return Err(TlsError::Config("`tls.require_client_cert` needs `tls.client_ca`".to_owned()));
        }
        WebPkiClientVerifier::no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in read_certs(&tls.client_ca)? {
            roots.add(ca).map_err(|e| TlsError::Config(format!("client CA: {e}")))?;
        }
        let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let builder = if tls.require_client_cert { builder } else { builder.allow_unauthenticated() };
        builder.build().map_err(|e| TlsError::Config(e.to_string()))?
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    // Syslog senders only write. TLS 1.3 session tickets sent after the handshake sit unread
    // in a sender's socket, and closing a socket with unread data makes its kernel send a
    // reset that discards what the sender wrote last: send none.
    config.send_tls13_tickets = 0;
    Ok(TlsSetup { config: Arc::new(config), dev_cert })
}

/// The subject of a client certificate, as `CN=..., O=...`.
pub fn subject(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(parsed.subject().to_string())
}
