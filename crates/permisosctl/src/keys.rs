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
