//! The start-up steps both binaries share, and what stops a start-up.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use permit_domain::SystemClock;
use permit_store::{CommandObserver, Store, StoreError};
use tokio::net::TcpListener;

use crate::config::{Config, ConfigError};
use crate::context::Context;
use crate::health::Health;
use crate::metrics::Metrics;

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

/// A client for the configured database whose command timings feed the metrics. No I/O
/// yet, except the DNS look-up of a `mongodb+srv` address.
pub async fn store(config: &Config, metrics: &Arc<Metrics>) -> Result<Store, StartupError> {
    let timings = metrics.clone();
    let observer: CommandObserver = Arc::new(move |operation, elapsed| timings.mongodb_operation(operation, elapsed));
    Store::connect_observed(
        config.mongodb_uri.expose(),
        &config.mongodb_db,
        metrics.service(),
        Some(observer),
    )
    .await
    .map_err(StartupError::Database)
}

/// Creates the indexes once the database answers, retrying meanwhile; the process serves
/// (and reports not ready) from the start, so Kubernetes does not restart it in a loop
/// while MongoDB comes up.
pub fn ensure_indexes_in_background(store: Store, health: Health) {
    tokio::spawn(async move {
        while let Err(error) = store.ensure_indexes().await {
            tracing::warn!(%error, "database not ready; retrying index creation in 2 s");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        health.indexes_ready();
    });
}

pub fn context(config: &Config, store: Store, metrics: Arc<Metrics>) -> Context {
    Context {
        store,
        clock: Arc::new(SystemClock),
        rules: Arc::new(config.rules.clone()),
        links: Arc::new(config.links.clone()),
        metrics,
        limits: config.runtime.limits,
    }
}

/// The public and the admin listeners.
pub async fn bind(config: &Config) -> Result<(TcpListener, TcpListener), StartupError> {
    let public = listen("LISTEN_ADDR", config.listen_addr).await?;
    let admin = listen("ADMIN_ADDR", config.runtime.admin_addr).await?;
    let local = |listener: &TcpListener| listener.local_addr().map_err(StartupError::Serve);
    tracing::info!(addr = %local(&public)?, admin_addr = %local(&admin)?, "listening");
    Ok((public, admin))
}

async fn listen(variable: &'static str, addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).await.map_err(|source| match source.kind() {
        io::ErrorKind::AddrInUse => StartupError::AddressInUse { variable, addr },
        _ => StartupError::Listen { variable, addr, source },
    })
}

/// One line saying which rules are in force and how to change them.
pub fn log_rules(config: &Config) {
    let rules = &config.rules;
    tracing::info!(
        start_delay_minutes = rules.start_delay.as_mins(),
        weekly_limit = rules.weekly_limit.map_or("off".to_owned(), |n| n.to_string()),
        curfew = rules
            .curfew
            .map_or("off".to_owned(), |c| format!("{}-{}", c.start, c.end)),
        time_zone = rules.time_zone.iana_name().unwrap_or("custom"),
        "permit rules in force (PERMIT_START_DELAY_MINUTES, PERMIT_WEEKLY_LIMIT, PERMIT_CURFEW=off to change)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_in_use_is_named_with_its_variable() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let error = listen("ADMIN_ADDR", addr).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "ADMIN_ADDR={addr} is already in use: stop what listens there, or set ADMIN_ADDR to another address"
            )
        );
        assert_eq!(error.exit_code(), ExitCode::FAILURE);
    }

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
