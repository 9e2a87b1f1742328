//! The secrets of this checkout, and how they are written (0600). The permit signing key: made once in `.run/permit-signing-key.pem`
//! (mode 0600, never committed), its public half handed to the validators as a JWK Set.
//! `PERMIT_SIGNING_KEY` and `PERMIT_PUBLIC_KEYS`, when set, are used instead.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use permit_token::{KeySet, SigningKey};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::settings;
use crate::topology::services::Service;

pub const SIGNING_KEY: &str = "PERMIT_SIGNING_KEY";
pub const PUBLIC_KEYS: &str = "PERMIT_PUBLIC_KEYS";
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
pub const PRIVACY_KEY: &str = "PRIVACY_KEY";
/// The variables `Secrets` hands out, each to its service only; never passed on as they are.
pub const ROUTED: [&str; 4] = [SIGNING_KEY, PUBLIC_KEYS, ADMIN_TOKEN, PRIVACY_KEY];

/// What each service is given of this checkout's secrets, decided here only: the private
/// key and the operator token go to the issuer, the public keys to the validator. No
/// `Debug`, so none of it can be printed by mistake.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    admin_token: String,
    privacy_key: String,
    keys: PermitKeys,
}

impl Secrets {
    /// `ADMIN_TOKEN`, `PRIVACY_KEY`, `PERMIT_SIGNING_KEY` and `PERMIT_PUBLIC_KEYS` when set,
    /// otherwise the checkout's own in `run_dir` (made there on first use).
    pub fn load(run_dir: &Path) -> Result<Secrets, Error> {
        let own = |variable, file| match settings::var(variable) {
            Some(value) => Ok(value),
            None => checkout_token(&run_dir.join(file)),
        };
        Ok(Secrets {
            admin_token: own(ADMIN_TOKEN, "admin-token")?,
            privacy_key: own(PRIVACY_KEY, "privacy-key")?,
            keys: permit_keys(run_dir)?,
        })
    }

    /// The variables `service` is started with.
    pub fn env_for(&self, service: Service) -> Vec<(String, String)> {
        match service {
            Service::Issuer => vec![
                (ADMIN_TOKEN.into(), self.admin_token.clone()),
                (PRIVACY_KEY.into(), self.privacy_key.clone()),
                (SIGNING_KEY.into(), self.keys.signing.clone()),
            ],
            Service::Validator => vec![(PUBLIC_KEYS.into(), self.keys.public.clone())],
        }
    }
}

/// A random token at `path` (the operator's token, the privacy key), made once per checkout
/// and kept out of the repository.
pub fn checkout_token(path: &Path) -> Result<String, Error> {
    if let Ok(token) = std::fs::read_to_string(path)
        && token.trim().len() >= 32
    {
        return Ok(token.trim().to_owned());
    }
    let token = random_token();
    write_private(path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

#[derive(Clone, Serialize, Deserialize)]
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

/// 32 random bytes, URL-safe base64: an operator token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn the_private_keys_and_the_operator_token_go_to_the_issuer_only() {
        let secrets = Secrets {
            admin_token: "t".repeat(43),
            privacy_key: "p".repeat(43),
            keys: PermitKeys {
                signing: "private".into(),
                public: "public".into(),
            },
        };
        let names = |service| -> Vec<String> { secrets.env_for(service).into_iter().map(|(name, _)| name).collect() };
        assert_eq!(names(Service::Issuer), [ADMIN_TOKEN, PRIVACY_KEY, SIGNING_KEY]);
        assert_eq!(names(Service::Validator), [PUBLIC_KEYS]);
        for service in Service::BOTH {
            assert!(names(service).iter().all(|name| ROUTED.contains(&name.as_str())));
        }
    }

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
