//! What can go wrong with keys (a configuration problem, at start-up) and with a token (a
//! request's problem: the page says NO VÁLIDO).

/// A key or key set that cannot be used; start-up stops with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 private key in PKCS#8 (PEM, or its DER in base64): {0}")]
    SigningKey(&'static str),
    #[error("not a JWK Set of Ed25519 public keys: {0}")]
    KeySet(String),
}

/// Why a token is not a genuine permit. Each is answered alike, NO VÁLIDO; the reason is
/// logged and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("not base64url-encoded COSE_Sign1 as the issuer encodes it")]
    Malformed,
    #[error("signed with an algorithm other than EdDSA")]
    Algorithm,
    #[error("signed with a key this validator does not know")]
    UnknownKey,
    #[error("signature does not match")]
    Signature,
    #[error("signed claims are not a permit's")]
    Claims,
}

impl Rejection {
    /// For metrics and logs.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Algorithm => "algorithm",
            Rejection::UnknownKey => "unknown_key",
            Rejection::Signature => "signature",
            Rejection::Claims => "claims",
        }
    }
}
