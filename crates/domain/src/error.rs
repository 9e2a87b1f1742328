//! What is wrong with an input, in words a citizen can read (es-CL).

use std::collections::BTreeMap;

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
    /// An uploaded spreadsheet that is not one of workers (`collective`).
    #[error(transparent)]
    Table(#[from] crate::collective::TableError),
}

/// Field name → what is wrong with it; field names are the JSON/form keys.
pub type FieldErrors = BTreeMap<&'static str, FieldError>;
