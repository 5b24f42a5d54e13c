//! The admin token: `VIGIL_ADMIN_TOKEN`, or a random token generated once into
//! `<data-dir>/admin.token` (mode 0600).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

pub const TOKEN_ENV: &str = "VIGIL_ADMIN_TOKEN";
pub const TOKEN_FILE: &str = "admin.token";

#[derive(Debug, Error)]
pub enum TokenError {
    #[error("cannot read or write the admin token file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the admin token file {0} is empty")]
    Empty(PathBuf),
    #[error("no random source for a new admin token: {0}")]
    Random(String),
}

/// Where the token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenOrigin {
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

/// Returns the admin token, creating `<data_dir>/admin.token` when neither it nor
/// `VIGIL_ADMIN_TOKEN` exists.
pub fn admin_token(data_dir: &Path) -> Result<(String, TokenOrigin), TokenError> {
    if let Ok(t) = std::env::var(TOKEN_ENV) {
        let t = t.trim().to_owned();
        if !t.is_empty() {
            return Ok((t, TokenOrigin::Env));
        }
    }
    let path = data_dir.join(TOKEN_FILE);
    let io = |source| TokenError::Io { path: path.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(t) => {
            let t = t.trim().to_owned();
            if t.is_empty() {
                return Err(TokenError::Empty(path));
            }
            // Tighten a file someone loosened.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            return Ok((t, TokenOrigin::File(path)));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token = hex::encode(bytes);
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
    file.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
    Ok((token, TokenOrigin::Generated(path)))
}
