//! Ed25519 keys: the issuer's private key (PKCS#8, as `openssl genpkey -algorithm ed25519`
//! writes it) and the validators' public keys (a JWK Set, RFC 7517/8037).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::error::KeyError;

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// The first 8 bytes of the key's JWK thumbprint (RFC 7638): derived from the key, so it
/// cannot be mistyped, and short, since every token carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    fn of(public: &[u8; 32]) -> KeyId {
        let thumbprint_input = format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(public)
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, thumbprint_input.as_bytes());
        let mut id = [0; 8];
        id.copy_from_slice(&digest.as_ref()[..8]);
        KeyId(id)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// As in the JWK Set's `kid`: unpadded base64url.
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// The issuer's private key. Its `Debug` shows the key id only, so it never reaches a log.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.public.id)
    }
}

impl SigningKey {
    /// A new random key as a PKCS#8 PEM document, ready to store.
    pub fn generate_pem() -> String {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .expect("the operating system's random source is unavailable");
        let body = STANDARD.encode(document.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
            .collect();
        format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", lines.join("\n"))
    }

    /// A PKCS#8 document (v1 or v2) as PEM, or its DER in standard base64 on one line (how
    /// an environment variable holds it).
    pub fn parse(text: &str) -> Result<SigningKey, KeyError> {
        let text = text.trim();
        let body = match text.strip_prefix(PEM_BEGIN) {
            Some(rest) => rest
                .split_once(PEM_END)
                .map(|(body, _)| body)
                .ok_or(KeyError::SigningKey("the PEM document has no END line"))?,
            None => text,
        };
        let compact: String = body.split_whitespace().collect();
        let der = STANDARD
            .decode(compact)
            .map_err(|_| KeyError::SigningKey("not base64"))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| KeyError::SigningKey("not an Ed25519 PKCS#8 document"))?;
        let bytes: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| KeyError::SigningKey("public key is not 32 bytes"))?;
        Ok(SigningKey {
            public: PublicKey::from_bytes(bytes),
            pair,
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.pair.sign(data).as_ref().to_vec()
    }
}

/// One Ed25519 public key and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    id: KeyId,
    bytes: [u8; 32],
}

impl PublicKey {
    fn from_bytes(bytes: [u8; 32]) -> PublicKey {
        PublicKey {
            id: KeyId::of(&bytes),
            bytes,
        }
    }

    pub fn id(&self) -> KeyId {
        self.id
    }

    pub(crate) fn verifies(&self, data: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, self.bytes)
            .verify(data, signature)
            .is_ok()
    }

    fn to_jwk(&self) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            alg: Some("EdDSA".into()),
            key_use: Some("sig".into()),
            kid: Some(self.id.to_string()),
            x: URL_SAFE_NO_PAD.encode(self.bytes),
        }
    }

    fn from_jwk(jwk: &Jwk) -> Result<PublicKey, KeyError> {
        let problem = |what: String| KeyError::KeySet(what);
        if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
            return Err(problem(format!(
                "key {:?} is {}/{}, not OKP/Ed25519",
                jwk.kid, jwk.kty, jwk.crv
            )));
        }
        if jwk.alg.as_deref().is_some_and(|alg| alg != "EdDSA") {
            return Err(problem(format!("key {:?} is for {:?}, not EdDSA", jwk.kid, jwk.alg)));
        }
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&jwk.x)
            .ok()
            .and_then(|x| x.try_into().ok())
            .ok_or_else(|| problem(format!("key {:?}: x is not 32 bytes of base64url", jwk.kid)))?;
        let key = PublicKey::from_bytes(bytes);
        match &jwk.kid {
            Some(kid) if *kid != key.id.to_string() => Err(problem(format!(
                "kid {kid:?} is not this key's thumbprint id {:?}",
                key.id.to_string()
            ))),
            _ => Ok(key),
        }
    }
}

/// The public keys a validator accepts, by id: several during a rotation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: BTreeMap<KeyId, PublicKey>,
}

#[derive(Serialize, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Serialize, Deserialize)]
struct Jwk {
    kty: String,
    crv: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alg: Option<String>,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    key_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    x: String,
}

impl KeySet {
    pub fn new(keys: impl IntoIterator<Item = PublicKey>) -> KeySet {
        KeySet {
            keys: keys.into_iter().map(|key| (key.id, key)).collect(),
        }
    }

    /// A JWK Set (`{"keys": [...]}`) with at least one Ed25519 key; a `kid`, when given,
    /// must be the key's own thumbprint id.
    pub fn parse(json: &str) -> Result<KeySet, KeyError> {
        let set: Jwks = serde_json::from_str(json).map_err(|e| KeyError::KeySet(e.to_string()))?;
        if set.keys.is_empty() {
            return Err(KeyError::KeySet("it holds no keys".into()));
        }
        let keys = set
            .keys
            .iter()
            .map(PublicKey::from_jwk)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeySet::new(keys))
    }

    /// As published at `/.well-known/jwks.json`.
    pub fn to_json(&self) -> String {
        let set = Jwks {
            keys: self.keys.values().map(PublicKey::to_jwk).collect(),
        };
        serde_json::to_string(&set).expect("a JWK Set serializes")
    }

    pub fn get(&self, id: &[u8]) -> Option<&PublicKey> {
        let id: [u8; 8] = id.try_into().ok()?;
        self.keys.get(&KeyId(id))
    }

    pub fn ids(&self) -> impl Iterator<Item = KeyId> + '_ {
        self.keys.keys().copied()
    }

    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> + '_ {
        self.keys.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_from_pem_and_from_one_line_of_base64() {
        let pem = SigningKey::generate_pem();
        let key = SigningKey::parse(&pem).unwrap();
        let one_line: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        assert_eq!(SigningKey::parse(&one_line).unwrap().public_key(), key.public_key());
        assert_eq!(format!("{key:?}"), format!("SigningKey({})", key.public_key().id()));
    }

    #[test]
    fn an_openssl_pkcs8_v1_key_is_accepted() {
        // `openssl genpkey -algorithm ed25519` (RFC 8410's example key).
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----";
        let key = SigningKey::parse(pem).unwrap();
        assert_eq!(
            key.public_key().to_jwk().x,
            "Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE",
            "RFC 8410 §10.3's public key"
        );
    }

    #[test]
    fn junk_is_not_a_signing_key() {
        for text in ["", "not base64!", "AAAA", "-----BEGIN PRIVATE KEY-----\nMC4CAQAw"] {
            assert!(
                matches!(SigningKey::parse(text), Err(KeyError::SigningKey(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn key_sets_round_trip_and_ids_are_rfc7638_thumbprints() {
        let a = SigningKey::parse(&SigningKey::generate_pem()).unwrap();
        let b = SigningKey::parse(&SigningKey::generate_pem()).unwrap();
        let set = KeySet::new([a.public_key().clone(), b.public_key().clone()]);
        assert_eq!(KeySet::parse(&set.to_json()).unwrap(), set);
        assert_eq!(set.ids().count(), 2);
        // RFC 8037 appendix A.3's thumbprint of its example key, cut to 8 bytes.
        let rfc = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let id = KeySet::parse(rfc).unwrap().ids().next().unwrap();
        let full = URL_SAFE_NO_PAD
            .decode("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
            .unwrap();
        assert_eq!(id.as_bytes(), &full[..8]);
    }

    #[test]
    fn bad_key_sets_say_what_is_wrong() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        for (json, problem) in [
            ("{}", "missing field"),
            (r#"{"keys":[]}"#, "no keys"),
            (
                &format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{x}"}}]}}"#),
                "not OKP/Ed25519",
            ),
            (
                &format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","alg":"ES256","x":"{x}"}}]}}"#),
                "not EdDSA",
            ),
            (r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#, "not 32 bytes"),
            (
                &format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"other","x":"{x}"}}]}}"#),
                "thumbprint",
            ),
        ] {
            let error = KeySet::parse(json).unwrap_err().to_string();
            assert!(error.contains(problem), "{json}: {error}");
        }
    }
}
