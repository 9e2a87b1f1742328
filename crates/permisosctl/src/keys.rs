//! Permit signing keys for the manifests: a new private key for the issuer's Secret
//! (`PERMIT_SIGNING_KEY`), and the JWK Set of public keys for the validators' ConfigMap
//! (`PERMIT_PUBLIC_KEYS`), the old keys kept during a rotation.

use permit_token::{KeySet, SigningKey};

use crate::error::Error;

/// A new Ed25519 private key: PKCS#8 DER in base64, on one line, as an env file holds it.
pub fn new_key() -> String {
    SigningKey::generate_pem()
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect()
}

/// A fresh set of an overlay's secrets, one `NAME=value` line each, every value random
/// (scripts/k8s-secrets.sh sorts them into the overlay's three Secrets' files): the
/// issuer's operator token, MongoDB's root, issuer and validator passwords, the replica set
/// members' shared key (base64 alphabet, 6 to 1024 characters), a permit signing key and
/// the issuer's privacy key (RUT pseudonyms and holder links).
pub fn secrets_env() -> String {
    format!(
        "ADMIN_TOKEN={}\nMONGO_ROOT_USERNAME=root\nMONGO_ROOT_PASSWORD={}\nMONGO_APP_USERNAME=permisos\n\
         MONGO_APP_PASSWORD={}\nMONGO_READER_USERNAME={READER_USER}\nMONGO_READER_PASSWORD={}\n\
         MONGO_KEYFILE={}\nPERMIT_SIGNING_KEY={}\nPRIVACY_KEY={}\n",
        random_hex(32),
        random_hex(24),
        random_hex(24),
        random_hex(24),
        random_hex(350),
        new_key(),
        privacy_key(),
    )
}

/// The validators' database user (`MONGO_READER_USERNAME`).
pub const READER_USER: &str = "permisos-lector";

/// A new `PRIVACY_KEY`: 32 random bytes as hex.
pub fn privacy_key() -> String {
    random_hex(32)
}

/// `bytes` random bytes as lower-case hex (two characters each).
fn random_hex(bytes: usize) -> String {
    let mut random = vec![0u8; bytes];
    getrandom::fill(&mut random).expect("the system's random source");
    random.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JWK Set of `private`'s public key and of every key in the sets `kept`.
pub fn public(private: &str, kept: &[(String, String)]) -> Result<String, Error> {
    let key = SigningKey::parse(private).map_err(|e| Error::Usage(format!("the private key on stdin: {e}")))?;
    let mut keys = vec![key.public_key().clone()];
    for (name, text) in kept {
        let set = KeySet::parse(text).map_err(|e| Error::Usage(format!("--keep {name}: {e}")))?;
        keys.extend(set.keys().cloned());
    }
    Ok(KeySet::new(keys).to_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secrets_env_holds_every_secret_fresh_and_well_formed() {
        let (first, second) = (secrets_env(), secrets_env());
        let values = |text: &str| -> std::collections::BTreeMap<String, String> {
            text.lines()
                .map(|line| line.split_once('=').expect("NAME=value"))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let (a, b) = (values(&first), values(&second));
        let names: Vec<&str> = a.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "ADMIN_TOKEN",
                "MONGO_APP_PASSWORD",
                "MONGO_APP_USERNAME",
                "MONGO_KEYFILE",
                "MONGO_READER_PASSWORD",
                "MONGO_READER_USERNAME",
                "MONGO_ROOT_PASSWORD",
                "MONGO_ROOT_USERNAME",
                "PERMIT_SIGNING_KEY",
                "PRIVACY_KEY"
            ]
        );
        for secret in [
            "ADMIN_TOKEN",
            "MONGO_APP_PASSWORD",
            "MONGO_KEYFILE",
            "MONGO_ROOT_PASSWORD",
            "MONGO_READER_PASSWORD",
            "PERMIT_SIGNING_KEY",
            "PRIVACY_KEY",
        ] {
            assert_ne!(a[secret], b[secret], "{secret} is not fresh");
        }
        assert!(a["ADMIN_TOKEN"].len() >= 32);
        assert_ne!(a["MONGO_READER_USERNAME"], a["MONGO_APP_USERNAME"], "a user of its own");
        assert!((6..=1024).contains(&a["MONGO_KEYFILE"].len()));
        assert!(SigningKey::parse(&a["PERMIT_SIGNING_KEY"]).is_ok());
        assert!(permit_domain::PrivacyKey::parse(&a["PRIVACY_KEY"]).is_ok());
    }

    #[test]
    fn a_new_key_publishes_and_an_old_set_is_kept_beside_it() {
        let (old, new) = (new_key(), new_key());
        assert!(!new.contains('\n') && SigningKey::parse(&new).is_ok());
        let first = public(&old, &[]).unwrap();
        let both = KeySet::parse(&public(&new, &[("old.json".into(), first.clone())]).unwrap()).unwrap();
        let ids: Vec<_> = [&old, &new]
            .iter()
            .map(|pem| SigningKey::parse(pem).unwrap().public_key().id())
            .collect();
        assert!(ids.iter().all(|id| both.ids().any(|known| known == *id)));
        assert_eq!(both.ids().count(), 2);
        let bad = public(&new, &[("old.json".into(), "{}".into())]).unwrap_err();
        assert!(bad.to_string().contains("--keep old.json"), "{bad}");
        assert!(public("not a key", &[]).is_err());
    }
}
