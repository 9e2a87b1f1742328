//! Who signed in: the RUT and name the provider vouches for, read from its userinfo claims.

use permit_domain::{Name, Rut};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::settings::ClaimNames;

/// A citizen as the identity provider knows them. Permits are issued in this name only.
#[derive(Clone, Debug)]
pub struct Identity {
    pub rut: Rut,
    pub name: Name,
}

impl Identity {
    /// The request in this citizen's name, whatever name and RUT it carried.
    pub fn fill(&self, form: &mut permit_domain::PermitForm) {
        form.name = self.name.as_str().to_owned();
        form.rut = self.rut.canonical();
    }
}

/// What the provider's claims lack or hold in a shape we cannot read. Which claim, never
/// its value: the message may reach a log line.
#[derive(Debug, thiserror::Error)]
#[error("the identity's {claim} claim is missing or not a {expected}")]
pub struct UnreadableClaim {
    pub claim: String,
    pub expected: &'static str,
}

impl Identity {
    /// Reads the RUT and the name from userinfo claims, ClaveÚnica's shape or plain text:
    /// `"RolUnico": {"numero": 12345678, "DV": "5", "tipo": "RUN"}` or `"rut": "12345678-5"`;
    /// `"name": {"nombres": ["María", "José"], "apellidos": ["González", "Pérez"]}` or
    /// `"name": "María José González Pérez"`.
    pub fn from_claims(claims: &Map<String, Value>, names: &ClaimNames) -> Result<Identity, UnreadableClaim> {
        let unreadable = |claim: &str, expected| UnreadableClaim {
            claim: claim.to_owned(),
            expected,
        };
        let rut = match claims.get(&names.rut) {
            Some(Value::String(text)) => Rut::parse(text).ok(),
            Some(Value::Object(rol)) => rol_unico(rol).and_then(|text| Rut::parse(&text).ok()),
            _ => None,
        }
        .ok_or_else(|| unreadable(&names.rut, "RUT"))?;
        let name = name_claim(claims, &names.name).ok_or_else(|| unreadable(&names.name, "name"))?;
        Ok(Identity { rut, name })
    }
}

/// The full name in `claim`: ClaveÚnica's `{nombres, apellidos}` or plain text.
pub fn name_claim(claims: &Map<String, Value>, claim: &str) -> Option<Name> {
    match claims.get(claim) {
        Some(Value::String(text)) => Name::parse(text).ok(),
        Some(Value::Object(parts)) => {
            let words = [words(parts.get("nombres")), words(parts.get("apellidos"))];
            words.iter().all(|w| !w.is_empty()).then(|| words.concat().join(" "))
        }
        .and_then(|text| Name::parse(&text).ok()),
        _ => None,
    }
}

/// `{"numero": 12345678 or "12345678", "DV": "5"}` as `12345678-5`.
fn rol_unico(rol: &Map<String, Value>) -> Option<String> {
    let number = match rol.get("numero")? {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    let check = rol.get("DV")?.as_str()?.trim();
    Some(format!("{number}-{check}"))
}

/// A list of words, or one string of them.
pub fn words(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(str::split_whitespace)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The signed-in citizen as the session cookie carries them (encrypted, see `session`).
#[derive(Serialize, Deserialize)]
pub(super) struct Carried {
    pub rut: String,
    pub name: String,
}

impl From<&Identity> for Carried {
    fn from(identity: &Identity) -> Carried {
        Carried {
            rut: identity.rut.canonical(),
            name: identity.name.as_str().to_owned(),
        }
    }
}

impl Carried {
    /// `None` if it no longer parses (a cookie from an older release).
    pub fn identity(&self) -> Option<Identity> {
        Some(Identity {
            rut: Rut::parse(&self.rut).ok()?,
            name: Name::parse(&self.name).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: Value) -> Map<String, Value> {
        json.as_object().unwrap().clone()
    }

    fn claveunica() -> ClaimNames {
        ClaimNames {
            rut: "RolUnico".into(),
            name: "name".into(),
        }
    }

    #[test]
    fn claveunicas_shape_gives_the_run_and_the_full_name() {
        let identity = Identity::from_claims(
            &claims(serde_json::json!({
                "sub": "2594",
                "RolUnico": {"numero": 12345678, "DV": "5", "tipo": "RUN"},
                "name": {"nombres": ["María", "José"], "apellidos": ["González", "Pérez"]},
            })),
            &claveunica(),
        )
        .unwrap();
        assert_eq!(identity.rut.canonical(), "12345678-5");
        assert_eq!(identity.name.as_str(), "María José González Pérez");
        // The number as text and a lower-case k are read too.
        let k = Identity::from_claims(
            &claims(serde_json::json!({
                "RolUnico": {"numero": "10000013", "DV": "k"},
                "name": {"nombres": "Ana", "apellidos": ["Rojas"]},
            })),
            &claveunica(),
        )
        .unwrap();
        assert_eq!(k.rut.canonical(), "10000013-K");
    }

    #[test]
    fn other_providers_name_their_claims_and_send_plain_text() {
        let names = ClaimNames {
            rut: "rut".into(),
            name: "name".into(),
        };
        let identity = Identity::from_claims(
            &claims(serde_json::json!({"rut": "9.876.543-3", "name": "Juan Muñoz Soto"})),
            &names,
        )
        .unwrap();
        assert_eq!(identity.rut.canonical(), "9876543-3");
        assert_eq!(identity.name.as_str(), "Juan Muñoz Soto");
    }

    #[test]
    fn a_missing_wrong_or_invalid_claim_is_named_without_its_value() {
        for (json, claim) in [
            (serde_json::json!({"name": "Juan Soto"}), "RolUnico"),
            (
                serde_json::json!({"RolUnico": {"numero": 12345678, "DV": "4"}, "name": "Juan Soto"}),
                "RolUnico",
            ),
            (
                serde_json::json!({"RolUnico": 12345678, "name": "Juan Soto"}),
                "RolUnico",
            ),
            (serde_json::json!({"RolUnico": {"numero": 12345678, "DV": "5"}}), "name"),
            (
                serde_json::json!({"RolUnico": {"numero": 12345678, "DV": "5"}, "name": {"nombres": ["Juan"], "apellidos": []}}),
                "name",
            ),
        ] {
            let error = Identity::from_claims(&claims(json), &claveunica()).unwrap_err();
            assert_eq!(error.claim, claim);
            assert!(!error.to_string().contains("12345678"), "{error}");
        }
    }
}
