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
    /// The connection string cannot be used: not valid, or its TLS settings unusable.
    #[error("{}", connection_problem(.0))]
    Connection(#[source] mongodb::error::Error),
    /// Built without the driver's DNS resolver, to keep the build lean.
    #[error(
        "mongodb+srv addresses are not supported by this build: list the members instead, \
         e.g. mongodb://db-0:27017,db-1:27017/?replicaSet=rs0"
    )]
    SrvUnsupported,
}

fn connection_problem(error: &mongodb::error::Error) -> String {
    match &*error.kind {
        ErrorKind::InvalidArgument { message, .. } => format!("not a valid connection string: {message}"),
        ErrorKind::InvalidTlsConfig { message, .. } => format!("its TLS settings cannot be used: {message}"),
        other => format!("no client could be created: {other}"),
    }
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

#[cfg(test)]
mod tests {
    use crate::Store;

    #[tokio::test]
    async fn a_bad_connection_string_says_what_is_wrong() {
        let error = Store::connect("mongodb://db:port", "permisos", "tests")
            .await
            .err()
            .expect("refused");
        let message = error.to_string();
        assert!(message.starts_with("not a valid connection string: "), "{message}");
    }

    #[tokio::test]
    async fn an_srv_address_says_how_to_list_the_members_instead() {
        let error = Store::connect("mongodb+srv://cluster.permisos.invalid", "permisos", "tests")
            .await
            .err()
            .expect("refused");
        let message = error.to_string();
        assert!(message.contains("list the members instead"), "{message}");
    }
}
