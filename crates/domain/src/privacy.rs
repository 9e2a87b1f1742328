//! The keyed digests that let the system recognise a citizen or a holder without storing
//! who they are: a RUT's pseudonym for the weekly quota ledger and the idempotency keys,
//! and the holder's secret link to their own permit.
//!
//! Both are HMAC-SHA-256 under one key (`PRIVACY_KEY`), with a label per use so that one
//! digest can never stand for another. Without the key a RUT cannot be found from its
//! pseudonym by trying the 25 million possible ones, and a holder link cannot be made from
//! a permit id; with it nothing needs storing: the link is computed again when it is
//! checked, so a retried request can hand its holder the same link.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

use crate::permit_id::PermitId;
use crate::rut::Rut;

/// Long enough that the key cannot be guessed; any printable text of this length or more.
const MIN_KEY_LENGTH: usize = 32;

/// What a key that cannot be used is missing, for the configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at least {MIN_KEY_LENGTH} printable characters without spaces")]
pub struct WeakKey;

/// The secret behind every pseudonym and holder link. Never printed.
#[derive(Clone)]
pub struct PrivacyKey(hmac::Key);

/// A RUT as the quota ledger and the idempotency keys know it: 43 characters that name one
/// citizen and cannot be turned back into their RUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pseudonym(String);

impl PrivacyKey {
    pub fn parse(text: &str) -> Result<PrivacyKey, WeakKey> {
        let text = text.trim();
        if text.len() >= MIN_KEY_LENGTH && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(PrivacyKey(hmac::Key::new(hmac::HMAC_SHA256, text.as_bytes())))
        } else {
            Err(WeakKey)
        }
    }

    /// A random key, for tests and demonstrations.
    pub fn generate() -> PrivacyKey {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        PrivacyKey::parse(&URL_SAFE_NO_PAD.encode(bytes)).expect("43 printable characters")
    }

    fn tag(&self, label: &str, text: &str) -> hmac::Tag {
        hmac::sign(&self.0, &message(label, text))
    }

    /// The same for the same RUT, whatever its written form.
    pub fn pseudonym(&self, rut: &Rut) -> Pseudonym {
        Pseudonym(URL_SAFE_NO_PAD.encode(self.tag("rut", &rut.canonical())))
    }

    /// A keyed digest of `text` under `label`, for what must be compared later but not kept
    /// readable (the fields of a request, beside its idempotency key).
    pub fn digest(&self, label: &str, text: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.tag(label, text))
    }

    /// 64 bytes of key material for `purpose` (a session cookie's key), independent of every
    /// other use of this key: HMAC as a key-derivation function, one block per half.
    pub fn subkey(&self, purpose: &str) -> [u8; 64] {
        let mut key = [0u8; 64];
        for (half, part) in key.chunks_exact_mut(32).zip(["1", "2"]) {
            half.copy_from_slice(self.tag(&format!("subkey {purpose}"), part).as_ref());
        }
        key
    }

    /// The secret that, beside the permit's id, opens the holder's own page.
    pub fn holder_secret(&self, id: &PermitId) -> String {
        URL_SAFE_NO_PAD.encode(self.tag("holder", id.as_str()))
    }

    /// Whether `presented` is the holder secret of `id`; compared in constant time.
    pub fn opens(&self, id: &PermitId, presented: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(presented)
            .is_ok_and(|tag| hmac::verify(&self.0, &message("holder", id.as_str()), &tag).is_ok())
    }
}

/// What is signed for `text` under `label`: the label keeps one use's digest from standing
/// for another's.
fn message(label: &str, text: &str) -> Vec<u8> {
    [label.as_bytes(), b"\x1f", text.as_bytes()].concat()
}

impl fmt::Debug for PrivacyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivacyKey(…)")
    }
}

impl Pseudonym {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> PrivacyKey {
        PrivacyKey::parse(text).unwrap()
    }

    #[test]
    fn short_or_spaced_keys_are_refused() {
        assert_eq!(PrivacyKey::parse("short").err(), Some(WeakKey));
        assert_eq!(PrivacyKey::parse(&format!("{} x", "a".repeat(32))).err(), Some(WeakKey));
        assert!(PrivacyKey::parse(&"a".repeat(32)).is_ok());
        assert_eq!(format!("{:?}", key(&"s".repeat(40))), "PrivacyKey(…)");
    }

    #[test]
    fn a_pseudonym_names_one_rut_under_one_key_and_shows_none_of_it() {
        let (a, b) = (key(&"a".repeat(32)), key(&"b".repeat(32)));
        let rut = Rut::parse("12.345.678-5").unwrap();
        assert_eq!(a.pseudonym(&rut), a.pseudonym(&Rut::parse("123456785").unwrap()));
        assert_ne!(a.pseudonym(&rut), a.pseudonym(&Rut::parse("7.654.321-6").unwrap()));
        assert_ne!(a.pseudonym(&rut), b.pseudonym(&rut));
        let pseudonym = a.pseudonym(&rut);
        assert_eq!(pseudonym.as_str().len(), 43);
        assert!(!pseudonym.as_str().contains("12345678"));
        // Labels keep uses apart: a RUT's pseudonym is not the digest of its text.
        assert_ne!(pseudonym.as_str(), a.digest("fields", &rut.canonical()));
    }

    #[test]
    fn subkeys_differ_by_purpose_and_by_key_and_halves_are_not_repeated() {
        let (a, b) = (key(&"a".repeat(32)), key(&"b".repeat(32)));
        let session = a.subkey("session");
        assert_eq!(session, a.subkey("session"));
        assert_ne!(session, a.subkey("sign-in"));
        assert_ne!(session, b.subkey("session"));
        assert_ne!(session[..32], session[32..]);
    }

    #[test]
    fn only_the_permits_own_secret_opens_it() {
        let k = key(&"k".repeat(32));
        let (id, other) = (PermitId::generate(), PermitId::generate());
        let secret = k.holder_secret(&id);
        assert!(k.opens(&id, &secret));
        assert!(!k.opens(&other, &secret));
        assert!(!key(&"j".repeat(32)).opens(&id, &secret));
        let mut changed = secret.clone().into_bytes();
        changed[5] = if changed[5] == b'A' { b'B' } else { b'A' };
        assert!(!k.opens(&id, std::str::from_utf8(&changed).unwrap()));
        for garbage in ["", "not base64!", &secret[..20]] {
            assert!(!k.opens(&id, garbage), "{garbage}");
        }
    }
}
