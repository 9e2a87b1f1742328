use mongodb::error::{CommandError, ErrorKind, WriteError, WriteFailure};
use permit_domain::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached now; the caller should answer 503 and let the client retry.
    #[error("the database is unavailable")]
    Unavailable(#[source] mongodb::error::Error),
    #[error("database operation failed")]
    Database(#[source] mongodb::error::Error),
    #[error("stored permit {id} does not hold a valid {field}")]
    Corrupt { id: String, field: &'static str },
    /// The rules, as counted in the database, refuse the request.
    #[error(transparent)]
    Refused(Refusal),
    #[error("the MongoDB connection string is not valid")]
    BadUri(#[source] mongodb::error::Error),
}

impl From<mongodb::error::Error> for StoreError {
    fn from(error: mongodb::error::Error) -> Self {
        match *error.kind {
            ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => {
                StoreError::Unavailable(error)
            }
            _ => StoreError::Database(error),
        }
    }
}

/// E11000: a unique index (here always `_id`) already holds the key.
pub(crate) fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    const DUPLICATE_KEY: i32 = 11000;
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(WriteError { code, .. }))
        | ErrorKind::Command(CommandError { code, .. }) => *code == DUPLICATE_KEY,
        _ => false,
    }
}
