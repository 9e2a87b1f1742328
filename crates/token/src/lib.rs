//! Signed permits that anyone holding the public keys can check without the database.
//!
//! A token is a COSE_Sign1 structure (RFC 9052, CBOR tag 18) signed with Ed25519 (`EdDSA`,
//! COSE algorithm -8), the key id in its protected header, whose payload is a CWT claims set
//! (RFC 8392): the format of the EU Digital COVID Certificate, so verifiers exist on every
//! platform. It travels as unpadded base64url, in the validation link and its QR code. The
//! README lays it out byte by byte.

mod claims;
mod error;
mod keys;
mod token;

pub use claims::PermitClaims;
pub use error::{KeyError, Rejection};
pub use keys::{KeyId, KeySet, PublicKey, SigningKey};
pub use token::Verified;
