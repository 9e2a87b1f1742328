//! The secrets of this checkout, and how they are written (0600). The permit signing key: made once in `.run/permit-signing-key.pem`
//! (mode 0600, never committed), its public half handed to the validators as a JWK Set.
//! `PERMIT_SIGNING_KEY` and `PERMIT_PUBLIC_KEYS`, when set, are used instead.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use permit_token::{KeySet, SigningKey};

use crate::error::Error;
use crate::settings;

pub const SIGNING_KEY: &str = "PERMIT_SIGNING_KEY";
pub const PUBLIC_KEYS: &str = "PERMIT_PUBLIC_KEYS";
/// The variables only the issuer may see.
pub const ISSUER_ONLY: [&str; 2] = [SIGNING_KEY, "ADMIN_TOKEN"];

pub struct PermitKeys {
    /// For the issuer's `PERMIT_SIGNING_KEY`.
    pub signing: String,
    /// For the validators' `PERMIT_PUBLIC_KEYS`.
    pub public: String,
}

pub fn permit_keys(run_dir: &Path) -> Result<PermitKeys, Error> {
    let signing = match settings::var(SIGNING_KEY) {
        Some(key) => key,
        None => local_key(&run_dir.join("permit-signing-key.pem"))?,
    };
    let key = SigningKey::parse(&signing).map_err(|e| Error::Failed(format!("{SIGNING_KEY}: {e}")))?;
    let public = settings::or(PUBLIC_KEYS, &KeySet::new([key.public_key().clone()]).to_json());
    Ok(PermitKeys { signing, public })
}

/// The key at `path`, made there first if it is missing or not a key.
fn local_key(path: &Path) -> Result<String, Error> {
    if let Ok(pem) = std::fs::read_to_string(path)
        && SigningKey::parse(&pem).is_ok()
    {
        return Ok(pem);
    }
    let pem = SigningKey::generate_pem();
    write_private(path, pem.as_bytes())?;
    Ok(pem)
}

/// Writes `contents` to a new file at `path` that only its owner can read (0600), making
/// its folder first: for anything that holds a secret.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
    }
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(contents))
        .map_err(Error::io(format!("writing {}", path.display())))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn private_files_are_made_with_their_folder_and_readable_by_their_owner_only() {
        let dir = std::env::temp_dir().join(format!("xtask-private-{}", std::process::id()));
        let path = dir.join("fresh/.run/secret");
        std::fs::create_dir_all(&dir).unwrap();
        for contents in ["first", "second"] {
            write_private(&path, contents.as_bytes()).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), contents);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{mode:o}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
