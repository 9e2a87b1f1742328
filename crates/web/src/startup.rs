//! What stops a start-up, and how a binary leaves with it.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use permit_store::StoreError;

use crate::config::ConfigError;

/// Why a service could not start, or stopped serving; each says what to change.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    #[error("MONGODB_URI: {0}")]
    Database(#[source] StoreError),
    #[error("{variable}={addr} is already in use: stop what listens there, or set {variable} to another address")]
    AddressInUse { variable: &'static str, addr: SocketAddr },
    #[error("{variable}={addr}: cannot listen there: {source}")]
    Listen {
        variable: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    /// A wiring mistake, not a setting: operator routes without their port or the reverse.
    #[error("the operators' routes and the operators' port (OPERATOR_ADDR) go together")]
    OperatorPort,
    #[error("serving failed: {0}")]
    Serve(#[source] io::Error),
}

impl StartupError {
    /// 2 for a setting to change (configuration), 1 for anything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            StartupError::Config(_) | StartupError::Database(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

/// What `main` returns: the error on stderr and in the log, and its exit code.
pub fn exit(result: Result<(), StartupError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            tracing::error!(%error, "could not start");
            error.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_exit_with_2() {
        let error = StartupError::from(ConfigError {
            variable: "MONGODB_URI",
            problem: "is required but not set".into(),
        });
        assert_eq!(error.exit_code(), ExitCode::from(2));
        assert_eq!(
            error.to_string(),
            "configuration error: MONGODB_URI: is required but not set"
        );
    }
}
