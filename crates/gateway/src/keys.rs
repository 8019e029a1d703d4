//! The server's secret root key: JWT signing and the API-secret encryption key are
//! derived from it ([`ServerKey::derive`]). It comes from the config, else from the file
//! `server.key` in the data dir, which is generated (32 random bytes, hex, mode 0600) on
//! first start.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[error("server key: {0}")]
pub struct KeyError(String);

/// The server's secret root key.
#[derive(Clone)]
pub struct ServerKey([u8; 32]);

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(..)")
    }
}

impl ServerKey {
    /// `configured` (hex) if given, else from (or newly into) `data_dir/server.key`.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(hex_key) = configured {
            return Self::from_hex(hex_key);
        }
        let path = data_dir.join("server.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                write_secret(&path, &hex::encode(key))
                    .map_err(|e| KeyError(format!("{}: {e}", path.display())))?;
                tracing::info!(path = %path.display(), "generated a new server key");
                Ok(Self(key))
            }
            Err(e) => Err(KeyError(format!("{}: {e}", path.display()))),
        }
    }

    fn from_hex(s: &str) -> Result<Self, KeyError> {
        let bytes = hex::decode(s).map_err(|_| KeyError("not hex".into()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError("must be 32 bytes (64 hex digits)".into()))?;
        Ok(Self(key))
    }

    /// An independent 32-byte key for one purpose (e.g. `"bourse jwt v1"`,
    /// `"bourse api-key secrets v1"`).
    pub fn derive(&self, context: &str) -> [u8; 32] {
        blake3::derive_key(context, &self.0)
    }
}

fn write_secret(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}
