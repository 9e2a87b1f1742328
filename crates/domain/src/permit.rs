//! A permit, the request it is issued from, and its status at a given moment.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::citizen::{Address, Name, Operator};
use crate::collective::Employer;
use crate::comuna::Comuna;
use crate::error::{FieldError, FieldErrors};
use crate::motive::Motive;
use crate::permit_id::PermitId;
use crate::policy::IssuedUnder;
use crate::rules::Window;
use crate::rut::Rut;

/// The request as it arrives from a form or a JSON body; every field optional so that a
/// missing one is reported by name instead of failing the whole body.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct PermitForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub rut: String,
    #[serde(default)]
    pub motive: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub comuna: String,
}

/// A request whose every field is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct PermitRequest {
    pub name: Name,
    pub rut: Rut,
    pub motive: Motive,
    pub address: Address,
    pub comuna: Comuna,
}

impl PermitForm {
    /// Parses every field, reporting all that are wrong at once.
    pub fn parse(&self) -> Result<PermitRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = field(&mut errors, "name", Name::parse(&self.name));
        let rut = field(&mut errors, "rut", Rut::parse(&self.rut));
        // The collective permit is an employer's to ask for (`collective`), not a citizen's.
        let motive = field(
            &mut errors,
            "motive",
            Motive::parse(&self.motive).and_then(|m| match m.is_collective() {
                true => Err(FieldError::Invalid("elige un motivo de la lista")),
                false => Ok(m),
            }),
        );
        let address = field(&mut errors, "address", Address::parse(&self.address));
        let comuna = field(&mut errors, "comuna", Comuna::parse(&self.comuna));
        match (name, rut, motive, address, comuna) {
            (Some(name), Some(rut), Some(motive), Some(address), Some(comuna)) => Ok(PermitRequest {
                name,
                rut,
                motive,
                address,
                comuna,
            }),
            _ => Err(errors),
        }
    }
}

fn field<T>(errors: &mut FieldErrors, name: &'static str, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.insert(name, e)).ok()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Permit {
    pub id: PermitId,
    pub name: Name,
    pub rut: Rut,
    pub motive: Motive,
    pub address: Address,
    pub comuna: Comuna,
    pub requested_at: Timestamp,
    pub valid_from: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// The operator who issued it at a counter, for a citizen who showed their ID card;
    /// `None` when the citizen asked themselves.
    pub issued_by: Option<Operator>,
    /// The policy version and phase it was issued under; `None` for a permit stored
    /// before permits recorded them.
    pub issued_under: Option<IssuedUnder>,
    /// The firm that asked for it, for a collective permit (its worker holds it).
    pub employer: Option<Employer>,
}

impl Permit {
    pub fn issue(request: PermitRequest, window: Window) -> Permit {
        Permit::issue_as(PermitId::generate(), request, window)
    }

    /// With an id chosen beforehand, as when an idempotency key reserved it.
    pub fn issue_as(id: PermitId, request: PermitRequest, window: Window) -> Permit {
        let PermitRequest {
            name,
            rut,
            motive,
            address,
            comuna,
        } = request;
        Permit {
            id,
            name,
            rut,
            motive,
            address,
            comuna,
            requested_at: window.requested_at,
            valid_from: window.valid_from,
            expires_at: window.expires_at,
            revoked_at: None,
            issued_by: None,
            issued_under: None,
            employer: None,
        }
    }

    /// Derived from the clock on every read; nothing that goes stale is stored.
    pub fn status(&self, now: Timestamp) -> Status {
        Status::at(now, self.valid_from, self.expires_at, self.revoked_at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Valid,
    NotYetValid,
    Expired,
    Revoked,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Valid, Status::NotYetValid, Status::Expired, Status::Revoked];

    /// A permit's status at `now`, from its validity window and revocation, wherever those
    /// were read from: the database or a signed token.
    pub fn at(now: Timestamp, valid_from: Timestamp, expires_at: Timestamp, revoked_at: Option<Timestamp>) -> Status {
        match revoked_at {
            Some(revoked_at) if revoked_at <= now => Status::Revoked,
            _ if now < valid_from => Status::NotYetValid,
            _ if now >= expires_at => Status::Expired,
            _ => Status::Valid,
        }
    }

    /// What a police officer reads.
    pub fn label(self) -> &'static str {
        match self {
            Status::Valid => "VIGENTE",
            Status::NotYetValid => "AÚN NO VIGENTE",
            Status::Expired => "EXPIRADO",
            Status::Revoked => "REVOCADO",
        }
    }

    /// Stable machine code for JSON and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::NotYetValid => "not_yet_valid",
            Status::Expired => "expired",
            Status::Revoked => "revoked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn form() -> PermitForm {
        PermitForm {
            name: "Juan Pérez".into(),
            rut: "12.345.678-5".into(),
            motive: "compras".into(),
            address: "Av. Grecia 1234".into(),
            comuna: "Ñuñoa".into(),
        }
    }

    #[test]
    fn a_complete_form_parses() {
        let request = form().parse().unwrap();
        assert_eq!(request.rut.canonical(), "12345678-5");
        assert_eq!(request.motive.code(), "compras");
    }

    #[test]
    fn the_case_study_load_test_row_names_rut_and_motive() {
        let row = PermitForm {
            name: "user_1".into(),
            rut: "1111111-1".into(),
            motive: "test_1".into(),
            address: "address_1".into(),
            comuna: String::new(),
        };
        let errors = row.parse().unwrap_err();
        assert!(errors.contains_key("rut"));
        assert!(errors.contains_key("motive"));
        assert!(errors.contains_key("comuna"));
    }

    #[test]
    fn a_citizen_cannot_ask_for_the_collective_permit() {
        let errors = PermitForm {
            motive: "trabajo-colectivo".into(),
            ..form()
        }
        .parse()
        .unwrap_err();
        assert_eq!(
            errors.get("motive"),
            Some(&FieldError::Invalid("elige un motivo de la lista"))
        );
    }

    #[test]
    fn status_follows_the_clock() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let window = Window {
            requested_at: now,
            valid_from: now + SignedDuration::from_mins(15),
            expires_at: now + SignedDuration::from_mins(45),
        };
        let mut permit = Permit::issue(form().parse().unwrap(), window);
        assert_eq!(permit.status(now), Status::NotYetValid);
        assert_eq!(permit.status(window.valid_from), Status::Valid);
        assert_eq!(permit.status(window.expires_at), Status::Expired);
        permit.revoked_at = Some(now + SignedDuration::from_mins(20));
        assert_eq!(permit.status(now + SignedDuration::from_mins(19)), Status::Valid);
        assert_eq!(permit.status(now + SignedDuration::from_mins(20)), Status::Revoked);
    }
}
