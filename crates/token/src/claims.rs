//! What a token says about its permit: only what the validation page shows, with the
//! holder's name and RUT masked. No full name, RUT, address or comuna ever leaves the database.

use coset::CborSerializable;
use coset::cbor::value::Value;
use coset::cwt::{ClaimName, ClaimsSet, ClaimsSetBuilder, Timestamp as CwtTime};
use jiff::{SignedDuration, Timestamp};
use permit_domain::{IssuedUnder, Motive, Permit, PermitId, Policies, Status};
use std::sync::LazyLock;

use crate::error::Rejection;

/// Beyond the longest motive: a permit's times are rounded to the second, and the rules may
/// be read a little differently by the issuer that signed it.
const WINDOW_MARGIN: SignedDuration = SignedDuration::from_mins(10);

/// Our own claims, text-labelled (RFC 8392 §3: any text or integer label): one byte each.
const MOTIVE: &str = "m";
const NAME: &str = "n";
const RUT: &str = "r";
/// What it was issued under, `IssuedUnder::compact`: `2021-04-05/1`.
const ISSUED_UNDER: &str = "u";

/// The longest validity any version of the policy gives (`data/policy.toml`), read once.
static LONGEST_DURATION: LazyLock<SignedDuration> =
    LazyLock::new(|| Policies::history(&jiff::tz::TimeZone::UTC).longest_duration());

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitClaims {
    pub id: PermitId,
    pub motive: Motive,
    /// Whole seconds: a token rounds the stored times down to the second.
    pub valid_from: Timestamp,
    pub expires_at: Timestamp,
    /// `J. P. S.`.
    pub name: String,
    /// `**.***.678-5`.
    pub rut: String,
    /// The policy version and phase; absent from tokens signed before permits recorded them.
    pub issued_under: Option<IssuedUnder>,
}

impl PermitClaims {
    pub fn of(permit: &Permit) -> PermitClaims {
        PermitClaims {
            id: permit.id.clone(),
            motive: permit.motive,
            valid_from: whole_seconds(permit.valid_from),
            expires_at: whole_seconds(permit.expires_at),
            name: permit.name.masked(),
            rut: permit.rut.masked(),
            issued_under: permit.issued_under.clone(),
        }
    }

    /// The status at `now`, given when the permit was revoked, if it was.
    pub fn status(&self, now: Timestamp, revoked_at: Option<Timestamp>) -> Status {
        Status::at(now, self.valid_from, self.expires_at, revoked_at)
    }

    pub(crate) fn to_cwt(&self) -> Vec<u8> {
        let mut set = ClaimsSetBuilder::new()
            .cwt_id(self.id.to_bytes())
            .not_before(CwtTime::WholeSeconds(self.valid_from.as_second()))
            .expiration_time(CwtTime::WholeSeconds(self.expires_at.as_second()))
            .text_claim(MOTIVE.into(), Value::Text(self.motive.code().into()))
            .text_claim(NAME.into(), Value::Text(self.name.clone()))
            .text_claim(RUT.into(), Value::Text(self.rut.clone()));
        if let Some(under) = &self.issued_under {
            set = set.text_claim(ISSUED_UNDER.into(), Value::Text(under.compact()));
        }
        set.build()
            .to_vec()
            .expect("a claims set of texts, bytes and integers encodes")
    }

    /// The longest validity a genuine token can carry; a longer one (say from year -9999 to
    /// 9999) was never issued by the rules, whoever signed it.
    pub fn longest_window() -> SignedDuration {
        *LONGEST_DURATION + WINDOW_MARGIN
    }

    /// Every claim present and well-typed, and a validity window the rules could give, or
    /// `Rejection::Claims`.
    pub(crate) fn from_cwt(bytes: &[u8]) -> Result<PermitClaims, Rejection> {
        let set = ClaimsSet::from_slice(bytes).map_err(|_| Rejection::Claims)?;
        let text = |label: &str| {
            set.rest.iter().find_map(|(name, value)| match (name, value) {
                (ClaimName::Text(name), Value::Text(text)) if name == label => Some(text.clone()),
                _ => None,
            })
        };
        let id = set.cwt_id.as_deref().and_then(|id| PermitId::from_bytes(id).ok());
        let motive = text(MOTIVE).and_then(|code| Motive::parse(&code).ok());
        // Absent is an older token; present and unreadable is not one we signed.
        let issued_under = match text(ISSUED_UNDER) {
            None => None,
            Some(compact) => Some(IssuedUnder::from_compact(&compact).ok_or(Rejection::Claims)?),
        };
        match (
            id,
            motive,
            time(&set.not_before),
            time(&set.expiration_time),
            text(NAME),
            text(RUT),
        ) {
            (Some(id), Some(motive), Some(valid_from), Some(expires_at), Some(name), Some(rut))
                if valid_from < expires_at
                    && expires_at.duration_since(valid_from) <= PermitClaims::longest_window() =>
            {
                Ok(PermitClaims {
                    id,
                    motive,
                    valid_from,
                    expires_at,
                    name,
                    rut,
                    issued_under,
                })
            }
            _ => Err(Rejection::Claims),
        }
    }
}

fn whole_seconds(at: Timestamp) -> Timestamp {
    Timestamp::from_second(at.as_second()).expect("a permit's time is within jiff's range")
}

fn time(claim: &Option<CwtTime>) -> Option<Timestamp> {
    match claim {
        Some(CwtTime::WholeSeconds(seconds)) => Timestamp::from_second(*seconds).ok(),
        _ => None,
    }
}
