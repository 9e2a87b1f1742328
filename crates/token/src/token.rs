//! Signing a permit's claims into a token, and checking a token back into claims.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coset::{
    CoseSign1, CoseSign1Builder, Header, HeaderBuilder, RegisteredLabelWithPrivate, TaggedCborSerializable, iana,
};

use crate::claims::PermitClaims;
use crate::error::Rejection;
use crate::keys::{KeyId, KeySet, SigningKey};

/// Ours are about 215 characters; anything far longer is not worth decoding.
const MAX_TOKEN_CHARS: usize = 512;

/// A token whose signature, algorithm and claims all checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: KeyId,
    pub claims: PermitClaims,
}

impl SigningKey {
    /// The token for `claims`: tagged COSE_Sign1, unpadded base64url.
    pub fn sign_token(&self, claims: &PermitClaims) -> String {
        self.sign_cose(protected_header(self.public_key().id()), claims.to_cwt())
    }

    /// `payload` signed under the `protected` header, as a token.
    fn sign_cose(&self, protected: Header, payload: Vec<u8>) -> String {
        let signed = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .create_signature(b"", |data| self.sign(data))
            .build();
        let bytes = signed.to_tagged_vec().expect("a COSE_Sign1 of bytes encodes");
        URL_SAFE_NO_PAD.encode(bytes)
    }
}

/// The only protected header the issuer writes: the algorithm and the key's id.
fn protected_header(key_id: KeyId) -> Header {
    HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(key_id.as_bytes().to_vec())
        .build()
}

/// The bytes the issuer writes for `claims` under `key_id` with `signature`: its one
/// encoding (shortest CBOR lengths, its order of claims, nothing in the unprotected header).
fn issued_bytes(key_id: KeyId, claims: &PermitClaims, signature: Vec<u8>) -> Option<Vec<u8>> {
    CoseSign1Builder::new()
        .protected(protected_header(key_id))
        .payload(claims.to_cwt())
        .signature(signature)
        .build()
        .to_tagged_vec()
        .ok()
}

impl KeySet {
    /// Checks the encoding, the algorithm (EdDSA only, from the protected header), the key
    /// (by id, among this set) and the signature, then reads the claims. The validity window
    /// and revocation are the caller's: they depend on the clock and on the revocation list.
    /// Only the issuer's own encoding is accepted: a token that decodes to the same claims
    /// from other bytes (an unprotected header, non-shortest CBOR) was never issued.
    pub fn verify(&self, token: &str) -> Result<Verified, Rejection> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(Rejection::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| Rejection::Malformed)?;
        let signed = CoseSign1::from_tagged_slice(&bytes).map_err(|_| Rejection::Malformed)?;
        let header = &signed.protected.header;
        if header.alg != Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) {
            return Err(Rejection::Algorithm);
        }
        if !header.crit.is_empty() {
            // Critical parameters we do not understand must make the token unusable (RFC 9052 §3.1).
            return Err(Rejection::Malformed);
        }
        let key = self.get(&header.key_id).ok_or(Rejection::UnknownKey)?;
        signed.verify_signature(b"", |signature, data| {
            key.verifies(data, signature).then_some(()).ok_or(Rejection::Signature)
        })?;
        let payload = signed.payload.as_deref().ok_or(Rejection::Claims)?;
        let claims = PermitClaims::from_cwt(payload)?;
        if issued_bytes(key.id(), &claims, signed.signature).as_deref() != Some(bytes.as_slice()) {
            return Err(Rejection::Malformed);
        }
        Ok(Verified {
            key_id: key.id(),
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use permit_domain::{Motive, PermitId, Status};

    use super::*;

    fn key() -> SigningKey {
        SigningKey::parse(&SigningKey::generate_pem()).unwrap()
    }

    fn claims() -> PermitClaims {
        PermitClaims {
            id: PermitId::generate(),
            motive: Motive::parse("compras").unwrap(),
            valid_from: Timestamp::from_second(1_800_000_000).unwrap(),
            expires_at: Timestamp::from_second(1_800_010_800).unwrap(),
            name: "J. P. S.".into(),
            rut: "**.***.678-5".into(),
            issued_under: permit_domain::IssuedUnder::from_compact("2021-04-05/1"),
        }
    }

    fn keys_of(keys: &[&SigningKey]) -> KeySet {
        KeySet::new(keys.iter().map(|key| key.public_key().clone()))
    }

    /// Signs `claims` as `key` would, but with the protected header `header`.
    fn signed_with_header(key: &SigningKey, header: Header) -> String {
        key.sign_cose(header, claims().to_cwt())
    }

    #[test]
    fn a_signed_token_verifies_back_to_its_claims_and_stays_small() {
        let (key, claims) = (key(), claims());
        let token = key.sign_token(&claims);
        let verified = keys_of(&[&key]).verify(&token).unwrap();
        assert_eq!(
            verified,
            Verified {
                key_id: key.public_key().id(),
                claims: claims.clone()
            }
        );
        assert!(token.len() <= 230, "{} characters", token.len());
        let now = Timestamp::from_second(1_800_000_060).unwrap();
        assert_eq!(claims.status(now, None), Status::Valid);
        assert_eq!(claims.status(now, Some(now)), Status::Revoked);
    }

    #[test]
    fn a_token_from_before_permits_recorded_their_policy_still_verifies() {
        let key = key();
        let older = PermitClaims {
            issued_under: None,
            ..claims()
        };
        let verified = keys_of(&[&key]).verify(&key.sign_token(&older)).unwrap();
        assert_eq!(verified.claims, older);
    }

    #[test]
    fn any_altered_byte_is_refused() {
        let key = key();
        let keys = keys_of(&[&key]);
        let bytes = URL_SAFE_NO_PAD.decode(key.sign_token(&claims())).unwrap();
        for at in 0..bytes.len() {
            for flip in [0x01, 0x80] {
                let mut altered = bytes.clone();
                altered[at] ^= flip;
                let outcome = keys.verify(&URL_SAFE_NO_PAD.encode(&altered));
                assert!(outcome.is_err(), "byte {at} ^ {flip:#x} was accepted");
            }
        }
    }

    #[test]
    fn truncated_extended_and_junk_tokens_are_malformed() {
        let key = key();
        let keys = keys_of(&[&key]);
        let token = key.sign_token(&claims());
        for text in [
            &token[..token.len() - 1],
            &token[..token.len() / 2],
            &format!("{token}AA"),
            "",
            "not a token",
            &"A".repeat(MAX_TOKEN_CHARS + 1),
        ] {
            assert_eq!(keys.verify(text), Err(Rejection::Malformed), "{text}");
        }
    }

    #[test]
    fn an_unknown_key_is_refused_and_a_second_key_is_accepted() {
        let (old, new, stranger) = (key(), key(), key());
        let both = keys_of(&[&old, &new]);
        for key in [&old, &new] {
            assert_eq!(
                both.verify(&key.sign_token(&claims())).unwrap().key_id,
                key.public_key().id()
            );
        }
        assert_eq!(both.verify(&stranger.sign_token(&claims())), Err(Rejection::UnknownKey));
    }

    #[test]
    fn a_key_id_that_names_another_key_fails_the_signature() {
        let (genuine, forger) = (key(), key());
        let header = HeaderBuilder::new()
            .algorithm(iana::Algorithm::EdDSA)
            .key_id(genuine.public_key().id().as_bytes().to_vec())
            .build();
        let forged = signed_with_header(&forger, header);
        assert_eq!(keys_of(&[&genuine]).verify(&forged), Err(Rejection::Signature));
    }

    #[test]
    fn only_eddsa_in_the_protected_header_is_accepted() {
        let key = key();
        let kid = key.public_key().id().as_bytes().to_vec();
        let other = HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES256)
            .key_id(kid.clone())
            .build();
        let none = HeaderBuilder::new().key_id(kid.clone()).build();
        for token in [signed_with_header(&key, other), signed_with_header(&key, none)] {
            assert_eq!(keys_of(&[&key]).verify(&token), Err(Rejection::Algorithm));
        }
        let critical = HeaderBuilder::new()
            .algorithm(iana::Algorithm::EdDSA)
            .key_id(kid)
            .add_critical(iana::HeaderParameter::CounterSignature)
            .build();
        assert_eq!(
            keys_of(&[&key]).verify(&signed_with_header(&key, critical)),
            Err(Rejection::Malformed)
        );
    }

    #[test]
    fn a_genuine_signature_over_claims_that_are_not_a_permits_is_refused() {
        let key = key();
        let header = HeaderBuilder::new()
            .algorithm(iana::Algorithm::EdDSA)
            .key_id(key.public_key().id().as_bytes().to_vec())
            .build();
        let token = key.sign_cose(header, b"\xa1\x04\x01".to_vec());
        assert_eq!(keys_of(&[&key]).verify(&token), Err(Rejection::Claims));
    }

    #[test]
    fn a_genuine_signature_over_a_window_no_motive_gives_is_refused() {
        let key = key();
        let keys = keys_of(&[&key]);
        let from = Timestamp::from_second(1_800_000_000).unwrap();
        let window = |valid_from: Timestamp, expires_at: Timestamp| {
            keys.verify(&key.sign_token(&PermitClaims {
                valid_from,
                expires_at,
                ..claims()
            }))
        };
        let longest = PermitClaims::longest_window();
        assert!(window(from, from + longest).is_ok(), "the longest genuine window");
        assert_eq!(
            window(from, from + longest + jiff::SignedDuration::from_secs(1)),
            Err(Rejection::Claims)
        );
        assert_eq!(
            window(Timestamp::MIN, Timestamp::MAX),
            Err(Rejection::Claims),
            "year -9999 to 9999"
        );
        assert_eq!(window(from, from), Err(Rejection::Claims), "an empty window");
        assert_eq!(
            window(from, from - jiff::SignedDuration::from_secs(60)),
            Err(Rejection::Claims),
            "ends before it starts"
        );
    }

    #[test]
    fn only_the_issuers_own_encoding_is_accepted() {
        let key = key();
        let keys = keys_of(&[&key]);
        let genuine = URL_SAFE_NO_PAD.decode(key.sign_token(&claims())).unwrap();
        assert_eq!(&genuine[..2], [0xd2, 0x84], "tag 18, an array of 4");

        // The outer array is not signed: re-encoding its length leaves the signature valid.
        let mut longer_length = vec![0xd2, 0x98, 0x04];
        longer_length.extend_from_slice(&genuine[2..]);
        // A header outside the signature, which a reader could be fooled by.
        let mut unprotected = CoseSign1::from_tagged_slice(&genuine).unwrap();
        unprotected.unprotected = HeaderBuilder::new().content_type("text/plain".into()).build();
        // Signed claims whose map length is written in two bytes instead of one.
        let cwt = claims().to_cwt();
        assert_eq!(cwt[0], 0xa7, "a map of seven claims");
        let mut padded = vec![0xb8, 0x07];
        padded.extend_from_slice(&cwt[1..]);
        let padded = key.sign_cose(protected_header(key.public_key().id()), padded);

        for (case, token) in [
            ("outer array length", URL_SAFE_NO_PAD.encode(longer_length)),
            (
                "unprotected header",
                URL_SAFE_NO_PAD.encode(unprotected.to_tagged_vec().unwrap()),
            ),
            ("claims map length", padded),
        ] {
            assert_eq!(keys.verify(&token), Err(Rejection::Malformed), "{case}");
        }
    }
}
