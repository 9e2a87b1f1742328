//! Operators as accountable people: each holds API tokens of their own, named, with one
//! role and an expiry. A token is shown once, when it is made; the system keeps only its
//! id and a SHA-256 digest of its secret, so a copy of the database lets nobody in.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use ring::digest;
use subtle::ConstantTimeEq;

use crate::citizen::Operator;

/// What an operator may do. Each route names the roles it admits; no role implies another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Looks permits up (every page of them is audit-logged) and reads the audit log.
    Consulta,
    /// Revokes permits and places or lifts legal holds.
    Revocacion,
    /// Issues a permit for a citizen at a counter.
    Asistencia,
    /// Manages operators' tokens, and reads the audit log.
    Administracion,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Consulta, Role::Revocacion, Role::Asistencia, Role::Administracion];

    /// The stable code: in tokens' records, the audit log and the API.
    pub fn code(self) -> &'static str {
        match self {
            Role::Consulta => "consulta",
            Role::Revocacion => "revocacion",
            Role::Asistencia => "asistencia",
            Role::Administracion => "administracion",
        }
    }

    /// Its code, or its Spanish name with accents (`revocación`, `administración`).
    pub fn parse(text: &str) -> Option<Role> {
        let plain = text.trim().to_lowercase().replace('ó', "o");
        Role::ALL.into_iter().find(|r| r.code() == plain)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The prefix of every operator token, so a leaked one is recognisable (secret scanners).
const PREFIX: &str = "pmt_";

/// A bearer token as presented: `pmt_<id>_<secret>`, the id 11 characters and the secret
/// 43 (8 and 32 random bytes, base64url). Never printed by `{:?}`.
#[derive(Clone)]
pub struct OperatorToken {
    id: String,
    secret: String,
}

impl OperatorToken {
    pub fn generate() -> OperatorToken {
        let mut id = [0u8; 8];
        let mut secret = [0u8; 32];
        getrandom::fill(&mut id).expect("the operating system's random source");
        getrandom::fill(&mut secret).expect("the operating system's random source");
        OperatorToken {
            id: URL_SAFE_NO_PAD.encode(id),
            secret: URL_SAFE_NO_PAD.encode(secret),
        }
    }

    /// `None` for anything not shaped as one of ours (another credential, or garbage).
    pub fn parse(text: &str) -> Option<OperatorToken> {
        let rest = text.strip_prefix(PREFIX)?;
        let (id, secret) = rest.split_at_checked(11)?;
        let secret = secret.strip_prefix('_')?;
        let base64url = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (secret.len() == 43 && base64url(id) && base64url(secret)).then(|| OperatorToken {
            id: id.to_owned(),
            secret: secret.to_owned(),
        })
    }

    /// Its public half: names the token in listings, revocations and the audit log.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The whole token, to show its operator once.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}_{}", self.id, self.secret)
    }

    /// What is stored instead of the secret. A plain digest suffices: the secret is 256
    /// random bits, so nothing can be guessed from it.
    pub fn digest(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, self.secret.as_bytes()))
    }
}

impl fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OperatorToken({}, …)", self.id)
    }
}

/// One token's record: whose, which role, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorAccount {
    /// The token's id.
    pub id: String,
    /// The SHA-256 of its secret.
    pub digest: String,
    pub name: Operator,
    pub role: Role,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Who made it (an operator's name, or the bootstrap credential).
    pub created_by: String,
    pub revoked_at: Option<Timestamp>,
}

impl OperatorAccount {
    /// Whether `token` is this account's, in force at `now`: its secret's digest matches
    /// (compared in constant time), not revoked, not expired.
    pub fn admits(&self, token: &OperatorToken, now: Timestamp) -> bool {
        let matches = bool::from(self.digest.as_bytes().ct_eq(token.digest().as_bytes()));
        matches && token.id == self.id && self.revoked_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(token: &OperatorToken, expires_at: &str) -> OperatorAccount {
        OperatorAccount {
            id: token.id().to_owned(),
            digest: token.digest(),
            name: Operator::parse("Cabo R. Soto").unwrap(),
            role: Role::Consulta,
            created_at: "2026-12-01T00:00:00Z".parse().unwrap(),
            expires_at: expires_at.parse().unwrap(),
            created_by: "ADMIN_TOKEN".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn a_token_reads_back_from_its_text_and_its_debug_hides_the_secret() {
        let token = OperatorToken::generate();
        let text = token.reveal();
        assert!(text.starts_with("pmt_") && text.len() == 4 + 11 + 1 + 43, "{text}");
        let again = OperatorToken::parse(&text).unwrap();
        assert_eq!((again.id(), again.digest()), (token.id(), token.digest()));
        assert!(!format!("{token:?}").contains(&text[16..]));
        for bad in [
            "",
            "pmt_",
            &text[..text.len() - 1],
            &text.replace("pmt_", "xyz_"),
            &format!("{text}x"),
        ] {
            assert!(OperatorToken::parse(bad).is_none(), "{bad}");
        }
        assert_ne!(OperatorToken::generate().reveal(), text, "fresh each time");
    }

    #[test]
    fn an_account_admits_only_its_own_token_in_force() {
        let token = OperatorToken::generate();
        let now: Timestamp = "2026-12-07T12:00:00Z".parse().unwrap();
        let mut held = account(&token, "2026-12-08T00:00:00Z");
        assert!(held.admits(&token, now));
        assert!(!held.admits(&OperatorToken::generate(), now), "another token");
        let forged = OperatorToken::parse(&format!("pmt_{}_{}", token.id(), "A".repeat(43))).unwrap();
        assert!(!held.admits(&forged, now), "its id with another secret");
        assert!(
            !account(&token, "2026-12-07T12:00:00Z").admits(&token, now),
            "expired at its instant"
        );
        held.revoked_at = Some(now);
        assert!(!held.admits(&token, now), "revoked");
    }

    #[test]
    fn roles_parse_from_their_codes_and_spanish_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.code()), Some(role));
        }
        assert_eq!(Role::parse(" Revocación "), Some(Role::Revocacion));
        assert_eq!(Role::parse("administración"), Some(Role::Administracion));
        assert_eq!(Role::parse("superusuario"), None);
    }
}
