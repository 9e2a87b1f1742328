//! How a permit is laid out in MongoDB, and the way back to domain types.

use jiff::Timestamp;
use mongodb::bson::DateTime;
use permit_domain::{
    Address, BusinessName, Comuna, Employer, IssuedUnder, Motive, Name, Operator, Permit, PermitId, Phase,
    PolicyVersion, Rut,
};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PermitDocument {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// Canonical form, `12345678-5`.
    pub rut: String,
    /// Catalogue code.
    pub motive: String,
    pub address: String,
    pub comuna: String,
    pub requested_at: DateTime,
    pub valid_from: DateTime,
    pub expires_at: DateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime>,
    /// The operator of an assisted issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<String>,
    /// The policy version it was issued under (absent on permits stored before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Its comuna's phase then, by code; absent outside the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// A collective permit's firm: its RUT (canonical) and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_rut: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_name: Option<String>,
}

/// Just what a validator's revocation list needs of a revoked permit.
#[derive(Debug, Deserialize)]
pub(crate) struct RevocationDocument {
    #[serde(rename = "_id")]
    id: String,
    revoked_at: DateTime,
}

impl RevocationDocument {
    pub fn parse(self) -> Result<(PermitId, Timestamp), StoreError> {
        let id = PermitId::parse(&self.id).map_err(|_| StoreError::Corrupt {
            id: self.id.clone(),
            field: "id",
        })?;
        Ok((id, from_bson(self.revoked_at)))
    }
}

pub(crate) fn to_bson(at: Timestamp) -> DateTime {
    DateTime::from_millis(at.as_millisecond())
}

pub(crate) fn from_bson(at: DateTime) -> Timestamp {
    Timestamp::from_millisecond(at.timestamp_millis()).unwrap_or(Timestamp::MIN)
}

impl From<&Permit> for PermitDocument {
    fn from(permit: &Permit) -> Self {
        PermitDocument {
            id: permit.id.to_string(),
            name: permit.name.as_str().to_owned(),
            rut: permit.rut.canonical(),
            motive: permit.motive.code().to_owned(),
            address: permit.address.as_str().to_owned(),
            comuna: permit.comuna.as_str().to_owned(),
            requested_at: to_bson(permit.requested_at),
            valid_from: to_bson(permit.valid_from),
            expires_at: to_bson(permit.expires_at),
            revoked_at: permit.revoked_at.map(to_bson),
            issued_by: permit.issued_by.as_ref().map(|o| o.as_str().to_owned()),
            policy: permit.issued_under.as_ref().map(|u| u.policy.as_str().to_owned()),
            phase: permit
                .issued_under
                .as_ref()
                .and_then(|u| u.phase)
                .map(|p| p.code().to_owned()),
            employer_rut: permit.employer.as_ref().map(|e| e.rut.canonical()),
            employer_name: permit.employer.as_ref().map(|e| e.name.as_str().to_owned()),
        }
    }
}

impl TryFrom<PermitDocument> for Permit {
    type Error = StoreError;

    fn try_from(doc: PermitDocument) -> Result<Self, Self::Error> {
        let corrupt = |field| StoreError::Corrupt {
            id: doc.id.clone(),
            field,
        };
        Ok(Permit {
            id: PermitId::parse(&doc.id).map_err(|_| corrupt("id"))?,
            name: Name::parse(&doc.name).map_err(|_| corrupt("name"))?,
            rut: Rut::parse(&doc.rut).map_err(|_| corrupt("rut"))?,
            motive: Motive::parse(&doc.motive).map_err(|_| corrupt("motive"))?,
            address: Address::parse(&doc.address).map_err(|_| corrupt("address"))?,
            comuna: Comuna::parse(&doc.comuna).map_err(|_| corrupt("comuna"))?,
            requested_at: from_bson(doc.requested_at),
            valid_from: from_bson(doc.valid_from),
            expires_at: from_bson(doc.expires_at),
            revoked_at: doc.revoked_at.map(from_bson),
            issued_by: doc
                .issued_by
                .as_deref()
                .map(Operator::parse)
                .transpose()
                .map_err(|_| corrupt("issued_by"))?,
            issued_under: match (&doc.policy, &doc.phase) {
                (None, None) => None,
                (Some(policy), phase) => Some(IssuedUnder {
                    policy: PolicyVersion::parse(policy).ok_or_else(|| corrupt("policy"))?,
                    phase: phase
                        .as_deref()
                        .map(|code| Phase::parse(code).ok_or_else(|| corrupt("phase")))
                        .transpose()?,
                }),
                (None, Some(_)) => return Err(corrupt("policy")),
            },
            employer: match (&doc.employer_rut, &doc.employer_name) {
                (None, None) => None,
                (Some(rut), Some(name)) => Some(Employer {
                    rut: Rut::parse(rut).map_err(|_| corrupt("employer_rut"))?,
                    name: BusinessName::parse(name).map_err(|_| corrupt("employer_name"))?,
                }),
                _ => return Err(corrupt("employer_rut")),
            },
        })
    }
}
