//! Why an input or a request was refused, in words a citizen can read (es-CL).

use std::collections::BTreeMap;

use jiff::civil::Time;
use jiff::{SignedDuration, Timestamp, ZonedDateTime};

use crate::calendar::{day_and_time, time_of_day};
use crate::rules::Curfew;

/// What is wrong with one field of a form or JSON body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("este campo es obligatorio")]
    Required,
    #[error("debe tener al menos {0} caracteres")]
    TooShort(usize),
    #[error("debe tener como máximo {0} caracteres")]
    TooLong(usize),
    #[error("{0}")]
    Invalid(&'static str),
}

/// Field name → what is wrong with it; field names are the JSON/form keys.
pub type FieldErrors = BTreeMap<&'static str, FieldError>;

/// A well-formed request that the permit rules refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "El permiso iría de las {} a las {} y entraría en el toque de queda ({} a {}). \
         Podrás solicitarlo desde el {}.",
        time_of_day(*.valid_from), time_of_day(*.expires_at), time_of_day(.curfew.start),
        time_of_day(.curfew.end), day_and_time(.retry_from)
    )]
    Curfew {
        /// Local time the permit would start.
        valid_from: Time,
        /// Local time the permit would end.
        expires_at: Time,
        curfew: Curfew,
        /// The first moment a request for the same motive fits outside the curfew.
        retry_from: ZonedDateTime,
        asked_at: Timestamp,
    },
    #[error(
        "Un permiso de «{motive_label}» dura {duration} y no cabe fuera del toque de queda. \
         Consulta en tu comisaría."
    )]
    NeverOutsideCurfew {
        motive_label: &'static str,
        duration: String,
    },
    #[error(
        "Ya usaste {limit} de {limit} permisos de esta semana{}. Podrás solicitar otro desde el {}.",
        .motive_label.map(|m| format!(" para «{m}»")).unwrap_or_default(),
        day_and_time(.retry_from)
    )]
    WeeklyLimit {
        limit: u32,
        /// Set when the motive's own cap, not the general one, was reached.
        motive_label: Option<&'static str>,
        retry_from: ZonedDateTime,
        asked_at: Timestamp,
    },
}

impl Refusal {
    /// How long until the same request could succeed, if ever.
    pub fn retry_after(&self) -> Option<SignedDuration> {
        match self {
            Refusal::Curfew {
                retry_from, asked_at, ..
            }
            | Refusal::WeeklyLimit {
                retry_from, asked_at, ..
            } => Some(retry_from.timestamp().duration_since(*asked_at)),
            Refusal::NeverOutsideCurfew { .. } => None,
        }
    }
}
