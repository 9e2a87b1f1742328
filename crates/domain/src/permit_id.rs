//! Permit identifiers: 128 random bits, URL-safe, not guessable from one another.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// 16 random bytes, written as 22 characters of unpadded base64url.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PermitId(String);

const BYTES: usize = 16;
const ENCODED_LEN: usize = 22;

/// A text that is not a permit id; the caller answers "not found".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a permit id")]
pub struct NotAPermitId;

impl PermitId {
    pub fn generate() -> PermitId {
        let mut bytes = [0u8; BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        PermitId(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn parse(text: &str) -> Result<PermitId, NotAPermitId> {
        if text.len() != ENCODED_LEN {
            return Err(NotAPermitId);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| NotAPermitId)?;
        // Unused trailing bits make several texts decode to the same bytes; accept one.
        (bytes.len() == BYTES && URL_SAFE_NO_PAD.encode(&bytes) == text)
            .then(|| PermitId(text.to_owned()))
            .ok_or(NotAPermitId)
    }

    /// The id from its 16 bytes, as a signed token carries it.
    pub fn from_bytes(bytes: &[u8]) -> Result<PermitId, NotAPermitId> {
        (bytes.len() == BYTES)
            .then(|| PermitId(URL_SAFE_NO_PAD.encode(bytes)))
            .ok_or(NotAPermitId)
    }

    /// Its 16 bytes, the most compact form for a signed token.
    pub fn to_bytes(&self) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(&self.0)
            .expect("a parsed or generated id is valid base64url")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PermitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_ids_are_url_safe_distinct_and_parse_back() {
        let a = PermitId::generate();
        let b = PermitId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), ENCODED_LEN);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(PermitId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn mongo_object_ids_and_junk_are_not_ids() {
        for text in [
            "5ee3b4c1a4b1c2d3e4f5a6b7",
            "",
            "../../etc/passwd",
            "AAAAAAAAAAAAAAAAAAAAA=",
            "AAAAAAAAAAAAAAAAAAAAAB",
        ] {
            assert_eq!(PermitId::parse(text), Err(NotAPermitId), "{text}");
        }
    }

    #[test]
    fn ids_round_trip_through_their_bytes_and_only_16_bytes_are_an_id() {
        let id = PermitId::generate();
        assert_eq!(PermitId::from_bytes(&id.to_bytes()), Ok(id));
        assert_eq!(PermitId::from_bytes(&[0; 15]), Err(NotAPermitId));
        assert_eq!(PermitId::from_bytes(&[0; 17]), Err(NotAPermitId));
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = PermitId::parse(&text);
        }
    }
}
